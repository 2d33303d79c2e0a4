import { useEffect, useRef, useState } from 'react';
import { useApi } from '../api/ApiContext';
import { useI18n } from '../i18n/I18nContext';
import { sleep, isAbortError } from '../lib/poller';
import { resolveLink, type AdminApi, type ExportJob } from './adminClient';

interface ExportPanelProps {
  api: AdminApi;
  onAuthError: (error: unknown) => boolean;
  /** First wait between status checks; it grows to 10 s. */
  pollMs?: number;
}

const MAX_POLL_MS = 10_000;

/** POST /api/admin/exports, then GET /api/admin/exports/{id} until it is ready (with a link) or failed. */
export function ExportPanel({ api, onAuthError, pollMs = 2000 }: ExportPanelProps) {
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
    <section className="step admin-export" aria-labelledby="admin-export-title" data-testid="admin-export">
      <h2 id="admin-export-title">{t('admin.export.title')}</h2>
      <p className="hint">{t('admin.export.intro')}</p>
      <div className="actions">
        <button type="button" onClick={() => void start()} disabled={busy} aria-busy={busy} data-testid="admin-export-start">
          {t('admin.export.start')}
        </button>
      </div>
      <div role="status" data-testid="admin-export-status" data-state={job?.state ?? (error ? 'failed' : 'idle')}>
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
          <a className="button primary" href={download} download data-testid="admin-export-download">
            {t('admin.export.download')}
          </a>
        </p>
      )}
    </section>
  );
}
