import { useI18n } from '../i18n/I18nContext';

interface ProbabilityGaugeProps {
  /** 0..1 */
  probability: number;
  threshold?: number;
  /** Whether the API labelled this glaucoma (the colour follows the API, not our own comparison). */
  positive: boolean;
}

const asPercent = (fraction: number) => Math.round(Math.min(1, Math.max(0, fraction)) * 100);

/** A horizontal meter with the referral threshold marked; the number is written out too. */
export function ProbabilityGauge({ probability, threshold, positive }: ProbabilityGaugeProps) {
  const { t } = useI18n();
  const percent = asPercent(probability);
  const thresholdPercent = threshold === undefined ? undefined : asPercent(threshold);
  const valueText =
    thresholdPercent === undefined
      ? t('result.gaugeTextNoThreshold', { percent })
      : t('result.gaugeText', { percent, threshold: thresholdPercent });

  return (
    <div className="gauge" data-testid="probability-gauge" data-probability={probability}>
      <div className="gauge-heading">
        <span id="gauge-label">{t('result.probability')}</span>
        <span className="gauge-number" data-testid="probability-percent" aria-hidden="true">
          {percent}%
        </span>
      </div>
      <div
        className="gauge-track"
        role="meter"
        aria-labelledby="gauge-label"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        aria-valuetext={valueText}
      >
        <div className={'gauge-fill ' + (positive ? 'gauge-fill-positive' : 'gauge-fill-negative')} style={{ width: `${percent}%` }} />
        {thresholdPercent !== undefined && (
          <div className="gauge-threshold" style={{ left: `${thresholdPercent}%` }} aria-hidden="true" />
        )}
      </div>
      {thresholdPercent !== undefined && (
        <p className="hint gauge-caption" aria-hidden="true">
          {t('result.threshold', { threshold: thresholdPercent })}
        </p>
      )}
    </div>
  );
}
