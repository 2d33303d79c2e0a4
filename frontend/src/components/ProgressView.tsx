import { useI18n } from '../i18n/I18nContext';
import type { MessageKey } from '../i18n/messages';

/** The stages a person sees; awaiting_upload and queued are both "waiting in line". */
export type WorkStage = 'starting' | 'uploading' | 'awaiting_upload' | 'queued' | 'processing';

interface ProgressViewProps {
  stage: WorkStage;
  /** 0..1 while uploading. */
  uploadFraction: number;
}

const STEPS: { key: MessageKey; stages: WorkStage[] }[] = [
  { key: 'progress.stepUpload', stages: ['starting', 'uploading'] },
  { key: 'progress.stepQueue', stages: ['awaiting_upload', 'queued'] },
  { key: 'progress.stepAnalyse', stages: ['processing'] },
  { key: 'progress.stepResult', stages: [] },
];

export function ProgressView({ stage, uploadFraction }: ProgressViewProps) {
  const { t } = useI18n();
  const percent = Math.round(uploadFraction * 100);
  const currentIndex = STEPS.findIndex((step) => step.stages.includes(stage));

  return (
    <section className="step" aria-labelledby="progress-title" data-testid="progress-view" data-stage={stage}>
      <h2 id="progress-title" tabIndex={-1}>
        {t('progress.title')}
      </h2>
      <ol className="progress-steps">
        {STEPS.map((step, index) => {
          const state = index < currentIndex ? 'done' : index === currentIndex ? 'current' : 'todo';
          return (
            <li key={step.key} className={`progress-step progress-step-${state}`} aria-current={state === 'current' ? 'step' : undefined}>
              <span className="progress-marker" aria-hidden="true">
                {state === 'done' ? '✓' : index + 1}
              </span>
              {t(step.key)}
            </li>
          );
        })}
      </ol>
      {stage === 'uploading' && (
        <div className="upload-progress">
          <label htmlFor="upload-progress-bar">{t('progress.uploadPercent', { percent })}</label>
          <progress id="upload-progress-bar" max={100} value={percent} data-testid="upload-progress" />
        </div>
      )}
      {stage !== 'uploading' && <div className="spinner" aria-hidden="true" />}
      {/* One polite sentence that changes with the stage (not with every percent), for screen readers. */}
      <p role="status" className="status" data-testid="progress-status">
        {t(`progress.now.${stage}`)}
      </p>
      <p className="hint">{t('progress.keepOpen')}</p>
    </section>
  );
}
