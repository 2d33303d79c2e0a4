import {
  readExportJob,
  readScreeningPage,
  screeningQuery,
  type ExportJob,
  type ScreeningFilters,
  type ScreeningPage,
} from './lists';
import type {
  CreateScreeningRequest,
  CreatedScreening,
  FeedbackPayload,
  LocateResponse,
  ModelInfo,
  NaturalCrop,
  PresignedUpload,
  Screening,
} from './types';

/** An error the page can show as is: the API's own sentence when it sent one. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** Everything the pages need from the back end; tests hand in a fake. */
export interface PapilaApi {
  createScreening(body: CreateScreeningRequest): Promise<CreatedScreening>;
  uploadToPresignedPost(
    upload: PresignedUpload,
    file: File,
    onProgress: (fraction: number) => void,
  ): Promise<void>;
  getScreening(id: string): Promise<Screening>;
  rerunScreening(id: string, crop: NaturalCrop): Promise<Screening | null>;
  putFeedback(id: string, feedback: FeedbackPayload): Promise<Screening>;
  locateDisc(imageBase64: string, width: number, height: number): Promise<LocateResponse>;
  getModelInfo(): Promise<ModelInfo>;
  /** Absolute URL of an API path (links in screenings are relative to the API). */
  resolve(path: string): string;
  /**
   * An API file (crop, heat map, report) with the same headers as the screening's other calls:
   * what an <img src> cannot do for a screening that belongs to an account.
   */
  fetchBlob(link: string, screeningId?: string): Promise<Blob>;
  /** GET /api/me/screenings (signed in): newest first, `limit` a page. */
  listMyScreenings(filters: ScreeningFilters, cursor?: string | null): Promise<ScreeningPage>;
  /** POST /api/screenings/{id}/claim with the token and the screening's secret (given, else the one this tab keeps). */
  claimScreening(id: string, secret?: string): Promise<Screening>;
  /** DELETE /api/screenings/{id}: the owner's token, or the secret of an anonymous one. */
  deleteScreening(id: string): Promise<void>;
  /** POST /api/me/exports: every screening of the account. */
  startMyExport(): Promise<ExportJob>;
  getMyExport(id: string): Promise<ExportJob>;
  /** The screenings this tab holds secrets for (started or claimed here). */
  tabScreeningIds(): string[];
}

/** Page size of GET /api/me/screenings. */
export const MY_PAGE_SIZE = 20;

/**
 * The clinician's sign-in as the client sees it (see account/accountStore.ts). Without it, or
 * while nobody is signed in, every call is anonymous as before.
 */
export interface ApiAuth {
  /** The access token now, null when anonymous; rejects (ApiError 401) when the sign-in has lapsed. */
  accessToken(): Promise<string | null>;
  /** The API refused the token (401 `unauthorized`): the sign-in is over. */
  rejected?(): void;
}

export const GENERIC_MESSAGE = 'The service did not answer as expected. Please try again in a moment.';

/** The ApiError for a non-2xx answer: the API's own sentence when its body has one. */
export async function errorFrom(response: Response): Promise<ApiError> {
  try {
    const body: unknown = await response.json();
    const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    if (error && typeof error.message === 'string') {
      return new ApiError(response.status, String(error.code ?? 'error'), error.message);
    }
  } catch {
    // Not JSON (a proxy's HTML page, say): fall through to the generic sentence.
  }
  return new ApiError(response.status, 'http_' + response.status, GENERIC_MESSAGE);
}

export function networkError(): ApiError {
  return new ApiError(0, 'network', 'Papila could not reach its server. Check your connection and try again.');
}

/** Where the secrets of this tab's screenings are kept: the tab's session storage when there is one
 * (a reload keeps them, closing the tab forgets them), else memory. */
export interface SecretStore {
  get(id: string): string | null;
  set(id: string, secret: string): void;
  /** The ids it holds a secret for. */
  ids?(): string[];
  forget?(id: string): void;
}

const SECRET_PREFIX = 'papila.secret.';

export function sessionSecretStore(): SecretStore {
  const memory = new Map<string, string>();
  const storage = (() => {
    try {
      return globalThis.sessionStorage ?? null;
    } catch {
      return null; // storage disabled by the browser's settings
    }
  })();
  return {
    get: (id) => memory.get(id) ?? storage?.getItem(SECRET_PREFIX + id) ?? null,
    set: (id, secret) => {
      memory.set(id, secret);
      try {
        storage?.setItem(SECRET_PREFIX + id, secret);
      } catch {
        // quota or privacy mode: memory still has it for this page
      }
    },
    ids: () => {
      const found = new Set(memory.keys());
      try {
        for (let index = 0; storage && index < storage.length; index += 1) {
          const key = storage.key(index);
          if (key?.startsWith(SECRET_PREFIX)) found.add(key.slice(SECRET_PREFIX.length));
        }
      } catch {
        // see above
      }
      return [...found];
    },
    forget: (id) => {
      memory.delete(id);
      try {
        storage?.removeItem(SECRET_PREFIX + id);
      } catch {
        // see above
      }
    },
  };
}

interface RequestOptions {
  body?: unknown;
  /** The screening the call is about: its secret goes along when this tab has it. */
  screeningId?: string;
  /** An explicit secret (a claim typed in by hand). */
  secret?: string;
  /** Send the account's token when signed in (the screening and /api/me calls). */
  authorized?: boolean;
  /** The call makes no sense anonymously (/api/me, claim): 401 without asking the API. */
  tokenRequired?: boolean;
}

export function createApiClient(
  baseUrl: string,
  fetchImpl: typeof fetch = fetch.bind(globalThis),
  secrets: SecretStore = sessionSecretStore(),
  auth?: ApiAuth,
): PapilaApi {
  const base = baseUrl.replace(/\/+$/, '');
  const resolve = (path: string) => (/^https?:\/\//i.test(path) ? path : base + path);

  async function send(method: string, path: string, accept: string, options: RequestOptions = {}): Promise<Response> {
    const { body, screeningId, authorized = false, tokenRequired = false } = options;
    const headers: Record<string, string> = { Accept: accept };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    // Knowing an id is not enough to change a screening or read its feedback: its secret goes along.
    const secret = options.secret ?? (screeningId === undefined ? null : secrets.get(screeningId));
    if (secret) headers['X-Screening-Secret'] = secret;
    // Signed in, the screening calls also carry the account's token: what it starts belongs to the account.
    const token = authorized && auth ? await auth.accessToken() : null;
    if (token) headers.Authorization = `Bearer ${token}`;
    else if (tokenRequired) throw new ApiError(401, 'unauthorized', 'Sign in first.');
    let response: Response;
    try {
      response = await fetchImpl(resolve(path), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw networkError();
    }
    if (!response.ok) {
      const error = await errorFrom(response);
      if (token && error.status === 401 && error.code === 'unauthorized') auth?.rejected?.();
      throw error;
    }
    return response;
  }

  async function requestJson<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await send(method, path, 'application/json', options);
    const text = await response.text();
    return (text ? JSON.parse(text) : null) as T;
  }

  const screeningPath = (id: string) => `/api/screenings/${encodeURIComponent(id)}`;
  const about = (id: string, body?: unknown): RequestOptions => ({ body, screeningId: id, authorized: true });

  return {
    resolve,
    createScreening: async (body) => {
      const created = await requestJson<CreatedScreening>('POST', '/api/screenings', { body, authorized: true });
      if (created.secret) secrets.set(created.id, created.secret);
      return created;
    },
    getScreening: (id) => requestJson<Screening>('GET', screeningPath(id), about(id)),
    rerunScreening: (id, crop) => requestJson<Screening | null>('POST', `${screeningPath(id)}/rerun`, about(id, { crop })),
    putFeedback: (id, feedback) => requestJson<Screening>('PUT', `${screeningPath(id)}/feedback`, about(id, feedback)),
    locateDisc: (imageBase64, width, height) =>
      requestJson<LocateResponse>('POST', '/api/locate', { body: { image_base64: imageBase64, width, height } }),
    getModelInfo: () => requestJson<ModelInfo>('GET', '/api/model'),
    uploadToPresignedPost: uploadWithProgress,
    fetchBlob: async (link, screeningId) => {
      // A presigned URL elsewhere must not get the token or the secret.
      const ours = !/^https?:\/\//i.test(link) || link.startsWith(base + '/');
      const response = await send('GET', link, '*/*', ours ? { screeningId, authorized: true } : {});
      return response.blob();
    },
    listMyScreenings: async (filters, cursor) =>
      readScreeningPage(
        await requestJson<unknown>('GET', `/api/me/screenings?${screeningQuery(filters, cursor, MY_PAGE_SIZE)}`, {
          authorized: true,
          tokenRequired: true,
        }),
      ),
    claimScreening: async (id, secret) => {
      const claimed = await requestJson<Screening>('POST', `${screeningPath(id)}/claim`, {
        screeningId: id,
        ...(secret ? { secret } : {}),
        authorized: true,
        tokenRequired: true,
      });
      // A secret typed in by hand is kept like a created one: the feedback form needs it too.
      if (secret) secrets.set(id, secret);
      return claimed;
    },
    deleteScreening: async (id) => {
      await send('DELETE', screeningPath(id), 'application/json', about(id));
      secrets.forget?.(id);
    },
    startMyExport: async () =>
      readExportJob(await requestJson<unknown>('POST', '/api/me/exports', { body: {}, authorized: true, tokenRequired: true })),
    getMyExport: async (id) =>
      readExportJob(
        await requestJson<unknown>('GET', `/api/me/exports/${encodeURIComponent(id)}`, { authorized: true, tokenRequired: true }),
        id,
      ),
    tabScreeningIds: () => secrets.ids?.() ?? [],
  };
}

/**
 * POSTs the file to the presigned S3 form. XMLHttpRequest rather than fetch because only it
 * reports upload progress. S3 wants the policy fields first and the file last.
 */
export function uploadWithProgress(
  upload: PresignedUpload,
  file: File,
  onProgress: (fraction: number) => void,
): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
    form.append('file', file);

    const xhr = new XMLHttpRequest();
    xhr.open('POST', upload.url);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolvePromise();
      } else {
        reject(new ApiError(xhr.status, 'upload_failed', 'The photo could not be uploaded. Please try again.'));
      }
    };
    xhr.onerror = () =>
      reject(new ApiError(0, 'upload_failed', 'The photo could not be uploaded: the connection failed. Please try again.'));
    xhr.send(form);
  });
}
