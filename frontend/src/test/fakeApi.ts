import { vi, type Mock } from 'vitest';
import type { PapilaApi } from '../api/client';
import type { Screening } from '../api/types';

export type FakeApi = { [K in keyof PapilaApi]: Mock<PapilaApi[K]> };

export const DONE_SCREENING: Screening = {
  id: 'id-1',
  status: 'done',
  updated_at: '2026-11-25T18:00:05Z',
  result: {
    probability_glaucoma: 0.913,
    label: 'glaucoma',
    threshold: 0.42,
    referral: 'Refer to an ophthalmologist.',
    model_version: 'vgg19-test',
    crop: { x: 100, y: 50, size: 200, source: 'user' },
  },
  links: { crop: '/api/screenings/id-1/crop', heatmap: '/api/screenings/id-1/heatmap' },
};

/** A PapilaApi whose every method is a mock, answering a happy path unless overridden. */
export function fakeApi(overrides: Partial<PapilaApi> = {}): FakeApi {
  const api: FakeApi = {
    resolve: vi.fn((path: string) => 'http://api.test' + path),
    createScreening: vi.fn(async () => ({
      id: 'id-1',
      status: 'awaiting_upload' as const,
      upload: { url: 'http://s3.test/bucket', fields: { key: 'uploads/id-1/original.png' }, expires_in: 900 },
    })),
    uploadToPresignedPost: vi.fn(async (_upload, _file, onProgress) => {
      onProgress(0.5);
      onProgress(1);
    }),
    getScreening: vi.fn(async () => DONE_SCREENING),
    rerunScreening: vi.fn(async () => ({ ...DONE_SCREENING, status: 'queued' as const })),
    putFeedback: vi.fn(async () => DONE_SCREENING),
    locateDisc: vi.fn(async () => ({ crop: { x: 100, y: 50, size: 200 }, confidence: 0.9 })),
    getModelInfo: vi.fn(async () => ({ model_version: 'vgg19-test', threshold: 0.42, metrics: { auc: 0.91 } })),
    fetchBlob: vi.fn(async () => new Blob(['image'], { type: 'image/png' })),
    listMyScreenings: vi.fn(async () => ({ items: [], nextCursor: null })),
    claimScreening: vi.fn(async (id: string) => ({ ...DONE_SCREENING, id, owned: true })),
    deleteScreening: vi.fn(async () => undefined),
    startMyExport: vi.fn(async () => ({ id: 'exp-1', state: 'running' as const, status: 'queued' })),
    getMyExport: vi.fn(async (id: string) => ({ id, state: 'ready' as const, status: 'done', downloadUrl: 'https://s3.test/exp-1.zip' })),
    tabScreeningIds: vi.fn(() => []),
  };
  for (const [name, implementation] of Object.entries(overrides)) {
    (api as Record<string, unknown>)[name] = vi.isMockFunction(implementation) ? implementation : vi.fn(implementation);
  }
  return api;
}

/** A File whose reported size can be set without allocating it. */
export function fileOf(name: string, type: string, size = 1024): File {
  const file = new File(['x'], name, { type });
  Object.defineProperty(file, 'size', { value: size });
  return file;
}
