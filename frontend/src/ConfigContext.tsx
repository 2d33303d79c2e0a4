import { createContext, useContext, type ReactNode } from 'react';
import type { RuntimeConfig } from './config';

// Without a provider (the page-level tests): same-origin API, admin sign-in not configured.
const ConfigContext = createContext<RuntimeConfig>({ apiBaseUrl: '' });

export function ConfigProvider({ config, children }: { config: RuntimeConfig; children: ReactNode }) {
  return <ConfigContext.Provider value={config}>{children}</ConfigContext.Provider>;
}

export function useRuntimeConfig(): RuntimeConfig {
  return useContext(ConfigContext);
}
