// Shapes of the HTTP contract (shared/design/api-contract.md) that the SPA reads or sends.

export type ScreeningStatus =
  | 'awaiting_upload'
  | 'queued'
  | 'processing'
  | 'done'
  | 'rejected'
  | 'failed';

/** A square crop in the photo's own (natural) pixels: top-left corner and side. */
export interface NaturalCrop {
  x: number;
  y: number;
  size: number;
}

export interface ApiErrorBody {
  code: string;
  message: string;
}

export interface ScreeningResult {
  probability_glaucoma: number;
  label: string;
  threshold?: number;
  referral?: string;
  model_version?: string;
  crop?: NaturalCrop & { source?: 'user' | 'auto' };
  inference_ms?: number;
  /** Estimated vertical cup-to-disc ratio and its measured error against experts. */
  cdr?: { vertical: number; mae_vs_experts?: number | null };
  /** The network's own probability, when the screening probability also weighs the CDR. */
  probability_network?: number;
}

export interface Screening {
  id: string;
  status: ScreeningStatus;
  created_at?: string;
  updated_at?: string;
  filename?: string;
  result?: ScreeningResult;
  error?: ApiErrorBody;
  feedback?: FeedbackPayload;
  /** True when the screening belongs to a clinician account (it was created or claimed signed in). */
  owned?: boolean;
  links?: { self?: string; crop?: string; heatmap?: string; report?: string };
}

export interface PresignedUpload {
  url: string;
  fields: Record<string, string>;
  expires_in?: number;
}

export interface CreatedScreening extends Screening {
  upload?: PresignedUpload;
  /** Returned once, at creation: later calls about this screening send it (X-Screening-Secret). */
  secret?: string;
}

export interface CreateScreeningRequest {
  filename: string;
  content_type: string;
  size: number;
  consent: true;
  crop?: NaturalCrop;
}

export type TrueLabel = 'glaucoma' | 'normal' | 'suspect' | 'unknown';

export interface FeedbackMetadata {
  /** Pseudonymous id of the person: both eyes and repeat photos share it (1-64 of A-Z a-z 0-9 . _ -). */
  subject_id?: string;
  age?: number;
  sex?: 'female' | 'male' | 'other';
  eye?: 'left' | 'right';
  iop_mmhg?: number;
  cdr?: number;
  family_history?: boolean;
  camera?: string;
  notes?: string;
}

export interface FeedbackPayload {
  diagnosis_correct?: boolean | null;
  true_label?: TrueLabel;
  metadata?: FeedbackMetadata;
}

/** Answer of POST /api/locate (an extension of the contract: the disc locator over HTTP). */
export interface LocateResponse {
  crop: NaturalCrop;
  confidence?: number;
}

/** GET /api/model: the model card. Every field is optional: show what is there. */
export interface ModelInfo {
  model_version?: string;
  input_size?: number | number[];
  threshold?: number;
  metrics?: Record<string, unknown>;
  limits?: unknown;
  [key: string]: unknown;
}
