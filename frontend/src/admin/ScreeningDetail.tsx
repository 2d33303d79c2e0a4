import { useEffect, useRef, useState, type ReactNode } from 'react';
import { useApi } from '../api/ApiContext';
import { ApiError } from '../api/client';
import { useI18n, type Translate } from '../i18n/I18nContext';
import { originalUrl, resolveLink, screeningLabel, screeningProbability, type AdminApi, type AdminScreening } from './adminClient';
import { ConfirmDialog } from './ConfirmDialog';
import { formatDateTime, formatPercent, humanize } from './format';
import { hasMessage, labelText, statusText } from './labels';

interface ScreeningDetailProps {
  api: AdminApi;
  id: string;
  onAuthError: (error: unknown) => boolean;
  onDeleted: (id: string) => void;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

function plain(value: unknown, t: Translate): string {
  if (value === null || value === undefined || value === '') return '—';
  if (typeof value === 'boolean') return value ? t('admin.yes') : t('admin.no');
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  return JSON.stringify(value);
}

function Fact({ label, children, testId }: { label: string; children: ReactNode; testId?: string }) {
  return (
    <div className="fact">
      <dt>{label}</dt>
      <dd data-testid={testId}>{children}</dd>
    </div>
  );
}

/** An image of the screening, with a link to open it (and a sentence when the browser cannot show it). */
function Picture({ src, title, alt, testId }: { src: string; title: string; alt: string; testId: string }) {
  const { t } = useI18n();
  const [failed, setFailed] = useState(false);
  return (
    <figure className="admin-figure">
      {failed ? (
        <p className="hint admin-figure-failed">{t('admin.detail.imageFailed')}</p>
      ) : (
        <img src={src} alt={alt} loading="lazy" onError={() => setFailed(true)} data-testid={testId} />
      )}
      <figcaption>
        {title} ·{' '}
        <a href={src} target="_blank" rel="noopener noreferrer">
          {t('admin.detail.openImage', { name: title.toLowerCase() })}
        </a>
      </figcaption>
    </figure>
  );
}

const METADATA_LABELS: Record<string, Parameters<Translate>[0]> = {
  age: 'feedback.age',
  sex: 'feedback.sex',
  eye: 'feedback.eye',
  iop_mmhg: 'feedback.iop',
  cdr: 'feedback.cdr',
  family_history: 'feedback.familyHistory',
  camera: 'feedback.camera',
  notes: 'feedback.notes',
};

function metadataValue(t: Translate, key: string, value: unknown): string {
  if (key === 'sex' || key === 'eye') {
    const message = `feedback.${key}.${String(value)}`;
    if (hasMessage(message)) return t(message);
  }
  return plain(value, t);
}

function ConsentFacts({ screening }: { screening: AdminScreening }) {
  const { t, language } = useI18n();
  const consent = screening.consent;
  const rows: [string, string][] = [];
  if (consent === undefined || consent === null) rows.push([t('admin.detail.consent'), t('admin.detail.consentMissing')]);
  else if (typeof consent === 'boolean') rows.push([t('admin.detail.consent'), consent ? t('admin.detail.consentGiven') : t('admin.detail.consentNotGiven')]);
  else if (isRecord(consent)) {
    for (const [key, value] of Object.entries(consent)) {
      const asDate = /(^at|_at|date|time)$/i.test(key) ? formatDateTime(value, language) : null;
      const labelKey = `admin.consent.${key}`;
      rows.push([hasMessage(labelKey) ? t(labelKey) : humanize(key), asDate ?? plain(value, t)]);
    }
  } else rows.push([t('admin.detail.consent'), plain(consent, t)]);
  // Consent fields kept beside the record rather than inside it.
  for (const [key, value] of Object.entries(screening)) {
    if (key.startsWith('consent_')) rows.push([humanize(key), (/_at$/.test(key) && formatDateTime(value, language)) || plain(value, t)]);
  }
  return (
    <dl className="facts" data-testid="admin-detail-consent">
      {rows.map(([label, value], index) => (
        <Fact key={index} label={label}>
          {value}
        </Fact>
      ))}
    </dl>
  );
}

function FeedbackFacts({ feedback }: { feedback: unknown }) {
  const { t, language } = useI18n();
  if (!isRecord(feedback) || Object.keys(feedback).length === 0) {
    return <p data-testid="admin-detail-feedback">{t('admin.detail.noFeedback')}</p>;
  }
  const rows: [string, string][] = [];
  for (const [key, value] of Object.entries(feedback)) {
    if (key === 'diagnosis_correct') {
      rows.push([t('feedback.correct'), value === true ? t('feedback.correct.yes') : value === false ? t('feedback.correct.no') : t('feedback.correct.unknown')]);
    } else if (key === 'true_label') {
      const message = `feedback.trueLabel.${String(value)}`;
      rows.push([t('feedback.trueLabel'), hasMessage(message) ? t(message) : plain(value, t)]);
    } else if (key === 'metadata' && isRecord(value)) {
      for (const [field, fieldValue] of Object.entries(value)) {
        const labelKey = METADATA_LABELS[field];
        rows.push([labelKey ? t(labelKey) : humanize(field), metadataValue(t, field, fieldValue)]);
      }
    } else {
      rows.push([humanize(key), (/_at$/.test(key) && formatDateTime(value, language)) || plain(value, t)]);
    }
  }
  return (
    <dl className="facts" data-testid="admin-detail-feedback">
      {rows.map(([label, value], index) => (
        <Fact key={index} label={label}>
          {value}
        </Fact>
      ))}
    </dl>
  );
}

export function ScreeningDetail({ api, id, onAuthError, onDeleted }: ScreeningDetailProps) {
  const { t, language } = useI18n();
  const publicApi = useApi();
  const [screening, setScreening] = useState<AdminScreening | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [notFound, setNotFound] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const [confirming, setConfirming] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState<string | null>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);
  const deleteButtonRef = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    headingRef.current?.focus();
  }, []);

  useEffect(() => {
    let current = true;
    setLoadError(null);
    setNotFound(false);
    api.getScreening(id).then(
      (answer) => {
        if (current) setScreening(answer);
      },
      (caught: unknown) => {
        if (!current || onAuthError(caught)) return;
        if (caught instanceof ApiError && caught.status === 404) setNotFound(true);
        else setLoadError(t('admin.loadFailed', { message: caught instanceof Error ? caught.message : String(caught) }));
      },
    );
    return () => {
      current = false;
    };
    // `t` and `onAuthError` are left out: a language switch must not refetch.
  }, [api, id, attempt]);

  function cancelDelete() {
    setConfirming(false);
    setDeleteError(null);
    deleteButtonRef.current?.focus();
  }

  async function confirmDelete() {
    setDeleting(true);
    setDeleteError(null);
    try {
      await api.deleteScreening(id);
      onDeleted(id);
    } catch (caught) {
      if (caught instanceof ApiError && caught.status === 404) {
        onDeleted(id); // already gone: the outcome asked for
        return;
      }
      if (onAuthError(caught)) return;
      setDeleting(false);
      setDeleteError(t('admin.delete.failed', { message: caught instanceof Error ? caught.message : String(caught) }));
    }
  }

  const result = screening?.result;
  const label = screening ? screeningLabel(screening) : undefined;
  const probability = screening ? screeningProbability(screening) : undefined;
  const original = screening ? originalUrl(screening) : undefined;
  const base = `/api/screenings/${encodeURIComponent(id)}`;
  const linkOf = (name: 'crop' | 'heatmap') => {
    const link = screening?.links?.[name] ?? (typeof screening?.[`${name}_url`] === 'string' ? (screening[`${name}_url`] as string) : `${base}/${name}`);
    return resolveLink(publicApi.resolve, link);
  };
  const hasImages = !!result || screening?.status === 'done';
  const error: unknown = screening?.error;

  return (
    <section className="admin-detail" aria-labelledby="admin-detail-title" data-testid="admin-detail" data-screening-id={id}>
      <p>
        <a href="#/admin" data-testid="admin-detail-back">
          ← {t('admin.detail.back')}
        </a>
      </p>
      <h2 id="admin-detail-title" ref={headingRef} tabIndex={-1}>
        {t('admin.detail.title', { id: id.slice(0, 8) })}
      </h2>

      {!screening && !notFound && !loadError && (
        <p role="status" className="hint">
          {t('admin.detail.loading')}
        </p>
      )}
      {notFound && (
        <p role="alert" className="notice" data-testid="admin-detail-not-found">
          {t('admin.detail.notFound')}
        </p>
      )}
      {loadError && (
        <div className="error-box" role="alert">
          <p className="error-text">{loadError}</p>
          <button type="button" onClick={() => setAttempt((count) => count + 1)}>
            {t('admin.retry')}
          </button>
        </div>
      )}

      {screening && (
        <>
          <section className="step" aria-labelledby="admin-detail-record">
            <h3 id="admin-detail-record">{t('admin.detail.record')}</h3>
            <dl className="facts">
              <Fact label={t('admin.field.id')}>
                <code>{screening.id}</code>
              </Fact>
              <Fact label={t('admin.field.status')} testId="admin-detail-status">
                {statusText(t, screening.status)}
              </Fact>
              <Fact label={t('admin.field.created')}>{formatDateTime(screening.created_at, language) ?? '—'}</Fact>
              <Fact label={t('admin.field.updated')}>{formatDateTime(screening.updated_at, language) ?? '—'}</Fact>
              {screening.filename && <Fact label={t('admin.field.filename')}>{screening.filename}</Fact>}
              {error !== undefined && error !== null && (
                <Fact label={t('admin.field.error')}>
                  {isRecord(error) ? (
                    <>
                      <code>{String(error.code ?? '')}</code>: {String(error.message ?? '')}
                    </>
                  ) : (
                    plain(error, t)
                  )}
                </Fact>
              )}
            </dl>
          </section>

          <section className="step" aria-labelledby="admin-detail-result">
            <h3 id="admin-detail-result">{t('admin.detail.result')}</h3>
            {result || label ? (
              <dl className="facts">
                <Fact label={t('admin.field.label')} testId="admin-detail-label">
                  {labelText(t, label)}
                </Fact>
                <Fact label={t('admin.field.probability')}>{formatPercent(probability, language) ?? '—'}</Fact>
                {result?.threshold !== undefined && <Fact label={t('admin.field.threshold')}>{formatPercent(result.threshold, language)}</Fact>}
                {result?.model_version && (
                  <Fact label={t('admin.field.modelVersion')}>
                    <code>{result.model_version}</code>
                  </Fact>
                )}
                {result?.crop && (
                  <Fact label={t('admin.field.crop')}>
                    {result.crop.x}, {result.crop.y}, {result.crop.size}
                  </Fact>
                )}
                {result?.crop?.source && (
                  <Fact label={t('admin.field.cropSource')}>
                    {result.crop.source === 'user' ? t('admin.field.cropSource.user') : t('admin.field.cropSource.auto')}
                  </Fact>
                )}
                {typeof result?.inference_ms === 'number' && <Fact label={t('admin.field.inferenceMs')}>{result.inference_ms}</Fact>}
              </dl>
            ) : (
              <p>{t('admin.detail.noResult', { status: statusText(t, screening.status) })}</p>
            )}
          </section>

          <section className="step" aria-labelledby="admin-detail-images">
            <h3 id="admin-detail-images">{t('admin.detail.images')}</h3>
            <div className="admin-figures">
              {original ? (
                <Picture src={original} title={t('admin.detail.original')} alt={t('admin.detail.originalAlt')} testId="admin-original" />
              ) : (
                <p className="hint">{t('admin.detail.originalMissing')}</p>
              )}
              {hasImages && (
                <>
                  <Picture src={linkOf('crop')} title={t('admin.detail.crop')} alt={t('result.cropAlt')} testId="admin-crop" />
                  <Picture src={linkOf('heatmap')} title={t('admin.detail.heatmap')} alt={t('result.heatmapAlt')} testId="admin-heatmap" />
                </>
              )}
            </div>
          </section>

          <section className="step" aria-labelledby="admin-detail-feedback-title">
            <h3 id="admin-detail-feedback-title">{t('admin.detail.feedback')}</h3>
            <FeedbackFacts feedback={screening.feedback} />
          </section>

          <section className="step" aria-labelledby="admin-detail-consent-title">
            <h3 id="admin-detail-consent-title">{t('admin.detail.consent')}</h3>
            <ConsentFacts screening={screening} />
          </section>

          <details className="step admin-raw">
            <summary>{t('admin.detail.raw')}</summary>
            <pre>{JSON.stringify(screening, null, 2)}</pre>
          </details>
        </>
      )}

      {(screening || loadError) && (
        <div className="actions">
          <button type="button" className="danger" ref={deleteButtonRef} onClick={() => setConfirming(true)} data-testid="admin-delete">
            {t('admin.delete')}
          </button>
        </div>
      )}

      {confirming && (
        <ConfirmDialog
          title={t('admin.delete.title')}
          text={t('admin.delete.text', { id })}
          confirmLabel={t('admin.delete.confirm')}
          cancelLabel={t('admin.delete.cancel')}
          busy={deleting}
          busyLabel={t('admin.delete.busy')}
          error={deleteError}
          onConfirm={() => void confirmDelete()}
          onCancel={cancelDelete}
          testId="admin-delete-dialog"
        />
      )}
    </section>
  );
}
