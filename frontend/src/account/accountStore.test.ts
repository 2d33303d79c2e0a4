import { describe, expect, it } from 'vitest';
import { fakeFetch, jsonResponse } from '../test/fakeFetch';
import { ACCOUNT_STORAGE_KEY, createAccountStore } from './accountStore';
import type { CognitoSession } from './cognito';

const SETTINGS = { endpoint: 'http://cognito.test', clientId: 'client-1' };
const NOW = 1_000_000_000;
const SESSION: CognitoSession = { username: 'ada@example.org', accessToken: 'access-1', refreshToken: 'refresh-1', expiresAt: NOW + 3_600_000 };

const targetOf = (headers: Record<string, string>) => headers['x-amz-target']?.replace('AWSCognitoIdentityProviderService.', '');

describe('the account store', () => {
  it('keeps the tokens in sessionStorage only, and answers the access token', async () => {
    const { fetchImpl } = fakeFetch(() => undefined);
    const store = createAccountStore({ settings: SETTINGS, fetchImpl, now: () => NOW });
    await expect(store.accessToken()).resolves.toBeNull();
    store.signedIn(SESSION);
    expect(JSON.parse(window.sessionStorage.getItem(ACCOUNT_STORAGE_KEY) ?? 'null')).toEqual(SESSION);
    expect(window.localStorage.length).toBe(0);
    await expect(store.accessToken()).resolves.toBe('access-1');
    // A reload (a new store) finds the sign-in again.
    expect(createAccountStore({ settings: SETTINGS, fetchImpl, now: () => NOW }).getState().session).toEqual(SESSION);
  });

  it('renews an expired access token with the refresh token, once for calls made together', async () => {
    const { fetchImpl, calls } = fakeFetch(() => jsonResponse(200, { AuthenticationResult: { AccessToken: 'access-2', ExpiresIn: 3600 } }));
    let now = NOW;
    const store = createAccountStore({ settings: SETTINGS, fetchImpl, now: () => now });
    store.signedIn(SESSION);
    now = SESSION.expiresAt + 1;
    const tokens = await Promise.all([store.accessToken(), store.accessToken()]);
    expect(tokens).toEqual(['access-2', 'access-2']);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.body).toMatchObject({ AuthFlow: 'REFRESH_TOKEN_AUTH', AuthParameters: { REFRESH_TOKEN: 'refresh-1' } });
    const stored = JSON.parse(window.sessionStorage.getItem(ACCOUNT_STORAGE_KEY) ?? 'null') as CognitoSession;
    expect(stored).toMatchObject({ accessToken: 'access-2', refreshToken: 'refresh-1', expiresAt: now + 3_600_000 });
  });

  it('asks for a new sign-in when the refresh token is refused', async () => {
    const { fetchImpl } = fakeFetch(() => jsonResponse(400, { __type: 'NotAuthorizedException', message: 'Refresh Token has expired' }));
    let now = NOW;
    const store = createAccountStore({ settings: SETTINGS, fetchImpl, now: () => now });
    store.signedIn(SESSION);
    now = SESSION.expiresAt + 1;
    await expect(store.accessToken()).rejects.toMatchObject({ status: 401, code: 'session_expired' });
    expect(store.getState()).toMatchObject({ session: null, notice: 'expired', pendingEmail: 'ada@example.org' });
    expect(window.sessionStorage.getItem(ACCOUNT_STORAGE_KEY)).toBeNull();
  });

  it('keeps the tokens when the pool cannot be reached during a refresh', async () => {
    const fetchImpl = (async () => {
      throw new TypeError('Failed to fetch');
    }) as unknown as typeof fetch;
    let now = NOW;
    const store = createAccountStore({ settings: SETTINGS, fetchImpl, now: () => now });
    store.signedIn(SESSION);
    now = SESSION.expiresAt + 1;
    await expect(store.accessToken()).rejects.toMatchObject({ code: 'network' });
    expect(store.getState().session).toEqual(SESSION);
  });

  it('forgets a stored session that expired without a refresh token', () => {
    window.sessionStorage.setItem(ACCOUNT_STORAGE_KEY, JSON.stringify({ username: 'ada', accessToken: 'a', expiresAt: NOW - 1 }));
    const store = createAccountStore({ settings: SETTINGS, now: () => NOW });
    expect(store.getState()).toMatchObject({ session: null, notice: 'expired' });
    expect(window.sessionStorage.getItem(ACCOUNT_STORAGE_KEY)).toBeNull();
  });

  it('signs out: forgets the tokens and asks the pool to revoke them', async () => {
    const { fetchImpl, calls } = fakeFetch(() => jsonResponse(200, {}));
    const store = createAccountStore({ settings: SETTINGS, fetchImpl, now: () => NOW });
    store.signedIn(SESSION);
    let heard = 0;
    store.subscribe(() => (heard += 1));
    store.signOut();
    expect(heard).toBe(1);
    expect(store.getState()).toMatchObject({ session: null, notice: 'signedOut' });
    expect(window.sessionStorage.getItem(ACCOUNT_STORAGE_KEY)).toBeNull();
    await expect(store.accessToken()).resolves.toBeNull();
    expect(targetOf(calls[0]?.headers ?? {})).toBe('GlobalSignOut');
    expect(calls[0]?.body).toEqual({ AccessToken: 'access-1' });
  });

  it('ignores a stored sign-in where no user pool is configured', () => {
    window.sessionStorage.setItem(ACCOUNT_STORAGE_KEY, JSON.stringify(SESSION));
    expect(createAccountStore({ settings: null, now: () => NOW }).getState().session).toBeNull();
  });
});
