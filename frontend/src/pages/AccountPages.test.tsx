import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { ACCOUNT_STORAGE_KEY, accountAuth, createAccountStore } from '../account/accountStore';
import type { CognitoSession } from '../account/cognito';
import { createApiClient } from '../api/client';
import { App } from '../App';
import { LANGUAGE_STORAGE_KEY } from '../i18n/I18nContext';
import { fakeApi } from '../test/fakeApi';
import { fakeFetch, jsonResponse, type FetchCall, type FetchRoute } from '../test/fakeFetch';
import { renderWithProviders } from '../test/render';

const SETTINGS = { endpoint: 'http://cognito.test', clientId: 'client-1' };
const SESSION: CognitoSession = {
  username: 'ada@example.org',
  accessToken: 'access-1',
  refreshToken: 'refresh-1',
  expiresAt: Date.now() + 3_600_000,
};

const targetOf = (call: FetchCall) => call.headers['x-amz-target']?.replace('AWSCognitoIdentityProviderService.', '');

/** The app at `hash` with a user pool answered by `route`. */
function renderApp(hash: string, route: FetchRoute = () => jsonResponse(200, {}), pendingEmail = '') {
  window.location.hash = hash;
  const cognito = fakeFetch(route);
  const account = createAccountStore({ settings: SETTINGS, fetchImpl: cognito.fetchImpl });
  account.setPendingEmail(pendingEmail);
  const rendered = renderWithProviders(<App />, fakeApi(), account);
  return { ...rendered, account, calls: cognito.calls };
}

const cognitoCalls = (calls: FetchCall[], target: string) => calls.filter((call) => targetOf(call) === target);

describe('sign up', () => {
  it('checks the e-mail and the password policy before asking the pool, with clear messages', async () => {
    const { calls } = renderApp('#/signup');
    const form = screen.getByTestId('account-signup');
    await userEvent.type(within(form).getByLabelText('Email'), 'ada@example');
    await userEvent.type(within(form).getByLabelText('Password'), 'Correct-Horse-9');
    await userEvent.click(screen.getByRole('button', { name: 'Create account' }));
    expect(screen.getByRole('alert').textContent).toBe('Enter a valid e-mail address, like name@example.org.');
    expect(within(form).getByLabelText('Email').getAttribute('aria-invalid')).toBe('true');

    await userEvent.type(within(form).getByLabelText('Email'), '.org');
    await userEvent.clear(within(form).getByLabelText('Password'));
    await userEvent.type(within(form).getByLabelText('Password'), 'short');
    await userEvent.click(screen.getByRole('button', { name: 'Create account' }));
    expect(screen.getByRole('alert').textContent).toBe(
      'The password still needs at least 12 characters, an upper-case letter (A–Z) and a digit (0–9).',
    );
    expect(within(form).getByLabelText('Password').getAttribute('aria-invalid')).toBe('true');

    await userEvent.clear(within(form).getByLabelText('Password'));
    await userEvent.type(within(form).getByLabelText('Password'), 'alllowercase-letters-1');
    await userEvent.click(screen.getByRole('button', { name: 'Create account' }));
    expect(screen.getByRole('alert').textContent).toBe('The password still needs an upper-case letter (A–Z).');
    // The rules under the field show which are met.
    const rules = [...form.querySelectorAll('[data-rule]')].map((item) => `${item.getAttribute('data-rule')}:${item.getAttribute('data-met')}`);
    expect(rules).toEqual(['length:yes', 'upper:no', 'lower:yes', 'digit:yes']);
    expect(calls).toHaveLength(0);
  });

  it('calls SignUp with the e-mail as username and attribute, then asks for the code', async () => {
    const { calls } = renderApp('#/signup', () => jsonResponse(200, { UserConfirmed: false, UserSub: 'sub-1' }));
    const form = screen.getByTestId('account-signup');
    await userEvent.type(within(form).getByLabelText('Email'), ' Ada@Example.org ');
    await userEvent.type(within(form).getByLabelText('Password'), 'Correct-Horse-9');
    await userEvent.click(screen.getByRole('button', { name: 'Create account' }));
    await waitFor(() => expect(window.location.hash).toBe('#/verify'));
    expect(cognitoCalls(calls, 'SignUp').map((call) => call.body)).toEqual([
      { ClientId: 'client-1', Username: 'ada@example.org', Password: 'Correct-Horse-9', UserAttributes: [{ Name: 'email', Value: 'ada@example.org' }] },
    ]);
    const verify = await screen.findByTestId('account-verify');
    expect((within(verify).getByLabelText('Email') as HTMLInputElement).value).toBe('ada@example.org');
  });

  it('says when the e-mail already has an account', async () => {
    renderApp('#/signup', () => jsonResponse(400, { __type: 'UsernameExistsException', message: 'User already exists' }));
    const form = screen.getByTestId('account-signup');
    await userEvent.type(within(form).getByLabelText('Email'), 'ada@example.org');
    await userEvent.type(within(form).getByLabelText('Password'), 'Correct-Horse-9');
    await userEvent.click(screen.getByRole('button', { name: 'Create account' }));
    expect((await screen.findByRole('alert')).textContent).toMatch(/already exists/);
    expect(window.location.hash).toBe('#/signup');
  });
});

describe('verify', () => {
  it('confirms the code, then offers the sign-in with the e-mail filled in', async () => {
    const { calls, account } = renderApp('#/verify');
    const form = screen.getByTestId('account-verify');
    await userEvent.type(within(form).getByLabelText('Email'), 'ada@example.org');
    await userEvent.click(screen.getByRole('button', { name: 'Verify' }));
    expect(screen.getByRole('alert').textContent).toBe('Enter the code from the e-mail.');
    await userEvent.type(within(form).getByLabelText('Verification code'), '123 456');
    await userEvent.click(screen.getByRole('button', { name: 'Verify' }));
    await waitFor(() => expect(window.location.hash).toBe('#/signin'));
    expect(cognitoCalls(calls, 'ConfirmSignUp').map((call) => call.body)).toEqual([
      { ClientId: 'client-1', Username: 'ada@example.org', ConfirmationCode: '123456' },
    ]);
    expect((await screen.findByTestId('account-notice')).textContent).toBe('Your e-mail is verified. You can sign in now.');
    expect((within(screen.getByTestId('account-signin')).getByLabelText('Email') as HTMLInputElement).value).toBe('ada@example.org');
    expect(account.getState().session).toBeNull();
  });

  it('resends the code and explains a wrong one', async () => {
    const { calls } = renderApp(
      '#/verify',
      (call) =>
        targetOf(call) === 'ResendConfirmationCode'
          ? jsonResponse(200, { CodeDeliveryDetails: { Destination: 'a***@e***', DeliveryMedium: 'EMAIL' } })
          : jsonResponse(400, { __type: 'CodeMismatchException', message: 'Invalid code' }),
      'ada@example.org',
    );
    const form = screen.getByTestId('account-verify');
    await userEvent.click(screen.getByRole('button', { name: 'Send a new code' }));
    expect(await screen.findByText('A new code is on its way to a***@e***.')).toBeTruthy();
    expect(cognitoCalls(calls, 'ResendConfirmationCode').map((call) => call.body)).toEqual([{ ClientId: 'client-1', Username: 'ada@example.org' }]);

    await userEvent.type(within(form).getByLabelText('Verification code'), '000000');
    await userEvent.click(screen.getByRole('button', { name: 'Verify' }));
    expect((await screen.findByRole('alert')).textContent).toBe('That code is not right. Check the e-mail, or ask for a new code.');
    expect(within(form).getByLabelText('Verification code').getAttribute('aria-invalid')).toBe('true');
    expect(window.location.hash).toBe('#/verify');
  });
});

describe('sign in and out', () => {
  it('keeps the tokens in sessionStorage only and shows who is signed in', async () => {
    const { calls, account } = renderApp('#/signin', () =>
      jsonResponse(200, { AuthenticationResult: { AccessToken: 'access-1', IdToken: 'id-1', RefreshToken: 'refresh-1', ExpiresIn: 3600 } }),
    );
    expect(screen.queryByTestId('account-signed-in')).toBeNull();
    expect(screen.queryByTestId('nav-my-screenings')).toBeNull();
    const form = screen.getByTestId('account-signin');
    await userEvent.type(within(form).getByLabelText('Email'), 'ada@example.org');
    await userEvent.type(within(form).getByLabelText('Password'), 'Correct-Horse-9');
    await userEvent.click(within(form).getByRole('button', { name: 'Sign in' }));

    expect((await screen.findByTestId('account-signed-in')).textContent).toBe('Signed in as ada@example.org');
    expect(screen.getByTestId('nav-my-screenings').getAttribute('href')).toBe('#/my');
    await waitFor(() => expect(window.location.hash).toBe('#/my'));
    expect(cognitoCalls(calls, 'InitiateAuth')[0]?.body).toEqual({
      AuthFlow: 'USER_PASSWORD_AUTH',
      ClientId: 'client-1',
      AuthParameters: { USERNAME: 'ada@example.org', PASSWORD: 'Correct-Horse-9' },
    });
    const stored = JSON.parse(window.sessionStorage.getItem(ACCOUNT_STORAGE_KEY) ?? 'null') as CognitoSession;
    expect(stored).toMatchObject({ username: 'ada@example.org', accessToken: 'access-1', refreshToken: 'refresh-1' });
    const everythingLocal = Object.keys(window.localStorage).map((key) => window.localStorage.getItem(key)).join(' ');
    expect(everythingLocal).not.toMatch(/access-1|refresh-1|id-1/);
    expect(account.getState().session?.accessToken).toBe('access-1');
  });

  it('sends the Bearer token on screening calls while signed in, and not after signing out', async () => {
    const { account } = renderApp('#/', () => jsonResponse(200, {}));
    const api = fakeFetch(() => jsonResponse(200, { id: 'id-1', status: 'queued' }));
    // The wiring main.tsx uses.
    const client = createApiClient('http://api', api.fetchImpl, { get: () => null, set: () => undefined }, accountAuth(account));
    await client.getScreening('id-1');
    account.signedIn(SESSION);
    await client.getScreening('id-1');
    account.signOut();
    await client.getScreening('id-1');
    expect(api.calls.map((call) => call.headers.authorization ?? null)).toEqual([null, 'Bearer access-1', null]);
  });

  it('points an unverified account to the code', async () => {
    renderApp('#/signin', () => jsonResponse(400, { __type: 'UserNotConfirmedException', message: 'User is not confirmed.' }));
    const form = screen.getByTestId('account-signin');
    await userEvent.type(within(form).getByLabelText('Email'), 'ada@example.org');
    await userEvent.type(within(form).getByLabelText('Password'), 'Correct-Horse-9');
    await userEvent.click(within(form).getByRole('button', { name: 'Sign in' }));
    expect((await screen.findByRole('alert')).textContent).toMatch(/not verified yet/);
    await userEvent.click(screen.getByRole('link', { name: 'Enter the verification code' }));
    await waitFor(() => expect(window.location.hash).toBe('#/verify'));
    expect((within(await screen.findByTestId('account-verify')).getByLabelText('Email') as HTMLInputElement).value).toBe('ada@example.org');
  });

  it('says when the e-mail or the password is wrong', async () => {
    const { account } = renderApp('#/signin', () => jsonResponse(400, { __type: 'NotAuthorizedException', message: 'Incorrect username or password.' }));
    const form = screen.getByTestId('account-signin');
    await userEvent.type(within(form).getByLabelText('Email'), 'ada@example.org');
    await userEvent.type(within(form).getByLabelText('Password'), 'wrong');
    await userEvent.click(within(form).getByRole('button', { name: 'Sign in' }));
    expect((await screen.findByRole('alert')).textContent).toBe('Incorrect e-mail or password.');
    expect(account.getState().session).toBeNull();
    expect(window.sessionStorage.getItem(ACCOUNT_STORAGE_KEY)).toBeNull();
  });

  it('signs out from the header: the tokens are gone', async () => {
    window.sessionStorage.setItem(ACCOUNT_STORAGE_KEY, JSON.stringify(SESSION));
    const { calls, account } = renderApp('#/guide');
    expect(screen.getByTestId('account-signed-in').textContent).toBe('Signed in as ada@example.org');
    await userEvent.click(screen.getByTestId('account-signout'));
    expect(window.sessionStorage.getItem(ACCOUNT_STORAGE_KEY)).toBeNull();
    expect(account.getState().session).toBeNull();
    await expect(account.accessToken()).resolves.toBeNull();
    expect(screen.queryByTestId('account-signed-in')).toBeNull();
    expect(screen.queryByTestId('nav-my-screenings')).toBeNull();
    expect(screen.getByTestId('nav-signin')).toBeTruthy();
    await waitFor(() => expect(cognitoCalls(calls, 'GlobalSignOut')).toHaveLength(1));
  });

  it('offers no account links where no user pool is configured (anonymous use as before)', () => {
    window.location.hash = '#/guide';
    renderWithProviders(<App />);
    expect(screen.queryByTestId('account-menu')).toBeNull();
    expect(screen.queryByTestId('nav-my-screenings')).toBeNull();
  });
});

describe('forgot password', () => {
  it('sends a code, then sets the new password that meets the policy', async () => {
    const { calls } = renderApp('#/forgot-password', (call) =>
      targetOf(call) === 'ForgotPassword' ? jsonResponse(200, { CodeDeliveryDetails: { Destination: 'a***@e***' } }) : jsonResponse(200, {}),
    );
    await userEvent.type(within(screen.getByTestId('account-forgot')).getByLabelText('Email'), 'ada@example.org');
    await userEvent.click(screen.getByRole('button', { name: 'Send the code' }));
    const reset = await screen.findByTestId('account-reset');
    expect(screen.getByText('We sent a code to a***@e***. Enter it with your new password.')).toBeTruthy();
    await userEvent.type(within(reset).getByLabelText('Verification code'), '654321');
    await userEvent.type(within(reset).getByLabelText('New password'), 'weakpassword');
    await userEvent.click(screen.getByRole('button', { name: 'Change the password' }));
    expect(screen.getByRole('alert').textContent).toBe('The password still needs an upper-case letter (A–Z) and a digit (0–9).');
    expect(cognitoCalls(calls, 'ConfirmForgotPassword')).toHaveLength(0);

    await userEvent.clear(within(reset).getByLabelText('New password'));
    await userEvent.type(within(reset).getByLabelText('New password'), 'New-Password-42');
    await userEvent.click(screen.getByRole('button', { name: 'Change the password' }));
    await waitFor(() => expect(window.location.hash).toBe('#/signin'));
    expect(cognitoCalls(calls, 'ForgotPassword').map((call) => call.body)).toEqual([{ ClientId: 'client-1', Username: 'ada@example.org' }]);
    expect(cognitoCalls(calls, 'ConfirmForgotPassword').map((call) => call.body)).toEqual([
      { ClientId: 'client-1', Username: 'ada@example.org', ConfirmationCode: '654321', Password: 'New-Password-42' },
    ]);
    expect((await screen.findByTestId('account-notice')).textContent).toBe('Your password was changed. Sign in with the new one.');
  });
});

describe('in Spanish', () => {
  it('shows the account pages and header in Spanish', async () => {
    window.localStorage.setItem(LANGUAGE_STORAGE_KEY, 'es');
    renderApp('#/signup');
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('Crear una cuenta');
    const form = screen.getByTestId('account-signup');
    expect(within(form).getByLabelText('Correo electrónico')).toBeTruthy();
    expect(within(form).getByLabelText('Contraseña')).toBeTruthy();
    expect(form.textContent).toMatch(/al menos 12 caracteres/);
    expect(screen.getByTestId('nav-signin').textContent).toBe('Iniciar sesión');
    await userEvent.click(screen.getByRole('button', { name: 'Crear la cuenta' }));
    expect(screen.getByRole('alert').textContent).toMatch(/correo electrónico válido/);
  });
});
