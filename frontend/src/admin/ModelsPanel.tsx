import { useEffect, useRef, useState } from 'react';
import { ApiError } from '../api/client';
import { useI18n } from '../i18n/I18nContext';
import type { AdminApi } from './adminClient';
import { ComparisonView } from './ComparisonView';
import { ConfirmDialog } from './ConfirmDialog';
import type { Comparison, ModelList, ModelVersion } from './dataLoop';
import { formatDateTime, formatMetric, formatPercent } from './format';
import { comparisonStatusText, versionName } from './labels';
import { useAdminLoad } from './useAdminLoad';

interface ModelsPanelProps {
  api: AdminApi;
  onAuthError: (error: unknown) => boolean;
  /** Wait between checks of a queued or running comparison. */
  comparisonPollMs?: number;
}

function errorText(caught: unknown): string {
  return caught instanceof Error ? caught.message : String(caught);
}

/** The version to name in promote's route: the image's own model is promoted as "baked". */
function promoteName(version: ModelVersion): string {
  return version.baked ? 'baked' : version.model_version;
}

type Pending = { kind: 'promote'; version: ModelVersion } | { kind: 'rollback'; target: string };

interface Shown {
  version: ModelVersion;
  /** The answer of the POST that asked for it, or null to read it (GET). */
  initial: Comparison | null;
  /** A new request starts a new view (and a new poll). */
  key: number;
}

/**
 * The model registry (GET /api/admin/models): every version with its card's figures, the one that
 * serves marked; compare a version with the serving model, promote it, or roll back the pointer.
 */
export function ModelsPanel({ api, onAuthError, comparisonPollMs = 3000 }: ModelsPanelProps) {
  const { t, language } = useI18n();
  const [attempt, setAttempt] = useState(0);
  const [notice, setNotice] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [pending, setPending] = useState<Pending | null>(null);
  const [busy, setBusy] = useState(false);
  const [dialogError, setDialogError] = useState<string | null>(null);
  const [requesting, setRequesting] = useState<string | null>(null);
  const [shown, setShown] = useState<Shown | null>(null);
  const opener = useRef<HTMLElement | null>(null);
  const noticeRef = useRef<HTMLParagraphElement>(null);
  const focusNotice = useRef(false);

  const { data: list, error: loadError } = useAdminLoad<ModelList>(() => api.listModels(), [api, attempt], onAuthError);

  useEffect(() => {
    if (notice && focusNotice.current) {
      focusNotice.current = false;
      noticeRef.current?.focus();
    }
  }, [notice]);

  function ask(next: Pending, button: HTMLElement) {
    opener.current = button;
    setDialogError(null);
    setPending(next);
  }

  function cancel() {
    setPending(null);
    setDialogError(null);
    opener.current?.focus();
  }

  async function confirm() {
    if (!pending) return;
    setBusy(true);
    setDialogError(null);
    try {
      const change = pending.kind === 'promote' ? await api.promoteModel(promoteName(pending.version), pending.version.links.promote) : await api.rollbackModel();
      const serving = versionName(t, change.serving);
      focusNotice.current = true;
      setNotice(pending.kind === 'promote' ? t('admin.models.promoted', { version: serving }) : t('admin.models.rolledBack', { version: serving }));
      setActionError(null);
      setPending(null);
      setShown(null);
      setAttempt((count) => count + 1);
    } catch (caught) {
      if (onAuthError(caught)) return;
      const key = pending.kind === 'promote' ? 'admin.models.promoteFailed' : 'admin.models.rollbackFailed';
      setDialogError(t(key, { message: errorText(caught) }));
    } finally {
      setBusy(false);
    }
  }

  async function compare(version: ModelVersion) {
    setRequesting(version.model_version);
    setActionError(null);
    try {
      const answer = await api.requestComparison(version.model_version, version.links.comparison);
      setShown((previous) => ({ version, initial: answer, key: (previous?.key ?? 0) + 1 }));
    } catch (caught) {
      if (onAuthError(caught)) return;
      if (caught instanceof ApiError && caught.code === 'same_model') setActionError(t('admin.comparison.sameModel', { version: version.model_version }));
      else setActionError(t('admin.comparison.requestFailed', { message: errorText(caught) }));
    } finally {
      setRequesting(null);
    }
  }

  function show(version: ModelVersion) {
    setActionError(null);
    setShown((previous) => ({ version, initial: null, key: (previous?.key ?? 0) + 1 }));
  }

  const servingEntry = list?.versions.find((version) => version.serving);
  const cameras = (version: ModelVersion) => Object.entries(version.by_domain).sort((a, b) => a[0].localeCompare(b[0]));

  return (
    <section className="step admin-models" aria-labelledby="admin-models-title" data-testid="admin-models">
      <div className="section-heading">
        <h2 id="admin-models-title" tabIndex={-1}>
          {t('admin.models.title')}
        </h2>
        <button type="button" onClick={() => setAttempt((count) => count + 1)} data-testid="admin-models-refresh">
          {t('admin.refresh')}
        </button>
      </div>
      <p className="hint">{t('admin.models.intro')}</p>

      {notice && (
        <p className="notice success-notice" role="status" tabIndex={-1} ref={noticeRef} data-testid="admin-models-notice">
          {notice}
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
      {!list && !loadError && (
        <p role="status" className="hint">
          {t('admin.models.loading')}
        </p>
      )}

      {list && (
        <>
          <div className="serving-summary">
            <p>
              {t('admin.models.servingNow')}{' '}
              <code data-testid="serving-version" data-version={list.serving ?? ''}>
                {list.serving ?? '—'}
              </code>
              {list.serving === 'baked' && servingEntry && servingEntry.model_version !== 'baked' && (
                <>
                  {' '}
                  ({t('admin.models.bakedIs', { version: servingEntry.model_version })})
                </>
              )}
            </p>
            {list.previous !== null && (
              <button
                type="button"
                className="danger"
                onClick={(event) => ask({ kind: 'rollback', target: list.previous ?? '' }, event.currentTarget)}
                data-testid="admin-models-rollback"
              >
                {list.previous === 'baked' ? t('admin.models.rollbackBaked') : t('admin.models.rollback', { version: list.previous })}
              </button>
            )}
          </div>
          {actionError && (
            <p className="error-text" role="alert" data-testid="admin-models-error">
              {actionError}
            </p>
          )}
          {list.versions.length === 0 ? (
            <p>{t('admin.models.empty')}</p>
          ) : (
            <div className="table-wrap">
              <table className="admin-table models-table">
                <caption>{t('admin.models.caption')}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t('admin.models.version')}</th>
                    <th scope="col">{t('admin.models.trainedAt')}</th>
                    <th scope="col">{t('admin.models.threshold')}</th>
                    <th scope="col">{t('admin.models.byCamera')}</th>
                    <th scope="col">{t('admin.models.comparison')}</th>
                    <th scope="col">{t('admin.models.actions')}</th>
                  </tr>
                </thead>
                <tbody>
                  {list.versions.map((version, index) => {
                    const nameId = `model-version-${index}`;
                    return (
                      <tr
                        key={`${version.model_version}-${version.baked ? 'baked' : 'registered'}`}
                        className={version.serving ? 'serving-row' : undefined}
                        data-testid="model-row"
                        data-version={version.model_version}
                        data-serving={version.serving ? 'true' : 'false'}
                      >
                        <th scope="row" data-label={t('admin.models.version')}>
                          <code id={nameId}>{version.model_version}</code>
                          <span className="badges">
                            {version.serving && (
                              <strong className="badge badge-serving" data-testid="model-serving-badge">
                                {t('admin.models.serving')}
                              </strong>
                            )}
                            {version.baked && <span className="badge">{t('admin.models.baked')}</span>}
                          </span>
                        </th>
                        <td data-label={t('admin.models.trainedAt')}>{formatDateTime(version.trained_at, language) ?? '—'}</td>
                        <td data-label={t('admin.models.threshold')}>{version.threshold === null ? '—' : formatPercent(version.threshold, language)}</td>
                        <td data-label={t('admin.models.byCamera')}>
                          {cameras(version).length === 0 ? (
                            '—'
                          ) : (
                            <ul className="plain-list" data-testid="model-card">
                              {cameras(version).map(([camera, figures]) => (
                                <li key={camera}>
                                  <strong>{camera}</strong>:{' '}
                                  {t('admin.models.cardFigures', {
                                    auc: formatMetric('auc', figures.auc, language),
                                    sensitivity: formatMetric('sensitivity', figures.sensitivity, language),
                                    specificity: formatMetric('specificity', figures.specificity, language),
                                    n: figures.n ?? '—',
                                  })}
                                </li>
                              ))}
                            </ul>
                          )}
                        </td>
                        <td data-label={t('admin.models.comparison')} data-testid="model-comparison-status">
                          {version.comparison
                            ? t('admin.models.comparisonState', {
                                status: comparisonStatusText(t, version.comparison.status),
                                version: versionName(t, version.comparison.current),
                              })
                            : '—'}
                        </td>
                        <td data-label={t('admin.models.actions')}>
                          <div className="row-actions">
                            {!version.serving && (
                              <button
                                type="button"
                                onClick={() => void compare(version)}
                                disabled={requesting !== null}
                                aria-busy={requesting === version.model_version}
                                aria-describedby={nameId}
                                data-testid="model-compare"
                              >
                                {t('admin.models.compare')}
                              </button>
                            )}
                            {version.comparison && (
                              <button type="button" onClick={() => show(version)} aria-describedby={nameId} data-testid="model-show-comparison">
                                {t('admin.models.showComparison')}
                              </button>
                            )}
                            {!version.serving && (
                              <button
                                type="button"
                                className="primary"
                                onClick={(event) => ask({ kind: 'promote', version }, event.currentTarget)}
                                aria-describedby={nameId}
                                data-testid="model-promote"
                              >
                                {t('admin.models.promote')}
                              </button>
                            )}
                          </div>
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
          {shown && (
            <ComparisonView
              key={shown.key}
              api={api}
              version={shown.version}
              initial={shown.initial}
              pollMs={comparisonPollMs}
              onAuthError={onAuthError}
              onSettled={() => setAttempt((count) => count + 1)}
              onClose={() => setShown(null)}
            />
          )}
        </>
      )}

      {pending && (
        <ConfirmDialog
          title={
            pending.kind === 'promote'
              ? t('admin.models.promoteTitle', { version: pending.version.baked ? t('admin.models.bakedName') : pending.version.model_version })
              : pending.target === 'baked'
                ? t('admin.models.rollbackBakedTitle')
                : t('admin.models.rollbackTitle', { version: pending.target })
          }
          text={
            pending.kind === 'promote'
              ? t('admin.models.promoteText', { version: pending.version.model_version, current: versionName(t, list?.serving ?? null) })
              : t('admin.models.rollbackText', { version: versionName(t, pending.target), current: versionName(t, list?.serving ?? null) })
          }
          confirmLabel={pending.kind === 'promote' ? t('admin.models.promoteConfirm') : t('admin.models.rollbackConfirm')}
          cancelLabel={t('admin.delete.cancel')}
          busy={busy}
          busyLabel={t('admin.models.busy')}
          error={dialogError}
          onConfirm={() => void confirm()}
          onCancel={cancel}
          testId={pending.kind === 'promote' ? 'admin-promote-dialog' : 'admin-rollback-dialog'}
        />
      )}
    </section>
  );
}
