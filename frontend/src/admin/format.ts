/** Pure helpers of the admin panel: stats grouping and display formats. */

export type StatValue = number | string | boolean | null;

export interface StatItem {
  /** The key as the API sent it, dotted below the group ("agreement.rate" → key "rate", path "rate"). */
  key: string;
  path: string;
  /** The keys from the group down to this value (a key may itself hold dots: "v1.2"). */
  parts: string[];
  value: StatValue;
}

export interface StatGroup {
  /** The top-level key, or "" for the top-level plain values (totals). */
  key: string;
  items: StatItem[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

function isStatValue(value: unknown): value is StatValue {
  return value === null || typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean';
}

function flatten(source: Record<string, unknown>, prefix: string[], depth: number, into: StatItem[]): void {
  for (const [key, value] of Object.entries(source)) {
    const parts = [...prefix, key];
    const path = parts.join('.');
    if (isStatValue(value)) into.push({ key, path, parts, value });
    else if (Array.isArray(value)) {
      if (value.every((entry) => isStatValue(entry))) into.push({ key, path, parts, value: value.map(String).join(', ') });
    } else if (isRecord(value) && depth < 3) flatten(value, parts, depth + 1, into);
  }
}

/**
 * GET /api/admin/stats, whatever its exact shape: the top-level plain values form the first group,
 * each top-level object a group of its own (nested objects flattened into dotted paths).
 */
export function statGroups(stats: Record<string, unknown>): StatGroup[] {
  const totals: StatItem[] = [];
  const groups: StatGroup[] = [];
  for (const [key, value] of Object.entries(stats)) {
    if (isStatValue(value)) totals.push({ key, path: key, parts: [key], value });
    else if (isRecord(value)) {
      const items: StatItem[] = [];
      flatten(value, [], 1, items);
      if (items.length > 0) groups.push({ key, items });
    } else if (Array.isArray(value) && value.every(isStatValue)) {
      totals.push({ key, path: key, parts: [key], value: value.map(String).join(', ') });
    }
  }
  return totals.length > 0 ? [{ key: '', items: totals }, ...groups] : groups;
}

/**
 * "agreement_rate" → "Agreement rate": the words for keys nobody named. Keys that are data rather
 * than names ("vgg19-2026-11-25", "v1.2") are left as they are.
 */
export function humanize(key: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(key) || /\d/.test(key)) return key;
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_.-]+/g, ' ')
    .trim()
    .toLowerCase();
  return words ? words.charAt(0).toUpperCase() + words.slice(1) : key;
}

const FRACTION_KEYS = /(rate|ratio|fraction|share|accuracy|agreement|precision|recall|sensitivity|specificity)/i;

/** Whole numbers as counts; fractions of named rates (0..1) as percentages; other decimals to 3 places. */
export function formatStat(key: string, value: StatValue, language: string, yes: string, no: string): string {
  if (value === null) return '—';
  if (typeof value === 'boolean') return value ? yes : no;
  if (typeof value === 'string') return value;
  if (!Number.isFinite(value)) return String(value);
  // A rate of exactly 0 or 1 comes as a whole number in JSON: still a rate.
  if (value >= 0 && value <= 1 && FRACTION_KEYS.test(key)) {
    return new Intl.NumberFormat(language, { style: 'percent', maximumFractionDigits: 1 }).format(value);
  }
  if (Number.isInteger(value)) return new Intl.NumberFormat(language).format(value);
  return new Intl.NumberFormat(language, { maximumFractionDigits: 3 }).format(value);
}

export function formatDateTime(value: unknown, language: string): string | null {
  if (typeof value !== 'string' || !value) return null;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return new Intl.DateTimeFormat(language, { dateStyle: 'medium', timeStyle: 'short' }).format(date);
}

export function formatPercent(probability: number | undefined, language: string): string | null {
  if (probability === undefined) return null;
  return new Intl.NumberFormat(language, { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(probability);
}

/** A figure of the data loop: the AUC as a number (0.812), rates as percentages; null as a dash. */
export function formatMetric(metric: string, value: number | null | undefined, language: string): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  if (metric === 'auc') return new Intl.NumberFormat(language, { minimumFractionDigits: 3, maximumFractionDigits: 3 }).format(value);
  return new Intl.NumberFormat(language, { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(value);
}

export function formatCount(value: number | null | undefined, language: string): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '—' : new Intl.NumberFormat(language).format(value);
}

/** A period's first day (YYYY-MM-DD): "Nov 2026" for a month, "2 Nov 2026" for a week; other text as it came. */
export function formatPeriodStart(day: string, period: string, language: string): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(day);
  if (!match) return day;
  const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  if (Number.isNaN(date.getTime())) return day;
  const options: Intl.DateTimeFormatOptions =
    period === 'week' ? { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' } : { month: 'short', year: 'numeric', timeZone: 'UTC' };
  return new Intl.DateTimeFormat(language, options).format(date);
}
