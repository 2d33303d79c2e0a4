import { vi } from 'vitest';

export interface FetchCall {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
}

export type FetchRoute = (call: FetchCall) => Response | undefined | Promise<Response | undefined>;

export const jsonResponse = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });

export const emptyResponse = (status = 204) => new Response(null, { status });

function headersOf(init?: RequestInit): Record<string, string> {
  const out: Record<string, string> = {};
  new Headers(init?.headers).forEach((value, key) => {
    out[key] = value;
  });
  return out;
}

/**
 * A fetch that answers from `route` (undefined → 404) and records every call with its parsed body;
 * `calls.filter(...)` is what the tests assert on.
 */
export function fakeFetch(route: FetchRoute) {
  const calls: FetchCall[] = [];
  const fetchImpl = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    let body: unknown = init?.body ?? undefined;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {
        // leave as text
      }
    }
    const call: FetchCall = { url, method: (init?.method ?? 'GET').toUpperCase(), headers: headersOf(init), body };
    calls.push(call);
    const answer = await route(call);
    return answer ?? jsonResponse(404, { error: { code: 'not_found', message: 'No such route in the fake.' } });
  });
  return { fetchImpl: fetchImpl as unknown as typeof fetch, calls, mock: fetchImpl };
}
