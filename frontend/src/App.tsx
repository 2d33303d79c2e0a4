import { useEffect, useRef, useState, type MouseEvent } from 'react';
import { ConsentModal } from './components/ConsentModal';
import { LanguageSwitch } from './components/LanguageSwitch';
import { useI18n } from './i18n/I18nContext';
import type { MessageKey } from './i18n/messages';
import { ROUTE_HREF, useHashRoute, type Route } from './lib/hashRoute';
import { AboutPage } from './pages/AboutPage';
import { GuidePage } from './pages/GuidePage';
import { AdminPage } from './pages/AdminPage';
import { NotFoundPage } from './pages/PlaceholderPages';
import { ScreenPage, type ConsentState } from './pages/ScreenPage';

const NAV_ITEMS: { route: Exclude<Route, 'not_found' | 'admin'>; label: MessageKey }[] = [
  { route: 'screen', label: 'nav.screen' },
  { route: 'guide', label: 'nav.guide' },
  { route: 'about', label: 'nav.about' },
];

export function App() {
  const { t } = useI18n();
  const route = useHashRoute();
  // Asked once per visit: the consent covers the screenings made in this page session.
  const [consent, setConsent] = useState<ConsentState>('pending');
  const mainRef = useRef<HTMLElement>(null);
  const focusedRoute = useRef(route);

  const showConsent = route === 'screen' && consent === 'pending';

  useEffect(() => {
    const page = NAV_ITEMS.find((item) => item.route === route);
    const title = page ? t(page.label) : route === 'admin' ? t('admin.title') : null;
    document.title = title ? `${title} · Papila` : 'Papila';
  }, [route, t]);

  // After navigating, start reading and tabbing from the new page, not the old link.
  useEffect(() => {
    if (focusedRoute.current === route) return;
    focusedRoute.current = route;
    mainRef.current?.querySelector<HTMLElement>('[data-active-page] h1')?.focus();
  }, [route]);

  // Once the consent is answered, carry on from the step it opened (upload, or the declined note).
  const answeredConsent = useRef(consent);
  useEffect(() => {
    if (answeredConsent.current === consent) return;
    answeredConsent.current = consent;
    if (consent !== 'pending') mainRef.current?.querySelector<HTMLElement>('[data-active-page] h2')?.focus();
  }, [consent]);

  function skipToContent(event: MouseEvent<HTMLAnchorElement>) {
    // A plain #main link would be taken for a route by the hash router.
    event.preventDefault();
    mainRef.current?.focus();
  }

  return (
    <>
      <div className="app-shell" inert={showConsent}>
        <a className="skip-link" href="#main" onClick={skipToContent}>
          {t('nav.skip')}
        </a>
        <header className="site-header">
          <a className="brand" href={ROUTE_HREF.screen}>
            <svg viewBox="0 0 32 32" width="32" height="32" aria-hidden="true" focusable="false">
              <circle cx="16" cy="16" r="14" fill="#b3471f" />
              <circle cx="21" cy="14" r="5" fill="#ffd9a0" />
            </svg>
            <span>
              <span className="brand-name">{t('app.name')}</span>
              <span className="brand-tagline">{t('app.tagline')}</span>
            </span>
          </a>
          <LanguageSwitch />
          <nav aria-label={t('nav.label')}>
            <ul>
              {NAV_ITEMS.map((item) => (
                <li key={item.route}>
                  <a href={ROUTE_HREF[item.route]} aria-current={route === item.route ? 'page' : undefined}>
                    {t(item.label)}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
        </header>
        <main id="main" ref={mainRef} tabIndex={-1} className="site-main">
          {/* The screening page stays mounted, only hidden, so a look at the guide does not lose a result. */}
          <div hidden={route !== 'screen'} data-active-page={route === 'screen' ? '' : undefined}>
            <ScreenPage consent={consent} onReviewConsent={() => setConsent('pending')} />
          </div>
          {route !== 'screen' && (
            <div data-active-page="">
              {route === 'guide' && <GuidePage />}
              {route === 'about' && <AboutPage />}
              {route === 'admin' && <AdminPage />}
              {route === 'not_found' && <NotFoundPage />}
            </div>
          )}
        </main>
        <footer className="site-footer">
          <p>{t('footer.disclaimer')}</p>
        </footer>
      </div>
      {showConsent && <ConsentModal onAccept={() => setConsent('accepted')} onDecline={() => setConsent('declined')} />}
    </>
  );
}
