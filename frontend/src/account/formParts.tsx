import type { ReactNode } from 'react';
import type { Translate } from '../i18n/I18nContext';
import { useI18n } from '../i18n/I18nContext';
import type { MessageKey } from '../i18n/messages';
import { CognitoError, type CognitoErrorKind } from './cognito';
import { PASSWORD_RULES, passwordProblems, type PasswordRule } from './passwordPolicy';

const ERROR_KEY: Record<CognitoErrorKind, MessageKey> = {
  credentials: 'account.error.credentials',
  not_confirmed: 'account.error.not_confirmed',
  reset_required: 'account.error.reset_required',
  invalid_password: 'account.error.invalid_password',
  unsupported: 'account.error.unsupported',
  exists: 'account.error.exists',
  code_mismatch: 'account.error.code_mismatch',
  code_expired: 'account.error.code_expired',
  limit: 'account.error.limit',
  invalid: 'account.error.invalid',
  network: 'account.error.network',
  other: 'account.error.other',
};

/**
 * The sentence for a failed Cognito call. "Incorrect e-mail or password" only makes sense when
 * signing in; elsewhere (a code for an account already confirmed, say) the pool's own words are shown.
 */
export function cognitoMessage(t: Translate, caught: unknown, signingIn = false): string {
  if (caught instanceof CognitoError) {
    const key = caught.kind === 'credentials' && !signingIn ? 'account.error.other' : ERROR_KEY[caught.kind];
    return t(key, { message: caught.message });
  }
  return t('account.error.other', { message: caught instanceof Error ? caught.message : String(caught) });
}

const RULE_KEY: Record<PasswordRule, MessageKey> = {
  length: 'account.password.rule.length',
  upper: 'account.password.rule.upper',
  lower: 'account.password.rule.lower',
  digit: 'account.password.rule.digit',
};

/** "The password still needs at least 12 characters, a digit and …", or null when it meets the policy. */
export function passwordMessage(t: Translate, password: string): string | null {
  const missing = passwordProblems(password).map((rule) => t(RULE_KEY[rule]));
  if (missing.length === 0) return null;
  const rules = missing.length === 1 ? missing[0] : `${missing.slice(0, -1).join(', ')}${t('account.password.and')}${missing[missing.length - 1]}`;
  return t('account.password.missing', { rules: rules ?? '' });
}

interface TextFieldProps {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  type?: 'text' | 'email' | 'password';
  autoComplete?: string;
  invalid?: boolean;
  describedBy?: string;
  inputMode?: 'text' | 'numeric' | 'email';
  testId?: string;
  children?: ReactNode;
}

export function TextField({ id, label, value, onChange, type = 'text', autoComplete, invalid, describedBy, inputMode, testId, children }: TextFieldProps) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type={type}
        autoComplete={autoComplete}
        autoCapitalize={type === 'password' ? undefined : 'none'}
        spellCheck={false}
        inputMode={inputMode}
        value={value}
        onChange={(event) => onChange(event.target.value)}
        aria-invalid={invalid || undefined}
        aria-describedby={describedBy}
        required
        data-testid={testId}
      />
      {children}
    </div>
  );
}

interface PasswordFieldProps {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  invalid?: boolean;
  errorId?: string;
  testId?: string;
}

/** A new password, with the policy listed under it and each rule marked as it is met. */
export function NewPasswordField({ id, label, value, onChange, invalid, errorId, testId }: PasswordFieldProps) {
  const { t } = useI18n();
  const missing = new Set(passwordProblems(value));
  const rulesId = `${id}-rules`;
  return (
    <TextField
      id={id}
      label={label}
      type="password"
      autoComplete="new-password"
      value={value}
      onChange={onChange}
      invalid={invalid}
      describedBy={[rulesId, invalid ? errorId : undefined].filter(Boolean).join(' ')}
      testId={testId}
    >
      <div className="hint password-rules" id={rulesId}>
        <span>{t('account.password.rulesTitle')}</span>
        <ul>
          {PASSWORD_RULES.map((rule) => {
            const met = value !== '' && !missing.has(rule);
            return (
              <li key={rule} data-rule={rule} data-met={met ? 'yes' : 'no'} className={met ? 'rule-met' : undefined}>
                {t(RULE_KEY[rule])}
                {met && <span className="visually-hidden"> ({t('account.password.ruleMet')})</span>}
              </li>
            );
          })}
        </ul>
      </div>
    </TextField>
  );
}

export function FormError({ id, message }: { id: string; message: string | null }) {
  if (!message) return null;
  return (
    <p id={id} className="error-text" role="alert" data-testid="account-error">
      {message}
    </p>
  );
}
