import { useEffect, useState } from 'react';
import { useApi } from '../api/ApiContext';
import { ApiError } from '../api/client';
import { useI18n } from '../i18n/I18nContext';
import { resolveLink, type AdminApi } from './adminClient';
import { REVIEW_LABELS, type ReviewItem, type ReviewLabel, type ReviewQueue as Queue } from './dataLoop';
import { formatDateTime, formatPercent } from './format';
import { hasMessage, labelText } from './labels';
import { screeningHref } from './ScreeningList';
import { useAdminLoad } from './useAdminLoad';

interface ReviewQueueProps {
  api: AdminApi;
  onAuthError: (error: unknown) => boolean;
  limit?: number;
  /** Each item's title opens its screening; off for a reviewer, whom the API does not let read it. */
  detailLinks?: boolean;
}

interface ItemState {
  busy?: ReviewLabel;
  /** The label this page recorded. */
  saved?: ReviewLabel;
  error?: string;
}

function Thumbnail({ src, alt }: { src: string; alt: string }) {
  const [failed, setFailed] = useState(false);
  return failed ? (
    <span className="review-thumb review-thumb-missing" aria-hidden="true" />
  ) : (
    <img className="review-thumb" src={src} alt={alt} loading="lazy" width={112} height={112} onError={() => setFailed(true)} data-testid="review-crop" />
  );
}

/**
 * The review queue (GET /api/admin/review): the done screenings without a confirmed label, those
 * whose label would teach the model most first. A label is recorded with PUT …/review; the item
 * then shows as reviewed (its label can still be changed) until the queue is loaded again.
 */
export function ReviewQueue({ api, onAuthError, limit = 20, detailLinks = true }: ReviewQueueProps) {
  const { t, language } = useI18n();
  const publicApi = useApi();
  const [attempt, setAttempt] = useState(0);
  const [states, setStates] = useState<Record<string, ItemState>>({});
  const { data: queue, error } = useAdminLoad<Queue>(() => api.getReviewQueue(limit), [api, limit, attempt], onAuthError);
  useEffect(() => setStates({}), [queue]); // a queue loaded again starts with no item reviewed

  const update = (id: string, next: ItemState) => setStates((previous) => ({ ...previous, [id]: next }));

  async function review(item: ReviewItem, label: ReviewLabel) {
    const before = states[item.id];
    update(item.id, { saved: before?.saved, busy: label });
    try {
      await api.reviewScreening(item.id, label, item.links.review);
      update(item.id, { saved: label });
    } catch (caught) {
      if (onAuthError(caught)) return;
      const message = caught instanceof Error ? caught.message : String(caught);
      update(item.id, {
        saved: before?.saved,
        error: caught instanceof ApiError && caught.code === 'not_reviewable' ? t('admin.review.notReviewable', { message }) : t('admin.review.failed', { message }),
      });
    }
  }

  const trueLabelText = (label: string) => {
    const key = `feedback.trueLabel.${label}`;
    return hasMessage(key) ? t(key) : label;
  };
  const reviewed = Object.values(states).filter((state) => state.saved).length;

  return (
    <section className="step admin-review" aria-labelledby="admin-review-title" data-testid="admin-review">
      <div className="section-heading">
        <h2 id="admin-review-title" tabIndex={-1}>
          {t('admin.review.title')}
        </h2>
        <button type="button" onClick={() => setAttempt((count) => count + 1)} data-testid="admin-review-refresh">
          {t('admin.review.reload')}
        </button>
      </div>
      <p className="hint">{t('admin.review.intro')}</p>
      {error && (
        <div className="error-box" role="alert">
          <p className="error-text">{error}</p>
          <button type="button" onClick={() => setAttempt((count) => count + 1)}>
            {t('admin.retry')}
          </button>
        </div>
      )}
      <div role="status" data-testid="admin-review-status">
        {!queue && !error && <p className="hint">{t('admin.review.loading')}</p>}
        {queue && queue.items.length > 0 && (
          <p>
            {t('admin.review.shown', { count: queue.items.length, candidates: queue.candidates ?? queue.items.length })}{' '}
            {reviewed > 0 && t('admin.review.reviewedCount', { count: reviewed })}
          </p>
        )}
      </div>
      {queue && queue.items.length === 0 && <p data-testid="admin-review-empty">{t('admin.review.empty')}</p>}
      {queue && queue.items.length > 0 && (
        <ol className="review-list">
          {queue.items.map((item, index) => {
            const state = states[item.id] ?? {};
            const crop = resolveLink(publicApi.resolve, item.links.crop ?? `/api/screenings/${encodeURIComponent(item.id)}/crop`);
            const date = formatDateTime(item.created_at, language) ?? t('admin.table.noDate');
            const titleId = `review-item-${index}`;
            const title = t('admin.review.itemTitle', { position: index + 1, date });
            return (
              <li
                key={item.id}
                className={state.saved ? 'review-item reviewed' : 'review-item'}
                aria-labelledby={titleId}
                data-testid="review-item"
                data-screening-id={item.id}
                data-reviewed={state.saved ? 'true' : 'false'}
              >
                <Thumbnail src={crop} alt={t('admin.review.cropAlt', { date })} />
                <div className="review-body">
                  <h3 id={titleId} className="review-title">
                    {detailLinks ? <a href={screeningHref(item.id)}>{title}</a> : title}
                  </h3>
                  <dl className="facts compact">
                    <div className="fact">
                      <dt>{t('admin.review.probability')}</dt>
                      <dd data-testid="review-probability">
                        {t('admin.review.probabilityVsThreshold', {
                          probability: formatPercent(item.probability_glaucoma ?? undefined, language) ?? '—',
                          threshold: formatPercent(item.threshold ?? undefined, language) ?? '—',
                        })}{' '}
                        ({labelText(t, item.label)})
                      </dd>
                    </div>
                    {item.probability_network !== null && (
                      <div className="fact">
                        <dt>{t('admin.review.network')}</dt>
                        <dd data-testid="review-network">{formatPercent(item.probability_network, language)}</dd>
                      </div>
                    )}
                    {item.cdr !== null && (
                      <div className="fact">
                        <dt>{t('admin.review.cdr')}</dt>
                        <dd data-testid="review-cdr">{new Intl.NumberFormat(language, { maximumFractionDigits: 2 }).format(item.cdr)}</dd>
                      </div>
                    )}
                    {item.priority !== null && (
                      <div className="fact">
                        <dt>{t('admin.review.priority')}</dt>
                        <dd>{new Intl.NumberFormat(language, { maximumFractionDigits: 2 }).format(item.priority)}</dd>
                      </div>
                    )}
                    {item.true_label && (
                      <div className="fact">
                        <dt>{t('admin.review.currentLabel')}</dt>
                        <dd>{trueLabelText(item.true_label)}</dd>
                      </div>
                    )}
                  </dl>
                  <div className="review-actions" role="group" aria-label={t('admin.review.labelGroup', { position: index + 1 })}>
                    {REVIEW_LABELS.map((label) => (
                      <button
                        type="button"
                        key={label}
                        onClick={() => void review(item, label)}
                        disabled={state.busy !== undefined}
                        aria-pressed={state.saved === label}
                        aria-busy={state.busy === label}
                        data-testid={`review-${label}`}
                      >
                        {t(`feedback.trueLabel.${label}`)}
                      </button>
                    ))}
                  </div>
                  <div role="status">
                    {state.saved && (
                      <p className="success-text" data-testid="review-saved">
                        {t('admin.review.saved', { label: t(`feedback.trueLabel.${state.saved}`) })}
                      </p>
                    )}
                  </div>
                  {state.error && (
                    <p className="error-text" role="alert" data-testid="review-error">
                      {state.error}
                    </p>
                  )}
                </div>
              </li>
            );
          })}
        </ol>
      )}
    </section>
  );
}
