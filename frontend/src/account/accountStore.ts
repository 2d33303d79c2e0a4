import { ApiError, type ApiAuth } from '../api/client';
import { CognitoError, globalSignOut, refreshSession, type CognitoSession, type CognitoSettings } from './cognito';
import { isExpired, tokenStorage, type TokenStorage } from './tokenStorage';

/** The clinician's tokens in sessionStorage (this tab only; never localStorage). */
export const ACCOUNT_STORAGE_KEY = 'papila.account.session';

/** Why the sign-in page is shown, said above its form. */
export type AccountNotice = 'expired' | 'signedOut' | 'confirmed' | 'passwordReset' | null;

export interface AccountState {
  session: CognitoSession | null;
  notice: AccountNotice;
  /** The e-mail of a sign-up or reset in progress: the next form starts with it. */
  pendingEmail: string;
}

/**
 * The clinician's sign-in, outside React so the API client can ask it for a token: React reads it
 * with useSyncExternalStore (AccountContext). Anonymous use is a store with no session.
 */
export interface AccountStore {
  /** The user pool, or null where config.json names none (accounts are then not offered). */
  readonly settings: CognitoSettings | null;
  readonly fetchImpl: typeof fetch;
  getState(): AccountState;
  subscribe(listener: () => void): () => void;
  signedIn(session: CognitoSession): void;
  /** Forgets the tokens (and asks the pool to revoke them, best effort). */
  signOut(): void;
  /** The tokens stopped working: forget them and ask for a new sign-in. */
  expire(): void;
  setPendingEmail(email: string): void;
  setNotice(notice: AccountNotice): void;
  /**
   * The access token for the API: null when nobody is signed in; renewed with the refresh token when
   * it has expired; an ApiError 401 `session_expired` (after signing out) when it cannot be renewed.
   */
  accessToken(): Promise<string | null>;
}

export const SESSION_EXPIRED_MESSAGE = 'Your sign-in has expired. Please sign in again.';

export function sessionExpiredError(): ApiError {
  return new ApiError(401, 'session_expired', SESSION_EXPIRED_MESSAGE);
}

interface AccountStoreOptions {
  settings: CognitoSettings | null;
  fetchImpl?: typeof fetch;
  now?: () => number;
  /** Where the tokens live; `null` keeps them in memory only (tests, no accounts). */
  storage?: TokenStorage | null;
}

export function createAccountStore({
  settings,
  fetchImpl = (input, init) => globalThis.fetch(input, init),
  now = Date.now,
  storage = tokenStorage(ACCOUNT_STORAGE_KEY),
}: AccountStoreOptions): AccountStore {
  const listeners = new Set<() => void>();
  let state: AccountState = { session: null, notice: null, pendingEmail: '' };
  let refreshing: Promise<string> | null = null;

  const stored = settings ? (storage?.load() ?? null) : null;
  if (stored && isExpired(stored, now()) && !stored.refreshToken) {
    storage?.clear();
    state = { ...state, notice: 'expired' };
  } else if (stored) {
    state = { ...state, session: stored };
  }

  function update(next: Partial<AccountState>) {
    state = { ...state, ...next };
    for (const listener of [...listeners]) listener();
  }

  function forget(notice: AccountNotice) {
    storage?.clear();
    refreshing = null;
    update({ session: null, notice, pendingEmail: state.session?.username ?? state.pendingEmail });
  }

  const store: AccountStore = {
    settings,
    fetchImpl,
    getState: () => state,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    signedIn(session) {
      storage?.store(session);
      refreshing = null;
      update({ session, notice: null, pendingEmail: '' });
    },
    signOut() {
      const session = state.session;
      forget('signedOut');
      if (session && settings && !isExpired(session, now())) {
        // Revoking the refresh token is a courtesy: the tokens are already forgotten here.
        void globalSignOut(settings, session.accessToken, fetchImpl).catch(() => undefined);
      }
    },
    expire() {
      if (state.session) forget('expired');
    },
    setPendingEmail(email) {
      if (email !== state.pendingEmail) update({ pendingEmail: email });
    },
    setNotice(notice) {
      if (notice !== state.notice) update({ notice });
    },
    async accessToken() {
      const session = state.session;
      if (!session) return null;
      if (!isExpired(session, now())) return session.accessToken;
      if (!session.refreshToken || !settings) {
        store.expire();
        throw sessionExpiredError();
      }
      refreshing ??= refreshSession(settings, session, fetchImpl, now).then(
        (fresh) => {
          if (state.session === session) store.signedIn(fresh);
          return fresh.accessToken;
        },
        (caught: unknown) => {
          refreshing = null;
          // No connection: keep the tokens for a later try. Anything else: sign in again.
          if (caught instanceof CognitoError && caught.kind === 'network') throw new ApiError(0, 'network', caught.message);
          if (state.session === session) store.expire();
          throw sessionExpiredError();
        },
      );
      const pending = refreshing;
      try {
        return await pending;
      } finally {
        if (refreshing === pending) refreshing = null;
      }
    },
  };
  return store;
}

/** What the API client needs from the account: its token, and word when the API refuses it. */
export function accountAuth(store: AccountStore): ApiAuth {
  return { accessToken: () => store.accessToken(), rejected: () => store.expire() };
}
