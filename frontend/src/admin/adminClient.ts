import { ApiError, errorFrom, networkError } from '../api/client';
import type { Screening } from '../api/types';
import {
  readComparison,
  readModelList,
  readMonitoring,
  readPointerChange,
  readReviewQueue,
  type Comparison,
  type ModelList,
  type Monitoring,
  type MonitoringPeriod,
  type PointerChange,
  type ReviewLabel,
  type ReviewQueue,
} from './dataLoop';

/**
 * The admin routes of the contract (`/api/admin/*`, Cognito bearer token). Their answers are read
 * tolerantly: the contract names the routes and their meaning, not every field, so the few fields
 * the panel needs are looked for under the likely names and everything else is shown as it comes.
 */

export type FeedbackFilter = '' | 'given' | 'missing';

export interface ScreeningFilters {
  status: string;
  label: string;
  feedback: FeedbackFilter;
  /** `YYYY-MM-DD` from a date input, or empty. */
  from: string;
  to: string;
}

export const NO_FILTERS: ScreeningFilters = { status: '', label: '', feedback: '', from: '', to: '' };

export const PAGE_SIZE = 50;

/** A screening as the admin routes return it: the public shape plus whatever else they add. */
export interface AdminScreening extends Omit<Screening, 'links'> {
  links?: { self?: string; crop?: string; heatmap?: string; original?: string; [key: string]: string | undefined };
  original_url?: string;
  consent?: unknown;
  [key: string]: unknown;
}

export interface ScreeningPage {
  items: AdminScreening[];
  nextCursor: string | null;
}

export type ExportState = 'running' | 'ready' | 'failed';

export interface ExportJob {
  id: string;
  state: ExportState;
  /** The status word as the API sent it. */
  status: string;
  downloadUrl?: string;
  message?: string;
  count?: number;
}

export interface AdminApi {
  listScreenings(filters: ScreeningFilters, cursor?: string | null): Promise<ScreeningPage>;
  getScreening(id: string): Promise<AdminScreening>;
  deleteScreening(id: string): Promise<void>;
  getStats(): Promise<Record<string, unknown>>;
  startExport(): Promise<ExportJob>;
  getExport(id: string): Promise<ExportJob>;
  /** The model registry: GET /api/admin/models. */
  listModels(): Promise<ModelList>;
  /** POST /api/admin/models/{version}/promote ("baked" for the image's own model); `link` from the list wins. */
  promoteModel(version: string, link?: string): Promise<PointerChange>;
  rollbackModel(): Promise<PointerChange>;
  /** POST …/comparison: queues a comparison of `version` with the serving model. */
  requestComparison(version: string, link?: string): Promise<Comparison>;
  getComparison(version: string, link?: string): Promise<Comparison>;
  getMonitoring(period: MonitoringPeriod): Promise<Monitoring>;
  getReviewQueue(limit: number): Promise<ReviewQueue>;
  /** PUT /api/admin/screenings/{id}/review {"true_label": …}. */
  reviewScreening(id: string, trueLabel: ReviewLabel, link?: string): Promise<AdminScreening>;
}

/** A date input's day as an instant in the admin's own time zone: its first or its last millisecond. */
export function dayBoundary(day: string, end: boolean): string | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!match) return null;
  const [, year, month, date] = match.map(Number) as [number, number, number, number];
  const local = end ? new Date(year, month - 1, date, 23, 59, 59, 999) : new Date(year, month - 1, date, 0, 0, 0, 0);
  return Number.isNaN(local.getTime()) ? null : local.toISOString();
}

/** The query string of GET /api/admin/screenings; empty filters are left out. */
export function screeningQuery(filters: ScreeningFilters, cursor?: string | null, limit: number = PAGE_SIZE): string {
  const params = new URLSearchParams();
  if (filters.status) params.set('status', filters.status);
  if (filters.label) params.set('label', filters.label);
  if (filters.feedback) params.set('feedback', filters.feedback);
  const from = filters.from ? dayBoundary(filters.from, false) : null;
  const to = filters.to ? dayBoundary(filters.to, true) : null;
  if (from) params.set('from', from);
  if (to) params.set('to', to);
  params.set('limit', String(limit));
  if (cursor) params.set('cursor', cursor);
  return params.toString();
}

/** A link from an admin answer: API-relative paths resolved, absolute (presigned) URLs untouched. */
export function resolveLink(resolve: (path: string) => string, link: string): string {
  return /^[a-z][a-z0-9+.-]*:/i.test(link) ? link : resolve(link);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

function firstString(...values: unknown[]): string | undefined {
  return values.find((value): value is string => typeof value === 'string' && value !== '');
}

/** `{"items": [...], "next_cursor": "..."|null}`; also `cursor`/`next`, and `screenings`/`results` or a bare list. */
export function readScreeningPage(body: unknown): ScreeningPage {
  const record = isRecord(body) ? body : {};
  const list = Array.isArray(body) ? body : [record.items, record.screenings, record.results, record.data].find(Array.isArray) ?? [];
  const items = (list as unknown[]).filter((item): item is AdminScreening => isRecord(item) && typeof item.id === 'string');
  const nextCursor = firstString(record.next_cursor, record.nextCursor, record.cursor, record.next) ?? null;
  return { items, nextCursor };
}

export function screeningLabel(screening: AdminScreening): string | undefined {
  return firstString(screening.result?.label, screening.label);
}

export function screeningProbability(screening: AdminScreening): number | undefined {
  const value = screening.result?.probability_glaucoma ?? screening.probability_glaucoma ?? screening.probability;
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** Whether feedback was given: a `feedback` object with something in it, or a flag the list may send instead. */
export function hasFeedback(screening: AdminScreening): boolean {
  for (const flag of ['has_feedback', 'feedback_given']) {
    if (typeof screening[flag] === 'boolean') return screening[flag] as boolean;
  }
  const feedback: unknown = screening.feedback;
  if (typeof feedback === 'boolean') return feedback;
  return isRecord(feedback) && Object.keys(feedback).length > 0;
}

/** The presigned URL of the original photo: `original_url`, else `links.original`, else `original.url`. */
export function originalUrl(screening: AdminScreening): string | undefined {
  const original = screening.original;
  return firstString(screening.original_url, screening.links?.original, isRecord(original) ? original.url : undefined, screening.original_photo_url);
}

const READY = new Set(['done', 'ready', 'complete', 'completed', 'succeeded', 'success', 'finished']);
const FAILED = new Set(['failed', 'error', 'errored', 'cancelled', 'canceled', 'expired']);

export function readExportJob(body: unknown, knownId?: string): ExportJob {
  const record = isRecord(body) ? body : {};
  const id = firstString(record.id, record.export_id, knownId) ?? '';
  const status = firstString(record.status, record.state) ?? 'running';
  const links = isRecord(record.links) ? record.links : {};
  const downloadUrl = firstString(record.download_url, record.downloadUrl, record.url, links.download);
  const error = isRecord(record.error) ? record.error.message : record.error;
  const normalized = status.toLowerCase();
  const state: ExportState = FAILED.has(normalized) ? 'failed' : READY.has(normalized) || (downloadUrl && !FAILED.has(normalized)) ? 'ready' : 'running';
  const counts = isRecord(record.counts) ? record.counts : {};
  const countValue = record.count ?? counts.screenings ?? record.screenings;
  return {
    id,
    state,
    status,
    ...(downloadUrl ? { downloadUrl } : {}),
    ...(typeof error === 'string' ? { message: error } : {}),
    ...(typeof countValue === 'number' ? { count: countValue } : {}),
  };
}

export interface AdminClientOptions {
  /** Absolute URL of an API path (the public client's `resolve`). */
  resolve: (path: string) => string;
  /** The bearer token now, or null when signed out. */
  getToken: () => string | null;
  fetchImpl?: typeof fetch;
}

export function createAdminClient({ resolve, getToken, fetchImpl = fetch.bind(globalThis) }: AdminClientOptions): AdminApi {
  async function request(method: string, path: string, body?: unknown): Promise<unknown> {
    const token = getToken();
    if (!token) throw new ApiError(401, 'unauthorized', 'Sign in first.');
    const headers: Record<string, string> = { Accept: 'application/json', Authorization: `Bearer ${token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response: Response;
    try {
      response = await fetchImpl(resolve(path), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw networkError();
    }
    if (!response.ok) throw await errorFrom(response);
    const text = await response.text();
    if (!text) return null;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return null;
    }
  }

  const screeningPath = (id: string) => `/api/admin/screenings/${encodeURIComponent(id)}`;
  const modelPath = (version: string) => `/api/admin/models/${encodeURIComponent(version)}`;
  // A link from an answer is taken when it is an admin API path; anything else falls back to the known route.
  const adminLink = (link: string | undefined, fallback: string) => (link && link.startsWith('/api/admin/') ? link : fallback);

  return {
    listScreenings: async (filters, cursor) => readScreeningPage(await request('GET', `/api/admin/screenings?${screeningQuery(filters, cursor)}`)),
    getScreening: async (id) => {
      const body = await request('GET', screeningPath(id));
      if (!isRecord(body)) throw new ApiError(502, 'bad_answer', 'The service did not answer as expected. Please try again in a moment.');
      // Some APIs wrap the record: {"screening": {...}, "original_url": "..."}.
      const { screening, ...rest } = body;
      return (isRecord(screening) ? { ...screening, ...rest } : body) as AdminScreening;
    },
    deleteScreening: async (id) => {
      await request('DELETE', screeningPath(id));
    },
    getStats: async () => {
      const body = await request('GET', '/api/admin/stats');
      return isRecord(body) ? body : {};
    },
    startExport: async () => readExportJob(await request('POST', '/api/admin/exports', {})),
    getExport: async (id) => readExportJob(await request('GET', `/api/admin/exports/${encodeURIComponent(id)}`), id),
    listModels: async () => readModelList(await request('GET', '/api/admin/models')),
    promoteModel: async (version, link) => readPointerChange(await request('POST', adminLink(link, `${modelPath(version)}/promote`))),
    rollbackModel: async () => readPointerChange(await request('POST', '/api/admin/models/rollback')),
    requestComparison: async (version, link) =>
      readComparison(await request('POST', adminLink(link, `${modelPath(version)}/comparison`)), version),
    getComparison: async (version, link) => readComparison(await request('GET', adminLink(link, `${modelPath(version)}/comparison`)), version),
    getMonitoring: async (period) => readMonitoring(await request('GET', `/api/admin/monitoring?period=${encodeURIComponent(period)}`)),
    getReviewQueue: async (limit) => readReviewQueue(await request('GET', `/api/admin/review?limit=${limit}`)),
    reviewScreening: async (id, trueLabel, link) => {
      const body = await request('PUT', adminLink(link, `${screeningPath(id)}/review`), { true_label: trueLabel });
      return (isRecord(body) ? body : { id, status: 'done' }) as AdminScreening;
    },
  };
}
