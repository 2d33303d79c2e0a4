import type { ModelInfo } from '../api/types';

export interface ModelFact {
  /** The field's name in the model card, dotted for nested ones ("validation.auc"). */
  name: string;
  /** The last part of the name, used to pick words and number format. */
  field: string;
  value: string | number | boolean;
}

const OVERVIEW_FIELDS = ['model_version', 'threshold', 'input_size'] as const;
const NOT_FIGURES = new Set<string>([...OVERVIEW_FIELDS, 'metrics', 'limits']);

function isScalar(value: unknown): value is string | number | boolean {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

/** A list of plain values reads as one line; a list of records (per-fold figures) is left out. */
function joinedList(value: unknown[]): string | null {
  return value.length > 0 && value.every(isScalar) ? value.map(String).join(', ') : null;
}

function factsOf(source: Record<string, unknown>, skip: Set<string>): ModelFact[] {
  const facts: ModelFact[] = [];
  for (const [name, value] of Object.entries(source)) {
    if (skip.has(name) || value === null || value === undefined) continue;
    if (isScalar(value)) facts.push({ name, field: name, value });
    else if (Array.isArray(value)) {
      const line = joinedList(value);
      if (line !== null) facts.push({ name, field: name, value: line });
    } else if (typeof value === 'object') {
      // One level of nesting (figures per split, say) is flattened; deeper is left out.
      for (const [inner, innerValue] of Object.entries(value as Record<string, unknown>)) {
        if (isScalar(innerValue)) facts.push({ name: `${name}.${inner}`, field: inner, value: innerValue });
      }
    }
  }
  return facts;
}

/**
 * What the About page lists from GET /api/model, whatever its exact shape: the version, threshold
 * and input size first, then the figures of `metrics` or, without it, the card's other fields.
 */
export function modelFacts(info: ModelInfo | null | undefined): ModelFact[] {
  if (!info || typeof info !== 'object') return [];
  const overview: ModelFact[] = [];
  for (const name of OVERVIEW_FIELDS) {
    const value = info[name];
    if (isScalar(value)) overview.push({ name, field: name, value });
    else if (Array.isArray(value)) overview.push({ name, field: name, value: value.map(String).join(' × ') });
  }
  const metrics = info.metrics;
  const figures =
    metrics && typeof metrics === 'object' && !Array.isArray(metrics)
      ? factsOf(metrics, new Set())
      : factsOf(info as Record<string, unknown>, NOT_FIGURES);
  return [...overview, ...figures];
}

/**
 * The card's descriptive fields (architecture, training data, intended use…), shown beside the
 * figures. Only when the figures came from `metrics`; otherwise modelFacts already listed them.
 */
export function modelDetails(info: ModelInfo | null | undefined): ModelFact[] {
  if (!info || typeof info !== 'object') return [];
  const metrics = info.metrics;
  if (!metrics || typeof metrics !== 'object' || Array.isArray(metrics)) return [];
  return factsOf(info as Record<string, unknown>, NOT_FIGURES);
}

/** Turns the model card's `limits` (a sentence, a list, or an object) into lines of text. */
export function limitLines(limits: unknown): string[] {
  if (typeof limits === 'string') return limits.trim() ? [limits] : [];
  if (Array.isArray(limits)) return limits.map(String);
  if (limits && typeof limits === 'object') {
    return Object.entries(limits).map(([key, value]) => `${key}: ${isScalar(value) ? String(value) : JSON.stringify(value)}`);
  }
  return [];
}

/** Rates in 0..1 read best as percentages. */
const RATE_FIELDS = new Set(['accuracy', 'sensitivity', 'specificity', 'sensitivity_at_85_specificity', 'threshold', 'ppv', 'npv']);

export function formatFigure(field: string, value: string | number | boolean): string {
  if (typeof value !== 'number') return String(value);
  if (RATE_FIELDS.has(field) && value >= 0 && value <= 1) return `${(value * 100).toFixed(1)}%`;
  if (field === 'auc' || field.startsWith('auc_')) return value.toFixed(3);
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}
