import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { SESSION_STORAGE_KEY } from '../admin/session';
import type { RuntimeConfig } from '../config';
import { ConfigProvider } from '../ConfigContext';
import { emptyResponse, fakeFetch, jsonResponse, type FetchCall, type FetchRoute } from '../test/fakeFetch';
import { renderWithProviders } from '../test/render';
import { AdminPage } from './AdminPage';

const COGNITO = 'http://cognito.test/';
const CONFIG: RuntimeConfig = { apiBaseUrl: 'http://api.test', cognitoEndpoint: COGNITO, cognitoClientId: 'client-1' };
const API = 'http://api.test'; // the fake PapilaApi's resolve() prefix

const DONE = {
  id: 'aaaaaaaa-0000-4000-8000-000000000001',
  status: 'done',
  created_at: '2026-11-25T18:00:00Z',
  updated_at: '2026-11-25T18:00:09Z',
  filename: 'left_eye.png',
  result: {
    probability_glaucoma: 0.913,
    label: 'glaucoma',
    threshold: 0.42,
    model_version: 'vgg19-test',
    crop: { x: 10, y: 20, size: 300, source: 'user' },
  },
  feedback: { diagnosis_correct: true, true_label: 'glaucoma', metadata: { age: 63, eye: 'right', camera: 'Topcon NW400' } },
  links: {
    crop: '/api/screenings/aaaaaaaa-0000-4000-8000-000000000001/crop',
    heatmap: '/api/screenings/aaaaaaaa-0000-4000-8000-000000000001/heatmap',
    original: 'https://s3.test/bucket/original.png?X-Amz-Signature=abc',
  },
  has_feedback: true,
  // As the API sends it: the presigned URL in `original.url` and `links.original`.
  original: { url: 'https://s3.test/bucket/original.png?X-Amz-Signature=abc', expires_in: 900 },
  consent: { accepted: true, at: '2026-11-25T17:59:58Z', version: 'v1' },
};
const ORIGINAL_URL = DONE.original.url;
const REJECTED = {
  id: 'bbbbbbbb-0000-4000-8000-000000000002',
  status: 'rejected',
  created_at: '2026-11-24T10:00:00Z',
  error: { code: 'not_fundus', message: 'This does not look like a fundus photo.' },
  has_feedback: false,
  consent: { accepted: true },
};

// GET /api/me of an administrator: the whole panel.
const ADMIN_ME = { sub: 'sub-ada', username: 'ada', groups: ['admins'], role: 'admin' };

const signedIn = (call: FetchCall) => call.url.startsWith(API) && call.headers.authorization === 'Bearer id-token';

/** A fake Cognito plus admin API; `overrides` answers first. */
function backend(overrides: FetchRoute = () => undefined): FetchRoute {
  return async (call) => {
    const answer = await overrides(call);
    if (answer) return answer;
    if (call.url === COGNITO) {
      const body = call.body as { AuthParameters?: { USERNAME?: string; PASSWORD?: string } };
      if (body.AuthParameters?.PASSWORD !== 'right-password') {
        return jsonResponse(400, { __type: 'NotAuthorizedException', message: 'Incorrect username or password.' });
      }
      return jsonResponse(200, { AuthenticationResult: { AccessToken: 'access-token', IdToken: 'id-token', ExpiresIn: 3600 } });
    }
    if (!signedIn(call)) return jsonResponse(401, { error: { code: 'unauthorized', message: 'Sign in.' } });
    const path = call.url.slice(API.length);
    if (path === '/api/me') return jsonResponse(200, ADMIN_ME);
    if (path.startsWith('/api/admin/screenings?')) return jsonResponse(200, { items: [DONE, REJECTED], next_cursor: null });
    if (path === `/api/admin/screenings/${DONE.id}`) return call.method === 'DELETE' ? emptyResponse(204) : jsonResponse(200, DONE);
    if (path === '/api/admin/stats') return jsonResponse(200, { total: 2, by_status: { done: 1, rejected: 1 } });
    return undefined;
  };
}

function renderAdmin(route: FetchRoute, { config = CONFIG, hash = '#/admin' }: { config?: RuntimeConfig; hash?: string } = {}) {
  window.location.hash = hash;
  const fake = fakeFetch(route);
  const utils = renderWithProviders(
    <ConfigProvider config={config}>
      <AdminPage fetchImpl={fake.fetchImpl} exportPollMs={1} />
    </ConfigProvider>,
  );
  const listCalls = () => fake.calls.filter((call) => call.method === 'GET' && call.url.startsWith(`${API}/api/admin/screenings?`));
  return { ...fake, ...utils, listCalls };
}

function storeValidSession() {
  window.sessionStorage.setItem(
    SESSION_STORAGE_KEY,
    JSON.stringify({ username: 'ada', accessToken: 'access-token', idToken: 'id-token', expiresAt: Date.now() + 3_600_000 }),
  );
}

async function signIn(password = 'right-password') {
  await userEvent.type(screen.getByLabelText('Username'), 'ada');
  await userEvent.type(screen.getByLabelText('Password'), password);
  await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
}

const queryOf = (call: FetchCall | undefined) => Object.fromEntries(new URL(call?.url ?? 'http://x/').searchParams);

describe('AdminPage sign-in', () => {
  it('says so when sign-in is not configured', () => {
    const { calls } = renderAdmin(backend(), { config: { apiBaseUrl: '' } });
    expect(screen.getByTestId('admin-not-configured').textContent).toMatch(/cognitoEndpoint/);
    expect(screen.queryByLabelText('Password')).toBeNull();
    expect(calls).toHaveLength(0);
  });

  it('signs in with Cognito, keeps the token for this tab only, and lists screenings with it', async () => {
    const { calls, listCalls } = renderAdmin(backend());
    expect(screen.getByRole('heading', { level: 2, name: 'Sign in' })).toBeTruthy();
    await signIn();

    const table = await screen.findByRole('table');
    const cognitoCall = calls[0];
    expect(cognitoCall?.url).toBe(COGNITO);
    expect(cognitoCall?.headers['x-amz-target']).toBe('AWSCognitoIdentityProviderService.InitiateAuth');
    expect(cognitoCall?.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(cognitoCall?.body).toMatchObject({ AuthFlow: 'USER_PASSWORD_AUTH', ClientId: 'client-1' });
    expect(listCalls()[0]?.headers.authorization).toBe('Bearer id-token');
    expect(JSON.parse(window.sessionStorage.getItem(SESSION_STORAGE_KEY) ?? '{}')).toMatchObject({ idToken: 'id-token', username: 'ada' });
    expect(Object.keys(window.localStorage).some((key) => key.includes('admin'))).toBe(false);
    expect(screen.getByTestId('admin-signed-in').textContent).toBe('Signed in as ada');

    // One row per screening: date, status, label, probability, feedback.
    const rows = within(table).getAllByTestId('admin-row');
    expect(rows.map((row) => row.getAttribute('data-screening-id'))).toEqual([DONE.id, REJECTED.id]);
    const first = within(rows[0] as HTMLElement);
    expect(first.getByText('Done')).toBeTruthy();
    expect(first.getByText('Glaucoma')).toBeTruthy();
    expect(first.getByText('91.3%')).toBeTruthy();
    expect(first.getByText('Yes')).toBeTruthy();
    expect(first.getByRole('link').getAttribute('href')).toBe(`#/admin/screenings/${DONE.id}`);
    expect(within(rows[1] as HTMLElement).getByText('No')).toBeTruthy();
    // Stats came along.
    expect(await screen.findByTestId('stat-group-by_status')).toBeTruthy();
  });

  it("shows Cognito's refusal and calls no admin route", async () => {
    const { calls } = renderAdmin(backend());
    await signIn('wrong-password');
    expect((await screen.findByRole('alert')).textContent).toBe('Incorrect username or password.');
    expect(calls.filter((call) => call.url.startsWith(API))).toHaveLength(0);
    expect(window.sessionStorage.getItem(SESSION_STORAGE_KEY)).toBeNull();
    expect(screen.getByLabelText('Password')).toBeTruthy();
  });

  it('asks for both fields before calling Cognito', async () => {
    const { calls } = renderAdmin(backend());
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(screen.getByRole('alert').textContent).toBe('Enter your username and your password.');
    expect(calls).toHaveLength(0);
  });

  it('goes back to sign-in, saying the session expired, when the API answers 401', async () => {
    storeValidSession();
    const { listCalls } = renderAdmin(backend((call) => (call.url.includes('/api/admin/') ? jsonResponse(401, { error: { code: 'unauthorized', message: 'Token expired.' } }) : undefined)));
    expect(await screen.findByText('Your session has expired. Please sign in again.')).toBeTruthy();
    expect(listCalls()).toHaveLength(1);
    expect(screen.getByLabelText('Password')).toBeTruthy();
    expect(window.sessionStorage.getItem(SESSION_STORAGE_KEY)).toBeNull();
  });

  it('treats an expired stored session as signed out without calling the API', () => {
    window.sessionStorage.setItem(
      SESSION_STORAGE_KEY,
      JSON.stringify({ username: 'ada', accessToken: 'a', idToken: 'i', expiresAt: Date.now() - 1000 }),
    );
    const { calls } = renderAdmin(backend());
    expect(screen.getByText('Your session has expired. Please sign in again.')).toBeTruthy();
    expect(calls).toHaveLength(0);
  });

  it('says the account is not an administrator on 403', async () => {
    renderAdmin(backend((call) => (call.url.includes('/api/admin/') ? jsonResponse(403, { error: { code: 'forbidden', message: 'Not in admins.' } }) : undefined)));
    await signIn();
    const forbidden = await screen.findByTestId('admin-forbidden');
    expect(forbidden.textContent).toMatch(/Your account is not an administrator/);
    expect(screen.queryByRole('table')).toBeNull();
    await userEvent.click(within(forbidden).getByRole('button', { name: 'Sign in with another account' }));
    expect(screen.getByLabelText('Password')).toBeTruthy();
  });

  it('signs out, forgetting the token', async () => {
    storeValidSession();
    renderAdmin(backend());
    await screen.findByRole('table');
    await userEvent.click(screen.getByRole('button', { name: 'Sign out' }));
    expect(screen.getByText('You have signed out.')).toBeTruthy();
    expect(window.sessionStorage.getItem(SESSION_STORAGE_KEY)).toBeNull();
  });
});

describe('AdminPage screenings table', () => {
  it('puts the filters in the query string, and clears them', async () => {
    storeValidSession();
    const { listCalls } = renderAdmin(backend());
    await screen.findByRole('table');
    expect(queryOf(listCalls()[0])).toEqual({ limit: '50' });

    await userEvent.selectOptions(screen.getByLabelText('Status'), 'done');
    await userEvent.selectOptions(screen.getByLabelText('Model result'), 'glaucoma');
    await userEvent.selectOptions(screen.getByLabelText('Feedback'), 'missing');
    fireEvent.change(screen.getByLabelText('Created from'), { target: { value: '2026-11-01' } });
    fireEvent.change(screen.getByLabelText('Created up to'), { target: { value: '2026-11-30' } });
    await userEvent.click(screen.getByRole('button', { name: 'Apply filters' }));

    await waitFor(() => expect(listCalls()).toHaveLength(2));
    expect(queryOf(listCalls()[1])).toEqual({
      status: 'done',
      label: 'glaucoma',
      feedback: 'missing',
      from: new Date(2026, 10, 1).toISOString(),
      to: new Date(2026, 10, 30, 23, 59, 59, 999).toISOString(),
      limit: '50',
    });

    await userEvent.click(screen.getByRole('button', { name: 'Clear filters' }));
    await waitFor(() => expect(listCalls()).toHaveLength(3));
    expect(queryOf(listCalls()[2])).toEqual({ limit: '50' });
    expect((screen.getByLabelText('Status') as HTMLSelectElement).value).toBe('');
  });

  it('refuses a date range that ends before it starts', async () => {
    storeValidSession();
    const { listCalls } = renderAdmin(backend());
    await screen.findByRole('table');
    fireEvent.change(screen.getByLabelText('Created from'), { target: { value: '2026-11-30' } });
    fireEvent.change(screen.getByLabelText('Created up to'), { target: { value: '2026-11-01' } });
    await userEvent.click(screen.getByRole('button', { name: 'Apply filters' }));
    expect(screen.getByRole('alert').textContent).toMatch(/after/);
    expect(listCalls()).toHaveLength(1);
  });

  it('pages forward with the cursor of each answer, and back', async () => {
    storeValidSession();
    const pages: Record<string, unknown> = {
      '': { items: [DONE], next_cursor: 'cur-2' },
      'cur-2': { items: [REJECTED], cursor: 'cur-3' }, // tolerated spelling
      'cur-3': { items: [{ ...REJECTED, id: 'cccccccc-0000-4000-8000-000000000003' }], next_cursor: null },
    };
    const { listCalls } = renderAdmin(
      backend((call) => {
        if (!call.url.includes('/api/admin/screenings?')) return undefined;
        return jsonResponse(200, pages[new URL(call.url).searchParams.get('cursor') ?? '']);
      }),
    );
    await screen.findByRole('table');
    expect(screen.getByRole('button', { name: 'Previous page' }).hasAttribute('disabled')).toBe(true);

    await userEvent.click(screen.getByRole('button', { name: 'Next page' }));
    await waitFor(() => expect(screen.getAllByTestId('admin-row')[0]?.getAttribute('data-screening-id')).toBe(REJECTED.id));
    expect(queryOf(listCalls()[1])).toEqual({ limit: '50', cursor: 'cur-2' });
    expect(screen.getByRole('table', { name: 'Screenings, newest first: page 2' })).toBeTruthy();

    await userEvent.click(screen.getByRole('button', { name: 'Next page' }));
    await waitFor(() => expect(queryOf(listCalls()[2])).toEqual({ limit: '50', cursor: 'cur-3' }));
    await waitFor(() => expect(screen.getByRole('button', { name: 'Next page' }).hasAttribute('disabled')).toBe(true));

    await userEvent.click(screen.getByRole('button', { name: 'Previous page' }));
    await waitFor(() => expect(queryOf(listCalls()[3])).toEqual({ limit: '50', cursor: 'cur-2' }));
    await userEvent.click(await screen.findByRole('button', { name: 'First page' }));
    await waitFor(() => expect(queryOf(listCalls()[4])).toEqual({ limit: '50' }));
  });
});

describe('AdminPage detail and deletion', () => {
  it('shows the photos, result, feedback and consent of one screening', async () => {
    storeValidSession();
    renderAdmin(backend(), { hash: `#/admin/screenings/${DONE.id}` });
    const detail = await screen.findByTestId('admin-detail');
    await within(detail).findByText('left_eye.png');
    expect(within(detail).getByTestId('admin-original').getAttribute('src')).toBe(ORIGINAL_URL);
    expect(within(detail).getByTestId('admin-crop').getAttribute('src')).toBe(`${API}${DONE.links.crop}`);
    expect(within(detail).getByTestId('admin-heatmap').getAttribute('src')).toBe(`${API}${DONE.links.heatmap}`);
    expect(within(detail).getByTestId('admin-detail-label').textContent).toBe('Glaucoma');
    expect(within(detail).getByText('91.3%')).toBeTruthy();
    const feedback = within(detail).getByTestId('admin-detail-feedback');
    expect(feedback.textContent).toMatch(/Was this result right\?Yes/);
    expect(feedback.textContent).toMatch(/Age \(years\)63/);
    expect(feedback.textContent).toMatch(/EyeRight/);
    expect(within(detail).getByTestId('admin-detail-consent').textContent).toMatch(/AcceptedYesWhen.+Version of the consent textv1/);
    expect(document.activeElement?.id).toBe('admin-detail-title');
  });

  it('tolerates an original_url field instead', async () => {
    storeValidSession();
    const record = { ...DONE, original: null, links: { ...DONE.links, original: undefined }, original_url: 'https://s3.test/other.png' };
    renderAdmin(backend((call) => (call.url.endsWith(`/api/admin/screenings/${DONE.id}`) ? jsonResponse(200, record) : undefined)), {
      hash: `#/admin/screenings/${DONE.id}`,
    });
    expect((await screen.findByTestId('admin-original')).getAttribute('src')).toBe('https://s3.test/other.png');
  });

  it('deletes only after confirmation, then returns to the list with a notice', async () => {
    storeValidSession();
    const { calls, listCalls } = renderAdmin(backend());
    const table = await screen.findByRole('table');
    await userEvent.click(within(table).getAllByRole('link')[0] as HTMLElement);
    const detail = await screen.findByTestId('admin-detail');
    await within(detail).findByText('left_eye.png');
    const deletes = () => calls.filter((call) => call.method === 'DELETE');

    // Cancel (focused first) and Escape both leave it alone.
    const deleteButton = screen.getByRole('button', { name: 'Delete this screening' });
    await userEvent.click(deleteButton);
    let dialog = screen.getByRole('alertdialog', { name: 'Delete this screening?' });
    expect(dialog.textContent).toContain(DONE.id);
    expect(document.activeElement).toBe(within(dialog).getByRole('button', { name: 'Cancel' }));
    await userEvent.keyboard('{Escape}');
    expect(screen.queryByRole('alertdialog')).toBeNull();
    expect(document.activeElement).toBe(deleteButton);
    await userEvent.click(deleteButton);
    await userEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(deletes()).toHaveLength(0);

    await userEvent.click(deleteButton);
    dialog = screen.getByRole('alertdialog');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Delete for good' }));

    const notice = await screen.findByTestId('admin-notice');
    expect(notice.textContent).toContain(`Screening ${DONE.id} was deleted`);
    expect(deletes()).toHaveLength(1);
    expect(deletes()[0]).toMatchObject({ url: `${API}/api/admin/screenings/${DONE.id}` });
    expect(deletes()[0]?.headers.authorization).toBe('Bearer id-token');
    expect(window.location.hash).toBe('#/admin');
    expect(screen.queryByTestId('admin-detail')).toBeNull();
    await waitFor(() => expect(listCalls()).toHaveLength(2)); // the list is read again
    await waitFor(() => expect(document.activeElement).toBe(notice));
  });

  it('says when the screening no longer exists', async () => {
    storeValidSession();
    renderAdmin(backend(), { hash: '#/admin/screenings/dddddddd-0000-4000-8000-000000000004' });
    expect((await screen.findByTestId('admin-detail-not-found')).textContent).toMatch(/no screening with this id/);
  });
});

describe('AdminPage stats and export', () => {
  it('shows every figure of the stats, grouped', async () => {
    storeValidSession();
    renderAdmin(
      backend((call) =>
        call.url.endsWith('/api/admin/stats')
          ? jsonResponse(200, {
              total: 12,
              by_status: { awaiting_upload: 0, queued: 0, processing: 0, done: 10, rejected: 0, failed: 2 },
              by_label: { glaucoma: 4, normal: 6 },
              by_true_label: { glaucoma: 3, normal: 1, suspect: 1, unknown: 0 },
              by_model_version: { 'vgg19-2026-11-25': 10 },
              feedback: { given: 5, missing: 5, agree: 4, disagree: 1, unknown: 0 },
              agreement_rate: 0.8,
              something_new: { nested: { figure: 2.5 } },
            })
          : undefined,
      ),
    );
    const stats = await screen.findByTestId('admin-stats');
    const group = async (key: string) => (await within(stats).findByTestId(`stat-group-${key}`)).textContent;
    expect(await group('totals')).toBe('TotalsTotal12Agreement rate between model and feedback80%');
    expect(await group('by_status')).toBe('By statusAwaiting upload0Queued0Processing0Done10Rejected0Failed2');
    expect(await group('by_label')).toBe('By model resultGlaucoma4Normal6');
    expect(await group('by_true_label')).toBe('By diagnosis given in feedbackGlaucoma3Normal1Glaucoma suspect1Unknown0');
    expect(await group('by_model_version')).toBe('By model version (finished screenings)vgg19-2026-11-2510');
    expect(await group('feedback')).toMatch(
      /With feedback5Without feedback5Model and feedback agree4Model and feedback disagree1Feedback without a verdict0$/,
    );
    // Keys nobody named still show, made readable.
    expect(await group('something_new')).toBe('Something newNested › Figure2.5');
  });

  it('shows a missing agreement rate as a dash', async () => {
    storeValidSession();
    renderAdmin(backend((call) => (call.url.endsWith('/api/admin/stats') ? jsonResponse(200, { total: 0, agreement_rate: null }) : undefined)));
    expect((await screen.findByTestId('stat-group-totals')).textContent).toBe('TotalsTotal0Agreement rate between model and feedback—');
  });

  it('starts an export, polls it, and offers the download', async () => {
    storeValidSession();
    let polls = 0;
    const { calls } = renderAdmin(
      backend((call) => {
        const counts = { screenings: 3, glaucoma: 1, normal: 2 };
        if (call.url.endsWith('/api/admin/exports') && call.method === 'POST') {
          return jsonResponse(202, { id: 'exp-1', status: 'queued', counts: { screenings: 0 }, links: { self: '/api/admin/exports/exp-1' } });
        }
        if (call.url.endsWith('/api/admin/exports/exp-1')) {
          polls += 1;
          return jsonResponse(
            200,
            polls < 2
              ? { id: 'exp-1', status: 'running', counts }
              : { id: 'exp-1', status: 'done', counts, download_url: 'https://s3.test/exp-1.zip', links: { download: 'https://s3.test/exp-1.zip' } },
          );
        }
        return undefined;
      }),
    );
    await screen.findByRole('table');
    await userEvent.click(screen.getByRole('button', { name: 'Export dataset' }));
    const link = await screen.findByRole('link', { name: 'Download the export' });
    expect(link.getAttribute('href')).toBe('https://s3.test/exp-1.zip');
    expect(screen.getByTestId('admin-export-status').textContent).toMatch(/ready.*3/);
    expect(polls).toBe(2);
    expect(calls.find((call) => call.method === 'POST' && call.url.endsWith('/api/admin/exports'))?.headers.authorization).toBe('Bearer id-token');
  });
});
