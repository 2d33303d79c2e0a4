import { useEffect, useRef, useState } from 'react';
import { useApi } from '../api/ApiContext';
import { useI18n } from '../i18n/I18nContext';
import type { MessageKey } from '../i18n/messages';
import { sleep, isAbortError } from '../lib/poller';
import { resolveLink, type AdminApi, type ExportJob } from './adminClient';

interface ExportTexts {
  title: MessageKey;
  intro: MessageKey;
  start: MessageKey;
}

const ADMIN_TEXTS: ExportTexts = { title: 'admin.export.title', intro: 'admin.export.intro', start: 'admin.export.start' };

interface ExportPanelProps {
  /** The dataset export of the admin API, or the clinician's own export (/api/me/exports). */
  api: Pick<AdminApi, 'startExport' | 'getExport'>;
  onAuthError: (error: unknown) => boolean;
  /** First wait between status checks; it grows to 10 s. */
  pollMs?: number;
  /** The section's test id; its parts are `<testId>-start`, `-status`, `-download`. */
  testId?: string;
  texts?: ExportTexts;
}

const MAX_POLL_MS = 10_000;

/** POST …/exports, then GET …/exports/{id} until it is ready (with a link) or failed. */
export function ExportPanel({ api, onAuthError, pollMs = 2000, testId = 'admin-export', texts = ADMIN_TEXTS }: ExportPanelProps) {
  const { t } = useI18n();
  const publicApi = useApi();
  const [job, setJob] = useState<ExportJob | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const abortRef = useRef<AbortController | null>(null);

  useEffect(() => () => abortRef.current?.abort(), []);

  async function start() {
    abortRef.current?.abort();
    const controller = new AbortController();
    abortRef.current = controller;
    setBusy(true);
    setError(null);
    setJob(null);
    try {
      let current = await api.startExport();
      setJob(current);
      let delay = pollMs;
      while (current.state === 'running' && current.id) {
        await sleep(delay, controller.signal);
        delay = Math.min(MAX_POLL_MS, Math.round(delay * 1.5));
        current = await api.getExport(current.id);
        if (controller.signal.aborted) return;
        setJob(current);
      }
    } catch (caught) {
      if (isAbortError(caught) || controller.signal.aborted || onAuthError(caught)) return;
      setError(t('admin.export.failed', { message: caught instanceof Error ? caught.message : String(caught) }));
    } finally {
      if (!controller.signal.aborted) setBusy(false);
    }
  }

  const download = job?.downloadUrl ? resolveLink(publicApi.resolve, job.downloadUrl) : undefined;

  return (
    <section className="step admin-export" aria-labelledby={`${testId}-title`} data-testid={testId}>
      <h2 id={`${testId}-title`}>{t(texts.title)}</h2>
      <p className="hint">{t(texts.intro)}</p>
      <div className="actions">
        <button type="button" onClick={() => void start()} disabled={busy} aria-busy={busy} data-testid={`${testId}-start`}>
          {t(texts.start)}
        </button>
      </div>
      <div role="status" data-testid={`${testId}-status`} data-state={job?.state ?? (error ? 'failed' : 'idle')}>
        {job?.state === 'running' && <p>{t('admin.export.running', { status: job.status })}</p>}
        {job?.state === 'ready' && (
          <p className="success-text">
            {t('admin.export.ready')} {job.count !== undefined && t('admin.export.count', { count: job.count })}
          </p>
        )}
        {job?.state === 'failed' && <p className="error-text">{t('admin.export.failed', { message: job.message ?? job.status })}</p>}
        {error && <p className="error-text">{error}</p>}
      </div>
      {job?.state === 'ready' && download && (
        <p>
          <a className="button primary" href={download} download data-testid={`${testId}-download`}>
            {t('admin.export.download')}
          </a>
        </p>
      )}
    </section>
  );
}
