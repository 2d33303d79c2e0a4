import { useEffect, useRef, useState, type MouseEvent } from 'react';
import { useAccount } from './account/AccountContext';
import { AccountMenu } from './account/AccountMenu';
import { ConsentModal } from './components/ConsentModal';
import { LanguageSwitch } from './components/LanguageSwitch';
import { useI18n } from './i18n/I18nContext';
import type { MessageKey } from './i18n/messages';
import { ROUTE_HREF, useHashRoute, type Route } from './lib/hashRoute';
import { AboutPage } from './pages/AboutPage';
import { ForgotPasswordPage, SignInPage, SignUpPage, VerifyPage } from './pages/AccountPages';
import { GuidePage } from './pages/GuidePage';
import { AdminPage } from './pages/AdminPage';
import { MyScreeningsPage } from './pages/MyScreeningsPage';
import { NotFoundPage } from './pages/PlaceholderPages';
import { ScreenPage, type ConsentState } from './pages/ScreenPage';

const NAV_ITEMS: { route: 'screen' | 'guide' | 'about'; label: MessageKey }[] = [
  { route: 'screen', label: 'nav.screen' },
  { route: 'guide', label: 'nav.guide' },
  { route: 'about', label: 'nav.about' },
];

/** The page titles of the routes outside the main navigation. */
const OTHER_TITLES: Partial<Record<Route, MessageKey>> = {
  admin: 'admin.title',
  signup: 'account.signUp.title',
  verify: 'account.verify.title',
  signin: 'account.signIn.title',
  forgot: 'account.forgot.title',
  my: 'my.title',
};

export function App() {
  const { t } = useI18n();
  const route = useHashRoute();
  const { store: account, state: accountState } = useAccount();
  const signedIn = !!account.settings && !!accountState.session;
  // Asked once per visit: the consent covers the screenings made in this page session.
  const [consent, setConsent] = useState<ConsentState>('pending');
  const mainRef = useRef<HTMLElement>(null);
  const focusedRoute = useRef(route);

  const showConsent = route === 'screen' && consent === 'pending';

  useEffect(() => {
    const page = NAV_ITEMS.find((item) => item.route === route);
    const other = OTHER_TITLES[route];
    const title = page ? t(page.label) : other ? t(other) : null;
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
              {signedIn && (
                <li>
                  <a href={ROUTE_HREF.my} aria-current={route === 'my' ? 'page' : undefined} data-testid="nav-my-screenings">
                    {t('nav.my')}
                  </a>
                </li>
              )}
            </ul>
          </nav>
          <AccountMenu route={route} />
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
              {route === 'signup' && <SignUpPage />}
              {route === 'verify' && <VerifyPage />}
              {route === 'signin' && <SignInPage />}
              {route === 'forgot' && <ForgotPasswordPage />}
              {route === 'my' && <MyScreeningsPage />}
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
