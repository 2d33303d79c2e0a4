import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useApi } from '../api/ApiContext';
import { ApiError } from '../api/client';
import { useRuntimeConfig } from '../ConfigContext';
import { ACCESS_VIEWS, accessOf, type AdminAccess } from '../admin/access';
import { createAdminClient } from '../admin/adminClient';
import { AdminTabs, VIEW_HASH, adminView, panelId, tabId, type AdminView } from '../admin/AdminTabs';
import { bearerToken, type AdminSession } from '../account/cognito';
import { ExportPanel } from '../admin/ExportPanel';
import { ModelsPanel } from '../admin/ModelsPanel';
import { MonitoringPanel } from '../admin/MonitoringPanel';
import { ReviewQueue } from '../admin/ReviewQueue';
import { ScreeningDetail } from '../admin/ScreeningDetail';
import { ScreeningList } from '../admin/ScreeningList';
import { clearStoredSession, isExpired, loadStoredSession, storeSession } from '../admin/session';
import { SignInForm } from '../admin/SignInForm';
import { StatsPanel } from '../admin/StatsPanel';
import { useAdminLoad } from '../admin/useAdminLoad';
import { useI18n } from '../i18n/I18nContext';
import type { MessageKey } from '../i18n/messages';

/** `#/admin/screenings/<id>` → the id; `#/admin` → null. */
export function adminScreeningId(hash: string): string | null {
  const match = /^#?\/admin\/screenings\/([^/?#]+)\/?$/.exec(hash);
  if (!match?.[1]) return null;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return null;
  }
}

function useAdminLocation(): { detailId: string | null; view: AdminView } {
  const [hash, setHash] = useState(() => window.location.hash);
  useEffect(() => {
    const onChange = () => setHash(window.location.hash);
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return useMemo(() => ({ detailId: adminScreeningId(hash), view: adminView(hash) }), [hash]);
}

/** Where a view starts reading: its heading. */
const VIEW_TITLE: Record<AdminView, string> = {
  screenings: '#admin-list-title',
  models: '#admin-models-title',
  monitoring: '#admin-monitoring-title',
  review: '#admin-review-title',
};

const defaultFetch: typeof fetch = (input, init) => globalThis.fetch(input, init);

interface AdminPageProps {
  /** For tests: the fetch used for Cognito and the admin API. */
  fetchImpl?: typeof fetch;
  exportPollMs?: number;
  comparisonPollMs?: number;
}

interface Initial {
  session: AdminSession | null;
  notice: MessageKey | null;
}

/** Why the panel is closed to this account, with a way to sign in with another one. */
function ClosedNotice({ name, title, text, onSwitch }: { name: string; title: MessageKey; text: MessageKey; onSwitch: () => void }) {
  const { t } = useI18n();
  return (
    <section className="notice" role="alert" aria-labelledby={`${name}-title`} data-testid={name}>
      <h2 id={`${name}-title`} tabIndex={-1}>
        {t(title)}
      </h2>
      <p>{t(text)}</p>
      <button type="button" onClick={onSwitch}>
        {t('admin.forbidden.switch')}
      </button>
    </section>
  );
}

function initialSession(): Initial {
  const stored = loadStoredSession();
  if (stored && isExpired(stored)) {
    clearStoredSession();
    return { session: null, notice: 'admin.signIn.expired' };
  }
  return { session: stored, notice: null };
}

/**
 * The administration pages: Cognito sign-in, then four tabs: the screenings (table with filters and
 * paging, a screening's detail with deletion, the stats and the dataset export), the models
 * (registry, comparison, promotion, roll-back), the monitoring of confirmed cases, and the review
 * queue. A reviewer sees the review queue only, an account in neither group no panel (GET /api/me
 * says which). 401 sends back to sign-in; 403 says the account is not an administrator.
 */
export function AdminPage({ fetchImpl = defaultFetch, exportPollMs, comparisonPollMs }: AdminPageProps) {
  const { t } = useI18n();
  const config = useRuntimeConfig();
  const publicApi = useApi();
  const [initial] = useState(initialSession);
  const [session, setSession] = useState<AdminSession | null>(initial.session);
  const [signInNotice, setSignInNotice] = useState<MessageKey | null>(initial.notice);
  const [forbidden, setForbidden] = useState(false);
  const [deletedId, setDeletedId] = useState<string | null>(null);
  const [reloadKey, setReloadKey] = useState(0);
  const [accessAttempt, setAccessAttempt] = useState(0);
  const { detailId, view } = useAdminLocation();
  // The screenings tab stays mounted once seen (its filters and page survive a look at another tab).
  const [screeningsSeen, setScreeningsSeen] = useState(view === 'screenings');
  if (view === 'screenings' && !screeningsSeen) setScreeningsSeen(true);
  const sessionRef = useRef(session);
  sessionRef.current = session;
  const rootRef = useRef<HTMLDivElement>(null);
  // Set by a sign-in: its first screen is focused once GET /api/me has said which one it is.
  const focusOnAccess = useRef(false);

  const settings = useMemo(
    () => (config.cognitoEndpoint && config.cognitoClientId ? { endpoint: config.cognitoEndpoint, clientId: config.cognitoClientId } : null),
    [config.cognitoEndpoint, config.cognitoClientId],
  );

  const adminApi = useMemo(
    () =>
      createAdminClient({
        resolve: publicApi.resolve,
        // An expired session sends no token: the client answers 401 itself, and that means "sign in again".
        getToken: () => {
          const current = sessionRef.current;
          return current && !isExpired(current) ? bearerToken(current) : null;
        },
        fetchImpl,
      }),
    [publicApi, fetchImpl],
  );

  const focusSoon = useCallback((selector: string) => {
    // After React has drawn the next screen.
    window.setTimeout(() => rootRef.current?.querySelector<HTMLElement>(selector)?.focus(), 0);
  }, []);

  const signOut = useCallback(
    (notice: MessageKey | null) => {
      clearStoredSession();
      setSession(null);
      setForbidden(false);
      setDeletedId(null);
      setSignInNotice(notice);
      focusSoon('#admin-signin-title');
    },
    [focusSoon],
  );

  const onAuthError = useCallback(
    (error: unknown): boolean => {
      if (!(error instanceof ApiError)) return false;
      if (error.status === 401) {
        signOut('admin.signIn.expired');
        return true;
      }
      if (error.status === 403) {
        setForbidden(true);
        focusSoon('#admin-forbidden-title');
        return true;
      }
      return false;
    },
    [signOut, focusSoon],
  );

  // Which tabs the account may see: its groups from GET /api/me, which reads them from the very token
  // the admin routes check. Nothing that a reviewer may not call is drawn (nor fetched) before it answers.
  const accessLoad = useAdminLoad<{ session: AdminSession; access: AdminAccess } | null>(
    () => (session ? adminApi.getGroups().then((groups) => ({ session, access: accessOf(groups) })) : Promise.resolve(null)),
    [adminApi, session, accessAttempt],
    onAuthError,
  );
  // An answer kept from an earlier sign-in (another account) is not this one's.
  const access = accessLoad.data && accessLoad.data.session === session ? accessLoad.data.access : null;
  const views = access ? ACCESS_VIEWS[access] : [];
  // The address's view when the account may use it, else its first (a reviewer's: the review queue).
  const shown = views.includes(view) ? view : (views[0] ?? view);

  useEffect(() => {
    if (!access || !focusOnAccess.current) return;
    focusOnAccess.current = false;
    if (access === 'none') focusSoon('#admin-no-access-title');
    else focusSoon(access === 'admin' && adminScreeningId(window.location.hash) ? '#admin-detail-title' : VIEW_TITLE[shown]);
  }, [access, shown, focusSoon]);

  function signedIn(next: AdminSession) {
    storeSession(next);
    setSession(next);
    setSignInNotice(null);
    setForbidden(false);
    focusOnAccess.current = true;
  }

  function selectView(next: AdminView) {
    if (next === view && !detailId) return;
    window.location.hash = VIEW_HASH[next];
  }

  function deleted(id: string) {
    setDeletedId(id);
    setReloadKey((key) => key + 1);
    window.location.hash = '#/admin';
  }

  // Back on the list: start from the deletion notice, else the list heading.
  const previousDetail = useRef(detailId);
  useEffect(() => {
    const wasDetail = previousDetail.current;
    previousDetail.current = detailId;
    if (detailId) {
      if (!wasDetail) setDeletedId(null);
      return;
    }
    if (wasDetail && adminView(window.location.hash) === 'screenings') focusSoon(deletedId ? '[data-testid="admin-notice"]' : '#admin-list-title');
  }, [detailId, deletedId, focusSoon]);

  return (
    <div className="admin-page" ref={rootRef} data-testid="admin-page">
      <h1 tabIndex={-1}>{t('admin.title')}</h1>
      {!settings ? (
        <p className="notice" data-testid="admin-not-configured">
          {t('admin.notConfigured')}
        </p>
      ) : !session ? (
        <SignInForm settings={settings} fetchImpl={fetchImpl} notice={signInNotice} onSignedIn={signedIn} />
      ) : (
        <>
          <div className="admin-bar">
            <span data-testid="admin-signed-in">{t('admin.signedInAs', { username: session.username })}</span>
            <button type="button" onClick={() => signOut('admin.signIn.signedOut')} data-testid="admin-sign-out">
              {t('admin.signOut')}
            </button>
          </div>
          {forbidden ? (
            <ClosedNotice name="admin-forbidden" title="admin.forbidden.title" text="admin.forbidden.text" onSwitch={() => signOut(null)} />
          ) : !access ? (
            accessLoad.error ? (
              <div className="error-box" role="alert" data-testid="admin-access-error">
                <p className="error-text">{accessLoad.error}</p>
                <button type="button" onClick={() => setAccessAttempt((count) => count + 1)}>
                  {t('admin.retry')}
                </button>
              </div>
            ) : (
              <p className="hint" role="status" data-testid="admin-access-loading">
                {t('admin.access.checking')}
              </p>
            )
          ) : access === 'none' ? (
            <ClosedNotice name="admin-no-access" title="admin.noAccess.title" text="admin.noAccess.text" onSwitch={() => signOut(null)} />
          ) : (
            <>
              {access === 'reviewer' && (
                <p className="hint" data-testid="admin-reviewer-note">
                  {t('admin.access.reviewer')}
                </p>
              )}
              <AdminTabs view={shown} onSelect={selectView} views={views} />
              {views.map((item) => (
                <div
                  key={item}
                  role="tabpanel"
                  id={panelId(item)}
                  aria-labelledby={tabId(item)}
                  hidden={item !== shown}
                  className="admin-tabpanel"
                  data-testid={panelId(item)}
                >
                  {item === 'screenings' && screeningsSeen && (
                    <>
                      {deletedId && !detailId && (
                        <p className="notice success-notice" role="status" tabIndex={-1} data-testid="admin-notice">
                          {t('admin.deleted', { id: deletedId })}
                        </p>
                      )}
                      <div hidden={!!detailId}>
                        <ScreeningList api={adminApi} onAuthError={onAuthError} reloadKey={reloadKey} />
                        <StatsPanel api={adminApi} onAuthError={onAuthError} reloadKey={reloadKey} />
                        <ExportPanel api={adminApi} onAuthError={onAuthError} pollMs={exportPollMs} />
                      </div>
                      {detailId && (
                        <ScreeningDetail key={detailId} api={adminApi} id={detailId} onAuthError={onAuthError} onDeleted={deleted} />
                      )}
                    </>
                  )}
                  {item === 'models' && shown === 'models' && (
                    <ModelsPanel api={adminApi} onAuthError={onAuthError} comparisonPollMs={comparisonPollMs} />
                  )}
                  {item === 'monitoring' && shown === 'monitoring' && <MonitoringPanel api={adminApi} onAuthError={onAuthError} />}
                  {item === 'review' && shown === 'review' && (
                    <ReviewQueue api={adminApi} onAuthError={onAuthError} detailLinks={access === 'admin'} />
                  )}
                </div>
              ))}
            </>
          )}
        </>
      )}
    </div>
  );
}
