import { ApiError, errorFrom, networkError } from '../api/client';
import {
  firstString,
  isRecord,
  readExportJob,
  readScreeningPage,
  screeningQuery,
  type ExportJob,
  type ListedScreening,
  type ScreeningFilters,
  type ScreeningPage,
} from '../api/lists';
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

export {
  NO_FILTERS,
  PAGE_SIZE,
  dayBoundary,
  hasFeedback,
  readExportJob,
  readScreeningPage,
  resolveLink,
  screeningLabel,
  screeningProbability,
  screeningQuery,
} from '../api/lists';
export type { ExportJob, ExportState, FeedbackFilter, ScreeningFilters, ScreeningPage } from '../api/lists';

/** A screening as the admin routes return it. */
export type AdminScreening = ListedScreening;

/**
 * The admin routes of the contract (`/api/admin/*`, Cognito bearer token). Their answers are read
 * tolerantly: the contract names the routes and their meaning, not every field, so the few fields
 * the panel needs are looked for under the likely names and everything else is shown as it comes.
 */

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
  /** The signed-in account's Cognito groups, as GET /api/me reads them from the token. */
  getGroups(): Promise<string[]>;
}

/** The presigned URL of the original photo: `original_url`, else `links.original`, else `original.url`. */
export function originalUrl(screening: AdminScreening): string | undefined {
  const original = screening.original;
  return firstString(screening.original_url, screening.links?.original, isRecord(original) ? original.url : undefined, screening.original_photo_url);
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
    getGroups: async () => {
      const body = await request('GET', '/api/me');
      const groups = isRecord(body) && Array.isArray(body.groups) ? (body.groups as unknown[]) : [];
      return groups.filter((group): group is string => typeof group === 'string');
    },
  };
}
