import { ApiError } from '../api/client';
import type { Screening, ScreeningStatus } from '../api/types';

const TERMINAL_STATUSES: readonly ScreeningStatus[] = ['done', 'rejected', 'failed'];

export function isTerminal(status: ScreeningStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export interface Backoff {
  initialMs: number;
  factor: number;
  maxMs: number;
}

/** Quick at first (most screenings finish in seconds), then gentler on the API. */
export const DEFAULT_BACKOFF: Backoff = { initialMs: 300, factor: 1.5, maxMs: 3000 };

/** Delay before poll number `attempt` (0-based) since the status last changed. */
export function nextDelay(attempt: number, backoff: Backoff = DEFAULT_BACKOFF): number {
  return Math.min(backoff.maxMs, Math.round(backoff.initialMs * backoff.factor ** Math.max(0, attempt)));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function abortError(): DOMException {
  return new DOMException('Polling stopped', 'AbortError');
}

export function isAbortError(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}

/** A client error (404, 400…) will not go away by asking again; network and 5xx errors may. */
function isPermanent(error: unknown): boolean {
  return error instanceof ApiError && error.status >= 400 && error.status < 500 && error.status !== 429;
}

export interface PollOptions {
  load: () => Promise<Screening>;
  onUpdate: (screening: Screening) => void;
  signal?: AbortSignal;
  backoff?: Backoff;
  /** Transient errors in a row before giving up. */
  maxConsecutiveErrors?: number;
  /** Give up after this long without a terminal status. */
  timeoutMs?: number;
  wait?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
}

/** Polls until done, rejected or failed; resolves with that screening. */
export async function pollUntilTerminal(options: PollOptions): Promise<Screening> {
  const {
    load,
    onUpdate,
    signal,
    backoff = DEFAULT_BACKOFF,
    maxConsecutiveErrors = 5,
    timeoutMs = 10 * 60 * 1000,
    wait = sleep,
    now = Date.now,
  } = options;
  const started = now();
  let attempt = 0;
  let consecutiveErrors = 0;
  let lastStatus: ScreeningStatus | null = null;

  for (;;) {
    if (signal?.aborted) throw abortError();
    try {
      const screening = await load();
      consecutiveErrors = 0;
      if (signal?.aborted) throw abortError();
      if (screening.status !== lastStatus) {
        // A new stage: look again soon rather than at the slowed-down pace.
        attempt = 0;
        lastStatus = screening.status;
      }
      onUpdate(screening);
      if (isTerminal(screening.status)) return screening;
    } catch (error) {
      if (isAbortError(error) || isPermanent(error)) throw error;
      consecutiveErrors += 1;
      if (consecutiveErrors >= maxConsecutiveErrors) throw error;
    }
    if (now() - started > timeoutMs) {
      throw new ApiError(0, 'poll_timeout', 'The analysis is taking much longer than usual. Please try again later.');
    }
    await wait(nextDelay(attempt, backoff), signal);
    attempt += 1;
  }
}
