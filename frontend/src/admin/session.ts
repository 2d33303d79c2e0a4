import { tokenStorage } from '../account/tokenStorage';

/**
 * The admin's tokens: sessionStorage under their own key (see account/tokenStorage.ts), apart from
 * a clinician sign-in in the same tab.
 */
export const SESSION_STORAGE_KEY = 'papila.admin.session';

const storage = tokenStorage(SESSION_STORAGE_KEY);

export const loadStoredSession = storage.load;
export const storeSession = storage.store;
export const clearStoredSession = storage.clear;
export { EXPIRY_MARGIN_MS, isExpired } from '../account/tokenStorage';
