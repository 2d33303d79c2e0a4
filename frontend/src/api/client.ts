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
  };
}

export function createApiClient(
  baseUrl: string,
  fetchImpl: typeof fetch = fetch.bind(globalThis),
  secrets: SecretStore = sessionSecretStore(),
): PapilaApi {
  const base = baseUrl.replace(/\/+$/, '');
  const resolve = (path: string) => (/^https?:\/\//i.test(path) ? path : base + path);

  async function requestJson<T>(method: string, path: string, body?: unknown, screeningId?: string): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    // Knowing an id is not enough to change a screening or read its feedback: its secret goes along.
    const secret = screeningId === undefined ? null : secrets.get(screeningId);
    if (secret) headers['X-Screening-Secret'] = secret;
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
    if (!response.ok) throw await errorFrom(response);
    const text = await response.text();
    return (text ? JSON.parse(text) : null) as T;
  }

  const screeningPath = (id: string) => `/api/screenings/${encodeURIComponent(id)}`;

  return {
    resolve,
    createScreening: async (body) => {
      const created = await requestJson<CreatedScreening>('POST', '/api/screenings', body);
      if (created.secret) secrets.set(created.id, created.secret);
      return created;
    },
    getScreening: (id) => requestJson<Screening>('GET', screeningPath(id), undefined, id),
    rerunScreening: (id, crop) => requestJson<Screening | null>('POST', `${screeningPath(id)}/rerun`, { crop }, id),
    putFeedback: (id, feedback) => requestJson<Screening>('PUT', `${screeningPath(id)}/feedback`, feedback, id),
    locateDisc: (imageBase64, width, height) =>
      requestJson<LocateResponse>('POST', '/api/locate', { image_base64: imageBase64, width, height }),
    getModelInfo: () => requestJson<ModelInfo>('GET', '/api/model'),
    uploadToPresignedPost: uploadWithProgress,
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
