import type { CognitoSession } from './cognito';

/**
 * Where a sign-in's tokens are kept: memory and sessionStorage (this tab only, gone when it closes),
 * never localStorage, so a reload keeps the sign-in but another visit does not. The admin panel
 * and the clinician accounts each have their own key.
 */
export interface TokenStorage {
  readonly key: string;
  load(): CognitoSession | null;
  store(session: CognitoSession): void;
  clear(): void;
}

function isSession(value: unknown): value is CognitoSession {
  if (!value || typeof value !== 'object') return false;
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate.username === 'string' &&
    typeof candidate.accessToken === 'string' &&
    typeof candidate.expiresAt === 'number' &&
    (candidate.idToken === undefined || typeof candidate.idToken === 'string') &&
    (candidate.refreshToken === undefined || typeof candidate.refreshToken === 'string')
  );
}

export function tokenStorage(key: string): TokenStorage {
  return {
    key,
    load() {
      try {
        const raw = window.sessionStorage.getItem(key);
        if (!raw) return null;
        const parsed: unknown = JSON.parse(raw);
        return isSession(parsed) ? parsed : null;
      } catch {
        return null;
      }
    },
    store(session) {
      try {
        window.sessionStorage.setItem(key, JSON.stringify(session));
      } catch {
        // Storage blocked: the sign-in lasts until the page is reloaded.
      }
    },
    clear() {
      try {
        window.sessionStorage.removeItem(key);
      } catch {
        // See store.
      }
    },
  };
}

/** A session whose tokens expire within this margin is treated as expired (clock skew, slow calls). */
export const EXPIRY_MARGIN_MS = 30_000;

export function isExpired(session: CognitoSession, now: number = Date.now()): boolean {
  return session.expiresAt - EXPIRY_MARGIN_MS <= now;
}
