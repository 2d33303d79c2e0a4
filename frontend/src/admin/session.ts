import type { AdminSession } from './cognito';

/**
 * The admin's tokens live in memory and in sessionStorage (this tab only, gone when it closes),
 * never in localStorage, so a reload keeps the sign-in but another visit does not.
 */
export const SESSION_STORAGE_KEY = 'papila.admin.session';

function isSession(value: unknown): value is AdminSession {
  if (!value || typeof value !== 'object') return false;
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate.username === 'string' &&
    typeof candidate.accessToken === 'string' &&
    typeof candidate.expiresAt === 'number' &&
    (candidate.idToken === undefined || typeof candidate.idToken === 'string')
  );
}

export function loadStoredSession(): AdminSession | null {
  try {
    const raw = window.sessionStorage.getItem(SESSION_STORAGE_KEY);
    if (!raw) return null;
    const parsed: unknown = JSON.parse(raw);
    return isSession(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

export function storeSession(session: AdminSession): void {
  try {
    window.sessionStorage.setItem(SESSION_STORAGE_KEY, JSON.stringify(session));
  } catch {
    // Storage blocked: the sign-in lasts until the page is reloaded.
  }
}

export function clearStoredSession(): void {
  try {
    window.sessionStorage.removeItem(SESSION_STORAGE_KEY);
  } catch {
    // See storeSession.
  }
}

/** A session whose tokens expire within this margin is treated as expired (clock skew, slow calls). */
export const EXPIRY_MARGIN_MS = 30_000;

export function isExpired(session: AdminSession, now: number = Date.now()): boolean {
  return session.expiresAt - EXPIRY_MARGIN_MS <= now;
}
