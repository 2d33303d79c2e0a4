import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useI18n } from '../i18n/I18nContext';
import type { MessageKey } from '../i18n/messages';
import { hasMessage } from './labels';
import {
  CognitoError,
  completeNewPassword,
  initiateAuth,
  type AdminSession,
  type CognitoSettings,
  type NewPasswordChallenge,
  type SignInOutcome,
} from '../account/cognito';

interface SignInFormProps {
  settings: CognitoSettings;
  fetchImpl: typeof fetch;
  /** Why the form is shown again (expired session, signed out), said above it. */
  notice?: MessageKey | null;
  onSignedIn: (session: AdminSession) => void;
}

export function SignInForm({ settings, fetchImpl, notice, onSignedIn }: SignInFormProps) {
  const { t } = useI18n();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [newPassword, setNewPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [challenge, setChallenge] = useState<NewPasswordChallenge | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    if (challenge) headingRef.current?.focus();
  }, [challenge]);

  function explain(caught: unknown): string {
    if (caught instanceof CognitoError) {
      const key = `admin.signIn.error.${caught.kind}`;
      return t(hasMessage(key) ? key : 'admin.signIn.error.other', { message: caught.message });
    }
    return t('admin.signIn.error.other', { message: caught instanceof Error ? caught.message : String(caught) });
  }

  function finish(outcome: SignInOutcome) {
    if ('challenge' in outcome) {
      setChallenge(outcome);
      setPassword('');
    } else {
      onSignedIn(outcome.session);
    }
  }

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy) return;
    setError(null);
    if (challenge) {
      if (!newPassword) return setError(t('admin.signIn.missing'));
      if (newPassword !== repeat) return setError(t('admin.newPassword.mismatch'));
    } else if (!username.trim() || !password) {
      return setError(t('admin.signIn.missing'));
    }
    setBusy(true);
    try {
      finish(
        challenge
          ? await completeNewPassword(settings, challenge, newPassword, fetchImpl)
          : await initiateAuth(settings, username.trim(), password, fetchImpl),
      );
    } catch (caught) {
      setError(explain(caught));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="step admin-signin" aria-labelledby="admin-signin-title" data-testid="admin-signin">
      <h2 id="admin-signin-title" ref={headingRef} tabIndex={-1}>
        {challenge ? t('admin.newPassword.title') : t('admin.signIn.title')}
      </h2>
      {notice && !challenge && (
        <p className="notice-inline" role="status" data-testid="admin-signin-notice">
          {t(notice)}
        </p>
      )}
      <p className="hint">{challenge ? t('admin.newPassword.intro') : t('admin.signIn.intro')}</p>
      <form onSubmit={submit} noValidate aria-describedby={error ? 'admin-signin-error' : undefined}>
        {challenge ? (
          <>
            <div className="field">
              <label htmlFor="admin-new-password">{t('admin.newPassword.label')}</label>
              <input
                id="admin-new-password"
                type="password"
                autoComplete="new-password"
                value={newPassword}
                onChange={(event) => setNewPassword(event.target.value)}
                required
              />
            </div>
            <div className="field">
              <label htmlFor="admin-new-password-repeat">{t('admin.newPassword.repeat')}</label>
              <input
                id="admin-new-password-repeat"
                type="password"
                autoComplete="new-password"
                value={repeat}
                onChange={(event) => setRepeat(event.target.value)}
                required
              />
            </div>
          </>
        ) : (
          <>
            <div className="field">
              <label htmlFor="admin-username">{t('admin.signIn.username')}</label>
              <input
                id="admin-username"
                type="text"
                autoComplete="username"
                autoCapitalize="none"
                spellCheck={false}
                value={username}
                onChange={(event) => setUsername(event.target.value)}
                required
                data-testid="admin-username"
              />
            </div>
            <div className="field">
              <label htmlFor="admin-password">{t('admin.signIn.password')}</label>
              <input
                id="admin-password"
                type="password"
                autoComplete="current-password"
                value={password}
                onChange={(event) => setPassword(event.target.value)}
                required
                data-testid="admin-password"
              />
            </div>
          </>
        )}
        {error && (
          <p id="admin-signin-error" className="error-text" role="alert" data-testid="admin-signin-error">
            {error}
          </p>
        )}
        <div className="actions">
          <button type="submit" className="primary" disabled={busy} aria-busy={busy} data-testid="admin-signin-submit">
            {busy ? t('admin.signIn.busy') : challenge ? t('admin.newPassword.submit') : t('admin.signIn.submit')}
          </button>
        </div>
      </form>
    </section>
  );
}
