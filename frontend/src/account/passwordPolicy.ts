/**
 * The user pool's password policy, checked before Cognito is asked so the person learns at once
 * what is missing: at least 12 characters, an upper-case letter, a lower-case letter and a digit.
 */
export type PasswordRule = 'length' | 'upper' | 'lower' | 'digit';

export const PASSWORD_RULES: readonly PasswordRule[] = ['length', 'upper', 'lower', 'digit'];

export const MIN_PASSWORD_LENGTH = 12;

const CHECKS: Record<PasswordRule, (password: string) => boolean> = {
  length: (password) => [...password].length >= MIN_PASSWORD_LENGTH,
  upper: (password) => /\p{Lu}/u.test(password),
  lower: (password) => /\p{Ll}/u.test(password),
  digit: (password) => /\d/.test(password),
};

/** The rules the password does not meet yet, in the order they are listed. */
export function passwordProblems(password: string): PasswordRule[] {
  return PASSWORD_RULES.filter((rule) => !CHECKS[rule](password));
}

/** A plausible e-mail address: something@something.tld, no spaces. */
export function isEmail(value: string): boolean {
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value);
}
