import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { ApiProvider } from './api/ApiContext';
import { createApiClient } from './api/client';
import { App } from './App';
import { loadRuntimeConfig } from './config';
import { ConfigProvider } from './ConfigContext';
import { I18nProvider } from './i18n/I18nContext';
import './styles.css';

async function start() {
  const config = await loadRuntimeConfig();
  const api = createApiClient(config.apiBaseUrl);
  const container = document.getElementById('root');
  if (!container) throw new Error('index.html has no #root');
  createRoot(container).render(
    <StrictMode>
      <ConfigProvider config={config}>
        <I18nProvider>
          <ApiProvider api={api}>
            <App />
          </ApiProvider>
        </I18nProvider>
      </ConfigProvider>
    </StrictMode>,
  );
}

void start();
