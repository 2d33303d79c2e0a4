import { createContext, useContext, type ReactNode } from 'react';
import type { PapilaApi } from './client';

const ApiContext = createContext<PapilaApi | null>(null);

export function ApiProvider({ api, children }: { api: PapilaApi; children: ReactNode }) {
  return <ApiContext.Provider value={api}>{children}</ApiContext.Provider>;
}

export function useApi(): PapilaApi {
  const api = useContext(ApiContext);
  if (!api) throw new Error('useApi needs an <ApiProvider>');
  return api;
}
