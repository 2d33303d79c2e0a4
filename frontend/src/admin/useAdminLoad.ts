import { useEffect, useState, type DependencyList } from 'react';
import { useI18n } from '../i18n/I18nContext';

export interface Loaded<T> {
  data: T | null;
  loading: boolean;
  /** The load's failure as the panel shows it ("admin.loadFailed"); null while loading or when it worked. */
  error: string | null;
}

/**
 * One admin panel's load: runs `load` whenever `deps` change, keeps only the answer of the latest run
 * (an answer that arrives after the panel moved on is dropped), and hands an expired sign-in to
 * `onAuthError` instead of showing it. `t` and `onAuthError` are not dependencies: a language switch
 * must not refetch.
 */
export function useAdminLoad<T>(load: () => Promise<T>, deps: DependencyList, onAuthError: (caught: unknown) => boolean): Loaded<T> {
  const { t } = useI18n();
  const [state, setState] = useState<Loaded<T>>({ data: null, loading: true, error: null });

  useEffect(() => {
    let current = true;
    setState((old) => ({ data: old.data, loading: true, error: null }));
    load().then(
      (data) => {
        if (current) setState({ data, loading: false, error: null });
      },
      (caught: unknown) => {
        if (!current) return;
        const message = caught instanceof Error ? caught.message : String(caught);
        const shown = onAuthError(caught) ? null : t('admin.loadFailed', { message });
        setState((old) => ({ data: old.data, loading: false, error: shown }));
      },
    );
    return () => {
      current = false;
    };
    // the caller's deps say when to load again
  }, deps);

  return state;
}
