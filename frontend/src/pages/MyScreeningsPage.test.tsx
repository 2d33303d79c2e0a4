import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { accountAuth, createAccountStore } from '../account/accountStore';
import { createApiClient, type SecretStore } from '../api/client';
import { LANGUAGE_STORAGE_KEY } from '../i18n/I18nContext';
import { emptyResponse, fakeFetch, jsonResponse, type FetchCall, type FetchRoute } from '../test/fakeFetch';
import { renderWithProviders } from '../test/render';
import { MyScreeningsPage } from './MyScreeningsPage';

const SETTINGS = { endpoint: 'http://cognito.test', clientId: 'client-1' };
const TOKEN = 'access-1';

function item(id: string, created: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    status: 'done',
    owned: true,
    created_at: created,
    result: { probability_glaucoma: 0.8125, label: 'glaucoma' },
    links: { crop: `/api/screenings/${id}/crop`, report: `/api/screenings/${id}/report` },
    ...extra,
  };
}

const NEWEST = item('s-3', '2026-11-25T10:00:00Z', { feedback: { diagnosis_correct: true } });
const MIDDLE = item('s-2', '2026-11-20T10:00:00Z', { result: { probability_glaucoma: 0.1, label: 'normal' } });
const OLDEST = item('s-1', '2026-11-02T10:00:00Z');

function memorySecrets(initial: Record<string, string> = {}): SecretStore {
  const kept = new Map(Object.entries(initial));
  return {
    get: (id) => kept.get(id) ?? null,
    set: (id, secret) => void kept.set(id, secret),
    ids: () => [...kept.keys()],
    forget: (id) => void kept.delete(id),
  };
}

/** The page, signed in, against a real API client whose fetch `route` answers. */
function renderMine(route: FetchRoute, secrets: SecretStore = memorySecrets(), signedIn = true) {
  window.location.hash = '#/my';
  const account = createAccountStore({ settings: SETTINGS, fetchImpl: fakeFetch(() => jsonResponse(200, {})).fetchImpl });
  if (signedIn) account.signedIn({ username: 'ada@example.org', accessToken: TOKEN, expiresAt: Date.now() + 3_600_000 });
  const { fetchImpl, calls } = fakeFetch(route);
  const api = createApiClient('http://api', fetchImpl, secrets, accountAuth(account));
  renderWithProviders(<MyScreeningsPage exportPollMs={1} />, api, account);
  return { calls, account };
}

/** Serves the list (first page, or the page after `c2`) and the crops. */
function listRoute(extra?: FetchRoute): FetchRoute {
  return async (call) => {
    const answer = extra ? await extra(call) : undefined;
    if (answer) return answer;
    const url = new URL(call.url);
    if (url.pathname === '/api/me/screenings') {
      if (url.searchParams.get('cursor') === 'c2') return jsonResponse(200, { items: [OLDEST], next_cursor: null, limit: 20 });
      if (url.searchParams.get('label') === 'normal') return jsonResponse(200, { items: [MIDDLE], next_cursor: null, limit: 20 });
      return jsonResponse(200, { items: [NEWEST, MIDDLE], next_cursor: 'c2', limit: 20 });
    }
    if (url.pathname.endsWith('/crop')) return new Response('png', { status: 200, headers: { 'Content-Type': 'image/png' } });
    return undefined;
  };
}

const listCalls = (calls: FetchCall[]) => calls.filter((call) => new URL(call.url).pathname === '/api/me/screenings');
const rowIds = () => screen.queryAllByTestId('my-row').map((row) => row.getAttribute('data-screening-id'));

beforeEach(() => {
  let counter = 0;
  URL.createObjectURL = vi.fn(() => `blob:object-${(counter += 1)}`);
  URL.revokeObjectURL = vi.fn();
});

describe('My screenings', () => {
  it('lists the screenings newest first with status, result, feedback and a crop fetched with the token', async () => {
    const { calls } = renderMine(listRoute());
    await waitFor(() => expect(rowIds()).toEqual(['s-3', 's-2']));
    const [first, second] = screen.getAllByTestId('my-row') as [HTMLElement, HTMLElement];
    expect(within(first).getByTestId('my-row-status').textContent).toBe('Done');
    expect(within(first).getByTestId('my-row-result').textContent).toBe('Glaucoma · 81.3% likelihood of glaucoma');
    expect(within(first).getByTestId('my-row-feedback').getAttribute('data-value')).toBe('given');
    expect(within(second).getByTestId('my-row-feedback').getAttribute('data-value')).toBe('missing');
    expect(within(first).getByTestId('my-open').getAttribute('href')).toBe('#/my/s-3');
    expect(listCalls(calls)[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    // <img> cannot send headers: the crop is fetched with them and shown from an object URL.
    await waitFor(() => expect(within(first).getByTestId('my-crop').getAttribute('src')).toMatch(/^blob:object-/));
    const cropCall = calls.find((call) => call.url === 'http://api/api/screenings/s-3/crop');
    expect(cropCall?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('filters by label and date range, and loads more with the cursor', async () => {
    const { calls } = renderMine(listRoute());
    await waitFor(() => expect(rowIds()).toEqual(['s-3', 's-2']));
    await userEvent.click(screen.getByTestId('my-load-more'));
    await waitFor(() => expect(rowIds()).toEqual(['s-3', 's-2', 's-1']));
    expect(new URL(listCalls(calls)[1]?.url ?? '').searchParams.get('cursor')).toBe('c2');
    expect(screen.queryByTestId('my-load-more')).toBeNull();

    await userEvent.selectOptions(screen.getByLabelText('Result'), 'normal');
    fireEvent.change(screen.getByLabelText('From'), { target: { value: '2026-11-10' } });
    fireEvent.change(screen.getByLabelText('Up to'), { target: { value: '2026-11-30' } });
    await userEvent.click(screen.getByRole('button', { name: 'Apply filters' }));
    await waitFor(() => expect(rowIds()).toEqual(['s-2']));
    const query = new URL(listCalls(calls)[2]?.url ?? '').searchParams;
    expect(query.get('label')).toBe('normal');
    expect(new Date(query.get('from') ?? '').getTime()).toBe(new Date(2026, 10, 10).getTime());
    expect(new Date(query.get('to') ?? '').getTime()).toBe(new Date(2026, 10, 30, 23, 59, 59, 999).getTime());
    expect(query.get('cursor')).toBeNull();
  });

  it('refuses a "from" date after the "up to" date', async () => {
    const { calls } = renderMine(listRoute());
    await waitFor(() => expect(rowIds()).toHaveLength(2));
    fireEvent.change(screen.getByLabelText('From'), { target: { value: '2026-12-10' } });
    fireEvent.change(screen.getByLabelText('Up to'), { target: { value: '2026-11-30' } });
    await userEvent.click(screen.getByRole('button', { name: 'Apply filters' }));
    expect(screen.getByRole('alert').textContent).toMatch(/after/);
    expect(listCalls(calls)).toHaveLength(1);
  });

  it('claims a screening by id and secret, and explains 409 already_owned', async () => {
    const { calls } = renderMine(
      listRoute((call) => {
        if (call.url.endsWith('/api/screenings/taken/claim'))
          return jsonResponse(409, { error: { code: 'already_owned', message: 'This screening belongs to another account.' } });
        if (call.url.endsWith('/claim')) return jsonResponse(200, item('anon-1', '2026-11-26T10:00:00Z'));
        return undefined;
      }),
    );
    await waitFor(() => expect(rowIds()).toHaveLength(2));
    const form = screen.getByTestId('my-claim');
    await userEvent.click(within(form).getByRole('button', { name: 'Add to my account' }));
    expect(screen.getByTestId('my-claim-result').textContent).toBe('Enter the screening id and its secret.');

    await userEvent.type(within(form).getByLabelText('Screening ID'), 'anon-1');
    await userEvent.type(within(form).getByLabelText('Secret'), 'the-secret');
    await userEvent.click(within(form).getByRole('button', { name: 'Add to my account' }));
    await waitFor(() => expect(screen.getByTestId('my-claim-result').getAttribute('data-outcome')).toBe('claimed'));
    const claim = calls.find((call) => call.url === 'http://api/api/screenings/anon-1/claim');
    expect(claim?.method).toBe('POST');
    expect(claim?.headers).toMatchObject({ authorization: `Bearer ${TOKEN}`, 'x-screening-secret': 'the-secret' });
    // The list is asked again, to show the claimed screening.
    await waitFor(() => expect(listCalls(calls)).toHaveLength(2));

    await userEvent.type(within(form).getByLabelText('Screening ID'), 'taken');
    await userEvent.type(within(form).getByLabelText('Secret'), 'x');
    await userEvent.click(within(form).getByRole('button', { name: 'Add to my account' }));
    await waitFor(() => expect(screen.getByTestId('my-claim-result').getAttribute('data-outcome')).toBe('already_owned'));
    expect(screen.getByTestId('my-claim-result').textContent).toBe(
      'Screening taken already belongs to another account, so it cannot be added to yours.',
    );
  });

  it("offers this tab's screenings, known by their kept secrets, for a one-click claim", async () => {
    const { calls } = renderMine(
      listRoute((call) => (call.url.endsWith('/claim') ? jsonResponse(200, item('tab-1', '2026-11-26T10:00:00Z')) : undefined)),
      // s-3 is already in the list: only tab-1 is offered.
      memorySecrets({ 'tab-1': 'tab-secret', 's-3': 'other' }),
    );
    await waitFor(() => expect(rowIds()).toHaveLength(2));
    const offers = screen.getAllByTestId('my-claim-tab');
    expect(offers.map((offer) => offer.getAttribute('data-screening-id'))).toEqual(['tab-1']);
    await userEvent.click(offers[0] as HTMLElement);
    await waitFor(() => expect(screen.queryByTestId('my-claim-tab')).toBeNull());
    const claim = calls.find((call) => call.url.endsWith('/tab-1/claim'));
    expect(claim?.headers['x-screening-secret']).toBe('tab-secret');
  });

  it('deletes a screening only after confirmation, and it leaves the list', async () => {
    const { calls } = renderMine(listRoute((call) => (call.method === 'DELETE' ? emptyResponse(204) : undefined)));
    await waitFor(() => expect(rowIds()).toEqual(['s-3', 's-2']));
    const deleteOf = (id: string) =>
      within(screen.getAllByTestId('my-row').find((row) => row.getAttribute('data-screening-id') === id) as HTMLElement).getByTestId('my-delete');

    await userEvent.click(deleteOf('s-3'));
    const dialog = screen.getByTestId('my-delete-dialog');
    expect(within(dialog).getByRole('heading').textContent).toBe('Delete this screening?');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByTestId('my-delete-dialog')).toBeNull();
    expect(calls.filter((call) => call.method === 'DELETE')).toHaveLength(0);
    expect(document.activeElement).toBe(deleteOf('s-3'));

    await userEvent.click(deleteOf('s-3'));
    await userEvent.click(within(screen.getByTestId('my-delete-dialog')).getByRole('button', { name: 'Delete for good' }));
    await waitFor(() => expect(rowIds()).toEqual(['s-2']));
    const deletion = calls.filter((call) => call.method === 'DELETE');
    expect(deletion.map((call) => call.url)).toEqual(['http://api/api/screenings/s-3']);
    expect(deletion[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(screen.getByTestId('my-notice').textContent).toMatch(/was deleted/);
  });

  it('polls the data export until it offers the download link', async () => {
    let polls = 0;
    const { calls } = renderMine(
      listRoute((call) => {
        if (call.url.endsWith('/api/me/exports')) return jsonResponse(202, { id: 'exp-1', status: 'queued' });
        if (call.url.endsWith('/api/me/exports/exp-1')) {
          polls += 1;
          return polls < 3
            ? jsonResponse(200, { id: 'exp-1', status: 'running' })
            : jsonResponse(200, { id: 'exp-1', status: 'done', download_url: 'https://s3.test/exports/exp-1.zip?sig=1', counts: { screenings: 3 } });
        }
        return undefined;
      }),
    );
    const panel = screen.getByTestId('my-export');
    expect(within(panel).getByRole('heading').textContent).toBe('Download all my data');
    await userEvent.click(within(panel).getByRole('button', { name: 'Prepare the download' }));
    const link = await screen.findByTestId('my-export-download', {}, { timeout: 5000 });
    expect(link.getAttribute('href')).toBe('https://s3.test/exports/exp-1.zip?sig=1');
    expect(polls).toBe(3);
    const exportCalls = calls.filter((call) => call.url.includes('/api/me/exports'));
    expect(exportCalls[0]?.method).toBe('POST');
    for (const call of exportCalls) expect(call.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('fetches the report with the token and opens it as a blob', async () => {
    const open = vi.spyOn(window, 'open').mockImplementation(() => null);
    const { calls } = renderMine(
      listRoute((call) => (call.url.endsWith('/report') ? new Response('%PDF', { headers: { 'Content-Type': 'application/pdf' } }) : undefined)),
    );
    await waitFor(() => expect(rowIds()).toHaveLength(2));
    await userEvent.click(within(screen.getAllByTestId('my-row')[0] as HTMLElement).getByTestId('my-report'));
    await waitFor(() => expect(open).toHaveBeenCalledTimes(1));
    const report = calls.find((call) => call.url === 'http://api/api/screenings/s-3/report');
    expect(report?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(open.mock.calls[0]?.[0]).toMatch(/^blob:object-/);
    // A blocked pop-up still leaves a link to the same blob.
    expect(screen.getByTestId('my-report-link').getAttribute('href')).toBe(open.mock.calls[0]?.[0]);
  });

  it('asks to sign in, and calls nothing, when nobody is signed in', () => {
    const { calls } = renderMine(listRoute(), memorySecrets(), false);
    expect(screen.getByTestId('my-screenings-signed-out').textContent).toMatch(/Sign in to see the screenings of your account/);
    expect(screen.queryByTestId('my-screenings')).toBeNull();
    expect(calls).toHaveLength(0);
  });

  it('goes back to the sign-in when the API refuses the token', async () => {
    const { account } = renderMine(() => jsonResponse(401, { error: { code: 'unauthorized', message: 'Token expired.' } }));
    await waitFor(() => expect(screen.getByTestId('my-screenings-signed-out')).toBeTruthy());
    expect(account.getState()).toMatchObject({ session: null, notice: 'expired' });
    expect(screen.getByText('Your sign-in has expired. Please sign in again.')).toBeTruthy();
  });

  it('shows one screening in the result view, its images fetched with the token', async () => {
    window.location.hash = '#/my/s-3';
    const { calls } = renderMine(
      listRoute((call) => {
        if (call.url === 'http://api/api/screenings/s-3') return jsonResponse(200, item('s-3', '2026-11-25T10:00:00Z', { updated_at: 'v1' }));
        if (call.url.includes('/heatmap')) return new Response('png', { headers: { 'Content-Type': 'image/png' } });
        return undefined;
      }),
    );
    // renderMine sets #/my; go to the detail.
    window.location.hash = '#/my/s-3';
    await screen.findByTestId('result-view');
    expect(screen.getByTestId('my-detail').getAttribute('data-screening-id')).toBe('s-3');
    await waitFor(() => expect(screen.getByTestId('result-crop').getAttribute('src')).toMatch(/^blob:object-/));
    const crop = calls.find((call) => call.url.startsWith('http://api/api/screenings/s-3/crop'));
    expect(crop?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(screen.getByTestId('my-back').getAttribute('href')).toBe('#/my');
  });

  it('is in Spanish too', async () => {
    window.localStorage.setItem(LANGUAGE_STORAGE_KEY, 'es');
    renderMine(listRoute());
    await waitFor(() => expect(rowIds()).toHaveLength(2));
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('Mis cribados');
    expect(screen.getByTestId('my-export').textContent).toMatch(/Descargar todos mis datos/);
    expect(screen.getByTestId('my-claim').textContent).toMatch(/Añadir a mi cuenta/);
    expect(screen.getByTestId('my-load-more').textContent).toBe('Cargar más');
  });
});
