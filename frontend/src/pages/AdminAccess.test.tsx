import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { SESSION_STORAGE_KEY } from '../admin/session';
import type { RuntimeConfig } from '../config';
import { ConfigProvider } from '../ConfigContext';
import { LANGUAGE_STORAGE_KEY } from '../i18n/I18nContext';
import { fakeFetch, jsonResponse, type FetchCall, type FetchRoute } from '../test/fakeFetch';
import { renderWithProviders } from '../test/render';
import { AdminPage } from './AdminPage';

const COGNITO = 'http://cognito.test/';
const CONFIG: RuntimeConfig = { apiBaseUrl: 'http://api.test', cognitoEndpoint: COGNITO, cognitoClientId: 'client-1' };
const API = 'http://api.test'; // the fake PapilaApi's resolve() prefix

const ADMIN = ['admins'];
const REVIEWER = ['clinicians', 'reviewers'];
const CLINICIAN = ['clinicians'];

const REVIEW = {
  items: [
    {
      id: 'rev-1',
      created_at: '2026-12-05T09:00:00Z',
      priority: 1.62,
      probability_glaucoma: 0.62,
      threshold: 0.5757,
      label: 'glaucoma',
      probability_network: null,
      cdr: null,
      links: { crop: '/api/screenings/rev-1/crop', review: '/api/admin/screenings/rev-1/review' },
    },
  ],
  limit: 20,
  candidates: 1,
};

const pathOf = (call: FetchCall) => call.url.slice(API.length);
const refused = () => jsonResponse(403, { error: { code: 'forbidden', message: 'Your account is not in the admins group.' } });
/** Routes a reviewer may not use: anything of the admin API but the review queue. */
const adminOnly = (call: FetchCall) => pathOf(call).startsWith('/api/admin/') && !/^\/api\/admin\/(review\?|screenings\/[^/]+\/review$)/.test(pathOf(call));

/**
 * Cognito and the API as they treat an account in `groups`: GET /api/me says them, the review queue
 * wants `admins` or `reviewers`, every other admin route `admins`; `me` answers /api/me first.
 */
function backend(groups: string[], me: (call: FetchCall) => Response | undefined = () => undefined): FetchRoute {
  return (call) => {
    if (call.url === COGNITO) {
      return jsonResponse(200, { AuthenticationResult: { AccessToken: 'access-token', IdToken: 'id-token', ExpiresIn: 3600 } });
    }
    if (call.headers.authorization !== 'Bearer id-token') return jsonResponse(401, { error: { code: 'unauthorized', message: 'Sign in.' } });
    const path = pathOf(call);
    if (path === '/api/me') return me(call) ?? jsonResponse(200, { sub: 'sub-1', username: 'rita', groups, role: 'clinician' });
    if (adminOnly(call)) {
      if (!groups.includes('admins')) return refused();
      if (path.startsWith('/api/admin/screenings?')) return jsonResponse(200, { items: [], next_cursor: null });
      if (path === '/api/admin/stats') return jsonResponse(200, { total: 0 });
      return undefined;
    }
    if (!groups.includes('admins') && !groups.includes('reviewers')) return refused();
    if (path.startsWith('/api/admin/review?')) return jsonResponse(200, REVIEW);
    if (path === '/api/admin/screenings/rev-1/review' && call.method === 'PUT') return jsonResponse(200, { id: 'rev-1', status: 'done' });
    return undefined;
  };
}

function renderAdmin(route: FetchRoute, { hash = '#/admin', stored = true }: { hash?: string; stored?: boolean } = {}) {
  if (stored) {
    window.sessionStorage.setItem(
      SESSION_STORAGE_KEY,
      JSON.stringify({ username: 'rita', accessToken: 'access-token', idToken: 'id-token', expiresAt: Date.now() + 3_600_000 }),
    );
  }
  window.location.hash = hash;
  const fake = fakeFetch(route);
  const utils = renderWithProviders(
    <ConfigProvider config={CONFIG}>
      <AdminPage fetchImpl={fake.fetchImpl} />
    </ConfigProvider>,
  );
  const adminCalls = () => fake.calls.filter((call) => call.url.startsWith(`${API}/api/admin/`));
  const adminOnlyCalls = () => fake.calls.filter(adminOnly);
  return { ...fake, ...utils, adminCalls, adminOnlyCalls };
}

async function signIn() {
  await userEvent.type(screen.getByLabelText('Username'), 'rita');
  await userEvent.type(screen.getByLabelText('Password'), 'right-password');
  await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
}

const tabNames = async () => (await screen.findAllByRole('tab')).map((tab) => tab.textContent);

describe('admin panel by role', () => {
  it('asks GET /api/me with the token, and shows an admin the four tabs', async () => {
    const { calls, adminOnlyCalls } = renderAdmin(backend(ADMIN));
    expect(await tabNames()).toEqual(['Screenings', 'Models', 'Monitoring', 'Review queue']);
    const me = calls.filter((call) => call.url === `${API}/api/me`);
    expect(me).toHaveLength(1);
    expect(me[0]?.headers.authorization).toBe('Bearer id-token');
    await waitFor(() => expect(adminOnlyCalls().some((call) => pathOf(call).startsWith('/api/admin/screenings?'))).toBe(true));
    expect(screen.queryByTestId('admin-reviewer-note')).toBeNull();
    expect(screen.queryByTestId('admin-forbidden')).toBeNull();
  });

  it('shows a reviewer who signs in only the review queue, and asks nothing else of the admin API', async () => {
    const { calls, adminCalls, adminOnlyCalls } = renderAdmin(backend(REVIEWER), { hash: '#/admin/models', stored: false });
    await signIn();
    const items = await screen.findAllByTestId('review-item');
    expect(await tabNames()).toEqual(['Review queue']);
    expect(screen.getByRole('tab', { name: 'Review queue' }).getAttribute('aria-selected')).toBe('true');
    expect(screen.getAllByRole('tabpanel').map((panel) => panel.id)).toEqual(['admin-panel-review']);
    expect(screen.getByTestId('admin-reviewer-note').textContent).toBe('Signed in as a reviewer: only the review queue is open to you.');
    await waitFor(() => expect(document.activeElement?.id).toBe('admin-review-title'));
    // The screening's own page is closed to a reviewer: no link to it.
    expect(within(items[0] as HTMLElement).queryByRole('link')).toBeNull();

    await userEvent.click(within(items[0] as HTMLElement).getByRole('button', { name: 'Normal' }));
    expect((await screen.findByTestId('review-saved')).textContent).toBe('Labelled: Normal.');
    expect(calls.filter((call) => call.url === `${API}/api/me`)).toHaveLength(1);
    expect(adminCalls().map((call) => `${call.method} ${pathOf(call)}`)).toEqual([
      'GET /api/admin/review?limit=20',
      'PUT /api/admin/screenings/rev-1/review',
    ]);
    expect(adminOnlyCalls()).toHaveLength(0);
    expect(screen.queryByTestId('admin-forbidden')).toBeNull();
  });

  it.each(['#/admin', '#/admin/monitoring', '#/admin/screenings/rev-1'])('opens a restored reviewer session at %s on the review queue', async (hash) => {
    const { adminOnlyCalls } = renderAdmin(backend(REVIEWER), { hash });
    expect(await screen.findAllByTestId('review-item')).toHaveLength(1);
    expect(await tabNames()).toEqual(['Review queue']);
    expect(screen.queryByTestId('admin-detail')).toBeNull();
    expect(adminOnlyCalls()).toHaveLength(0);
  });

  it('tells an account in neither group it has no access, draws no panel, and signs it out', async () => {
    const { adminCalls } = renderAdmin(backend(CLINICIAN), { stored: false });
    await signIn();
    const closed = await screen.findByTestId('admin-no-access');
    expect(closed.getAttribute('role')).toBe('alert');
    expect(within(closed).getByRole('heading', { level: 2 }).textContent).toBe('No access to the admin panel');
    expect(closed.textContent).toMatch(/neither an administrator nor a reviewer/);
    await waitFor(() => expect(document.activeElement?.id).toBe('admin-no-access-title'));
    expect(screen.queryByRole('tablist')).toBeNull();
    expect(screen.queryByRole('tabpanel')).toBeNull();
    expect(adminCalls()).toHaveLength(0);

    await userEvent.click(within(closed).getByRole('button', { name: 'Sign in with another account' }));
    expect(screen.getByLabelText('Password')).toBeTruthy();
    expect(window.sessionStorage.getItem(SESSION_STORAGE_KEY)).toBeNull();
  });

  it('says the reviewer and no-access texts in Spanish', async () => {
    window.localStorage.setItem(LANGUAGE_STORAGE_KEY, 'es');
    const reviewer = renderAdmin(backend(REVIEWER));
    expect((await screen.findByTestId('admin-reviewer-note')).textContent).toBe('Sesión iniciada como revisor: solo tienes abierta la cola de revisión.');
    expect(await tabNames()).toEqual(['Cola de revisión']);
    reviewer.unmount();

    renderAdmin(backend(CLINICIAN));
    const closed = await screen.findByTestId('admin-no-access');
    expect(within(closed).getByRole('heading', { level: 2 }).textContent).toBe('Sin acceso al panel de administración');
    expect(within(closed).getByRole('button', { name: 'Iniciar sesión con otra cuenta' })).toBeTruthy();
  });

  it('shows no panel while GET /api/me fails, and tries again', async () => {
    let failing = true;
    const { adminCalls } = renderAdmin(
      backend(ADMIN, () => (failing ? jsonResponse(503, { error: { code: 'unavailable', message: 'Try again later.' } }) : undefined)),
    );
    const error = await screen.findByTestId('admin-access-error');
    expect(error.textContent).toContain('Try again later.');
    expect(screen.queryByRole('tablist')).toBeNull();
    expect(adminCalls()).toHaveLength(0);

    failing = false;
    await userEvent.click(within(error).getByRole('button', { name: 'Try again' }));
    expect(await tabNames()).toEqual(['Screenings', 'Models', 'Monitoring', 'Review queue']);
  });

  it('goes back to sign-in when GET /api/me refuses the token', async () => {
    const { adminCalls } = renderAdmin(backend(ADMIN, () => jsonResponse(401, { error: { code: 'unauthorized', message: 'Token expired.' } })));
    expect(await screen.findByText('Your session has expired. Please sign in again.')).toBeTruthy();
    expect(screen.getByLabelText('Password')).toBeTruthy();
    expect(adminCalls()).toHaveLength(0);
  });
});
