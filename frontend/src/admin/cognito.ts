/**
 * Admin sign-in against a Cognito user pool with two plain JSON calls (no SDK): InitiateAuth with
 * USER_PASSWORD_AUTH, and RespondToAuthChallenge for the new password a first sign-in asks for.
 * The same calls work against AWS (`https://cognito-idp.<region>.amazonaws.com/`) and moto's server.
 */

export interface CognitoSettings {
  endpoint: string;
  clientId: string;
}

/** What a successful sign-in yields; kept in memory and sessionStorage (see session.ts). */
export interface AdminSession {
  username: string;
  idToken?: string;
  accessToken: string;
  /** Epoch milliseconds after which the tokens are no longer accepted. */
  expiresAt: number;
}

/** The pool wants a new password before it hands out tokens (users created with a temporary one). */
export interface NewPasswordChallenge {
  challenge: 'NEW_PASSWORD_REQUIRED';
  username: string;
  session: string;
}

export type SignInOutcome = { session: AdminSession } | NewPasswordChallenge;

/**
 * `kind` picks the sentence the page shows: bad credentials, an unconfirmed or reset account, a
 * password the pool's policy refuses, a challenge this page cannot answer, or no connection.
 */
export type CognitoErrorKind = 'credentials' | 'not_confirmed' | 'reset_required' | 'invalid_password' | 'unsupported' | 'network' | 'other';

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

/** The bearer token for the admin API: the ID token when there is one (it carries the groups), else the access token. */
export function bearerToken(session: AdminSession): string {
  return session.idToken ?? session.accessToken;
}
