import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { AccountProvider } from './account/AccountContext';
import { accountAuth, createAccountStore } from './account/accountStore';
import { ApiProvider } from './api/ApiContext';
import { createApiClient, sessionSecretStore } from './api/client';
import { App } from './App';
import { loadRuntimeConfig } from './config';
import { ConfigProvider } from './ConfigContext';
import { I18nProvider } from './i18n/I18nContext';
import './styles.css';

async function start() {
  const config = await loadRuntimeConfig();
  // The clinician's sign-in (none where config.json names no user pool): the API client asks it for
  // the token it sends with the screening calls.
  const account = createAccountStore({
    settings: config.cognitoEndpoint && config.cognitoClientId ? { endpoint: config.cognitoEndpoint, clientId: config.cognitoClientId } : null,
  });
  const api = createApiClient(config.apiBaseUrl, fetch.bind(globalThis), sessionSecretStore(), accountAuth(account));
  const container = document.getElementById('root');
  if (!container) throw new Error('index.html has no #root');
  createRoot(container).render(
    <StrictMode>
      <ConfigProvider config={config}>
        <I18nProvider>
          <AccountProvider store={account}>
            <ApiProvider api={api}>
              <App />
            </ApiProvider>
          </AccountProvider>
        </I18nProvider>
      </ConfigProvider>
    </StrictMode>,
  );
}

void start();
