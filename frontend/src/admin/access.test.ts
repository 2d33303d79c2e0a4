import { describe, expect, it } from 'vitest';
import { ADMIN_VIEWS } from './AdminTabs';
import { ACCESS_VIEWS, accessOf } from './access';

describe('accessOf', () => {
  it('follows the API: admins everything, reviewers the review queue, anyone else nothing', () => {
    expect(accessOf(['admins'])).toBe('admin');
    expect(accessOf(['reviewers', 'admins'])).toBe('admin');
    expect(accessOf(['clinicians', 'reviewers'])).toBe('reviewer');
    expect(accessOf(['clinicians'])).toBe('none');
    expect(accessOf([])).toBe('none');
    expect(accessOf(['Admins', 'reviewer'])).toBe('none'); // group names are exact
  });

  it('shows an admin every tab and a reviewer the review queue only', () => {
    expect(ACCESS_VIEWS.admin).toEqual(ADMIN_VIEWS);
    expect(ACCESS_VIEWS.reviewer).toEqual(['review']);
    expect(ACCESS_VIEWS.none).toEqual([]);
  });
});
