import { describe, expect, it, vi } from 'vitest';
import { NO_FILTERS } from './lists';
import { fakeFetch, emptyResponse, jsonResponse } from '../test/fakeFetch';
import { ApiError, createApiClient, sessionSecretStore, type ApiAuth, type SecretStore } from './client';

function memorySecrets(initial: Record<string, string> = {}): SecretStore & { kept: Map<string, string> } {
  const kept = new Map(Object.entries(initial));
  return {
    kept,
    get: (id) => kept.get(id) ?? null,
    set: (id, secret) => void kept.set(id, secret),
    ids: () => [...kept.keys()],
    forget: (id) => void kept.delete(id),
  };
}

const signedIn = (token = 'access-1') => ({
  accessToken: async () => token,
  rejected: vi.fn<() => void>(),
});
const anonymous: ApiAuth = { accessToken: async () => null };

const SCREENING = { id: 'id-1', status: 'done', owned: true };

describe('the API client with a clinician account', () => {
  it('sends the Bearer token with every screening call when signed in, besides the secret', async () => {
    const { fetchImpl, calls } = fakeFetch((call) =>
      call.url.endsWith('/api/screenings') ? jsonResponse(201, { ...SCREENING, secret: 's3cret' }) : jsonResponse(200, SCREENING),
    );
    const api = createApiClient('http://api', fetchImpl, memorySecrets(), signedIn());
    await api.createScreening({ filename: 'a.png', content_type: 'image/png', size: 10, consent: true });
    await api.getScreening('id-1');
    await api.putFeedback('id-1', { diagnosis_correct: true });
    await api.rerunScreening('id-1', { x: 1, y: 2, size: 3 });
    await api.fetchBlob('/api/screenings/id-1/report', 'id-1');
    expect(calls.map((call) => call.headers.authorization)).toEqual(Array(5).fill('Bearer access-1'));
    expect(calls.slice(1).map((call) => call.headers['x-screening-secret'])).toEqual(Array(4).fill('s3cret'));
  });

  it('sends no Authorization header when anonymous, nor to the locator and the model card', async () => {
    const { fetchImpl, calls } = fakeFetch((call) =>
      call.url.endsWith('/api/screenings') ? jsonResponse(201, { ...SCREENING, secret: 's3cret' }) : jsonResponse(200, { crop: { x: 0, y: 0, size: 1 } }),
    );
    const anon = createApiClient('http://api', fetchImpl, memorySecrets(), anonymous);
    await anon.createScreening({ filename: 'a.png', content_type: 'image/png', size: 10, consent: true });
    await anon.getScreening('id-1');
    const withAccount = createApiClient('http://api', fetchImpl, memorySecrets(), signedIn());
    await withAccount.locateDisc('QUJD', 10, 10);
    await withAccount.getModelInfo();
    expect(calls).toHaveLength(4);
    for (const call of calls) expect(call.headers.authorization).toBeUndefined();
    // Without any auth at all (as before this feature) nothing changes either.
    const plain = createApiClient('http://api', fetchImpl, memorySecrets());
    await plain.getScreening('id-1');
    expect(calls[4]?.headers.authorization).toBeUndefined();
  });

  it('never sends the token or the secret to a presigned URL elsewhere', async () => {
    const { fetchImpl, calls } = fakeFetch(() => new Response('zip'));
    const api = createApiClient('http://api', fetchImpl, memorySecrets({ 'id-1': 's' }), signedIn());
    await api.fetchBlob('https://bucket.s3.example/results/id-1/crop.png?X-Amz-Signature=abc', 'id-1');
    expect(calls[0]?.headers.authorization).toBeUndefined();
    expect(calls[0]?.headers['x-screening-secret']).toBeUndefined();
  });

  it('lists my screenings with the filters as query parameters and reads the cursor', async () => {
    const { fetchImpl, calls } = fakeFetch(() => jsonResponse(200, { items: [SCREENING], next_cursor: 'c2', limit: 20 }));
    const api = createApiClient('http://api', fetchImpl, memorySecrets(), signedIn());
    const page = await api.listMyScreenings({ ...NO_FILTERS, label: 'glaucoma', from: '2026-11-01' }, 'c1');
    expect(page).toEqual({ items: [SCREENING], nextCursor: 'c2' });
    const url = new URL(calls[0]?.url ?? '');
    expect(url.pathname).toBe('/api/me/screenings');
    expect(url.searchParams.get('label')).toBe('glaucoma');
    expect(new Date(url.searchParams.get('from') ?? '').getTime()).toBe(new Date(2026, 10, 1).getTime());
    expect(url.searchParams.get('to')).toBeNull();
    expect(url.searchParams.get('cursor')).toBe('c1');
    expect(url.searchParams.get('limit')).toBe('20');
    expect(calls[0]?.headers.authorization).toBe('Bearer access-1');
  });

  it('does not call /api/me anonymously', async () => {
    const { fetchImpl, calls } = fakeFetch(() => jsonResponse(200, {}));
    const api = createApiClient('http://api', fetchImpl, memorySecrets(), anonymous);
    await expect(api.listMyScreenings(NO_FILTERS)).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
    await expect(api.startMyExport()).rejects.toMatchObject({ status: 401 });
    await expect(api.claimScreening('id-1', 's')).rejects.toMatchObject({ status: 401 });
    expect(calls).toHaveLength(0);
  });

  it('claims with both headers, keeps a typed secret, and reports 409 already_owned', async () => {
    const { fetchImpl, calls } = fakeFetch((call) =>
      call.url.includes('/id-2/')
        ? jsonResponse(409, { error: { code: 'already_owned', message: 'Another account owns this screening.' } })
        : jsonResponse(200, { ...SCREENING, owned: true }),
    );
    const secrets = memorySecrets({ 'id-3': 'kept-secret' });
    const api = createApiClient('http://api', fetchImpl, secrets, signedIn());
    await api.claimScreening('id-1', 'typed-secret');
    expect(calls[0]).toMatchObject({ method: 'POST', url: 'http://api/api/screenings/id-1/claim' });
    expect(calls[0]?.headers).toMatchObject({ authorization: 'Bearer access-1', 'x-screening-secret': 'typed-secret' });
    expect(secrets.kept.get('id-1')).toBe('typed-secret');
    // This tab's own secret when none is typed.
    await api.claimScreening('id-3');
    expect(calls[1]?.headers['x-screening-secret']).toBe('kept-secret');
    const error = await api.claimScreening('id-2', 'x').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 409, code: 'already_owned' });
  });

  it('deletes with the token and the secret, then forgets the secret', async () => {
    const { fetchImpl, calls } = fakeFetch(() => emptyResponse(204));
    const secrets = memorySecrets({ 'id-1': 's' });
    const api = createApiClient('http://api', fetchImpl, secrets, signedIn());
    await api.deleteScreening('id-1');
    expect(calls[0]).toMatchObject({ method: 'DELETE', url: 'http://api/api/screenings/id-1' });
    expect(calls[0]?.headers).toMatchObject({ authorization: 'Bearer access-1', 'x-screening-secret': 's' });
    expect(secrets.kept.has('id-1')).toBe(false);
  });

  it('starts and reads my export', async () => {
    const { fetchImpl, calls } = fakeFetch((call) =>
      call.method === 'POST'
        ? jsonResponse(202, { id: 'exp-1', status: 'queued' })
        : jsonResponse(200, { id: 'exp-1', status: 'done', download_url: 'https://s3/exp-1.zip' }),
    );
    const api = createApiClient('http://api', fetchImpl, memorySecrets(), signedIn());
    await expect(api.startMyExport()).resolves.toMatchObject({ id: 'exp-1', state: 'running' });
    await expect(api.getMyExport('exp-1')).resolves.toMatchObject({ state: 'ready', downloadUrl: 'https://s3/exp-1.zip' });
    expect(calls.map((call) => `${call.method} ${call.url}`)).toEqual(['POST http://api/api/me/exports', 'GET http://api/api/me/exports/exp-1']);
  });

  it('tells the account when the API refuses its token, and only then', async () => {
    const auth = signedIn();
    const { fetchImpl } = fakeFetch((call) =>
      call.url.endsWith('/id-1')
        ? jsonResponse(401, { error: { code: 'unauthorized', message: 'Token expired.' } })
        : jsonResponse(401, { error: { code: 'secret_required', message: 'Send the secret.' } }),
    );
    const api = createApiClient('http://api', fetchImpl, memorySecrets(), auth);
    await expect(api.putFeedback('id-2', {})).rejects.toMatchObject({ code: 'secret_required' });
    expect(auth.rejected).not.toHaveBeenCalled();
    await expect(api.getScreening('id-1')).rejects.toMatchObject({ status: 401 });
    expect(auth.rejected).toHaveBeenCalledTimes(1);
  });

  it("fails the call, without going anonymous, when the sign-in can't be renewed", async () => {
    const { fetchImpl, calls } = fakeFetch(() => jsonResponse(201, SCREENING));
    const lapsed: ApiAuth = { accessToken: async () => Promise.reject(new ApiError(401, 'session_expired', 'Sign in again.')) };
    const api = createApiClient('http://api', fetchImpl, memorySecrets(), lapsed);
    await expect(api.createScreening({ filename: 'a.png', content_type: 'image/png', size: 1, consent: true })).rejects.toMatchObject({
      code: 'session_expired',
    });
    expect(calls).toHaveLength(0);
  });

  it("lists this tab's screenings from session storage", () => {
    const secrets = sessionSecretStore();
    secrets.set('id-a', 'x');
    window.sessionStorage.setItem('papila.secret.id-b', 'y');
    window.sessionStorage.setItem('papila.account.session', '{}');
    expect(secrets.ids?.().sort()).toEqual(['id-a', 'id-b']);
    secrets.forget?.('id-a');
    expect(secrets.ids?.()).toEqual(['id-b']);
    expect(window.sessionStorage.getItem('papila.secret.id-a')).toBeNull();
  });
});
