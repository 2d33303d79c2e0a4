import { useEffect, useRef, useState } from 'react';
import { ApiError } from '../api/client';
import { useI18n, type Translate } from '../i18n/I18nContext';
import { isAbortError, sleep } from '../lib/poller';
import type { AdminApi } from './adminClient';
import type { ComparedModel, Comparison, Figures, ModelVersion } from './dataLoop';
import { formatCount, formatDateTime, formatMetric, formatPercent } from './format';
import { RocChart } from './LazyCharts';
import { comparisonStatusText, versionName } from './labels';

interface ComparisonViewProps {
  api: AdminApi;
  version: ModelVersion;
  /** The answer of the request that started it; null: read it first. */
  initial: Comparison | null;
  pollMs: number;
  onAuthError: (error: unknown) => boolean;
  /** Called once when a comparison that was waiting has finished (done or failed). */
  onSettled: () => void;
  onClose: () => void;
}

const waiting = (comparison: Comparison | null) => comparison !== null && (comparison.status === 'queued' || comparison.status === 'running');

function roleText(t: Translate, model: ComparedModel): string {
  if (model.role === 'candidate') return t('admin.comparison.role.candidate');
  if (model.role === 'current') return t('admin.comparison.role.current');
  return model.role;
}

/**
 * One candidate's comparison with the model that served when it was asked for: GET …/comparison
 * every few seconds while it is queued or running (stopped when it ends or this view goes), then
 * both ROC curves, the figures at each model's own threshold (overall and per camera) and the cases.
 */
export function ComparisonView({ api, version, initial, pollMs, onAuthError, onSettled, onClose }: ComparisonViewProps) {
  const { t, language } = useI18n();
  const [comparison, setComparison] = useState<Comparison | null>(initial);
  const [error, setError] = useState<string | null>(null);
  const [notRequested, setNotRequested] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const headingRef = useRef<HTMLHeadingElement>(null);
  const settled = useRef(onSettled);
  settled.current = onSettled;
  const first = useRef(initial);

  useEffect(() => {
    headingRef.current?.focus();
  }, []);

  useEffect(() => {
    const controller = new AbortController();
    const load = () => api.getComparison(version.model_version, version.links.comparison);
    async function run() {
      setError(null);
      let current = first.current;
      first.current = null;
      let sawWaiting = waiting(current);
      try {
        if (current === null) {
          current = await load();
          if (controller.signal.aborted) return;
          setComparison(current);
        }
        sawWaiting = sawWaiting || waiting(current);
        while (waiting(current)) {
          await sleep(pollMs, controller.signal);
          current = await load();
          if (controller.signal.aborted) return;
          setComparison(current);
        }
        if (sawWaiting) settled.current();
      } catch (caught) {
        if (isAbortError(caught) || controller.signal.aborted || onAuthError(caught)) return;
        if (caught instanceof ApiError && caught.status === 404) setNotRequested(true);
        else setError(t('admin.comparison.loadFailed', { message: caught instanceof Error ? caught.message : String(caught) }));
      }
    }
    void run();
    return () => controller.abort();
    // `t` and `onAuthError` are left out: a language switch must not restart the polling.
  }, [api, version, pollMs, attempt]);

  const candidate = comparison?.models.find((model) => model.role === 'candidate') ?? comparison?.models[0];
  const current = comparison?.models.find((model) => model.role === 'current') ?? comparison?.models[1];
  const models = [candidate, current].filter((model): model is ComparedModel => !!model);
  const cameras = [...new Set(models.flatMap((model) => Object.keys(model.by_camera)))].sort((a, b) => a.localeCompare(b));
  const scopes: { key: string; label: string; figures: (model: ComparedModel) => Figures | undefined }[] = [
    { key: '', label: t('admin.comparison.overall'), figures: (model) => model.overall },
    ...cameras.map((camera) => ({ key: camera, label: camera, figures: (model: ComparedModel) => model.by_camera[camera] })),
  ];
  const cases = comparison?.cases;

  return (
    <section className="comparison" aria-labelledby="admin-comparison-title" data-testid="admin-comparison" data-status={comparison?.status ?? 'loading'}>
      <div className="section-heading">
        <h3 id="admin-comparison-title" ref={headingRef} tabIndex={-1}>
          {t('admin.comparison.title', {
            candidate: comparison?.candidate ?? version.model_version,
            current: versionName(t, comparison?.current ?? null),
          })}
        </h3>
        <button type="button" onClick={onClose} data-testid="admin-comparison-close">
          {t('admin.comparison.close')}
        </button>
      </div>

      <div role="status" data-testid="admin-comparison-status">
        {!comparison && !error && !notRequested && <p className="hint">{t('admin.comparison.loading')}</p>}
        {comparison && waiting(comparison) && (
          <p>
            {t('admin.comparison.waiting', { status: comparisonStatusText(t, comparison.status) })}{' '}
            {comparison.requested_at && t('admin.comparison.requestedAt', { date: formatDateTime(comparison.requested_at, language) ?? '' })}
          </p>
        )}
        {comparison?.status === 'done' && comparison.finished_at && (
          <p className="hint">{t('admin.comparison.finishedAt', { date: formatDateTime(comparison.finished_at, language) ?? '' })}</p>
        )}
      </div>
      {notRequested && <p data-testid="admin-comparison-none">{t('admin.comparison.none')}</p>}
      {error && (
        <div className="error-box" role="alert">
          <p className="error-text">{error}</p>
          <button type="button" onClick={() => setAttempt((count) => count + 1)}>
            {t('admin.comparison.checkAgain')}
          </button>
        </div>
      )}
      {comparison?.status === 'failed' && (
        <p className="error-text" role="alert" data-testid="admin-comparison-failed">
          {t('admin.comparison.failed', { message: comparison.error?.message || comparison.error?.code || t('admin.comparison.noReason') })}
        </p>
      )}

      {comparison?.status === 'done' && (
        <>
          {cases && (
            <dl className="facts" data-testid="admin-comparison-cases">
              {(
                [
                  ['confirmed', cases.confirmed],
                  ['held_out', cases.held_out],
                  ['excluded_training', cases.excluded_training],
                  ['glaucoma', cases.glaucoma],
                  ['normal', cases.normal],
                ] as const
              ).map(([key, value]) => (
                <div className="fact" key={key}>
                  <dt>{t(`admin.comparison.cases.${key}`)}</dt>
                  <dd data-case={key}>{formatCount(value, language)}</dd>
                </div>
              ))}
            </dl>
          )}
          {models.length > 0 && (
            <figure className="chart-figure">
              <RocChart
                title={t('admin.comparison.rocTitle')}
                xLabel={t('admin.comparison.fpr')}
                yLabel={t('admin.comparison.tpr')}
                curves={models.map((model) => ({
                  key: `${model.role}:${model.model_version}`,
                  label: (
                    <>
                      {roleText(t, model)} <code>{model.model_version}</code> ({t('admin.comparison.aucLegend', { auc: formatMetric('auc', model.overall.auc, language) })})
                    </>
                  ),
                  fpr: model.roc.fpr,
                  tpr: model.roc.tpr,
                }))}
              />
              <figcaption>{t('admin.comparison.rocCaption')}</figcaption>
            </figure>
          )}
          <div className="table-wrap">
            <table className="admin-table comparison-table" data-testid="admin-comparison-table">
              <caption>{t('admin.comparison.tableCaption')}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('admin.comparison.scope')}</th>
                  <th scope="col">{t('admin.comparison.model')}</th>
                  <th scope="col">{t('admin.models.threshold')}</th>
                  <th scope="col">{t('admin.comparison.n')}</th>
                  <th scope="col">{t('admin.comparison.refused')}</th>
                  <th scope="col">{t('admin.metric.auc')}</th>
                  <th scope="col">{t('admin.metric.sensitivity')}</th>
                  <th scope="col">{t('admin.metric.specificity')}</th>
                </tr>
              </thead>
              <tbody>
                {scopes.flatMap((scope) =>
                  models.map((model) => {
                    const figures = scope.figures(model);
                    return (
                      <tr key={`${scope.key}|${model.role}`} data-testid="comparison-row" data-scope={scope.key || 'overall'} data-role={model.role}>
                        <th scope="row" data-label={t('admin.comparison.scope')}>
                          {scope.label}
                        </th>
                        <td data-label={t('admin.comparison.model')}>
                          {roleText(t, model)} <code>{model.model_version}</code>
                        </td>
                        <td data-label={t('admin.models.threshold')}>{model.threshold === null ? '—' : formatPercent(model.threshold, language)}</td>
                        <td data-label={t('admin.comparison.n')}>{formatCount(figures?.n, language)}</td>
                        <td data-label={t('admin.comparison.refused')}>{formatCount(figures?.refused, language)}</td>
                        <td data-label={t('admin.metric.auc')}>{formatMetric('auc', figures?.auc, language)}</td>
                        <td data-label={t('admin.metric.sensitivity')}>{formatMetric('sensitivity', figures?.sensitivity, language)}</td>
                        <td data-label={t('admin.metric.specificity')}>{formatMetric('specificity', figures?.specificity, language)}</td>
                      </tr>
                    );
                  }),
                )}
              </tbody>
            </table>
          </div>
          <p className="hint">{t('admin.comparison.refusedNote')}</p>
        </>
      )}
    </section>
  );
}
