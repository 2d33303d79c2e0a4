import { useI18n } from '../i18n/I18nContext';
import type { MessageKey } from '../i18n/messages';

/** Every code the API can end a screening with (error.code of rejected or failed), each with its own words in every language. */
export const REFUSAL_CODES = [
  'not_a_fundus_photo',
  'too_dark',
  'too_bright',
  'too_blurred',
  'disc_not_visible',
  'disc_not_found',
  'unreadable_image',
  'image_too_small',
  'image_too_large',
  'unsupported_format',
  'upload_replaced',
  // failed, with a reason (papila.sweeper and the worker's final attempt)
  'upload_not_received',
  'processing_not_started',
  'processing_stalled',
] as const;
export type RefusalCode = (typeof REFUSAL_CODES)[number];

export function isRefusalCode(code: unknown): code is RefusalCode {
  return typeof code === 'string' && (REFUSAL_CODES as readonly string[]).includes(code);
}

interface ErrorViewProps {
  /** The API's own sentence (error.message) when it sent one. */
  message: string;
  /** The API's error.code, when it sent one: a known refusal is told in the page's language. */
  code?: string;
  kind: 'rejected' | 'failed';
  onTryAgain: () => void;
}

/** What to tell the person: in English the API's own sentence (it says what to do, and may be more specific
 * than the code); in another language the translation of the refusal code; else the API's sentence. */
export function refusalText(language: string, code: string | undefined, message: string, t: (key: MessageKey) => string): string {
  if (!isRefusalCode(code)) return message;
  const key = `refusal.${code}` as MessageKey;
  return language === 'en' && message ? message : t(key);
}

export function ErrorView({ message, code, kind, onTryAgain }: ErrorViewProps) {
  const { t, language } = useI18n();
  return (
    <section className="step error-view" aria-labelledby="error-title" data-testid="error-view" data-kind={kind} data-code={code}>
      <h2 id="error-title" tabIndex={-1}>
        {t('error.title')}
      </h2>
      <p className="hint">{kind === 'rejected' ? t('error.rejectedHint') : t('error.failedHint')}</p>
      <p className="error-text" role="alert" data-testid="error-message">
        {refusalText(language, code, message, t)}
      </p>
      <div className="actions">
        <button type="button" className="primary" onClick={onTryAgain} data-testid="try-again">
          {t('error.tryAgain')}
        </button>
      </div>
    </section>
  );
}
