import { describe, expect, it } from 'vitest';
import { parseHash } from '../lib/hashRoute';
import { adminScreeningId } from '../pages/AdminPage';
import { emptyResponse, fakeFetch, jsonResponse } from '../test/fakeFetch';
import {
  NO_FILTERS,
  createAdminClient,
  dayBoundary,
  hasFeedback,
  originalUrl,
  readExportJob,
  readScreeningPage,
  screeningQuery,
} from './adminClient';

describe('screeningQuery', () => {
  it('sends only the limit without filters, and every filter given', () => {
    expect(screeningQuery(NO_FILTERS)).toBe('limit=50');
    const query = new URLSearchParams(
      screeningQuery({ status: 'done', label: 'normal', feedback: 'given', from: '2026-11-01', to: '2026-11-30' }, 'abc=='),
    );
    expect(Object.fromEntries(query)).toEqual({
      status: 'done',
      label: 'normal',
      feedback: 'given',
      from: new Date(2026, 10, 1, 0, 0, 0, 0).toISOString(),
      to: new Date(2026, 10, 30, 23, 59, 59, 999).toISOString(),
      limit: '50',
      cursor: 'abc==',
    });
  });

  it('reads a date input day as the first and last instant of that local day', () => {
    expect(dayBoundary('2026-02-03', false)).toBe(new Date(2026, 1, 3).toISOString());
    expect(dayBoundary('nonsense', true)).toBeNull();
  });
});

describe('reading admin answers tolerantly', () => {
  it('takes items with next_cursor, or cursor, or a bare list', () => {
    expect(readScreeningPage({ items: [{ id: 'a', status: 'done' }], next_cursor: 'n1' })).toEqual({
      items: [{ id: 'a', status: 'done' }],
      nextCursor: 'n1',
    });
    expect(readScreeningPage({ screenings: [{ id: 'b', status: 'queued' }], cursor: 'n2' }).nextCursor).toBe('n2');
    expect(readScreeningPage([{ id: 'c', status: 'done' }, { nope: 1 }])).toEqual({ items: [{ id: 'c', status: 'done' }], nextCursor: null });
    expect(readScreeningPage({ items: [], next_cursor: null }).nextCursor).toBeNull();
  });

  it('finds the original photo and the feedback under their likely names', () => {
    expect(originalUrl({ id: 'a', status: 'done', original_url: 'https://s3/o.png' })).toBe('https://s3/o.png');
    expect(originalUrl({ id: 'a', status: 'done', links: { original: 'https://s3/l.png' } })).toBe('https://s3/l.png');
    expect(hasFeedback({ id: 'a', status: 'done', feedback: { diagnosis_correct: true } })).toBe(true);
    expect(hasFeedback({ id: 'a', status: 'done' })).toBe(false);
    expect(hasFeedback({ id: 'a', status: 'done', has_feedback: true })).toBe(true);
  });

  it('reads an export job in its states', () => {
    expect(readExportJob({ id: 'e1', status: 'running' })).toMatchObject({ id: 'e1', state: 'running' });
    expect(readExportJob({ status: 'done', download_url: 'https://s3/x.zip', count: 3 }, 'e1')).toEqual({
      id: 'e1',
      state: 'ready',
      status: 'done',
      downloadUrl: 'https://s3/x.zip',
      count: 3,
    });
    expect(readExportJob({ id: 'e1', status: 'failed', error: { message: 'no labels' } })).toMatchObject({ state: 'failed', message: 'no labels' });
  });
});

describe('createAdminClient', () => {
  const resolve = (path: string) => 'http://api.test' + path;

  it('sends the bearer token and reads a 204 delete', async () => {
    const { fetchImpl, calls } = fakeFetch((call) => (call.method === 'DELETE' ? emptyResponse(204) : jsonResponse(200, { items: [], next_cursor: null })));
    const api = createAdminClient({ resolve, getToken: () => 'tok', fetchImpl });
    await api.listScreenings({ ...NO_FILTERS, status: 'done' });
    await api.deleteScreening('id/1');
    expect(calls[0]?.url).toBe('http://api.test/api/admin/screenings?status=done&limit=50');
    expect(calls[0]?.headers.authorization).toBe('Bearer tok');
    expect(calls[1]).toMatchObject({ method: 'DELETE', url: 'http://api.test/api/admin/screenings/id%2F1' });
  });

  it('answers 401 itself when there is no token, and passes on the API errors', async () => {
    const { fetchImpl, calls } = fakeFetch(() => jsonResponse(403, { error: { code: 'forbidden', message: 'Admins only.' } }));
    await expect(createAdminClient({ resolve, getToken: () => null, fetchImpl }).getStats()).rejects.toMatchObject({ status: 401 });
    expect(calls).toHaveLength(0);
    await expect(createAdminClient({ resolve, getToken: () => 't', fetchImpl }).getStats()).rejects.toMatchObject({
      status: 403,
      message: 'Admins only.',
    });
  });
});

describe('admin hash routes', () => {
  it('keeps #/admin/... on the admin page and reads the screening id', () => {
    expect(parseHash('#/admin')).toBe('admin');
    expect(parseHash('#/admin/screenings/abc')).toBe('admin');
    expect(adminScreeningId('#/admin/screenings/0b1c-22')).toBe('0b1c-22');
    expect(adminScreeningId('#/admin')).toBeNull();
  });
});
