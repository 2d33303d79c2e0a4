import type { Translate } from '../i18n/I18nContext';
import { en, type MessageKey } from '../i18n/messages';
import type { ComparisonStatus } from './dataLoop';

export const STATUSES = ['awaiting_upload', 'queued', 'processing', 'done', 'rejected', 'failed'] as const;
export const LABELS = ['glaucoma', 'normal'] as const;

export function hasMessage(key: string): key is MessageKey {
  return Object.prototype.hasOwnProperty.call(en, key);
}

/** The words for a status the API sent; an unknown one as it came. */
export function statusText(t: Translate, status: unknown): string {
  const key = `admin.status.${String(status)}`;
  return hasMessage(key) ? t(key) : String(status ?? '—');
}

export function labelText(t: Translate, label: unknown): string {
  if (label === undefined || label === null || label === '') return '—';
  const key = `admin.label.${String(label)}`;
  return hasMessage(key) ? t(key) : String(label);
}

/** How a model pointer reads: a version as it is, "baked" as the image's own model. */
export function versionName(t: Translate, version: string | null): string {
  if (version === null) return '—';
  return version === 'baked' ? t('admin.models.bakedName') : version;
}

export function comparisonStatusText(t: Translate, status: ComparisonStatus): string {
  return t(`admin.comparison.status.${status}`);
}

