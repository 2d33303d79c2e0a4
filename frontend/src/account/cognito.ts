/**
 * Cognito user-pool calls as plain JSON (no SDK), shared by the admin panel and the clinician
 * accounts: InitiateAuth (USER_PASSWORD_AUTH, and REFRESH_TOKEN_AUTH to renew the tokens),
 * RespondToAuthChallenge for the new password a first sign-in may ask for, SignUp / ConfirmSignUp /
 * ResendConfirmationCode, ForgotPassword / ConfirmForgotPassword and GlobalSignOut.
 * The same calls work against AWS (`https://cognito-idp.<region>.amazonaws.com/`) and moto's server.
 */

export interface CognitoSettings {
  endpoint: string;
  clientId: string;
}

/** What a successful sign-in yields; kept in memory and sessionStorage (see tokenStorage.ts). */
export interface CognitoSession {
  /** What the person typed to sign in (the e-mail, for clinician accounts). */
  username: string;
  idToken?: string;
  accessToken: string;
  /** Renews the access token (REFRESH_TOKEN_AUTH) when it has expired. */
  refreshToken?: string;
  /** Epoch milliseconds after which the tokens are no longer accepted. */
  expiresAt: number;
}

/** The admin panel's name for the same session. */
export type AdminSession = CognitoSession;

/** The pool wants a new password before it hands out tokens (users created with a temporary one). */
export interface NewPasswordChallenge {
  challenge: 'NEW_PASSWORD_REQUIRED';
  username: string;
  session: string;
}

export type SignInOutcome = { session: CognitoSession } | NewPasswordChallenge;

/**
 * `kind` picks the sentence the page shows: bad credentials, an unconfirmed or reset account, a
 * password the pool's policy refuses, a challenge this page cannot answer, an e-mail already signed
 * up, a wrong or expired code, too many tries, a refused parameter, or no connection.
 */
export type CognitoErrorKind =
  | 'credentials'
  | 'not_confirmed'
  | 'reset_required'
  | 'invalid_password'
  | 'unsupported'
  | 'exists'
  | 'code_mismatch'
  | 'code_expired'
  | 'limit'
  | 'invalid'
  | 'network'
  | 'other';

export class CognitoError extends Error {
  readonly kind: CognitoErrorKind;
  readonly type: string;

  constructor(kind: CognitoErrorKind, type: string, message: string) {
    super(message);
    this.name = 'CognitoError';
    this.kind = kind;
    this.type = type;
  }
}

const KIND_OF_TYPE: Record<string, CognitoErrorKind> = {
  NotAuthorizedException: 'credentials',
  UserNotFoundException: 'credentials',
  UserNotConfirmedException: 'not_confirmed',
  PasswordResetRequiredException: 'reset_required',
  InvalidPasswordException: 'invalid_password',
  UsernameExistsException: 'exists',
  AliasExistsException: 'exists',
  CodeMismatchException: 'code_mismatch',
  ExpiredCodeException: 'code_expired',
  LimitExceededException: 'limit',
  TooManyRequestsException: 'limit',
  TooManyFailedAttemptsException: 'limit',
  InvalidParameterException: 'invalid',
};

async function call(settings: CognitoSettings, target: string, body: unknown, fetchImpl: typeof fetch): Promise<Record<string, unknown>> {
  let response: Response;
  try {
    response = await fetchImpl(settings.endpoint, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-amz-json-1.1',
        'X-Amz-Target': `AWSCognitoIdentityProviderService.${target}`,
      },
      body: JSON.stringify(body),
    });
  } catch {
    throw new CognitoError('network', 'network', 'The sign-in service could not be reached.');
  }
  let parsed: Record<string, unknown> = {};
  try {
    const text = await response.text();
    const value: unknown = text ? JSON.parse(text) : {};
    if (value && typeof value === 'object') parsed = value as Record<string, unknown>;
  } catch {
    // Not JSON: handled below by the status.
  }
  if (!response.ok) {
    // "__type" may carry a namespace ("com.amazonaws...#NotAuthorizedException"); so may the header.
    const rawType = String(parsed.__type ?? response.headers.get('x-amzn-ErrorType') ?? `http_${response.status}`);
    const type = rawType.split('#').pop()?.split(':')[0] ?? rawType;
    const message = typeof parsed.message === 'string' ? parsed.message : typeof parsed.Message === 'string' ? parsed.Message : type;
    throw new CognitoError(KIND_OF_TYPE[type] ?? 'other', type, message);
  }
  return parsed;
}

function outcomeOf(answer: Record<string, unknown>, username: string, now: number): SignInOutcome {
  const result = answer.AuthenticationResult as Record<string, unknown> | undefined;
  if (result && typeof result.AccessToken === 'string') {
    const expiresIn = typeof result.ExpiresIn === 'number' && result.ExpiresIn > 0 ? result.ExpiresIn : 3600;
    return {
      session: {
        username,
        accessToken: result.AccessToken,
        ...(typeof result.IdToken === 'string' ? { idToken: result.IdToken } : {}),
        ...(typeof result.RefreshToken === 'string' ? { refreshToken: result.RefreshToken } : {}),
        expiresAt: now + expiresIn * 1000,
      },
    };
  }
  if (answer.ChallengeName === 'NEW_PASSWORD_REQUIRED' && typeof answer.Session === 'string') {
    return { challenge: 'NEW_PASSWORD_REQUIRED', username, session: answer.Session };
  }
  const challenge = typeof answer.ChallengeName === 'string' ? answer.ChallengeName : 'no tokens';
  throw new CognitoError('unsupported', challenge, `The sign-in needs a step this page does not offer (${challenge}).`);
}

export async function initiateAuth(
  settings: CognitoSettings,
  username: string,
  password: string,
  fetchImpl: typeof fetch = fetch.bind(globalThis),
  now: () => number = Date.now,
): Promise<SignInOutcome> {
  const answer = await call(
    settings,
    'InitiateAuth',
    { AuthFlow: 'USER_PASSWORD_AUTH', ClientId: settings.clientId, AuthParameters: { USERNAME: username, PASSWORD: password } },
    fetchImpl,
  );
  return outcomeOf(answer, username, now());
}

export async function completeNewPassword(
  settings: CognitoSettings,
  challenge: NewPasswordChallenge,
  newPassword: string,
  fetchImpl: typeof fetch = fetch.bind(globalThis),
  now: () => number = Date.now,
): Promise<SignInOutcome> {
  const answer = await call(
    settings,
    'RespondToAuthChallenge',
    {
      ChallengeName: 'NEW_PASSWORD_REQUIRED',
      ClientId: settings.clientId,
      Session: challenge.session,
      ChallengeResponses: { USERNAME: challenge.username, NEW_PASSWORD: newPassword },
    },
    fetchImpl,
  );
  return outcomeOf(answer, challenge.username, now());
}

/**
 * New tokens for a session whose access token expired (REFRESH_TOKEN_AUTH). The answer carries no
 * new refresh token: the old one is kept. A refused refresh token is a `credentials` error.
 */
export async function refreshSession(
  settings: CognitoSettings,
  session: CognitoSession,
  fetchImpl: typeof fetch = fetch.bind(globalThis),
  now: () => number = Date.now,
): Promise<CognitoSession> {
  if (!session.refreshToken) throw new CognitoError('credentials', 'no_refresh_token', 'There is no refresh token.');
  const answer = await call(
    settings,
    'InitiateAuth',
    { AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: settings.clientId, AuthParameters: { REFRESH_TOKEN: session.refreshToken } },
    fetchImpl,
  );
  const outcome = outcomeOf(answer, session.username, now());
  if ('challenge' in outcome) throw new CognitoError('unsupported', outcome.challenge, 'The refresh asked for a new password.');
  return { ...outcome.session, refreshToken: outcome.session.refreshToken ?? session.refreshToken };
}

/** Where Cognito sent a code ("a***@e***"), when it says. */
function destinationOf(answer: Record<string, unknown>): string | undefined {
  const details = answer.CodeDeliveryDetails as Record<string, unknown> | undefined;
  return details && typeof details.Destination === 'string' ? details.Destination : undefined;
}

export interface SignUpOutcome {
  /** True when the pool confirmed the account at once (no code to enter). */
  userConfirmed: boolean;
  destination?: string;
}

/** SignUp with the e-mail as the username and as the `email` attribute. */
export async function signUp(
  settings: CognitoSettings,
  email: string,
  password: string,
  fetchImpl: typeof fetch = fetch.bind(globalThis),
): Promise<SignUpOutcome> {
  const answer = await call(
    settings,
    'SignUp',
    { ClientId: settings.clientId, Username: email, Password: password, UserAttributes: [{ Name: 'email', Value: email }] },
    fetchImpl,
  );
  const destination = destinationOf(answer);
  return { userConfirmed: answer.UserConfirmed === true, ...(destination ? { destination } : {}) };
}

/** ConfirmSignUp with the code the pool e-mailed. */
export async function confirmSignUp(
  settings: CognitoSettings,
  email: string,
  code: string,
  fetchImpl: typeof fetch = fetch.bind(globalThis),
): Promise<void> {
  await call(settings, 'ConfirmSignUp', { ClientId: settings.clientId, Username: email, ConfirmationCode: code }, fetchImpl);
}

/** ResendConfirmationCode; answers where the new code went, when the pool says. */
export async function resendConfirmationCode(
  settings: CognitoSettings,
  email: string,
  fetchImpl: typeof fetch = fetch.bind(globalThis),
): Promise<string | undefined> {
  return destinationOf(await call(settings, 'ResendConfirmationCode', { ClientId: settings.clientId, Username: email }, fetchImpl));
}

/** ForgotPassword: the pool e-mails a code for ConfirmForgotPassword. */
export async function forgotPassword(
  settings: CognitoSettings,
  email: string,
  fetchImpl: typeof fetch = fetch.bind(globalThis),
): Promise<string | undefined> {
  return destinationOf(await call(settings, 'ForgotPassword', { ClientId: settings.clientId, Username: email }, fetchImpl));
}

export async function confirmForgotPassword(
  settings: CognitoSettings,
  email: string,
  code: string,
  newPassword: string,
  fetchImpl: typeof fetch = fetch.bind(globalThis),
): Promise<void> {
  await call(
    settings,
    'ConfirmForgotPassword',
    { ClientId: settings.clientId, Username: email, ConfirmationCode: code, Password: newPassword },
    fetchImpl,
  );
}

/** GlobalSignOut: the pool stops accepting this user's refresh tokens. */
export async function globalSignOut(
  settings: CognitoSettings,
  accessToken: string,
  fetchImpl: typeof fetch = fetch.bind(globalThis),
): Promise<void> {
  await call(settings, 'GlobalSignOut', { AccessToken: accessToken }, fetchImpl);
}

/** The bearer token for the admin API: the ID token when there is one (it carries the groups), else the access token. */
export function bearerToken(session: CognitoSession): string {
  return session.idToken ?? session.accessToken;
}
