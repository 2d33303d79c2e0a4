import { useId, useMemo, useState } from 'react';
import { useI18n } from '../i18n/I18nContext';
import type { AdminApi } from './adminClient';
import {
  METRICS,
  monitoringCameras,
  monitoringVersions,
  refusalCodes,
  trendRows,
  type Metric,
  type Monitoring,
  type MonitoringPeriod,
} from './dataLoop';
import { formatCount, formatMetric, formatPeriodStart } from './format';
import { hasMessage } from './labels';
import { StackedBarChart, TrendChart } from './LazyCharts';
import { useAdminLoad } from './useAdminLoad';

interface MonitoringPanelProps {
  api: AdminApi;
  onAuthError: (error: unknown) => boolean;
}

const PERIODS: readonly MonitoringPeriod[] = ['month', 'week'];

/**
 * How the served models do on confirmed cases (GET /api/admin/monitoring): each metric over time,
 * a line per model version, for one camera or all; the figures per version beside its card's; the
 * refusals per period; and the drift warnings, on top where they are seen.
 */
export function MonitoringPanel({ api, onAuthError }: MonitoringPanelProps) {
  const { t, language } = useI18n();
  const [period, setPeriod] = useState<MonitoringPeriod>('month');
  const [camera, setCamera] = useState('');
  const [attempt, setAttempt] = useState(0);
  const cameraId = useId();

  const { data, loading, error } = useAdminLoad<Monitoring>(() => api.getMonitoring(period), [api, period, attempt], onAuthError);

  const cameras = useMemo(() => (data ? monitoringCameras(data) : []), [data]);
  const selectedCamera = camera && cameras.includes(camera) ? camera : null;
  const versions = useMemo(() => (data ? monitoringVersions(data.series) : []), [data]);
  const periodOf = data?.period ?? period;
  const formatX = (start: string) => formatPeriodStart(start, periodOf, language);
  const metricName = (metric: string) => {
    const key = `admin.metric.${metric}`;
    return hasMessage(key) ? t(key) : metric;
  };
  const byVersion = (data?.by_version ?? []).filter((row) => selectedCamera === null || row.camera === selectedCamera);
  const codes = data ? refusalCodes(data.refusals) : [];
  const hasCases = !!data && (data.series.some((point) => point.confirmed > 0) || data.by_version.some((row) => row.confirmed > 0));

  return (
    <section className="step admin-monitoring" aria-labelledby="admin-monitoring-title" data-testid="admin-monitoring">
      <div className="section-heading">
        <h2 id="admin-monitoring-title" tabIndex={-1}>
          {t('admin.monitoring.title')}
        </h2>
        <button type="button" onClick={() => setAttempt((count) => count + 1)} data-testid="admin-monitoring-refresh">
          {t('admin.refresh')}
        </button>
      </div>
      <p className="hint">{t('admin.monitoring.intro', { min: data?.min_cases ?? 20 })}</p>
      {data?.truncated && (
        <p className="hint" role="status" data-testid="admin-monitoring-truncated">
          {t('admin.monitoring.truncated')}
        </p>
      )}

      {data && data.warnings.length > 0 && (
        <div className="drift-warning" role="alert" data-testid="admin-monitoring-warnings">
          <h3>{t('admin.monitoring.warningsTitle', { count: data.warnings.length })}</h3>
          <ul>
            {data.warnings.map((warning, index) => (
              <li key={index} data-testid="drift-warning">
                {t('admin.monitoring.warning', {
                  version: warning.model_version,
                  camera: warning.camera,
                  metric: metricName(warning.metric),
                  observed: formatMetric(warning.metric, warning.observed, language),
                  expected: formatMetric(warning.metric, warning.expected, language),
                  n: formatCount(warning.confirmed, language),
                })}
              </li>
            ))}
          </ul>
        </div>
      )}

      <div className="monitoring-controls">
        <fieldset className="field">
          <legend>{t('admin.monitoring.period')}</legend>
          <div className="radio-row">
            {PERIODS.map((option) => (
              <label key={option} className="radio">
                <input type="radio" name="monitoring-period" value={option} checked={period === option} onChange={() => setPeriod(option)} />
                {t(`admin.monitoring.period.${option}`)}
              </label>
            ))}
          </div>
        </fieldset>
        <div className="field">
          <label htmlFor={cameraId}>{t('admin.monitoring.camera')}</label>
          <select id={cameraId} value={selectedCamera ?? ''} onChange={(event) => setCamera(event.target.value)} data-testid="admin-monitoring-camera">
            <option value="">{t('admin.monitoring.allCameras')}</option>
            {cameras.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </div>
      </div>

      {error && (
        <div className="error-box" role="alert">
          <p className="error-text">{error}</p>
          <button type="button" onClick={() => setAttempt((count) => count + 1)}>
            {t('admin.retry')}
          </button>
        </div>
      )}
      <div role="status">{loading && <p className="hint">{t('admin.monitoring.loading')}</p>}</div>

      {data && !hasCases && (
        <p className="notice" data-testid="admin-monitoring-empty">
          {t('admin.monitoring.empty')}
        </p>
      )}

      {data && hasCases && (
        <>
          <h3>{t('admin.monitoring.trendsTitle')}</h3>
          {selectedCamera === null && cameras.length > 1 && <p className="hint">{t('admin.monitoring.pooledNote')}</p>}
          <div className="chart-grid">
            {METRICS.map((metric: Metric) => {
              const rows = trendRows(data.series, metric, selectedCamera);
              return (
                <figure className="chart-figure" key={metric} data-testid={`trend-${metric}`}>
                  <figcaption>
                    <strong>{metricName(metric)}</strong> · {selectedCamera ?? t('admin.monitoring.allCameras')}
                  </figcaption>
                  <TrendChart
                    rows={rows}
                    series={versions}
                    formatX={formatX}
                    formatY={(value) => formatMetric(metric, value, language)}
                    title={t('admin.monitoring.chartTitle', { metric: metricName(metric) })}
                  />
                  <details className="chart-data">
                    <summary>{t('admin.monitoring.asTable')}</summary>
                    <div className="table-wrap">
                      <table className="admin-table">
                        <thead>
                          <tr>
                            <th scope="col">{t('admin.monitoring.periodStart')}</th>
                            {versions.map((version) => (
                              <th scope="col" key={version}>
                                <code>{version}</code>
                              </th>
                            ))}
                          </tr>
                        </thead>
                        <tbody>
                          {rows.map((row) => (
                            <tr key={row.start}>
                              <th scope="row" data-label={t('admin.monitoring.periodStart')}>
                                {formatX(row.start)}
                              </th>
                              {versions.map((version) => (
                                <td key={version} data-label={version}>
                                  {formatMetric(metric, typeof row[version] === 'number' ? (row[version] as number) : null, language)}
                                </td>
                              ))}
                            </tr>
                          ))}
                        </tbody>
                      </table>
                    </div>
                  </details>
                </figure>
              );
            })}
          </div>

          <div className="table-wrap">
            <table className="admin-table" data-testid="admin-monitoring-versions">
              <caption>{t('admin.monitoring.byVersionCaption')}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('admin.models.version')}</th>
                  <th scope="col">{t('admin.monitoring.cameraColumn')}</th>
                  <th scope="col">{t('admin.monitoring.confirmed')}</th>
                  <th scope="col">{t('admin.metric.auc')}</th>
                  <th scope="col">{t('admin.metric.sensitivity')}</th>
                  <th scope="col">{t('admin.metric.specificity')}</th>
                  <th scope="col">{t('admin.metric.agreement')}</th>
                </tr>
              </thead>
              <tbody>
                {byVersion.map((row) => {
                  const vsCard = (metric: 'auc' | 'sensitivity' | 'specificity') =>
                    t('admin.monitoring.observedExpected', {
                      observed: formatMetric(metric, row[metric], language),
                      expected: formatMetric(metric, row.expected?.[metric] ?? null, language),
                    });
                  return (
                    <tr key={`${row.model_version}|${row.camera}`} data-testid="monitoring-version-row" data-version={row.model_version} data-camera={row.camera}>
                      <th scope="row" data-label={t('admin.models.version')}>
                        <code>{row.model_version}</code>
                      </th>
                      <td data-label={t('admin.monitoring.cameraColumn')}>{row.camera}</td>
                      <td data-label={t('admin.monitoring.confirmed')}>
                        {t('admin.monitoring.confirmedCounts', {
                          n: formatCount(row.confirmed, language),
                          glaucoma: formatCount(row.glaucoma, language),
                          normal: formatCount(row.normal, language),
                        })}
                      </td>
                      <td data-label={t('admin.metric.auc')}>{vsCard('auc')}</td>
                      <td data-label={t('admin.metric.sensitivity')}>{vsCard('sensitivity')}</td>
                      <td data-label={t('admin.metric.specificity')}>{vsCard('specificity')}</td>
                      <td data-label={t('admin.metric.agreement')}>{formatMetric('agreement', row.agreement, language)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          <p className="hint">{t('admin.monitoring.expectedNote')}</p>
        </>
      )}

      {data && (
        <>
          <h3 id="admin-refusals-title">{t('admin.monitoring.refusalsTitle')}</h3>
          {data.refusals.length === 0 || codes.length === 0 ? (
            <p data-testid="admin-refusals-empty">{t('admin.monitoring.noRefusals')}</p>
          ) : (
            <>
              <StackedBarChart
                rows={data.refusals.map((entry) => ({ start: entry.start, ...entry.codes }))}
                keys={codes.map((code) => ({ key: code, label: code }))}
                formatX={formatX}
                title={t('admin.monitoring.refusalsTitle')}
                testId="refusals-chart"
              />
              <div className="table-wrap">
                <table className="admin-table" aria-labelledby="admin-refusals-title" data-testid="admin-refusals">
                  <thead>
                    <tr>
                      <th scope="col">{t('admin.monitoring.periodStart')}</th>
                      {codes.map((code) => (
                        <th scope="col" key={code}>
                          <code>{code}</code>
                        </th>
                      ))}
                      <th scope="col">{t('admin.monitoring.total')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.refusals.map((entry) => (
                      <tr key={entry.start} data-testid="refusal-row">
                        <th scope="row" data-label={t('admin.monitoring.periodStart')}>
                          {formatX(entry.start)}
                        </th>
                        {codes.map((code) => (
                          <td key={code} data-label={code}>
                            {formatCount(entry.codes[code] ?? 0, language)}
                          </td>
                        ))}
                        <td data-label={t('admin.monitoring.total')}>
                          {formatCount(
                            Object.values(entry.codes).reduce((sum, n) => sum + n, 0),
                            language,
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </>
          )}
        </>
      )}
    </section>
  );
}
