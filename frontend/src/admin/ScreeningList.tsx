import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useI18n } from '../i18n/I18nContext';
import {
  NO_FILTERS,
  hasFeedback,
  screeningLabel,
  screeningProbability,
  type AdminApi,
  type FeedbackFilter,
  type ScreeningFilters,
  type ScreeningPage,
} from './adminClient';
import { formatDateTime, formatPercent } from './format';
import { LABELS, STATUSES, labelText, statusText } from './labels';

interface ScreeningListProps {
  api: AdminApi;
  /** Handles 401/403 (true when it did); other errors are shown here. */
  onAuthError: (error: unknown) => boolean;
  /** Changing it reloads the current page (after a deletion). */
  reloadKey: number;
}

export function screeningHref(id: string): string {
  return `#/admin/screenings/${encodeURIComponent(id)}`;
}

/** The screenings table: filters, newest first, cursor paging (forward by cursor, back by the cursors seen). */
export function ScreeningList({ api, onAuthError, reloadKey }: ScreeningListProps) {
  const { t, language } = useI18n();
  const [draft, setDraft] = useState<ScreeningFilters>(NO_FILTERS);
  const [applied, setApplied] = useState<ScreeningFilters>(NO_FILTERS);
  // The cursor each visited page was asked with: [null, "c2", "c3"] is page 3.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [page, setPage] = useState<ScreeningPage | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [filterError, setFilterError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);
  const focusTableAfterLoad = useRef(false);
  const tableRef = useRef<HTMLDivElement>(null);
  const pageNumber = cursors.length;
  const cursor = cursors[cursors.length - 1] ?? null;

  useEffect(() => {
    let current = true;
    setLoading(true);
    setError(null);
    api.listScreenings(applied, cursor).then(
      (answer) => {
        if (!current) return;
        setPage(answer);
        setLoading(false);
      },
      (caught: unknown) => {
        if (!current) return;
        setLoading(false);
        if (!onAuthError(caught)) setError(t('admin.loadFailed', { message: caught instanceof Error ? caught.message : String(caught) }));
      },
    );
    return () => {
      current = false;
    };
    // `t` and `onAuthError` are left out on purpose: a language switch must not refetch.
  }, [api, applied, cursor, reloadKey, attempt]);

  useEffect(() => {
    if (!loading && focusTableAfterLoad.current) {
      focusTableAfterLoad.current = false;
      tableRef.current?.focus();
    }
  }, [loading]);

  function apply(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (draft.from && draft.to && draft.from > draft.to) {
      setFilterError(t('admin.filters.badRange'));
      return;
    }
    setFilterError(null);
    setApplied({ ...draft });
    setCursors([null]);
  }

  function clear() {
    setFilterError(null);
    setDraft(NO_FILTERS);
    setApplied(NO_FILTERS);
    setCursors([null]);
  }

  function goTo(next: (string | null)[]) {
    focusTableAfterLoad.current = true;
    setCursors(next);
  }

  const set = <K extends keyof ScreeningFilters>(key: K, value: ScreeningFilters[K]) => setDraft((old) => ({ ...old, [key]: value }));
  const items = page?.items ?? [];
  const nextCursor = page?.nextCursor ?? null;

  let statusLine: string;
  if (loading) statusLine = t('admin.table.loading');
  else if (error) statusLine = '';
  else if (items.length === 0) statusLine = t('admin.table.empty');
  else statusLine = t('admin.table.shown', { count: items.length, page: pageNumber });

  return (
    <section className="step admin-list" aria-labelledby="admin-list-title" data-testid="admin-list">
      <h2 id="admin-list-title" tabIndex={-1}>
        {t('admin.list.title')}
      </h2>

      <form className="admin-filters" role="search" aria-label={t('admin.filters.title')} onSubmit={apply} noValidate data-testid="admin-filters">
        <div className="admin-filter-grid">
          <div className="field">
            <label htmlFor="admin-filter-status">{t('admin.filters.status')}</label>
            <select id="admin-filter-status" value={draft.status} onChange={(event) => set('status', event.target.value)}>
              <option value="">{t('admin.filters.any')}</option>
              {STATUSES.map((status) => (
                <option key={status} value={status}>
                  {statusText(t, status)}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="admin-filter-label">{t('admin.filters.label')}</label>
            <select id="admin-filter-label" value={draft.label} onChange={(event) => set('label', event.target.value)}>
              <option value="">{t('admin.filters.any')}</option>
              {LABELS.map((label) => (
                <option key={label} value={label}>
                  {labelText(t, label)}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="admin-filter-feedback">{t('admin.filters.feedback')}</label>
            <select
              id="admin-filter-feedback"
              value={draft.feedback}
              onChange={(event) => set('feedback', event.target.value as FeedbackFilter)}
            >
              <option value="">{t('admin.filters.any')}</option>
              <option value="given">{t('admin.filters.feedback.given')}</option>
              <option value="missing">{t('admin.filters.feedback.missing')}</option>
            </select>
          </div>
          <div className="field">
            <label htmlFor="admin-filter-from">{t('admin.filters.from')}</label>
            <input
              id="admin-filter-from"
              type="date"
              value={draft.from}
              max={draft.to || undefined}
              onChange={(event) => set('from', event.target.value)}
              aria-invalid={filterError ? true : undefined}
              aria-describedby={filterError ? 'admin-filter-error' : undefined}
            />
          </div>
          <div className="field">
            <label htmlFor="admin-filter-to">{t('admin.filters.to')}</label>
            <input
              id="admin-filter-to"
              type="date"
              value={draft.to}
              min={draft.from || undefined}
              onChange={(event) => set('to', event.target.value)}
              aria-invalid={filterError ? true : undefined}
              aria-describedby={filterError ? 'admin-filter-error' : undefined}
            />
          </div>
        </div>
        {filterError && (
          <p id="admin-filter-error" className="error-text field-error" role="alert">
            {filterError}
          </p>
        )}
        <div className="actions">
          <button type="submit" className="primary" data-testid="admin-filters-apply">
            {t('admin.filters.apply')}
          </button>
          <button type="button" onClick={clear} data-testid="admin-filters-clear">
            {t('admin.filters.clear')}
          </button>
          <button type="button" onClick={() => setAttempt((count) => count + 1)} data-testid="admin-list-refresh">
            {t('admin.refresh')}
          </button>
        </div>
      </form>

      <p role="status" className="hint" data-testid="admin-list-status">
        {statusLine}
      </p>
      {error && (
        <div className="error-box" role="alert" data-testid="admin-list-error">
          <p className="error-text">{error}</p>
          <button type="button" onClick={() => setAttempt((count) => count + 1)}>
            {t('admin.retry')}
          </button>
        </div>
      )}

      {items.length > 0 && (
        <div
          className="table-wrap"
          ref={tableRef}
          tabIndex={0}
          role="region"
          aria-labelledby="admin-table-caption"
          aria-busy={loading}
        >
          <table className="admin-table" data-testid="admin-table">
            <caption id="admin-table-caption">{t('admin.table.caption', { page: pageNumber })}</caption>
            <thead>
              <tr>
                <th scope="col">{t('admin.table.created')}</th>
                <th scope="col">{t('admin.table.status')}</th>
                <th scope="col">{t('admin.table.label')}</th>
                <th scope="col">{t('admin.table.probability')}</th>
                <th scope="col">{t('admin.table.feedback')}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((item) => {
                const date = formatDateTime(item.created_at, language) ?? t('admin.table.noDate');
                const label = screeningLabel(item);
                const feedback = hasFeedback(item);
                return (
                  <tr
                    key={item.id}
                    data-testid="admin-row"
                    data-screening-id={item.id}
                    data-status={item.status}
                    data-created-at={item.created_at ?? ''}
                  >
                    <th scope="row" data-label={t('admin.table.created')}>
                      <a href={screeningHref(item.id)} aria-label={t('admin.table.open', { date })}>
                        {item.created_at ? <time dateTime={item.created_at}>{date}</time> : date}
                      </a>
                    </th>
                    <td data-label={t('admin.table.status')}>{statusText(t, item.status)}</td>
                    <td data-label={t('admin.table.label')} data-value={label ?? ''}>
                      {labelText(t, label)}
                    </td>
                    <td data-label={t('admin.table.probability')}>{formatPercent(screeningProbability(item), language) ?? '—'}</td>
                    <td data-label={t('admin.table.feedback')} data-value={feedback ? 'yes' : 'no'}>
                      {feedback ? t('admin.yes') : t('admin.no')}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}

      {(pageNumber > 1 || nextCursor) && (
        <nav className="actions admin-paging" aria-label={t('admin.page.label')}>
          <button type="button" disabled={pageNumber <= 1 || loading} onClick={() => goTo([null])} data-testid="admin-page-first">
            {t('admin.page.first')}
          </button>
          <button
            type="button"
            disabled={pageNumber <= 1 || loading}
            onClick={() => goTo(cursors.slice(0, -1))}
            data-testid="admin-page-previous"
          >
            {t('admin.page.previous')}
          </button>
          <button
            type="button"
            disabled={!nextCursor || loading}
            onClick={() => nextCursor && goTo([...cursors, nextCursor])}
            data-testid="admin-page-next"
          >
            {t('admin.page.next')}
          </button>
        </nav>
      )}
    </section>
  );
}
