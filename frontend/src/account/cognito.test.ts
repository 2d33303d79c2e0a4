import { describe, expect, it } from 'vitest';
import { fakeFetch, jsonResponse } from '../test/fakeFetch';
import {
  bearerToken,
  CognitoError,
  completeNewPassword,
  confirmForgotPassword,
  confirmSignUp,
  forgotPassword,
  globalSignOut,
  initiateAuth,
  refreshSession,
  resendConfirmationCode,
  signUp,
} from './cognito';

const SETTINGS = { endpoint: 'http://127.0.0.1:5001', clientId: 'client-1' };

describe('initiateAuth', () => {
  it('POSTs USER_PASSWORD_AUTH as amz-json and keeps the tokens with their expiry', async () => {
    const { fetchImpl, calls } = fakeFetch(() =>
      jsonResponse(200, { AuthenticationResult: { AccessToken: 'access', IdToken: 'id', ExpiresIn: 3600, TokenType: 'Bearer' } }),
    );
    const outcome = await initiateAuth(SETTINGS, 'ada', 's3cret!', fetchImpl, () => 1_000);
    expect(calls).toHaveLength(1);
    const [call] = calls;
    expect(call?.url).toBe('http://127.0.0.1:5001');
    expect(call?.method).toBe('POST');
    expect(call?.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(call?.headers['x-amz-target']).toBe('AWSCognitoIdentityProviderService.InitiateAuth');
    expect(call?.body).toEqual({ AuthFlow: 'USER_PASSWORD_AUTH', ClientId: 'client-1', AuthParameters: { USERNAME: 'ada', PASSWORD: 's3cret!' } });
    expect(outcome).toEqual({ session: { username: 'ada', accessToken: 'access', idToken: 'id', expiresAt: 1_000 + 3_600_000 } });
    if ('session' in outcome && !('challenge' in outcome)) expect(bearerToken(outcome.session)).toBe('id');
  });

  it('uses the access token when there is no ID token', () => {
    expect(bearerToken({ username: 'a', accessToken: 'access', expiresAt: 0 })).toBe('access');
  });

  it.each([
    [{ __type: 'NotAuthorizedException', message: 'Incorrect username or password.' }, 'credentials'],
    [{ __type: 'UserNotFoundException', message: 'ada' }, 'credentials'],
    [{ __type: 'com.amazonaws.cognito#UserNotConfirmedException', message: 'no' }, 'not_confirmed'],
    [{ __type: 'ResourceNotFoundException', message: 'client-1' }, 'other'],
  ])('turns the error %j into kind %s', async (body, kind) => {
    const { fetchImpl } = fakeFetch(() => jsonResponse(400, body));
    const error = await initiateAuth(SETTINGS, 'ada', 'x', fetchImpl).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CognitoError);
    expect(error).toMatchObject({ kind });
  });

  it('says when the service cannot be reached', async () => {
    const fetchImpl = (async () => {
      throw new TypeError('Failed to fetch');
    }) as unknown as typeof fetch;
    await expect(initiateAuth(SETTINGS, 'ada', 'x', fetchImpl)).rejects.toMatchObject({ kind: 'network' });
  });

  it('hands back the new-password challenge and answers it with RespondToAuthChallenge', async () => {
    const { fetchImpl, calls } = fakeFetch((call) =>
      call.headers['x-amz-target']?.endsWith('InitiateAuth')
        ? jsonResponse(200, { ChallengeName: 'NEW_PASSWORD_REQUIRED', Session: 'sess-1', ChallengeParameters: {} })
        : jsonResponse(200, { AuthenticationResult: { AccessToken: 'a2', IdToken: 'i2', ExpiresIn: 60 } }),
    );
    const first = await initiateAuth(SETTINGS, 'ada', 'temporary', fetchImpl);
    expect(first).toEqual({ challenge: 'NEW_PASSWORD_REQUIRED', username: 'ada', session: 'sess-1' });
    if (!('challenge' in first)) throw new Error('expected a challenge');
    const second = await completeNewPassword(SETTINGS, first, 'N3w-password!', fetchImpl, () => 0);
    expect(calls[1]?.headers['x-amz-target']).toBe('AWSCognitoIdentityProviderService.RespondToAuthChallenge');
    expect(calls[1]?.body).toEqual({
      ChallengeName: 'NEW_PASSWORD_REQUIRED',
      ClientId: 'client-1',
      Session: 'sess-1',
      ChallengeResponses: { USERNAME: 'ada', NEW_PASSWORD: 'N3w-password!' },
    });
    expect(second).toEqual({ session: { username: 'ada', accessToken: 'a2', idToken: 'i2', expiresAt: 60_000 } });
  });

  it('refuses other challenges with a sentence', async () => {
    const { fetchImpl } = fakeFetch(() => jsonResponse(200, { ChallengeName: 'SOFTWARE_TOKEN_MFA', Session: 's' }));
    await expect(initiateAuth(SETTINGS, 'ada', 'x', fetchImpl)).rejects.toMatchObject({ kind: 'unsupported', type: 'SOFTWARE_TOKEN_MFA' });
  });
});

const targetOf = (headers: Record<string, string>) => headers['x-amz-target']?.replace('AWSCognitoIdentityProviderService.', '');

describe('clinician account calls', () => {
  it('signs up with the e-mail as the username and as the email attribute', async () => {
    const { fetchImpl, calls } = fakeFetch(() =>
      jsonResponse(200, { UserConfirmed: false, UserSub: 'sub-1', CodeDeliveryDetails: { Destination: 'a***@e***', DeliveryMedium: 'EMAIL' } }),
    );
    const outcome = await signUp(SETTINGS, 'ada@example.org', 'Correct-Horse-9', fetchImpl);
    expect(targetOf(calls[0]?.headers ?? {})).toBe('SignUp');
    expect(calls[0]?.body).toEqual({
      ClientId: 'client-1',
      Username: 'ada@example.org',
      Password: 'Correct-Horse-9',
      UserAttributes: [{ Name: 'email', Value: 'ada@example.org' }],
    });
    expect(outcome).toEqual({ userConfirmed: false, destination: 'a***@e***' });
  });

  it.each([
    ['UsernameExistsException', 'exists'],
    ['InvalidPasswordException', 'invalid_password'],
    ['CodeMismatchException', 'code_mismatch'],
    ['ExpiredCodeException', 'code_expired'],
    ['LimitExceededException', 'limit'],
    ['InvalidParameterException', 'invalid'],
  ])('turns %s into kind %s', async (type, kind) => {
    const { fetchImpl } = fakeFetch(() => jsonResponse(400, { __type: type, message: 'no' }));
    await expect(signUp(SETTINGS, 'ada@example.org', 'x', fetchImpl)).rejects.toMatchObject({ kind, type });
  });

  it('confirms the sign-up and resends the code', async () => {
    const { fetchImpl, calls } = fakeFetch((call) =>
      targetOf(call.headers) === 'ResendConfirmationCode' ? jsonResponse(200, { CodeDeliveryDetails: { Destination: 'a***@e***' } }) : jsonResponse(200, {}),
    );
    await confirmSignUp(SETTINGS, 'ada@example.org', '123456', fetchImpl);
    await expect(resendConfirmationCode(SETTINGS, 'ada@example.org', fetchImpl)).resolves.toBe('a***@e***');
    expect(calls.map((call) => [targetOf(call.headers), call.body])).toEqual([
      ['ConfirmSignUp', { ClientId: 'client-1', Username: 'ada@example.org', ConfirmationCode: '123456' }],
      ['ResendConfirmationCode', { ClientId: 'client-1', Username: 'ada@example.org' }],
    ]);
  });

  it('resets a forgotten password with the code', async () => {
    const { fetchImpl, calls } = fakeFetch(() => jsonResponse(200, {}));
    await expect(forgotPassword(SETTINGS, 'ada@example.org', fetchImpl)).resolves.toBeUndefined();
    await confirmForgotPassword(SETTINGS, 'ada@example.org', '654321', 'New-Password-42', fetchImpl);
    expect(calls.map((call) => [targetOf(call.headers), call.body])).toEqual([
      ['ForgotPassword', { ClientId: 'client-1', Username: 'ada@example.org' }],
      ['ConfirmForgotPassword', { ClientId: 'client-1', Username: 'ada@example.org', ConfirmationCode: '654321', Password: 'New-Password-42' }],
    ]);
  });

  it('keeps the refresh token a sign-in hands out, and renews the tokens with it', async () => {
    const { fetchImpl, calls } = fakeFetch((call) =>
      (call.body as { AuthFlow?: string }).AuthFlow === 'REFRESH_TOKEN_AUTH'
        ? jsonResponse(200, { AuthenticationResult: { AccessToken: 'access-2', IdToken: 'id-2', ExpiresIn: 3600 } })
        : jsonResponse(200, { AuthenticationResult: { AccessToken: 'access-1', RefreshToken: 'refresh-1', ExpiresIn: 60 } }),
    );
    const first = await initiateAuth(SETTINGS, 'ada@example.org', 'pw', fetchImpl, () => 0);
    if ('challenge' in first) throw new Error('expected tokens');
    expect(first.session.refreshToken).toBe('refresh-1');
    const renewed = await refreshSession(SETTINGS, first.session, fetchImpl, () => 10_000);
    expect(calls[1]?.body).toEqual({ AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: 'client-1', AuthParameters: { REFRESH_TOKEN: 'refresh-1' } });
    expect(renewed).toEqual({
      username: 'ada@example.org',
      accessToken: 'access-2',
      idToken: 'id-2',
      refreshToken: 'refresh-1',
      expiresAt: 10_000 + 3_600_000,
    });
  });

  it('signs out globally with the access token', async () => {
    const { fetchImpl, calls } = fakeFetch(() => jsonResponse(200, {}));
    await globalSignOut(SETTINGS, 'access-1', fetchImpl);
    expect(targetOf(calls[0]?.headers ?? {})).toBe('GlobalSignOut');
    expect(calls[0]?.body).toEqual({ AccessToken: 'access-1' });
  });
});
