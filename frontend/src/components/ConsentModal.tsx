import { useEffect, useRef, type KeyboardEvent } from 'react';
import { wrapTabFocus } from '../lib/focusTrap';
import { useI18n } from '../i18n/I18nContext';

interface ConsentModalProps {
  onAccept: () => void;
  onDecline: () => void;
}

/**
 * The research-use consent. The rest of the page is made inert by the caller while this is open,
 * so keyboard and screen-reader users stay inside it; Tab is also kept between its buttons.
 */
export function ConsentModal({ onAccept, onDecline }: ConsentModalProps) {
  const { t } = useI18n();
  const dialogRef = useRef<HTMLDivElement>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    headingRef.current?.focus();
  }, []);

  function keepFocusInside(event: KeyboardEvent<HTMLDivElement>) {
    if (event.key === 'Escape') {
      onDecline();
      return;
    }
    wrapTabFocus(event, dialogRef.current, 'button, [href], [tabindex]:not([tabindex="-1"])', headingRef.current);
  }

  return (
    <div className="modal-backdrop">
      <div
        ref={dialogRef}
        className="modal"
        role="dialog"
        aria-modal="true"
        aria-labelledby="consent-title"
        aria-describedby="consent-intro"
        data-testid="consent-modal"
        onKeyDown={keepFocusInside}
      >
        <h2 id="consent-title" ref={headingRef} tabIndex={-1}>
          {t('consent.title')}
        </h2>
        <p id="consent-intro">{t('consent.intro')}</p>
        <h3>{t('consent.storedTitle')}</h3>
        <ul>
          <li>{t('consent.storedPhoto')}</li>
          <li>{t('consent.storedAnswers')}</li>
          <li>{t('consent.research')}</li>
          <li>{t('consent.notKept')}</li>
        </ul>
        <div className="actions">
          <button type="button" className="primary" onClick={onAccept} data-testid="consent-accept">
            {t('consent.accept')}
          </button>
          <button type="button" onClick={onDecline} data-testid="consent-decline">
            {t('consent.decline')}
          </button>
        </div>
      </div>
    </div>
  );
}
