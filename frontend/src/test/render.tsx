import { render } from '@testing-library/react';
import type { ReactElement, ReactNode } from 'react';
import { AccountProvider } from '../account/AccountContext';
import { createAccountStore, type AccountStore } from '../account/accountStore';
import { ApiProvider } from '../api/ApiContext';
import type { PapilaApi } from '../api/client';
import { I18nProvider } from '../i18n/I18nContext';
import { fakeApi, type FakeApi } from './fakeApi';

/**
 * Renders with the providers the app has (also around rerenders), English unless stored otherwise;
 * nobody signed in and no user pool unless an account store is handed in.
 */
export function renderWithProviders<A extends PapilaApi = FakeApi>(
  ui: ReactElement,
  api: A = fakeApi() as unknown as A,
  account: AccountStore = createAccountStore({ settings: null, storage: null }),
) {
  const wrapper = ({ children }: { children: ReactNode }) => (
    <I18nProvider>
      <AccountProvider store={account}>
        <ApiProvider api={api}>{children}</ApiProvider>
      </AccountProvider>
    </I18nProvider>
  );
  return { api, account, ...render(ui, { wrapper }) };
}
