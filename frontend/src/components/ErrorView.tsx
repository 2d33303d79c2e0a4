import { useI18n } from '../i18n/I18nContext';

interface ErrorViewProps {
  /** The API's own sentence (error.message) when it sent one. */
  message: string;
  kind: 'rejected' | 'failed';
  onTryAgain: () => void;
}

export function ErrorView({ message, kind, onTryAgain }: ErrorViewProps) {
  const { t } = useI18n();
  return (
    <section className="step error-view" aria-labelledby="error-title" data-testid="error-view" data-kind={kind}>
      <h2 id="error-title" tabIndex={-1}>
        {t('error.title')}
      </h2>
      <p className="hint">{kind === 'rejected' ? t('error.rejectedHint') : t('error.failedHint')}</p>
      <p className="error-text" role="alert" data-testid="error-message">
        {message}
      </p>
      <div className="actions">
        <button type="button" className="primary" onClick={onTryAgain} data-testid="try-again">
          {t('error.tryAgain')}
        </button>
      </div>
    </section>
  );
}
