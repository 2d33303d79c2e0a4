// Screening lists and export jobs as the API answers them: read tolerantly, shared by the admin
// panel (/api/admin/*) and the clinician's own pages (/api/me/*).
import type { Screening } from './types';

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

/** A screening as the list routes return it: the public shape plus whatever else they add. */
export interface ListedScreening extends Omit<Screening, 'links'> {
  links?: { self?: string; crop?: string; heatmap?: string; original?: string; [key: string]: string | undefined };
  original_url?: string;
  consent?: unknown;
  [key: string]: unknown;
}

export interface ScreeningPage {
  items: ListedScreening[];
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

/** A date input's day as an instant in the person's own time zone: its first or its last millisecond. */
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

export function isRecord(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

export function firstString(...values: unknown[]): string | undefined {
  return values.find((value): value is string => typeof value === 'string' && value !== '');
}

/** `{"items": [...], "next_cursor": "..."|null}`; also `cursor`/`next`, and `screenings`/`results` or a bare list. */
export function readScreeningPage(body: unknown): ScreeningPage {
  const record = isRecord(body) ? body : {};
  const list = Array.isArray(body) ? body : [record.items, record.screenings, record.results, record.data].find(Array.isArray) ?? [];
  const items = (list as unknown[]).filter((item): item is ListedScreening => isRecord(item) && typeof item.id === 'string');
  const nextCursor = firstString(record.next_cursor, record.nextCursor, record.cursor, record.next) ?? null;
  return { items, nextCursor };
}

export function screeningLabel(screening: ListedScreening): string | undefined {
  return firstString(screening.result?.label, screening.label);
}

export function screeningProbability(screening: ListedScreening): number | undefined {
  const value = screening.result?.probability_glaucoma ?? screening.probability_glaucoma ?? screening.probability;
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** Whether feedback was given: a `feedback` object with something in it, or a flag the list may send instead. */
export function hasFeedback(screening: ListedScreening): boolean {
  for (const flag of ['has_feedback', 'feedback_given']) {
    if (typeof screening[flag] === 'boolean') return screening[flag] as boolean;
  }
  const feedback: unknown = screening.feedback;
  if (typeof feedback === 'boolean') return feedback;
  return isRecord(feedback) && Object.keys(feedback).length > 0;
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
