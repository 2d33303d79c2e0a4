import { describe, expect, it, vi } from 'vitest';
import { loadApiBaseUrl, loadRuntimeConfig } from '../config';
import { ApiError, createApiClient } from './client';

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

describe('createApiClient', () => {
  it('posts JSON to the configured base URL', async () => {
    const fetchImpl = vi.fn(async () => json(201, { id: 'id-1', status: 'awaiting_upload' }));
    const api = createApiClient('http://127.0.0.1:8000/', fetchImpl);
    await api.createScreening({ filename: 'a.png', content_type: 'image/png', size: 10, consent: true });
    const [url, init] = fetchImpl.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('http://127.0.0.1:8000/api/screenings');
    expect(init.method).toBe('POST');
    expect(JSON.parse(String(init.body))).toEqual({ filename: 'a.png', content_type: 'image/png', size: 10, consent: true });
  });

  it("turns the API's error body into an error carrying its sentence", async () => {
    const api = createApiClient('', vi.fn(async () => json(404, { error: { code: 'not_found', message: 'No screening has this id.' } })));
    const error = await api.getScreening('nope').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 404, code: 'not_found', message: 'No screening has this id.' });
  });

  it('gives a plain sentence when the answer is not the API error shape', async () => {
    const api = createApiClient('', vi.fn(async () => new Response('<html>Bad gateway</html>', { status: 502 })));
    await expect(api.getModelInfo()).rejects.toMatchObject({ status: 502, message: expect.stringMatching(/try again/) });
  });

  it('sends the locator a downscaled copy with the original size', async () => {
    const fetchImpl = vi.fn(async () => json(200, { crop: { x: 1, y: 2, size: 3 }, confidence: 0.5 }));
    const api = createApiClient('http://api', fetchImpl);
    await api.locateDisc('QUJD', 4000, 3000);
    const [url, init] = fetchImpl.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('http://api/api/locate');
    expect(JSON.parse(String(init.body))).toEqual({ image_base64: 'QUJD', width: 4000, height: 3000 });
  });

  it("keeps the secret a create returned and sends it only with that screening's calls", async () => {
    const kept = new Map<string, string>();
    const store = { get: (id: string) => kept.get(id) ?? null, set: (id: string, s: string) => void kept.set(id, s) };
    const fetchImpl = vi.fn(async (url: string) =>
      url.endsWith('/api/screenings') ? json(201, { id: 'id-1', status: 'awaiting_upload', secret: 's3cret' }) : json(200, { id: 'x' }),
    );
    const api = createApiClient('http://api', fetchImpl as unknown as typeof fetch, store);
    await api.createScreening({ filename: 'a.png', content_type: 'image/png', size: 10, consent: true });
    await api.putFeedback('id-1', { diagnosis_correct: true });
    await api.getScreening('id-2');
    const headersOf = (call: number) => (fetchImpl.mock.calls[call] as unknown as [string, RequestInit])[1].headers as Record<string, string>;
    expect(kept.get('id-1')).toBe('s3cret');
    expect(headersOf(0)['X-Screening-Secret']).toBeUndefined();
    expect(headersOf(1)['X-Screening-Secret']).toBe('s3cret');
    expect(headersOf(2)['X-Screening-Secret']).toBeUndefined();
  });

  it('resolves relative links against the API and leaves absolute ones', () => {
    const api = createApiClient('http://api:8000');
    expect(api.resolve('/api/screenings/x/crop')).toBe('http://api:8000/api/screenings/x/crop');
    expect(api.resolve('https://bucket.s3/key?sig=1')).toBe('https://bucket.s3/key?sig=1');
  });
});

describe('loadApiBaseUrl', () => {
  it('reads config.json beside the page', async () => {
    const fetchImpl = vi.fn(async () => json(200, { apiBaseUrl: 'https://api.papila.example/' }));
    await expect(loadApiBaseUrl(fetchImpl)).resolves.toBe('https://api.papila.example');
    expect(fetchImpl).toHaveBeenCalledWith('config.json', expect.anything());
  });

  it('falls back to the build setting, then same origin', async () => {
    const missing = vi.fn(async () => new Response('not found', { status: 404 }));
    vi.stubEnv('VITE_API_BASE_URL', 'http://built.example');
    await expect(loadApiBaseUrl(missing)).resolves.toBe('http://built.example');
    vi.unstubAllEnvs();
    vi.stubEnv('VITE_API_BASE_URL', undefined as unknown as string);
    await expect(loadApiBaseUrl(missing)).resolves.toBe('');
    vi.unstubAllEnvs();
  });
});

describe('loadRuntimeConfig', () => {
  it('reads the optional Cognito keys for admin sign-in', async () => {
    const fetchImpl = vi.fn(async () =>
      json(200, { apiBaseUrl: 'http://127.0.0.1:8000/', cognitoEndpoint: 'http://127.0.0.1:5001', cognitoClientId: 'abc123' }),
    );
    await expect(loadRuntimeConfig(fetchImpl)).resolves.toEqual({
      apiBaseUrl: 'http://127.0.0.1:8000',
      cognitoEndpoint: 'http://127.0.0.1:5001',
      cognitoClientId: 'abc123',
    });
  });

  it('leaves them out when absent or empty', async () => {
    const fetchImpl = vi.fn(async () => json(200, { apiBaseUrl: '', cognitoEndpoint: '', cognitoClientId: null }));
    await expect(loadRuntimeConfig(fetchImpl)).resolves.toEqual({ apiBaseUrl: '' });
  });
});
