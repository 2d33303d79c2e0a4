import { ADMIN_VIEWS, type AdminView } from './AdminTabs';

/**
 * What the signed-in account may use of the admin panel: all of it (group `admins`), the review queue
 * only (group `reviewers`), or nothing (anyone else of the pool, e.g. a clinician).
 */
export type AdminAccess = 'admin' | 'reviewer' | 'none';

export const ADMIN_GROUP = 'admins';
export const REVIEWER_GROUP = 'reviewers';

/** The API's own rule (papila.api.auth): the admin routes want `admins`, the review queue `admins` or `reviewers`. */
export function accessOf(groups: readonly string[]): AdminAccess {
  if (groups.includes(ADMIN_GROUP)) return 'admin';
  return groups.includes(REVIEWER_GROUP) ? 'reviewer' : 'none';
}

/** The tabs each access shows, in their order: a reviewer gets only the routes the API lets them use. */
export const ACCESS_VIEWS: Record<AdminAccess, readonly AdminView[]> = {
  admin: ADMIN_VIEWS,
  reviewer: ['review'],
  none: [],
};
