import { createContext, useContext, useSyncExternalStore, type ReactNode } from 'react';
import { createAccountStore, type AccountState, type AccountStore } from './accountStore';

// Without a provider (page-level tests): accounts not configured, nobody signed in.
const ANONYMOUS = createAccountStore({ settings: null, storage: null });

const AccountContext = createContext<AccountStore>(ANONYMOUS);

export function AccountProvider({ store, children }: { store: AccountStore; children: ReactNode }) {
  return <AccountContext.Provider value={store}>{children}</AccountContext.Provider>;
}

/** The account store and its state now (re-rendering when someone signs in or out). */
export function useAccount(): { store: AccountStore; state: AccountState } {
  const store = useContext(AccountContext);
  const state = useSyncExternalStore(store.subscribe, store.getState);
  return { store, state };
}
