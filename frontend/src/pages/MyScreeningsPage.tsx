import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { useAccount } from '../account/AccountContext';
import { ConfirmDialog } from '../admin/ConfirmDialog';
import { ExportPanel } from '../admin/ExportPanel';
import { formatDateTime, formatPercent } from '../admin/format';
import { LABELS, labelText, statusText } from '../admin/labels';
import { useApi } from '../api/ApiContext';
import { ApiError } from '../api/client';
import {
  NO_FILTERS,
  hasFeedback,
  resolveLink,
  screeningLabel,
  screeningProbability,
  type ListedScreening,
} from '../api/lists';
import type { Screening } from '../api/types';
import { FeedbackForm } from '../components/FeedbackForm';
import { ResultView } from '../components/ResultView';
import { useAuthorizedSource } from '../components/useAuthorizedSource';
import { useI18n } from '../i18n/I18nContext';
import { ROUTE_HREF, myScreeningHref, myScreeningId } from '../lib/hashRoute';

/**
 * "My screenings" (#/my, signed in): the account's screenings newest first with filters and "load
 * more", each with its crop, result, feedback state, report and deletion; one of them (#/my/<id>)
 * in the result view; claiming an anonymous screening; the download of all the account's data.
 */

interface MyFilters {
  label: string;
  /** `YYYY-MM-DD` from a date input, or empty. */
  from: string;
  to: string;
}

const EMPTY: MyFilters = { label: '', from: '', to: '' };

function messageOf(caught: unknown): string {
  return caught instanceof Error ? caught.message : String(caught);
}

function useHash(): string {
  const [hash, setHash] = useState(() => window.location.hash);
  useEffect(() => {
    const onChange = () => setHash(window.location.hash);
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return hash;
}

interface MyScreeningsPageProps {
  /** First wait between checks of the data export (tests make it short). */
  exportPollMs?: number;
}

export function MyScreeningsPage({ exportPollMs }: MyScreeningsPageProps) {
  const { t } = useI18n();
  const { store, state } = useAccount();
  const detailId = myScreeningId(useHash());

  // The API refused the token (or it could not be renewed): the account store has signed out, and
  // this page asks for a new sign-in.
  const onAuthError = useCallback(
    (caught: unknown): boolean => {
      if (caught instanceof ApiError && caught.status === 401 && (caught.code === 'unauthorized' || caught.code === 'session_expired')) {
        store.expire();
        return true;
      }
      return false;
    },
    [store],
  );

  if (!state.session) {
    return (
      <div className="my-page" data-testid="my-screenings-signed-out">
        <h1 tabIndex={-1}>{t('my.title')}</h1>
        {state.notice === 'expired' && (
          <p className="notice-inline" role="status">
            {t('account.notice.expired')}
          </p>
        )}
        <p>{t('my.signInFirst')}</p>
        <p>
          <a className="button primary" href={ROUTE_HREF.signin}>
            {t('nav.signIn')}
          </a>
        </p>
      </div>
    );
  }

  return (
    <div className="my-page">
      <h1 tabIndex={-1}>{t('my.title')}</h1>
      {detailId ? (
        <MyScreeningDetail key={detailId} id={detailId} onAuthError={onAuthError} />
      ) : (
        <MyScreeningList onAuthError={onAuthError} exportPollMs={exportPollMs} />
      )}
    </div>
  );
}

interface ListProps {
  onAuthError: (caught: unknown) => boolean;
  exportPollMs?: number;
}

function MyScreeningList({ onAuthError, exportPollMs }: ListProps) {
  const { t, language } = useI18n();
  const api = useApi();
  const [draft, setDraft] = useState<MyFilters>(EMPTY);
  const [applied, setApplied] = useState<MyFilters>(EMPTY);
  const [items, setItems] = useState<ListedScreening[]>([]);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [filterError, setFilterError] = useState<string | null>(null);
  const [reloadKey, setReloadKey] = useState(0);
  const [notice, setNotice] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<ListedScreening | null>(null);
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState<string | null>(null);
  const returnFocus = useRef<HTMLElement | null>(null);
  const noticeRef = useRef<HTMLParagraphElement>(null);

  const filters = useMemo(() => ({ ...NO_FILTERS, ...applied }), [applied]);

  useEffect(() => {
    let current = true;
    setLoading(true);
    setError(null);
    api.listMyScreenings(filters, null).then(
      (page) => {
        if (!current) return;
        setItems(page.items);
        setNextCursor(page.nextCursor);
        setLoading(false);
      },
      (caught: unknown) => {
        if (!current) return;
        setLoading(false);
        if (!onAuthError(caught)) setError(t('my.loadFailed', { message: messageOf(caught) }));
      },
    );
    return () => {
      current = false;
    };
    // `t` and `onAuthError` are left out on purpose: a language switch must not refetch.
  }, [api, filters, reloadKey]);

  useEffect(() => {
    if (notice) noticeRef.current?.focus();
  }, [notice]);

  async function loadMore() {
    if (!nextCursor || loadingMore) return;
    setLoadingMore(true);
    setError(null);
    try {
      const page = await api.listMyScreenings(filters, nextCursor);
      setItems((old) => {
        const seen = new Set(old.map((item) => item.id));
        return [...old, ...page.items.filter((item) => !seen.has(item.id))];
      });
      setNextCursor(page.nextCursor);
    } catch (caught) {
      if (!onAuthError(caught)) setError(t('my.loadFailed', { message: messageOf(caught) }));
    } finally {
      setLoadingMore(false);
    }
  }

  function apply(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (draft.from && draft.to && draft.from > draft.to) {
      setFilterError(t('my.filters.badRange'));
      return;
    }
    setFilterError(null);
    setNotice(null);
    setApplied({ ...draft });
  }

  function clear() {
    setFilterError(null);
    setDraft(EMPTY);
    setApplied(EMPTY);
  }

  function dateOf(item: ListedScreening): string {
    return formatDateTime(item.created_at, language) ?? t('my.noDate');
  }

  function askDelete(item: ListedScreening) {
    returnFocus.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    setDeleteError(null);
    setConfirming(item);
  }

  function closeDialog() {
    setConfirming(null);
    returnFocus.current?.focus();
  }

  async function confirmDelete() {
    if (!confirming) return;
    const item = confirming;
    setDeleting(true);
    setDeleteError(null);
    try {
      await api.deleteScreening(item.id);
    } catch (caught) {
      // Already gone (404): it leaves the list all the same.
      if (!(caught instanceof ApiError && caught.status === 404)) {
        setDeleting(false);
        if (onAuthError(caught)) return;
        setDeleteError(t('my.delete.failed', { message: messageOf(caught) }));
        return;
      }
    }
    setDeleting(false);
    setConfirming(null);
    setItems((old) => old.filter((entry) => entry.id !== item.id));
    setNotice(t('my.deleted', { date: dateOf(item) }));
  }

  const exportApi = useMemo(() => ({ startExport: api.startMyExport, getExport: api.getMyExport }), [api]);
  const filtered = applied.label !== '' || applied.from !== '' || applied.to !== '';

  let statusLine: string;
  if (loading) statusLine = t('my.loading');
  else if (error) statusLine = '';
  else if (items.length === 0) statusLine = filtered ? t('my.emptyFiltered') : t('my.empty');
  else statusLine = t('my.shown', { count: items.length });

  return (
    <>
      <section className="step my-list-section" aria-labelledby="my-list-title" data-testid="my-screenings">
        <h2 id="my-list-title" className="visually-hidden">
          {t('my.title')}
        </h2>
        <p className="hint">
          {t('my.intro')} <a href={ROUTE_HREF.screen}>{t('my.screenLink')}</a>
        </p>

        <form className="admin-filters" role="search" aria-label={t('my.filters.title')} onSubmit={apply} noValidate data-testid="my-filters">
          <div className="my-filter-grid">
            <div className="field">
              <label htmlFor="my-filter-label">{t('my.filters.label')}</label>
              <select id="my-filter-label" value={draft.label} onChange={(event) => setDraft((old) => ({ ...old, label: event.target.value }))}>
                <option value="">{t('my.filters.any')}</option>
                {LABELS.map((label) => (
                  <option key={label} value={label}>
                    {labelText(t, label)}
                  </option>
                ))}
              </select>
            </div>
            <div className="field">
              <label htmlFor="my-filter-from">{t('my.filters.from')}</label>
              <input
                id="my-filter-from"
                type="date"
                value={draft.from}
                max={draft.to || undefined}
                onChange={(event) => setDraft((old) => ({ ...old, from: event.target.value }))}
                aria-invalid={filterError ? true : undefined}
                aria-describedby={filterError ? 'my-filter-error' : undefined}
              />
            </div>
            <div className="field">
              <label htmlFor="my-filter-to">{t('my.filters.to')}</label>
              <input
                id="my-filter-to"
                type="date"
                value={draft.to}
                min={draft.from || undefined}
                onChange={(event) => setDraft((old) => ({ ...old, to: event.target.value }))}
                aria-invalid={filterError ? true : undefined}
                aria-describedby={filterError ? 'my-filter-error' : undefined}
              />
            </div>
          </div>
          {filterError && (
            <p id="my-filter-error" className="error-text field-error" role="alert">
              {filterError}
            </p>
          )}
          <div className="actions">
            <button type="submit" className="primary" data-testid="my-filters-apply">
              {t('my.filters.apply')}
            </button>
            <button type="button" onClick={clear} data-testid="my-filters-clear">
              {t('my.filters.clear')}
            </button>
          </div>
        </form>

        {notice && (
          <p className="notice success-notice" role="status" tabIndex={-1} ref={noticeRef} data-testid="my-notice">
            {notice}
          </p>
        )}
        <p role="status" className="hint" data-testid="my-status">
          {statusLine}
        </p>
        {error && (
          <div className="error-box" role="alert" data-testid="my-error">
            <p className="error-text">{error}</p>
            <button type="button" onClick={() => setReloadKey((key) => key + 1)}>
              {t('my.retry')}
            </button>
          </div>
        )}

        {items.length > 0 && (
          <ul className="my-list" aria-busy={loading}>
            {items.map((item) => (
              <MyRow key={item.id} item={item} date={dateOf(item)} onDelete={() => askDelete(item)} onAuthError={onAuthError} />
            ))}
          </ul>
        )}

        {nextCursor && !loading && (
          <div className="actions">
            <button type="button" onClick={() => void loadMore()} disabled={loadingMore} aria-busy={loadingMore} data-testid="my-load-more">
              {t('my.loadMore')}
            </button>
          </div>
        )}
      </section>

      <ClaimPanel knownIds={items.map((item) => item.id)} onClaimed={() => setReloadKey((key) => key + 1)} onAuthError={onAuthError} />

      <ExportPanel
        api={exportApi}
        onAuthError={onAuthError}
        pollMs={exportPollMs}
        testId="my-export"
        texts={{ title: 'my.export.title', intro: 'my.export.intro', start: 'my.export.start' }}
      />

      {confirming && (
        <ConfirmDialog
          title={t('my.delete.title')}
          text={t('my.delete.text')}
          confirmLabel={t('my.delete.confirm')}
          cancelLabel={t('my.delete.cancel')}
          busy={deleting}
          busyLabel={t('my.delete.busy')}
          error={deleteError}
          onConfirm={() => void confirmDelete()}
          onCancel={closeDialog}
          testId="my-delete-dialog"
        />
      )}
    </>
  );
}

interface RowProps {
  item: ListedScreening;
  date: string;
  onDelete: () => void;
  onAuthError: (caught: unknown) => boolean;
}

function MyRow({ item, date, onDelete, onAuthError }: RowProps) {
  const { t, language } = useI18n();
  const api = useApi();
  const base = `/api/screenings/${encodeURIComponent(item.id)}`;
  const label = screeningLabel(item);
  const probability = formatPercent(screeningProbability(item), language);
  const feedback = hasFeedback(item);
  const done = item.status === 'done';
  const cropLink = item.links?.crop ?? (done ? `${base}/crop` : null);
  const reportLink = item.links?.report ?? (done ? `${base}/report` : null);
  const crop = useAuthorizedSource(cropLink ? resolveLink(api.resolve, cropLink) : null, item.id, true);

  return (
    <li className="my-item" data-testid="my-row" data-screening-id={item.id} data-status={item.status} data-label={label ?? ''}>
      <div className="my-thumb">
        {crop.src && !crop.failed ? (
          <img src={crop.src} alt={t('my.cropAlt', { date })} width={96} height={96} data-testid="my-crop" />
        ) : (
          <span className="my-thumb-empty" aria-hidden="true" />
        )}
      </div>
      <div className="my-item-body">
        <h3>
          <a href={myScreeningHref(item.id)} aria-label={t('my.openLabel', { date })} data-testid="my-open">
            {item.created_at ? <time dateTime={item.created_at}>{date}</time> : date}
          </a>
        </h3>
        <dl className="facts my-facts">
          <dt>{t('my.status')}</dt>
          <dd data-testid="my-row-status">{statusText(t, item.status)}</dd>
          {label && (
            <>
              <dt>{t('my.result')}</dt>
              <dd data-testid="my-row-result">
                <strong>{labelText(t, label)}</strong>
                {probability && <> · {t('my.probability', { probability })}</>}
              </dd>
            </>
          )}
          <dt>{t('my.feedback')}</dt>
          <dd data-testid="my-row-feedback" data-value={feedback ? 'given' : 'missing'}>
            {feedback ? t('my.feedback.given') : t('my.feedback.missing')}
          </dd>
        </dl>
        <div className="actions">
          {done && (
            <a className="button" href={myScreeningHref(item.id)}>
              {t('my.open')}
            </a>
          )}
          {reportLink && <ReportButton id={item.id} link={resolveLink(api.resolve, reportLink)} onAuthError={onAuthError} />}
          <button type="button" className="danger" onClick={onDelete} aria-label={t('my.deleteLabel', { date })} data-testid="my-delete">
            {t('my.delete')}
          </button>
        </div>
      </div>
    </li>
  );
}

/** The PDF report: fetched with the token (a plain link could not send it) and opened as a blob. */
function ReportButton({ id, link, onAuthError }: { id: string; link: string; onAuthError: (caught: unknown) => boolean }) {
  const { t } = useI18n();
  const api = useApi();
  const [url, setUrl] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(
    () => () => {
      if (url) URL.revokeObjectURL(url);
    },
    [url],
  );

  async function open() {
    if (url) {
      window.open(url, '_blank');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const blob = await api.fetchBlob(link, id);
      const objectUrl = URL.createObjectURL(blob.type ? blob : new Blob([blob], { type: 'application/pdf' }));
      setUrl(objectUrl);
      // A blocked pop-up leaves the link below.
      window.open(objectUrl, '_blank');
    } catch (caught) {
      if (!onAuthError(caught)) setError(t('my.reportFailed', { message: messageOf(caught) }));
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <button type="button" onClick={() => void open()} disabled={busy} aria-busy={busy} data-testid="my-report">
        {busy ? t('my.reportBusy') : t('my.report')}
      </button>
      {url && (
        <a href={url} target="_blank" rel="noopener" data-testid="my-report-link">
          {t('my.reportOpen')}
        </a>
      )}
      {error && (
        <span className="error-text" role="alert">
          {error}
        </span>
      )}
    </>
  );
}

type ClaimOutcome = { kind: 'claimed' | 'already_owned' | 'error'; text: string };

interface ClaimPanelProps {
  knownIds: string[];
  onClaimed: (screening: Screening) => void;
  onAuthError: (caught: unknown) => boolean;
}

/** POST /api/screenings/{id}/claim: by id and secret typed in, or one click for this tab's screenings. */
function ClaimPanel({ knownIds, onClaimed, onAuthError }: ClaimPanelProps) {
  const { t } = useI18n();
  const api = useApi();
  const [id, setId] = useState('');
  const [secret, setSecret] = useState('');
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<ClaimOutcome | null>(null);
  const [claimed, setClaimed] = useState<string[]>([]);
  const known = new Set([...knownIds, ...claimed]);
  const fromTab = api.tabScreeningIds().filter((tabId) => !known.has(tabId));

  async function claim(screeningId: string, typedSecret?: string) {
    setBusy(true);
    setOutcome(null);
    try {
      const screening = await api.claimScreening(screeningId, typedSecret);
      setClaimed((old) => [...old, screeningId]);
      setOutcome({ kind: 'claimed', text: t('my.claim.done', { id: screeningId }) });
      if (typedSecret) {
        setId('');
        setSecret('');
      }
      onClaimed(screening);
    } catch (caught) {
      if (onAuthError(caught)) return;
      if (caught instanceof ApiError && caught.status === 409) {
        setOutcome({ kind: 'already_owned', text: t('my.claim.alreadyOwned', { id: screeningId }) });
      } else if (caught instanceof ApiError && caught.status === 404) {
        setOutcome({ kind: 'error', text: t('my.claim.notFound', { id: screeningId }) });
      } else if (caught instanceof ApiError && caught.code === 'secret_invalid') {
        setOutcome({ kind: 'error', text: t('my.claim.badSecret', { id: screeningId }) });
      } else {
        setOutcome({ kind: 'error', text: t('my.claim.failed', { id: screeningId, message: messageOf(caught) }) });
      }
    } finally {
      setBusy(false);
    }
  }

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy) return;
    if (!id.trim() || !secret.trim()) {
      setOutcome({ kind: 'error', text: t('my.claim.missing') });
      return;
    }
    void claim(id.trim(), secret.trim());
  }

  return (
    <section className="step my-claim" aria-labelledby="my-claim-title">
      <h2 id="my-claim-title">{t('my.claim.title')}</h2>
      <p className="hint">{t('my.claim.intro')}</p>
      <form onSubmit={submit} noValidate data-testid="my-claim">
        <div className="my-filter-grid">
          <div className="field">
            <label htmlFor="my-claim-id">{t('my.claim.id')}</label>
            <input id="my-claim-id" type="text" autoComplete="off" spellCheck={false} value={id} onChange={(event) => setId(event.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="my-claim-secret">{t('my.claim.secret')}</label>
            <input
              id="my-claim-secret"
              type="password"
              autoComplete="off"
              value={secret}
              onChange={(event) => setSecret(event.target.value)}
            />
          </div>
        </div>
        <div className="actions">
          <button type="submit" className="primary" disabled={busy} aria-busy={busy} data-testid="my-claim-submit">
            {busy ? t('my.claim.busy') : t('my.claim.submit')}
          </button>
        </div>
      </form>
      <div role="status" data-testid="my-claim-result" data-outcome={outcome?.kind ?? ''}>
        {outcome && <p className={outcome.kind === 'claimed' ? 'success-text' : 'error-text'}>{outcome.text}</p>}
      </div>
      {fromTab.length > 0 && (
        <div className="my-claim-tab" data-testid="my-claim-tab-list">
          <h3>{t('my.claim.tabTitle')}</h3>
          <p className="hint">{t('my.claim.tabIntro')}</p>
          <ul>
            {fromTab.map((tabId) => (
              <li key={tabId}>
                <button type="button" onClick={() => void claim(tabId)} disabled={busy} data-testid="my-claim-tab" data-screening-id={tabId}>
                  {t('my.claim.tabItem', { id: tabId })}
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}

/** One screening of the account in the result view, with its feedback form. */
function MyScreeningDetail({ id, onAuthError }: { id: string; onAuthError: (caught: unknown) => boolean }) {
  const { t } = useI18n();
  const api = useApi();
  const [screening, setScreening] = useState<Screening | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    api.getScreening(id).then(
      (answer) => {
        if (current) setScreening(answer);
      },
      (caught: unknown) => {
        if (current && !onAuthError(caught)) setError(t('my.detail.failed', { message: messageOf(caught) }));
      },
    );
    return () => {
      current = false;
    };
    // `t` and `onAuthError` are left out on purpose (see the list).
  }, [api, id]);

  return (
    <div data-testid="my-detail" data-screening-id={id}>
      <p>
        <a href={ROUTE_HREF.my} data-testid="my-back">
          {t('my.detail.back')}
        </a>
      </p>
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
      {!error && !screening && <p role="status">{t('my.detail.loading')}</p>}
      {screening && screening.status === 'done' && screening.result && (
        <>
          <ResultView screening={screening} onNewScreening={() => (window.location.hash = ROUTE_HREF.screen)} />
          <FeedbackForm key={screening.id} screeningId={screening.id} existing={screening.feedback} />
        </>
      )}
      {screening && (screening.status !== 'done' || !screening.result) && (
        <p className="notice">{t('my.detail.notDone', { status: statusText(t, screening.status) })}</p>
      )}
    </div>
  );
}
