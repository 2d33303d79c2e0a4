import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useAccount } from '../account/AccountContext';
import {
  CognitoError,
  completeNewPassword,
  confirmForgotPassword,
  confirmSignUp,
  forgotPassword,
  initiateAuth,
  resendConfirmationCode,
  signUp,
  type NewPasswordChallenge,
  type SignInOutcome,
} from '../account/cognito';
import { cognitoMessage, FormError, NewPasswordField, passwordMessage, TextField } from '../account/formParts';
import { isEmail } from '../account/passwordPolicy';
import { useI18n } from '../i18n/I18nContext';
import type { MessageKey } from '../i18n/messages';
import { ROUTE_HREF } from '../lib/hashRoute';

/**
 * The clinician-account pages: sign up, verify the e-mail, sign in, reset a forgotten password.
 * Each talks to the user pool directly (src/account/cognito.ts); the tokens end up in the account
 * store (sessionStorage). Screening without an account is not affected by any of them.
 */

function go(href: string) {
  window.location.hash = href;
}

function NotConfigured() {
  const { t } = useI18n();
  return (
    <p className="notice" data-testid="account-not-configured">
      {t('account.notConfigured')}
    </p>
  );
}

function useBusy(): [boolean, (work: () => Promise<void>) => Promise<void>] {
  const [busy, setBusy] = useState(false);
  const running = useRef(false);
  async function run(work: () => Promise<void>) {
    if (running.current) return;
    running.current = true;
    setBusy(true);
    try {
      await work();
    } finally {
      running.current = false;
      setBusy(false);
    }
  }
  return [busy, run];
}

export function SignUpPage() {
  const { t } = useI18n();
  const { store } = useAccount();
  const [email, setEmail] = useState(() => store.getState().pendingEmail);
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [invalid, setInvalid] = useState<'email' | 'password' | null>(null);
  const [busy, run] = useBusy();
  const settings = store.settings;

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!settings) return;
    const address = email.trim().toLowerCase();
    if (!isEmail(address)) {
      setInvalid('email');
      return setError(t('account.email.invalid'));
    }
    const problem = passwordMessage(t, password);
    if (problem) {
      setInvalid('password');
      return setError(problem);
    }
    setInvalid(null);
    setError(null);
    await run(async () => {
      try {
        const outcome = await signUp(settings, address, password, store.fetchImpl);
        store.setPendingEmail(address);
        if (outcome.userConfirmed) {
          store.setNotice('confirmed');
          go(ROUTE_HREF.signin);
        } else {
          go(ROUTE_HREF.verify);
        }
      } catch (caught) {
        if (caught instanceof CognitoError && caught.kind === 'invalid_password') setInvalid('password');
        setError(cognitoMessage(t, caught));
      }
    });
  }

  return (
    <div className="account-page">
      <h1 tabIndex={-1}>{t('account.signUp.title')}</h1>
      {!settings ? (
        <NotConfigured />
      ) : (
        <section className="step account-form">
          <p className="hint">{t('account.signUp.intro')}</p>
          <form onSubmit={submit} noValidate data-testid="account-signup">
            <TextField
              id="signup-email"
              label={t('account.email')}
              type="email"
              autoComplete="email"
              inputMode="email"
              value={email}
              onChange={setEmail}
              invalid={invalid === 'email'}
              describedBy={invalid === 'email' ? 'signup-error' : undefined}
            />
            <NewPasswordField
              id="signup-password"
              label={t('account.password')}
              value={password}
              onChange={setPassword}
              invalid={invalid === 'password'}
              errorId="signup-error"
            />
            <FormError id="signup-error" message={error} />
            <div className="actions">
              <button type="submit" className="primary" disabled={busy} aria-busy={busy} data-testid="account-signup-submit">
                {busy ? t('account.signUp.busy') : t('account.signUp.submit')}
              </button>
            </div>
          </form>
          <p>
            {t('account.signUp.haveAccount')} <a href={ROUTE_HREF.signin}>{t('account.signIn.submit')}</a>
          </p>
        </section>
      )}
    </div>
  );
}

export function VerifyPage() {
  const { t } = useI18n();
  const { store } = useAccount();
  const [email, setEmail] = useState(() => store.getState().pendingEmail);
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [invalid, setInvalid] = useState<'email' | 'code' | null>(null);
  const [resent, setResent] = useState<string | null>(null);
  const [busy, run] = useBusy();
  const settings = store.settings;

  function checkEmail(): string | null {
    const address = email.trim();
    if (!address) {
      setInvalid('email');
      setError(t('account.email.invalid'));
      return null;
    }
    return address;
  }

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!settings) return;
    setResent(null);
    const address = checkEmail();
    if (!address) return;
    const trimmed = code.replace(/\s+/g, '');
    if (!trimmed) {
      setInvalid('code');
      return setError(t('account.code.missing'));
    }
    setInvalid(null);
    setError(null);
    await run(async () => {
      try {
        await confirmSignUp(settings, address, trimmed, store.fetchImpl);
        store.setPendingEmail(address);
        store.setNotice('confirmed');
        go(ROUTE_HREF.signin);
      } catch (caught) {
        if (caught instanceof CognitoError && (caught.kind === 'code_mismatch' || caught.kind === 'code_expired')) setInvalid('code');
        setError(cognitoMessage(t, caught));
      }
    });
  }

  async function resend() {
    if (!settings) return;
    setResent(null);
    const address = checkEmail();
    if (!address) return;
    setInvalid(null);
    setError(null);
    await run(async () => {
      try {
        const destination = await resendConfirmationCode(settings, address, store.fetchImpl);
        store.setPendingEmail(address);
        setResent(destination ? t('account.verify.resent', { destination }) : t('account.verify.resentPlain'));
      } catch (caught) {
        setError(cognitoMessage(t, caught));
      }
    });
  }

  return (
    <div className="account-page">
      <h1 tabIndex={-1}>{t('account.verify.title')}</h1>
      {!settings ? (
        <NotConfigured />
      ) : (
        <section className="step account-form">
          <p className="hint">{t('account.verify.intro')}</p>
          <form onSubmit={submit} noValidate data-testid="account-verify">
            <TextField
              id="verify-email"
              label={t('account.email')}
              type="email"
              autoComplete="email"
              inputMode="email"
              value={email}
              onChange={setEmail}
              invalid={invalid === 'email'}
              describedBy={invalid === 'email' ? 'verify-error' : undefined}
            />
            <TextField
              id="verify-code"
              label={t('account.code')}
              autoComplete="one-time-code"
              inputMode="numeric"
              value={code}
              onChange={setCode}
              invalid={invalid === 'code'}
              describedBy={invalid === 'code' ? 'verify-error' : undefined}
            />
            <FormError id="verify-error" message={error} />
            <p role="status" className="success-text" data-testid="account-resent">
              {resent}
            </p>
            <div className="actions">
              <button type="submit" className="primary" disabled={busy} aria-busy={busy} data-testid="account-verify-submit">
                {busy ? t('account.verify.busy') : t('account.verify.submit')}
              </button>
              <button type="button" onClick={() => void resend()} disabled={busy} data-testid="account-resend">
                {t('account.verify.resend')}
              </button>
            </div>
          </form>
        </section>
      )}
    </div>
  );
}

const NOTICE_KEY: Record<'expired' | 'signedOut' | 'confirmed' | 'passwordReset', MessageKey> = {
  expired: 'account.notice.expired',
  signedOut: 'account.notice.signedOut',
  confirmed: 'account.notice.confirmed',
  passwordReset: 'account.notice.passwordReset',
};

export function SignInPage() {
  const { t } = useI18n();
  const { store, state } = useAccount();
  const [email, setEmail] = useState(() => state.pendingEmail);
  const [password, setPassword] = useState('');
  const [newPassword, setNewPassword] = useState('');
  const [challenge, setChallenge] = useState<NewPasswordChallenge | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [unconfirmed, setUnconfirmed] = useState(false);
  const [busy, run] = useBusy();
  const headingRef = useRef<HTMLHeadingElement>(null);
  const settings = store.settings;

  useEffect(() => {
    if (challenge) headingRef.current?.focus();
  }, [challenge]);

  function finish(outcome: SignInOutcome) {
    if ('challenge' in outcome) {
      setChallenge(outcome);
      setPassword('');
      return;
    }
    store.signedIn(outcome.session);
    go(ROUTE_HREF.my);
  }

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!settings) return;
    setUnconfirmed(false);
    if (challenge) {
      const problem = passwordMessage(t, newPassword);
      if (problem) return setError(problem);
    } else if (!email.trim()) {
      return setError(t('account.email.invalid'));
    } else if (!password) {
      return setError(t('account.password.empty'));
    }
    setError(null);
    await run(async () => {
      try {
        finish(
          challenge
            ? await completeNewPassword(settings, challenge, newPassword, store.fetchImpl)
            : await initiateAuth(settings, email.trim(), password, store.fetchImpl),
        );
      } catch (caught) {
        if (caught instanceof CognitoError && caught.kind === 'not_confirmed') {
          store.setPendingEmail(email.trim());
          setUnconfirmed(true);
        }
        setError(cognitoMessage(t, caught, true));
      }
    });
  }

  if (!settings) {
    return (
      <div className="account-page">
        <h1 tabIndex={-1}>{t('account.signIn.title')}</h1>
        <NotConfigured />
      </div>
    );
  }

  if (state.session) {
    return (
      <div className="account-page">
        <h1 tabIndex={-1}>{t('account.signIn.title')}</h1>
        <p className="notice-inline" role="status">
          {t('account.signIn.already', { email: state.session.username })}
        </p>
        <p>
          <a href={ROUTE_HREF.my}>{t('nav.my')}</a>
        </p>
      </div>
    );
  }

  const notice = state.notice && !challenge ? NOTICE_KEY[state.notice] : null;

  return (
    <div className="account-page">
      <h1 tabIndex={-1}>{t('account.signIn.title')}</h1>
      <section className="step account-form" aria-labelledby="account-signin-title">
        <h2 id="account-signin-title" ref={headingRef} tabIndex={-1} className={challenge ? undefined : 'visually-hidden'}>
          {challenge ? t('account.newPassword.title') : t('account.signIn.title')}
        </h2>
        {notice && (
          <p className="notice-inline" role="status" data-testid="account-notice">
            {t(notice)}
          </p>
        )}
        <p className="hint">{challenge ? t('account.newPassword.intro') : t('account.signIn.intro')}</p>
        <form onSubmit={submit} noValidate data-testid="account-signin">
          {challenge ? (
            <NewPasswordField id="signin-new-password" label={t('account.newPassword')} value={newPassword} onChange={setNewPassword} />
          ) : (
            <>
              <TextField
                id="signin-email"
                label={t('account.email')}
                type="email"
                autoComplete="username"
                inputMode="email"
                value={email}
                onChange={setEmail}
              />
              <TextField
                id="signin-password"
                label={t('account.password')}
                type="password"
                autoComplete="current-password"
                value={password}
                onChange={setPassword}
              />
            </>
          )}
          <FormError id="signin-error" message={error} />
          {unconfirmed && (
            <p>
              <a href={ROUTE_HREF.verify} data-testid="account-signin-verify">
                {t('account.signIn.verify')}
              </a>
            </p>
          )}
          <div className="actions">
            <button type="submit" className="primary" disabled={busy} aria-busy={busy} data-testid="account-signin-submit">
              {busy ? t('account.signIn.busy') : challenge ? t('account.newPassword.submit') : t('account.signIn.submit')}
            </button>
          </div>
        </form>
        {!challenge && (
          <ul className="account-links">
            <li>
              <a href={ROUTE_HREF.forgot} onClick={() => store.setPendingEmail(email.trim())}>
                {t('account.signIn.forgot')}
              </a>
            </li>
            <li>
              {t('account.signIn.noAccount')} <a href={ROUTE_HREF.signup}>{t('nav.signUp')}</a>
            </li>
          </ul>
        )}
      </section>
    </div>
  );
}

export function ForgotPasswordPage() {
  const { t } = useI18n();
  const { store } = useAccount();
  const [email, setEmail] = useState(() => store.getState().pendingEmail);
  // Set once the pool has sent the code: the second step asks for it and the new password.
  const [sent, setSent] = useState<{ destination?: string } | null>(null);
  const [code, setCode] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [invalid, setInvalid] = useState<'email' | 'code' | 'password' | null>(null);
  const [busy, run] = useBusy();
  const stepRef = useRef<HTMLParagraphElement>(null);
  const settings = store.settings;

  useEffect(() => {
    if (sent) stepRef.current?.focus();
  }, [sent]);

  async function requestCode(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!settings) return;
    const address = email.trim();
    if (!address) {
      setInvalid('email');
      return setError(t('account.email.invalid'));
    }
    setInvalid(null);
    setError(null);
    await run(async () => {
      try {
        const destination = await forgotPassword(settings, address, store.fetchImpl);
        store.setPendingEmail(address);
        setSent(destination ? { destination } : {});
      } catch (caught) {
        setError(cognitoMessage(t, caught));
      }
    });
  }

  async function reset(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!settings) return;
    const trimmed = code.replace(/\s+/g, '');
    if (!trimmed) {
      setInvalid('code');
      return setError(t('account.code.missing'));
    }
    const problem = passwordMessage(t, password);
    if (problem) {
      setInvalid('password');
      return setError(problem);
    }
    setInvalid(null);
    setError(null);
    await run(async () => {
      try {
        await confirmForgotPassword(settings, email.trim(), trimmed, password, store.fetchImpl);
        store.setPendingEmail(email.trim());
        store.setNotice('passwordReset');
        go(ROUTE_HREF.signin);
      } catch (caught) {
        if (caught instanceof CognitoError && (caught.kind === 'code_mismatch' || caught.kind === 'code_expired')) setInvalid('code');
        if (caught instanceof CognitoError && caught.kind === 'invalid_password') setInvalid('password');
        setError(cognitoMessage(t, caught));
      }
    });
  }

  function restart() {
    setSent(null);
    setCode('');
    setPassword('');
    setError(null);
    setInvalid(null);
  }

  return (
    <div className="account-page">
      <h1 tabIndex={-1}>{t('account.forgot.title')}</h1>
      {!settings ? (
        <NotConfigured />
      ) : !sent ? (
        <section className="step account-form">
          <p className="hint">{t('account.forgot.intro')}</p>
          <form onSubmit={requestCode} noValidate data-testid="account-forgot">
            <TextField
              id="forgot-email"
              label={t('account.email')}
              type="email"
              autoComplete="username"
              inputMode="email"
              value={email}
              onChange={setEmail}
              invalid={invalid === 'email'}
              describedBy={invalid === 'email' ? 'forgot-error' : undefined}
            />
            <FormError id="forgot-error" message={error} />
            <div className="actions">
              <button type="submit" className="primary" disabled={busy} aria-busy={busy} data-testid="account-forgot-submit">
                {busy ? t('account.forgot.sending') : t('account.forgot.send')}
              </button>
            </div>
          </form>
        </section>
      ) : (
        <section className="step account-form">
          <p className="hint" ref={stepRef} tabIndex={-1}>
            {sent.destination ? t('account.forgot.sentTo', { destination: sent.destination }) : t('account.forgot.sent')}
          </p>
          <form onSubmit={reset} noValidate data-testid="account-reset">
            <TextField
              id="reset-code"
              label={t('account.code')}
              autoComplete="one-time-code"
              inputMode="numeric"
              value={code}
              onChange={setCode}
              invalid={invalid === 'code'}
              describedBy={invalid === 'code' ? 'reset-error' : undefined}
            />
            <NewPasswordField
              id="reset-password"
              label={t('account.newPassword')}
              value={password}
              onChange={setPassword}
              invalid={invalid === 'password'}
              errorId="reset-error"
            />
            <FormError id="reset-error" message={error} />
            <div className="actions">
              <button type="submit" className="primary" disabled={busy} aria-busy={busy} data-testid="account-reset-submit">
                {busy ? t('account.forgot.busy') : t('account.forgot.submit')}
              </button>
              <button type="button" className="link-button" onClick={restart}>
                {t('account.forgot.restart')}
              </button>
            </div>
          </form>
        </section>
      )}
    </div>
  );
}
