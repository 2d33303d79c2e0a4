import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { SESSION_STORAGE_KEY } from '../admin/session';
import type { RuntimeConfig } from '../config';
import { ConfigProvider } from '../ConfigContext';
import { LANGUAGE_STORAGE_KEY } from '../i18n/I18nContext';
import { fakeFetch, jsonResponse, type FetchCall, type FetchRoute } from '../test/fakeFetch';
import { renderWithProviders } from '../test/render';
import { AdminPage } from './AdminPage';

const CONFIG: RuntimeConfig = { apiBaseUrl: 'http://api.test', cognitoEndpoint: 'http://cognito.test/', cognitoClientId: 'client-1' };
const API = 'http://api.test'; // the fake PapilaApi's resolve() prefix

const NEW = 'vgg19bn-2026-12-06-81e7b9f0';
const OLD = 'vgg19bn-2026-11-25-1f2e3d4c';
const BAKED = 'vgg19-2026-11-01-baked';

interface Registry {
  serving: string;
  previous: string | null;
}

function version(name: string, registry: Registry, extra: Record<string, unknown> = {}) {
  const baked = name === BAKED;
  const pointer = baked ? 'baked' : name;
  return {
    model_version: name,
    baked,
    serving: registry.serving === pointer,
    trained_at: baked ? null : '2026-12-06T19:26:25Z',
    threshold: 0.5757,
    by_domain: { 'Topcon NW400': { n: 466, auc: 0.74, sensitivity: 0.68, specificity: 0.63 } },
    comparison: null,
    links: {
      comparison: `/api/admin/models/${pointer}/comparison`,
      promote: `/api/admin/models/${pointer}/promote`,
      card: `/api/admin/models/${pointer}/card`,
    },
    ...extra,
  };
}

function modelList(registry: Registry) {
  return { serving: registry.serving, previous: registry.previous, versions: [version(NEW, registry), version(OLD, registry), version(BAKED, registry)] };
}

const figures = (n: number, refused: number, auc: number, sensitivity: number, specificity: number) => ({
  n,
  done: n - refused,
  refused,
  auc,
  sensitivity,
  specificity,
});

const DONE_COMPARISON = {
  candidate: NEW,
  current: OLD,
  status: 'done',
  requested_at: '2026-12-07T10:00:00Z',
  finished_at: '2026-12-07T10:02:00Z',
  cases: { confirmed: 40, held_out: 31, excluded_training: 9, glaucoma: 15, normal: 16 },
  models: [
    {
      model_version: NEW,
      role: 'candidate',
      threshold: 0.57,
      overall: figures(31, 2, 0.812, 0.7, 0.75),
      roc: { fpr: [0, 0.2, 1], tpr: [0, 0.7, 1] },
      by_camera: { 'Topcon NW400': figures(20, 1, 0.8, 0.66, 0.77), Zeiss: figures(11, 1, 0.83, 0.8, 0.71) },
    },
    {
      model_version: OLD,
      role: 'current',
      threshold: 0.42,
      overall: figures(31, 3, 0.744, 0.6, 0.69),
      roc: { fpr: [0, 0.3, 1], tpr: [0, 0.6, 1] },
      by_camera: { 'Topcon NW400': figures(20, 2, 0.73, 0.58, 0.7), Zeiss: figures(11, 1, 0.76, 0.62, 0.67) },
    },
  ],
};

const point = (start: string, model_version: string, camera: string, glaucoma: number, normal: number, auc: number, sensitivity: number, specificity: number) => ({
  start,
  model_version,
  camera,
  confirmed: glaucoma + normal,
  glaucoma,
  normal,
  auc,
  sensitivity,
  specificity,
  agreement: 0.75,
});

const MONITORING = {
  period: 'month',
  min_cases: 20,
  series: [
    point('2026-11-01', OLD, 'Topcon NW400', 12, 22, 0.81, 0.7, 0.8),
    point('2026-12-01', OLD, 'Topcon NW400', 10, 14, 0.66, 0.55, 0.6),
    point('2026-12-01', NEW, 'Zeiss', 5, 5, 0.9, 0.8, 0.8),
  ],
  by_version: [
    {
      model_version: OLD,
      camera: 'Topcon NW400',
      confirmed: 58,
      glaucoma: 22,
      normal: 36,
      auc: 0.61,
      sensitivity: 0.64,
      specificity: 0.72,
      agreement: 0.7,
      expected: { auc: 0.74, sensitivity: 0.68, specificity: 0.63 },
    },
    { model_version: NEW, camera: 'Zeiss', confirmed: 10, glaucoma: 5, normal: 5, auc: 0.9, sensitivity: 0.8, specificity: 0.8, agreement: 0.8, expected: null },
  ],
  refusals: [
    { start: '2026-11-01', codes: { disc_not_found: 3, not_fundus: 1 } },
    { start: '2026-12-01', codes: { disc_not_found: 2 } },
  ],
  warnings: [{ model_version: OLD, camera: 'Topcon NW400', metric: 'auc', observed: 0.61, expected: 0.74, confirmed: 58 }],
};

const REVIEW = {
  items: [
    {
      id: 'rev-1',
      created_at: '2026-12-05T09:00:00Z',
      priority: 1.62,
      probability_glaucoma: 0.62,
      threshold: 0.5757,
      label: 'glaucoma',
      probability_network: 0.48,
      cdr: 0.71,
      links: { admin: '/api/admin/screenings/rev-1', crop: '/api/screenings/rev-1/crop', review: '/api/admin/screenings/rev-1/review' },
    },
    {
      id: 'rev-2',
      created_at: '2026-12-04T09:00:00Z',
      priority: 0.9,
      probability_glaucoma: 0.3,
      threshold: 0.5757,
      label: 'normal',
      true_label: 'suspect',
      links: { admin: '/api/admin/screenings/rev-2', crop: '/api/screenings/rev-2/crop', review: '/api/admin/screenings/rev-2/review' },
    },
  ],
  limit: 20,
  candidates: 57,
};

// GET /api/me of an administrator: the whole panel.
const ADMIN_ME = { sub: 'sub-ada', username: 'ada', groups: ['admins'], role: 'admin' };

const signedIn = (call: FetchCall) => call.url.startsWith(API) && call.headers.authorization === 'Bearer id-token';
const pathOf = (call: FetchCall) => call.url.slice(API.length);

/** The admin API of the data loop, with a registry whose pointer promote and roll-back move. */
function backend(registry: Registry, overrides: FetchRoute = () => undefined): FetchRoute {
  return async (call) => {
    const answer = await overrides(call);
    if (answer) return answer;
    if (!signedIn(call)) return jsonResponse(401, { error: { code: 'unauthorized', message: 'Sign in.' } });
    const path = pathOf(call);
    if (path === '/api/me') return jsonResponse(200, ADMIN_ME);
    if (path === '/api/admin/models' && call.method === 'GET') return jsonResponse(200, modelList(registry));
    const promote = /^\/api\/admin\/models\/([^/]+)\/promote$/.exec(path);
    if (promote && call.method === 'POST') {
      const previous = registry.serving;
      registry.serving = decodeURIComponent(promote[1] ?? '');
      registry.previous = previous;
      return jsonResponse(200, { serving: registry.serving, previous });
    }
    if (path === '/api/admin/models/rollback' && call.method === 'POST') {
      if (!registry.previous) return jsonResponse(409, { error: { code: 'nothing_to_roll_back', message: 'Nothing to roll back to.' } });
      const old = registry.serving;
      registry.serving = registry.previous;
      registry.previous = null;
      return jsonResponse(200, { serving: registry.serving, previous: old });
    }
    if (path.startsWith('/api/admin/monitoring?')) return jsonResponse(200, MONITORING);
    if (path.startsWith('/api/admin/review?')) return jsonResponse(200, REVIEW);
    if (path.startsWith('/api/admin/screenings?')) return jsonResponse(200, { items: [], next_cursor: null });
    if (path === '/api/admin/stats') return jsonResponse(200, { total: 0 });
    return undefined;
  };
}

function storeValidSession() {
  window.sessionStorage.setItem(
    SESSION_STORAGE_KEY,
    JSON.stringify({ username: 'ada', accessToken: 'access-token', idToken: 'id-token', expiresAt: Date.now() + 3_600_000 }),
  );
}

function renderAdmin(route: FetchRoute, hash: string) {
  storeValidSession();
  window.location.hash = hash;
  const fake = fakeFetch(route);
  const utils = renderWithProviders(
    <ConfigProvider config={CONFIG}>
      <AdminPage fetchImpl={fake.fetchImpl} comparisonPollMs={5} />
    </ConfigProvider>,
  );
  const callsTo = (method: string, path: string | RegExp) =>
    fake.calls.filter((call) => call.method === method && (typeof path === 'string' ? pathOf(call) === path : path.test(pathOf(call))));
  return { ...fake, ...utils, callsTo };
}

const rowOf = async (name: string) => {
  const rows = await screen.findAllByTestId('model-row');
  const row = rows.find((candidate) => candidate.getAttribute('data-version') === name);
  if (!row) throw new Error(`no row for ${name}`);
  return row;
};

const pause = (ms: number) => act(() => new Promise<void>((resolve) => setTimeout(resolve, ms)));

describe('admin tabs', () => {
  it('opens each section from its tab, with its own address, and moves with the arrow keys', async () => {
    renderAdmin(backend({ serving: OLD, previous: null }), '#/admin');
    const tabs = await screen.findByRole('tablist', { name: 'Administration sections' });
    expect(within(tabs).getAllByRole('tab').map((tab) => tab.textContent)).toEqual(['Screenings', 'Models', 'Monitoring', 'Review queue']);
    expect(screen.getByRole('tab', { name: 'Screenings' }).getAttribute('aria-selected')).toBe('true');

    await userEvent.click(screen.getByRole('tab', { name: 'Models' }));
    await waitFor(() => expect(window.location.hash).toBe('#/admin/models'));
    expect(await screen.findByRole('heading', { level: 2, name: 'Models' })).toBeTruthy();
    expect(screen.getByRole('tab', { name: 'Models' }).getAttribute('aria-selected')).toBe('true');
    expect(screen.getByRole('tabpanel', { name: 'Models' })).toBeTruthy();

    await userEvent.keyboard('{ArrowRight}');
    await waitFor(() => expect(window.location.hash).toBe('#/admin/monitoring'));
    expect(document.activeElement).toBe(screen.getByRole('tab', { name: 'Monitoring' }));
    expect(await screen.findByRole('heading', { level: 2, name: 'Monitoring' })).toBeTruthy();
    await userEvent.keyboard('{End}');
    await waitFor(() => expect(window.location.hash).toBe('#/admin/review'));
    expect(await screen.findByRole('heading', { level: 2, name: 'Review queue' })).toBeTruthy();
  });
});

describe('admin models', () => {
  it('lists the versions with their card figures, the serving one marked, the baked one labelled', async () => {
    renderAdmin(backend({ serving: OLD, previous: 'baked' }), '#/admin/models');
    expect((await screen.findByTestId('serving-version')).textContent).toBe(OLD);
    const serving = await rowOf(OLD);
    expect(serving.getAttribute('data-serving')).toBe('true');
    expect(within(serving).getByTestId('model-serving-badge').textContent).toBe('Serving');
    expect(within(serving).queryByRole('button', { name: 'Promote' })).toBeNull();
    expect(within(serving).queryByRole('button', { name: 'Compare with serving model' })).toBeNull();
    const candidate = await rowOf(NEW);
    expect(within(candidate).queryByTestId('model-serving-badge')).toBeNull();
    expect(within(candidate).getByTestId('model-card').textContent).toBe('Topcon NW400: AUC 0.740 · sensitivity 68.0% · specificity 63.0% (n 466)');
    expect(within(candidate).getByText('57.6%')).toBeTruthy();
    expect(within(await rowOf(BAKED)).getByText('Built into the image')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Roll back to the model built into the image' })).toBeTruthy();
  });

  it('promotes only after confirmation, then reloads the list and says which version serves', async () => {
    const registry = { serving: OLD, previous: null };
    const { callsTo } = renderAdmin(backend(registry), '#/admin/models');
    expect(screen.queryByRole('button', { name: /Roll back/ })).toBeNull(); // nothing to roll back to yet
    const promoteButton = within(await rowOf(NEW)).getByRole('button', { name: 'Promote' });

    await userEvent.click(promoteButton);
    let dialog = screen.getByRole('alertdialog', { name: `Promote ${NEW}?` });
    expect(dialog.textContent).toContain(`instead of ${OLD}`);
    await userEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(callsTo('POST', /promote$/)).toHaveLength(0);
    expect(document.activeElement).toBe(promoteButton);

    await userEvent.click(promoteButton);
    dialog = screen.getByRole('alertdialog');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Yes, promote it' }));

    const notice = await screen.findByTestId('admin-models-notice');
    expect(notice.getAttribute('role')).toBe('status');
    expect(notice.textContent).toBe(`Done: ${NEW} serves now.`);
    expect(callsTo('POST', `/api/admin/models/${NEW}/promote`)).toHaveLength(1);
    expect(callsTo('POST', `/api/admin/models/${NEW}/promote`)[0]?.headers.authorization).toBe('Bearer id-token');
    expect(screen.queryByRole('alertdialog')).toBeNull();
    await waitFor(() => expect(callsTo('GET', '/api/admin/models')).toHaveLength(2));
    await waitFor(() => expect(screen.getByTestId('serving-version').textContent).toBe(NEW));
    expect((await rowOf(NEW)).getAttribute('data-serving')).toBe('true');
    expect(screen.getByRole('button', { name: `Roll back to ${OLD}` })).toBeTruthy();
  });

  it('promotes the image\'s own model as "baked"', async () => {
    const registry = { serving: OLD, previous: null };
    const { callsTo } = renderAdmin(backend(registry), '#/admin/models');
    await userEvent.click(within(await rowOf(BAKED)).getByRole('button', { name: 'Promote' }));
    expect(screen.getByRole('alertdialog', { name: 'Promote the model built into the image?' })).toBeTruthy();
    await userEvent.click(screen.getByRole('button', { name: 'Yes, promote it' }));
    expect((await screen.findByTestId('admin-models-notice')).textContent).toBe('Done: the model built into the image serves now.');
    expect(callsTo('POST', '/api/admin/models/baked/promote')).toHaveLength(1);
    await waitFor(() => expect(screen.getByTestId('serving-version').textContent).toBe('baked'));
  });

  it('rolls back after confirmation, and shows a refusal in the dialog', async () => {
    const registry: Registry = { serving: NEW, previous: OLD };
    const { callsTo } = renderAdmin(backend(registry), '#/admin/models');
    await userEvent.click(await screen.findByRole('button', { name: `Roll back to ${OLD}` }));
    const dialog = screen.getByRole('alertdialog', { name: `Roll back to ${OLD}?` });
    await userEvent.click(within(dialog).getByRole('button', { name: 'Yes, roll back' }));
    expect((await screen.findByTestId('admin-models-notice')).textContent).toBe(`Rolled back: ${OLD} serves now.`);
    expect(callsTo('POST', '/api/admin/models/rollback')).toHaveLength(1);
    await waitFor(() => expect(screen.getByTestId('serving-version').textContent).toBe(OLD));
    expect(screen.queryByRole('button', { name: /Roll back/ })).toBeNull();

    // A pointer moved elsewhere meanwhile: the API's refusal stays in the dialog.
    registry.previous = NEW;
    await userEvent.click(screen.getByRole('button', { name: 'Refresh' }));
    await userEvent.click(await screen.findByRole('button', { name: `Roll back to ${NEW}` }));
    registry.previous = null;
    await userEvent.click(screen.getByRole('button', { name: 'Yes, roll back' }));
    expect((await within(screen.getByRole('alertdialog')).findByRole('alert')).textContent).toBe('The roll-back failed: Nothing to roll back to.');
  });

  it('asks for a comparison, polls it until done, and shows the ROC legend, the table and the cases', async () => {
    let polls = 0;
    const { callsTo } = renderAdmin(
      backend({ serving: OLD, previous: null }, (call) => {
        if (pathOf(call) !== `/api/admin/models/${NEW}/comparison`) return undefined;
        if (call.method === 'POST') return jsonResponse(202, { candidate: NEW, current: OLD, status: 'queued', requested_at: '2026-12-07T10:00:00Z' });
        polls += 1;
        return jsonResponse(200, polls < 3 ? { candidate: NEW, current: OLD, status: polls < 2 ? 'queued' : 'running' } : DONE_COMPARISON);
      }),
      '#/admin/models',
    );
    await userEvent.click(within(await rowOf(NEW)).getByRole('button', { name: 'Compare with serving model' }));
    const view = await screen.findByTestId('admin-comparison');
    expect(within(view).getByRole('heading', { name: `Comparison: ${NEW} against ${OLD}` })).toBeTruthy();
    await waitFor(() => expect(view.getAttribute('data-status')).toBe('done'));
    expect(callsTo('POST', `/api/admin/models/${NEW}/comparison`)).toHaveLength(1);
    expect(polls).toBe(3);

    const rows = within(view).getAllByTestId('comparison-row');
    expect(rows.map((row) => `${row.getAttribute('data-scope')}/${row.getAttribute('data-role')}`)).toEqual([
      'overall/candidate',
      'overall/current',
      'Topcon NW400/candidate',
      'Topcon NW400/current',
      'Zeiss/candidate',
      'Zeiss/current',
    ]);
    const cells = (row: HTMLElement | undefined) => [...(row?.querySelectorAll('th, td') ?? [])].map((cell) => cell.textContent);
    expect(cells(rows[0])).toEqual(['All cameras', `Candidate ${NEW}`, '57.0%', '31', '2', '0.812', '70.0%', '75.0%']);
    expect(cells(rows[1])).toEqual(['All cameras', `Serving ${OLD}`, '42.0%', '31', '3', '0.744', '60.0%', '69.0%']);
    expect(cells(rows[5])).toEqual(['Zeiss', `Serving ${OLD}`, '42.0%', '11', '1', '0.760', '62.0%', '67.0%']);
    const cases = within(view).getByTestId('admin-comparison-cases');
    expect(cases.querySelector('[data-case="held_out"]')?.textContent).toBe('31');
    expect(cases.querySelector('[data-case="excluded_training"]')?.textContent).toBe('9');
    expect(cases.textContent).toContain("Left out: in the candidate's training data9");
    const legend = await within(view).findByTestId('roc-legend');
    expect(legend.textContent).toBe(`Candidate ${NEW} (AUC 0.812)Serving ${OLD} (AUC 0.744)`);
    expect(within(view).getByTestId('roc-chart').querySelectorAll('.recharts-line').length).toBe(2);

    // Done: no more polling; the list is read again for the comparison's new state.
    await pause(40);
    expect(polls).toBe(3);
    await waitFor(() => expect(callsTo('GET', '/api/admin/models')).toHaveLength(2));
  });

  it("shows a failed comparison's message, and the serving model's refusal to be compared", async () => {
    renderAdmin(
      backend({ serving: OLD, previous: null }, (call) => {
        const path = pathOf(call);
        if (path === `/api/admin/models/${NEW}/comparison`) {
          return call.method === 'POST'
            ? jsonResponse(202, { candidate: NEW, current: OLD, status: 'running' })
            : jsonResponse(200, { candidate: NEW, current: OLD, status: 'failed', error: { code: 'no_cases', message: 'No confirmed cases to compare on.' } });
        }
        if (path === `/api/admin/models/baked/comparison`) return jsonResponse(409, { error: { code: 'same_model', message: 'It serves.' } });
        return undefined;
      }),
      '#/admin/models',
    );
    await userEvent.click(within(await rowOf(NEW)).getByRole('button', { name: 'Compare with serving model' }));
    expect((await screen.findByTestId('admin-comparison-failed')).textContent).toBe('The comparison failed: No confirmed cases to compare on.');

    await userEvent.click(within(await rowOf(BAKED)).getByRole('button', { name: 'Compare with serving model' }));
    expect((await screen.findByTestId('admin-models-error')).textContent).toBe(
      `${BAKED} is the serving model: there is nothing to compare it with.`,
    );
  });

  it('stops polling when the section is left', async () => {
    let polls = 0;
    renderAdmin(
      backend({ serving: OLD, previous: null }, (call) => {
        if (pathOf(call) !== `/api/admin/models/${NEW}/comparison`) return undefined;
        if (call.method === 'POST') return jsonResponse(202, { candidate: NEW, current: OLD, status: 'queued' });
        polls += 1;
        return jsonResponse(200, { candidate: NEW, current: OLD, status: 'running' });
      }),
      '#/admin/models',
    );
    await userEvent.click(within(await rowOf(NEW)).getByRole('button', { name: 'Compare with serving model' }));
    expect((await screen.findByTestId('admin-comparison-status')).textContent).toMatch(/Comparison (Queued|Running): this page checks again/);
    await waitFor(() => expect(polls).toBeGreaterThan(1));
    await userEvent.click(screen.getByRole('tab', { name: 'Monitoring' }));
    await screen.findByRole('heading', { level: 2, name: 'Monitoring' });
    const seen = polls;
    await pause(60);
    expect(polls).toBe(seen);
  });
});

describe('admin monitoring', () => {
  it('shows the drift warnings, the figures per version against the card, and the refusals', async () => {
    const { callsTo } = renderAdmin(backend({ serving: OLD, previous: null }), '#/admin/monitoring');
    const banner = await screen.findByTestId('admin-monitoring-warnings');
    expect(banner.getAttribute('role')).toBe('alert');
    expect(within(banner).getAllByTestId('drift-warning').map((item) => item.textContent)).toEqual([
      `${OLD} on Topcon NW400: AUC 0.610 observed, 0.740 expected from its card (58 confirmed cases).`,
    ]);
    expect(callsTo('GET', '/api/admin/monitoring?period=month')).toHaveLength(1);

    const table = screen.getByTestId('admin-monitoring-versions');
    const rows = within(table).getAllByTestId('monitoring-version-row');
    const cells = (row: HTMLElement | undefined) => [...(row?.querySelectorAll('th, td') ?? [])].map((cell) => cell.textContent);
    expect(cells(rows[0])).toEqual([OLD, 'Topcon NW400', '58 (22 glaucoma, 36 normal)', '0.610 (card 0.740)', '64.0% (card 68.0%)', '72.0% (card 63.0%)', '70.0%']);
    expect(cells(rows[1])).toEqual([NEW, 'Zeiss', '10 (5 glaucoma, 5 normal)', '0.900 (card —)', '80.0% (card —)', '80.0% (card —)', '80.0%']);

    // Four charts, a line per version.
    for (const metric of ['auc', 'sensitivity', 'specificity', 'agreement']) expect(screen.getByTestId(`trend-${metric}`)).toBeTruthy();
    const auc = screen.getByTestId('trend-auc');
    await waitFor(() => expect(auc.querySelectorAll('.recharts-line').length).toBe(2));
    expect(within(auc).getByText(OLD, { selector: '.chart-legend code' })).toBeTruthy();

    const refusals = within(screen.getByTestId('admin-refusals')).getAllByTestId('refusal-row');
    expect(cells(refusals[0])).toEqual(['Nov 2026', '3', '1', '4']);
    expect(cells(refusals[1])).toEqual(['Dec 2026', '2', '0', '2']);

    // One camera: its rows only; the AUC of December is that camera's.
    await userEvent.selectOptions(screen.getByLabelText('Camera'), 'Zeiss');
    expect(within(table).getAllByTestId('monitoring-version-row').map((row) => row.getAttribute('data-camera'))).toEqual(['Zeiss']);
    const aucTable = within(screen.getByTestId('trend-auc')).getByRole('table', { hidden: true });
    expect([...aucTable.querySelectorAll('tbody tr')].map((row) => row.textContent)).toEqual(['Dec 2026—0.900']);

    await userEvent.click(screen.getByRole('radio', { name: 'By week' }));
    await waitFor(() => expect(callsTo('GET', '/api/admin/monitoring?period=week')).toHaveLength(1));
  });

  it('says when there are no confirmed cases yet', async () => {
    renderAdmin(
      backend({ serving: OLD, previous: null }, (call) =>
        pathOf(call).startsWith('/api/admin/monitoring')
          ? jsonResponse(200, { period: 'month', min_cases: 20, series: [], by_version: [], refusals: [], warnings: [] })
          : undefined,
      ),
      '#/admin/monitoring',
    );
    expect((await screen.findByTestId('admin-monitoring-empty')).textContent).toMatch(/No confirmed cases yet/);
    expect(screen.queryByTestId('admin-monitoring-warnings')).toBeNull();
    expect(screen.queryByTestId('admin-monitoring-versions')).toBeNull();
    expect(screen.getByTestId('admin-refusals-empty')).toBeTruthy();
  });
});

describe('admin review queue', () => {
  it('lists the queue in its order with crops and figures, and records a label', async () => {
    const { callsTo } = renderAdmin(
      backend({ serving: OLD, previous: null }, (call) =>
        call.method === 'PUT' && pathOf(call) === '/api/admin/screenings/rev-1/review'
          ? jsonResponse(200, { id: 'rev-1', status: 'done', feedback: { true_label: 'normal' } })
          : undefined,
      ),
      '#/admin/review',
    );
    const items = await screen.findAllByTestId('review-item');
    expect(items.map((item) => item.getAttribute('data-screening-id'))).toEqual(['rev-1', 'rev-2']);
    expect(callsTo('GET', '/api/admin/review?limit=20')).toHaveLength(1);
    expect(screen.getByTestId('admin-review-status').textContent).toContain('Showing 2 of 57 screenings to review.');
    const first = within(items[0] as HTMLElement);
    expect(first.getByTestId('review-crop').getAttribute('src')).toBe(`${API}/api/screenings/rev-1/crop`);
    expect(first.getByTestId('review-probability').textContent).toBe('62.0% (threshold 57.6%) (Glaucoma)');
    expect(first.getByTestId('review-network').textContent).toBe('48.0%');
    expect(first.getByTestId('review-cdr').textContent).toBe('0.71');
    expect(first.getByRole('link').getAttribute('href')).toBe('#/admin/screenings/rev-1');
    const second = within(items[1] as HTMLElement);
    expect(second.queryByTestId('review-network')).toBeNull();
    expect(second.getByText('Glaucoma suspect', { selector: 'dd' })).toBeTruthy();

    const group = first.getByRole('group', { name: 'Diagnosis for screening 1' });
    expect(within(group).getAllByRole('button').map((button) => button.textContent)).toEqual(['Glaucoma', 'Normal', 'Glaucoma suspect', 'Unknown']);
    await userEvent.click(within(group).getByRole('button', { name: 'Normal' }));
    expect((await first.findByTestId('review-saved')).textContent).toBe('Labelled: Normal.');
    const puts = callsTo('PUT', '/api/admin/screenings/rev-1/review');
    expect(puts).toHaveLength(1);
    expect(puts[0]?.body).toEqual({ true_label: 'normal' });
    expect(puts[0]?.headers.authorization).toBe('Bearer id-token');
    expect(items[0]?.getAttribute('data-reviewed')).toBe('true');
    expect(within(group).getByRole('button', { name: 'Normal' }).getAttribute('aria-pressed')).toBe('true');
    expect(items[1]?.getAttribute('data-reviewed')).toBe('false');
  });

  it('says when a screening cannot be labelled (409 not_reviewable)', async () => {
    renderAdmin(
      backend({ serving: OLD, previous: null }, (call) =>
        call.method === 'PUT'
          ? jsonResponse(409, { error: { code: 'not_reviewable', message: 'Only done screenings can be reviewed.' } })
          : undefined,
      ),
      '#/admin/review',
    );
    const items = await screen.findAllByTestId('review-item');
    await userEvent.click(within(items[1] as HTMLElement).getByRole('button', { name: 'Glaucoma' }));
    const error = await within(items[1] as HTMLElement).findByTestId('review-error');
    expect(error.getAttribute('role')).toBe('alert');
    expect(error.textContent).toBe('This screening cannot be labelled: Only done screenings can be reviewed.');
    expect(items[1]?.getAttribute('data-reviewed')).toBe('false');
  });
});

describe('admin data loop in Spanish', () => {
  it('names the sections, buttons and figures in Spanish', async () => {
    window.localStorage.setItem(LANGUAGE_STORAGE_KEY, 'es');
    renderAdmin(backend({ serving: OLD, previous: 'baked' }), '#/admin/models');
    expect((await screen.findAllByRole('tab')).map((tab) => tab.textContent)).toEqual(['Cribados', 'Modelos', 'Seguimiento', 'Cola de revisión']);
    const row = within(await rowOf(NEW));
    expect(row.getByRole('button', { name: 'Comparar con el modelo en uso' })).toBeTruthy();
    expect(row.getByRole('button', { name: 'Promover' })).toBeTruthy();
    expect(row.getByTestId('model-card').textContent).toBe('Topcon NW400: AUC 0,740 · sensibilidad 68,0\u00a0% · especificidad 63,0\u00a0% (n 466)');
    expect(screen.getByRole('button', { name: 'Volver al modelo incluido en la imagen' })).toBeTruthy();

    await userEvent.click(screen.getByRole('tab', { name: 'Seguimiento' }));
    expect((await screen.findByTestId('admin-monitoring-warnings')).textContent).toContain(
      `${OLD} en Topcon NW400: AUC observada 0,610, esperada 0,740 según su ficha (58 casos confirmados).`,
    );
    await userEvent.click(screen.getByRole('tab', { name: 'Cola de revisión' }));
    const items = await screen.findAllByTestId('review-item');
    expect(within(items[0] as HTMLElement).getAllByRole('button').map((button) => button.textContent)).toEqual([
      'Glaucoma',
      'Normal',
      'Sospecha de glaucoma',
      'Desconocido',
    ]);
  });
});
