import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api/client';
import type { Screening, ScreeningStatus } from '../api/types';
import { DEFAULT_BACKOFF, isAbortError, isTerminal, nextDelay, pollUntilTerminal } from './poller';

const screening = (status: ScreeningStatus, extra: Partial<Screening> = {}): Screening => ({ id: 'id-1', status, ...extra });

/** Runs the poller against a scripted list of answers, recording the waits instead of sleeping. */
async function runScript(answers: (Screening | Error)[], options: { maxConsecutiveErrors?: number } = {}) {
  const waits: number[] = [];
  const seen: ScreeningStatus[] = [];
  let call = 0;
  const load = vi.fn(async () => {
    const answer = answers[Math.min(call, answers.length - 1)];
    call += 1;
    if (answer instanceof Error) throw answer;
    return answer as Screening;
  });
  const result = pollUntilTerminal({
    load,
    onUpdate: (s) => seen.push(s.status),
    wait: async (ms) => {
      waits.push(ms);
    },
    ...options,
  });
  return { result, waits, seen, load };
}

describe('nextDelay', () => {
  it('starts at 300 ms and grows by half each time', () => {
    expect([0, 1, 2, 3].map((attempt) => nextDelay(attempt))).toEqual([300, 450, 675, 1013]);
  });

  it('never waits more than 3 s', () => {
    expect(nextDelay(50)).toBe(3000);
    const delays = Array.from({ length: 20 }, (_, attempt) => nextDelay(attempt));
    expect(Math.max(...delays)).toBe(DEFAULT_BACKOFF.maxMs);
    // Never shrinking while the status stays the same.
    expect(delays).toEqual([...delays].sort((a, b) => a - b));
  });
});

describe('isTerminal', () => {
  it('stops on done, rejected and failed only', () => {
    expect((['done', 'rejected', 'failed'] as const).every(isTerminal)).toBe(true);
    expect((['awaiting_upload', 'queued', 'processing'] as const).some(isTerminal)).toBe(false);
  });
});

describe('pollUntilTerminal', () => {
  it('follows the states to done, backing off and starting over when the status changes', async () => {
    const { result, waits, seen } = await runScript([
      screening('awaiting_upload'),
      screening('queued'),
      screening('queued'),
      screening('queued'),
      screening('processing'),
      screening('processing'),
      screening('done', { result: { probability_glaucoma: 0.2, label: 'normal' } }),
    ]);
    const final = await result;
    expect(final.status).toBe('done');
    expect(seen).toEqual(['awaiting_upload', 'queued', 'queued', 'queued', 'processing', 'processing', 'done']);
    expect(waits).toEqual([300, 300, 450, 675, 300, 450]);
  });

  it('ends on a rejection with its error', async () => {
    const rejected = screening('rejected', { error: { code: 'not_fundus', message: 'This is not a fundus photo.' } });
    const { result, waits } = await runScript([screening('queued'), rejected]);
    await expect(result).resolves.toEqual(rejected);
    expect(waits).toHaveLength(1);
  });

  it('rides out a few network errors', async () => {
    const network = new ApiError(0, 'network', 'offline');
    const { result, load } = await runScript([screening('queued'), network, network, screening('done')]);
    await expect(result).resolves.toMatchObject({ status: 'done' });
    expect(load).toHaveBeenCalledTimes(4);
  });

  it('gives up after too many errors in a row', async () => {
    const outage = new ApiError(503, 'unavailable', 'Down for maintenance.');
    const { result, load } = await runScript([outage], { maxConsecutiveErrors: 3 });
    await expect(result).rejects.toThrow('Down for maintenance.');
    expect(load).toHaveBeenCalledTimes(3);
  });

  it('stops at once on a 404', async () => {
    const missing = new ApiError(404, 'not_found', 'No such screening.');
    const { result, load } = await runScript([missing]);
    await expect(result).rejects.toBe(missing);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    const load = vi.fn(async () => {
      controller.abort();
      return screening('queued');
    });
    const polling = pollUntilTerminal({ load, onUpdate: () => undefined, signal: controller.signal });
    const error = await polling.catch((caught: unknown) => caught);
    expect(isAbortError(error)).toBe(true);
  });

  it('gives up after the time limit', async () => {
    let clock = 0;
    const polling = pollUntilTerminal({
      load: async () => screening('queued'),
      onUpdate: () => undefined,
      wait: async (ms) => {
        clock += ms;
      },
      now: () => clock,
      timeoutMs: 10_000,
    });
    await expect(polling).rejects.toMatchObject({ code: 'poll_timeout' });
    expect(clock).toBeGreaterThan(9_000);
  });
});
