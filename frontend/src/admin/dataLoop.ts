/**
 * The data loop's admin answers (issue 14): the model registry, a candidate's comparison with the
 * serving model, the monitoring of confirmed cases and the review queue. Each answer is read into
 * these shapes with every missing or mistyped field made harmless (a null, an empty list), so a
 * partial answer shows what it has rather than breaking the panel.
 */

export type ComparisonStatus = 'queued' | 'running' | 'done' | 'failed';

export interface CardFigures {
  n: number | null;
  auc: number | null;
  sensitivity: number | null;
  specificity: number | null;
}

export interface ComparisonSummary {
  status: ComparisonStatus;
  current: string | null;
  requested_at: string | null;
}

export interface ModelVersion {
  model_version: string;
  /** The inference image's own model: promoted with the version "baked". */
  baked: boolean;
  serving: boolean;
  trained_at: string | null;
  threshold: number | null;
  by_domain: Record<string, CardFigures>;
  comparison: ComparisonSummary | null;
  links: { comparison?: string; promote?: string; card?: string };
}

export interface ModelList {
  /** The pointer's value: a version, or "baked". */
  serving: string | null;
  /** What a roll-back would restore; null: nothing. */
  previous: string | null;
  versions: ModelVersion[];
}

export interface PointerChange {
  serving: string;
  previous: string | null;
}

export interface Figures {
  n: number | null;
  done: number | null;
  refused: number | null;
  auc: number | null;
  sensitivity: number | null;
  specificity: number | null;
}

export interface ComparedModel {
  model_version: string;
  role: 'candidate' | 'current' | string;
  threshold: number | null;
  overall: Figures;
  roc: { fpr: number[]; tpr: number[] };
  by_camera: Record<string, Figures>;
}

export interface ComparisonCases {
  confirmed: number | null;
  held_out: number | null;
  excluded_training: number | null;
  glaucoma: number | null;
  normal: number | null;
}

export interface Comparison {
  candidate: string;
  current: string | null;
  status: ComparisonStatus;
  requested_at: string | null;
  finished_at: string | null;
  error: { code: string; message: string } | null;
  cases: ComparisonCases | null;
  models: ComparedModel[];
}

export type MonitoringPeriod = 'month' | 'week';

export const METRICS = ['auc', 'sensitivity', 'specificity', 'agreement'] as const;
export type Metric = (typeof METRICS)[number];

export interface ObservedFigures {
  model_version: string;
  camera: string;
  confirmed: number;
  glaucoma: number;
  normal: number;
  auc: number | null;
  sensitivity: number | null;
  specificity: number | null;
  agreement: number | null;
}

export interface MonitoringPoint extends ObservedFigures {
  /** The period's first day, YYYY-MM-DD. */
  start: string;
}

export interface VersionFigures extends ObservedFigures {
  expected: { auc: number | null; sensitivity: number | null; specificity: number | null } | null;
}

export interface PeriodRefusals {
  start: string;
  codes: Record<string, number>;
}

export interface DriftWarning {
  model_version: string;
  camera: string;
  metric: string;
  observed: number | null;
  expected: number | null;
  confirmed: number | null;
}

export interface Monitoring {
  period: string;
  min_cases: number | null;
  series: MonitoringPoint[];
  by_version: VersionFigures[];
  refusals: PeriodRefusals[];
  warnings: DriftWarning[];
  /** The range held more screenings than the API reads: only the newest were counted. */
  truncated: boolean;
}

export const REVIEW_LABELS = ['glaucoma', 'normal', 'suspect', 'unknown'] as const;
export type ReviewLabel = (typeof REVIEW_LABELS)[number];

export interface ReviewItem {
  id: string;
  created_at: string | null;
  priority: number | null;
  probability_glaucoma: number | null;
  threshold: number | null;
  label: string | null;
  probability_network: number | null;
  cdr: number | null;
  true_label: string | null;
  links: { admin?: string; crop?: string; review?: string };
}

export interface ReviewQueue {
  items: ReviewItem[];
  limit: number | null;
  candidates: number | null;
}

// ---- reading ---------------------------------------------------------------------------------

function isRecord(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function count(value: unknown): number {
  return num(value) ?? 0;
}

function str(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function records(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

function links<K extends string>(value: unknown, names: readonly K[]): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  if (!isRecord(value)) return out;
  for (const name of names) {
    const link = str(value[name]);
    if (link) out[name] = link;
  }
  return out;
}

const STATUSES: readonly ComparisonStatus[] = ['queued', 'running', 'done', 'failed'];

function comparisonStatus(value: unknown): ComparisonStatus {
  return STATUSES.includes(value as ComparisonStatus) ? (value as ComparisonStatus) : 'queued';
}

function cardFigures(value: unknown): CardFigures {
  const record = isRecord(value) ? value : {};
  return { n: num(record.n), auc: num(record.auc), sensitivity: num(record.sensitivity), specificity: num(record.specificity) };
}

function figures(value: unknown): Figures {
  const record = isRecord(value) ? value : {};
  return {
    n: num(record.n),
    done: num(record.done),
    refused: num(record.refused),
    auc: num(record.auc),
    sensitivity: num(record.sensitivity),
    specificity: num(record.specificity),
  };
}

function mapValues<T>(value: unknown, read: (entry: unknown) => T): Record<string, T> {
  const out: Record<string, T> = {};
  if (isRecord(value)) for (const [key, entry] of Object.entries(value)) out[key] = read(entry);
  return out;
}

export function readModelList(body: unknown): ModelList {
  const record = isRecord(body) ? body : {};
  const versions = records(record.versions)
    .filter((entry) => str(entry.model_version))
    .map((entry): ModelVersion => {
      const summary = isRecord(entry.comparison) ? entry.comparison : null;
      return {
        model_version: str(entry.model_version) ?? '',
        baked: entry.baked === true,
        serving: entry.serving === true,
        trained_at: str(entry.trained_at),
        threshold: num(entry.threshold),
        by_domain: mapValues(entry.by_domain, cardFigures),
        comparison: summary
          ? { status: comparisonStatus(summary.status), current: str(summary.current), requested_at: str(summary.requested_at) }
          : null,
        links: links(entry.links, ['comparison', 'promote', 'card'] as const),
      };
    });
  return { serving: str(record.serving), previous: str(record.previous), versions };
}

export function readPointerChange(body: unknown): PointerChange {
  const record = isRecord(body) ? body : {};
  return { serving: str(record.serving) ?? '', previous: str(record.previous) };
}

function numbers(value: unknown): number[] {
  return Array.isArray(value) ? value.filter((entry): entry is number => typeof entry === 'number' && Number.isFinite(entry)) : [];
}

export function readComparison(body: unknown, candidate: string): Comparison {
  const record = isRecord(body) ? body : {};
  const error = isRecord(record.error) ? record.error : null;
  const cases = isRecord(record.cases) ? record.cases : null;
  return {
    candidate: str(record.candidate) ?? candidate,
    current: str(record.current),
    status: comparisonStatus(record.status),
    requested_at: str(record.requested_at),
    finished_at: str(record.finished_at),
    error: error ? { code: str(error.code) ?? 'error', message: str(error.message) ?? '' } : null,
    cases: cases
      ? {
          confirmed: num(cases.confirmed),
          held_out: num(cases.held_out),
          excluded_training: num(cases.excluded_training),
          glaucoma: num(cases.glaucoma),
          normal: num(cases.normal),
        }
      : null,
    models: records(record.models).map((model) => {
      const roc = isRecord(model.roc) ? model.roc : {};
      return {
        model_version: str(model.model_version) ?? '',
        role: str(model.role) ?? '',
        threshold: num(model.threshold),
        overall: figures(model.overall),
        roc: { fpr: numbers(roc.fpr), tpr: numbers(roc.tpr) },
        by_camera: mapValues(model.by_camera, figures),
      };
    }),
  };
}

function observed(entry: Record<string, unknown>): ObservedFigures {
  return {
    model_version: str(entry.model_version) ?? '',
    camera: str(entry.camera) ?? '(unknown)',
    confirmed: count(entry.confirmed),
    glaucoma: count(entry.glaucoma),
    normal: count(entry.normal),
    auc: num(entry.auc),
    sensitivity: num(entry.sensitivity),
    specificity: num(entry.specificity),
    agreement: num(entry.agreement),
  };
}

export function readMonitoring(body: unknown): Monitoring {
  const record = isRecord(body) ? body : {};
  return {
    period: str(record.period) ?? 'month',
    min_cases: num(record.min_cases),
    series: records(record.series)
      .filter((entry) => str(entry.start))
      .map((entry) => ({ start: str(entry.start) ?? '', ...observed(entry) })),
    by_version: records(record.by_version).map((entry) => {
      const expected = isRecord(entry.expected) ? entry.expected : null;
      return {
        ...observed(entry),
        expected: expected ? { auc: num(expected.auc), sensitivity: num(expected.sensitivity), specificity: num(expected.specificity) } : null,
      };
    }),
    refusals: records(record.refusals)
      .filter((entry) => str(entry.start))
      .map((entry) => ({ start: str(entry.start) ?? '', codes: Object.fromEntries(Object.entries(mapValues(entry.codes, count))) })),
    warnings: records(record.warnings).map((entry) => ({
      model_version: str(entry.model_version) ?? '',
      camera: str(entry.camera) ?? '(unknown)',
      metric: str(entry.metric) ?? '',
      observed: num(entry.observed),
      expected: num(entry.expected),
      confirmed: num(entry.confirmed),
    })),
    truncated: record.truncated === true,
  };
}

export function readReviewQueue(body: unknown): ReviewQueue {
  const record = isRecord(body) ? body : {};
  return {
    items: records(record.items)
      .filter((entry) => str(entry.id))
      .map((entry) => ({
        id: str(entry.id) ?? '',
        created_at: str(entry.created_at),
        priority: num(entry.priority),
        probability_glaucoma: num(entry.probability_glaucoma),
        threshold: num(entry.threshold),
        label: str(entry.label),
        probability_network: num(entry.probability_network),
        cdr: num(entry.cdr),
        true_label: str(entry.true_label),
        links: links(entry.links, ['admin', 'crop', 'review'] as const),
      })),
    limit: num(record.limit),
    candidates: num(record.candidates),
  };
}

// ---- monitoring, shaped for the charts --------------------------------------------------------

/** The cameras seen in a monitoring answer, sorted. */
export function monitoringCameras(monitoring: Monitoring): string[] {
  const cameras = new Set<string>();
  for (const entry of [...monitoring.series, ...monitoring.by_version]) cameras.add(entry.camera);
  return [...cameras].sort((a, b) => a.localeCompare(b));
}

/** The versions seen in the series, in the order they first serve. */
export function monitoringVersions(series: MonitoringPoint[]): string[] {
  const first = new Map<string, string>();
  for (const point of series) {
    const seen = first.get(point.model_version);
    if (seen === undefined || point.start < seen) first.set(point.model_version, point.start);
  }
  return [...first.entries()].sort((a, b) => a[1].localeCompare(b[1]) || a[0].localeCompare(b[0])).map(([version]) => version);
}

/**
 * How much one camera's figure weighs when cameras are pooled: sensitivity is a share of the
 * glaucoma cases and specificity of the normal ones (so the weighted mean is the pooled figure
 * exactly), agreement a share of all confirmed cases, and the AUC a share of the (glaucoma, normal)
 * pairs: pooled, it is the AUC over pairs taken within one camera.
 */
function weight(point: ObservedFigures, metric: Metric): number {
  switch (metric) {
    case 'sensitivity':
      return point.glaucoma;
    case 'specificity':
      return point.normal;
    case 'agreement':
      return point.confirmed;
    case 'auc':
      return point.glaucoma * point.normal;
  }
}

export interface TrendRow {
  start: string;
  [version: string]: number | string | null;
}

/**
 * One row per period, one column per version: `metric` for `camera`, or every camera pooled when
 * camera is null. A version without figures in a period has null there (a gap in its line).
 */
export function trendRows(series: MonitoringPoint[], metric: Metric, camera: string | null): TrendRow[] {
  const sums = new Map<string, Map<string, { total: number; weight: number }>>();
  const starts = new Set<string>();
  for (const point of series) {
    if (camera !== null && point.camera !== camera) continue;
    starts.add(point.start);
    const value = point[metric];
    const pointWeight = weight(point, metric);
    if (value === null || pointWeight <= 0) continue;
    const byVersion = sums.get(point.start) ?? new Map<string, { total: number; weight: number }>();
    sums.set(point.start, byVersion);
    const sum = byVersion.get(point.model_version) ?? { total: 0, weight: 0 };
    sum.total += value * pointWeight;
    sum.weight += pointWeight;
    byVersion.set(point.model_version, sum);
  }
  const versions = monitoringVersions(series);
  return [...starts].sort().map((start) => {
    const row: TrendRow = { start };
    for (const version of versions) {
      const sum = sums.get(start)?.get(version);
      row[version] = sum && sum.weight > 0 ? sum.total / sum.weight : null;
    }
    return row;
  });
}

/** The refusal codes seen, most frequent first. */
export function refusalCodes(refusals: PeriodRefusals[]): string[] {
  const totals = new Map<string, number>();
  for (const period of refusals) for (const [code, n] of Object.entries(period.codes)) totals.set(code, (totals.get(code) ?? 0) + n);
  return [...totals.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([code]) => code);
}
