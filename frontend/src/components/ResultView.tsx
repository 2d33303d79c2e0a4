import { useEffect, useState } from 'react';
import { useAccount } from '../account/AccountContext';
import { useApi } from '../api/ApiContext';
import type { Screening } from '../api/types';
import { useI18n } from '../i18n/I18nContext';
import { ProbabilityGauge } from './ProbabilityGauge';
import { useAuthorizedSource } from './useAuthorizedSource';

interface ResultViewProps {
  screening: Screening;
  /** Absent when the photo cannot be shown again (TIFF) to place a new crop. */
  onRerun?: () => void;
  onNewScreening: () => void;
}

/** An API image link, with a version so a rerun's new crop is not taken from the browser cache. */
function imageUrl(resolve: (path: string) => string, link: string, version: string): string {
  // Only our own relative links get the parameter: a presigned URL must be used untouched.
  if (!link.startsWith('/')) return link;
  return resolve(link) + (link.includes('?') ? '&' : '?') + 'v=' + encodeURIComponent(version);
}

export function ResultView({ screening, onRerun, onNewScreening }: ResultViewProps) {
  const { t } = useI18n();
  const api = useApi();
  const result = screening.result;
  const version = screening.updated_at ?? result?.model_version ?? '';
  const [heatmapFailed, setHeatmapFailed] = useState(false);
  const [heatmapLoaded, setHeatmapLoaded] = useState(false);

  useEffect(() => {
    // A rerun brings a new heat map, which may load where the last one failed.
    setHeatmapFailed(false);
    setHeatmapLoaded(false);
  }, [version]);

  const base = `/api/screenings/${encodeURIComponent(screening.id)}`;
  const cropSrc = imageUrl(api.resolve, screening.links?.crop ?? `${base}/crop`, version);
  const heatmapSrc = imageUrl(api.resolve, screening.links?.heatmap ?? `${base}/heatmap`, version);
  // A screening of an account serves its images only with the token (see useAuthorizedSource).
  const { state: account } = useAccount();
  const authorized = screening.owned === true || !!account.session;
  const crop = useAuthorizedSource(cropSrc, screening.id, authorized);
  const heatmap = useAuthorizedSource(heatmapSrc, screening.id, authorized);

  if (!result) return null;
  const positive = result.label === 'glaucoma';
  const labelText =
    result.label === 'glaucoma' ? t('result.label.glaucoma') : result.label === 'normal' ? t('result.label.normal') : result.label;

  return (
    <section className="step result" aria-labelledby="result-title" data-testid="result-view">
      <h2 id="result-title" tabIndex={-1}>
        {t('result.title')}
      </h2>
      <div className="result-grid">
        <div className="result-summary">
          <ProbabilityGauge probability={result.probability_glaucoma} threshold={result.threshold} positive={positive} />
          <dl className="facts">
            <dt>{t('result.label')}</dt>
            <dd>
              <strong
                className={'label-badge ' + (positive ? 'label-positive' : 'label-negative')}
                data-testid="result-label"
                data-label={result.label}
              >
                {labelText}
              </strong>
            </dd>
            {result.referral && (
              <>
                <dt>{t('result.referral')}</dt>
                <dd data-testid="result-referral">{result.referral}</dd>
              </>
            )}
            {typeof result.cdr?.vertical === 'number' && (
              <>
                <dt>{t('result.cdr')}</dt>
                <dd data-testid="result-cdr">
                  {result.cdr.vertical.toFixed(2)}
                  {typeof result.cdr.mae_vs_experts === 'number' &&
                    ` (± ${result.cdr.mae_vs_experts.toFixed(2)} ${t('result.cdrError')})`}
                </dd>
              </>
            )}
            {result.model_version && (
              <>
                <dt>{t('result.model')}</dt>
                <dd data-testid="result-model-version">
                  <code>{result.model_version}</code>
                </dd>
              </>
            )}
            {result.crop?.source && (
              <>
                <dt>{t('result.cropSource')}</dt>
                <dd>{result.crop.source === 'user' ? t('result.cropSource.user') : t('result.cropSource.auto')}</dd>
              </>
            )}
            <dt>{t('result.reference')}</dt>
            <dd>
              <code data-testid="screening-id">{screening.id}</code>
            </dd>
          </dl>
          <p className="hint">{t('result.notDiagnosis')}</p>
        </div>
        <div className="result-images">
          <figure>
            <img src={crop.src} alt={t('result.cropAlt')} width={224} height={224} data-testid="result-crop" />
            <figcaption>{t('result.cropTitle')}</figcaption>
          </figure>
          {!heatmapFailed && !heatmap.failed && (
            <figure hidden={!heatmapLoaded}>
              <img
                src={heatmap.src}
                alt={t('result.heatmapAlt')}
                width={224}
                height={224}
                onLoad={() => setHeatmapLoaded(true)}
                onError={() => setHeatmapFailed(true)}
                data-testid="result-heatmap"
              />
              <figcaption>{t('result.heatmapTitle')}</figcaption>
            </figure>
          )}
        </div>
      </div>
      <div className="actions">
        {onRerun && (
          <button type="button" onClick={onRerun} data-testid="rerun">
            {t('result.rerun')}
          </button>
        )}
        <button type="button" className="link-button" onClick={onNewScreening} data-testid="new-screening">
          {t('result.newScreening')}
        </button>
      </div>
    </section>
  );
}
