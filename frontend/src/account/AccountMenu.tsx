import { useI18n } from '../i18n/I18nContext';
import { ROUTE_HREF, type Route } from '../lib/hashRoute';
import { useAccount } from './AccountContext';

/**
 * The header's account corner: who is signed in and Sign out, else Sign in and Create an account.
 * Nothing where config.json names no user pool (screening without an account is all there is).
 */
export function AccountMenu({ route }: { route: Route }) {
  const { t } = useI18n();
  const { store, state } = useAccount();
  if (!store.settings) return null;
  const session = state.session;
  return (
    <div className="account-menu" role="group" aria-label={t('account.menu.label')} data-testid="account-menu">
      {session ? (
        <>
          <span className="account-user" data-testid="account-signed-in" data-username={session.username}>
            {t('account.signedInAs', { email: session.username })}
          </span>
          <button type="button" className="link-button" onClick={() => store.signOut()} data-testid="account-signout">
            {t('account.signOut')}
          </button>
        </>
      ) : (
        <>
          <a href={ROUTE_HREF.signin} aria-current={route === 'signin' ? 'page' : undefined} data-testid="nav-signin">
            {t('nav.signIn')}
          </a>
          <a href={ROUTE_HREF.signup} aria-current={route === 'signup' ? 'page' : undefined} data-testid="nav-signup">
            {t('nav.signUp')}
          </a>
        </>
      )}
    </div>
  );
}
