import { render } from '@testing-library/react';
import type { ReactElement, ReactNode } from 'react';
import { ApiProvider } from '../api/ApiContext';
import { I18nProvider } from '../i18n/I18nContext';
import { fakeApi, type FakeApi } from './fakeApi';

/** Renders with the providers the app has (also around rerenders), English unless stored otherwise. */
export function renderWithProviders(ui: ReactElement, api: FakeApi = fakeApi()) {
  const wrapper = ({ children }: { children: ReactNode }) => (
    <I18nProvider>
      <ApiProvider api={api}>{children}</ApiProvider>
    </I18nProvider>
  );
  return { api, ...render(ui, { wrapper }) };
}
