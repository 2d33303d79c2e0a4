import type { FeedbackMetadata, FeedbackPayload, TrueLabel } from '../api/types';
import type { MessageKey } from '../i18n/messages';

/** What the form holds: strings as typed, '' meaning "not given". */
export interface FeedbackFormValues {
  correct: '' | 'yes' | 'no' | 'unknown';
  trueLabel: '' | TrueLabel;
  subjectId: string;
  age: string;
  sex: '' | 'female' | 'male' | 'other';
  eye: '' | 'left' | 'right';
  iop: string;
  cdr: string;
  familyHistory: '' | 'yes' | 'no';
  camera: string;
  notes: string;
}

export type FeedbackField = keyof FeedbackFormValues;
export type FeedbackErrors = Partial<Record<FeedbackField, MessageKey>>;

export const EMPTY_FEEDBACK: FeedbackFormValues = {
  correct: '',
  trueLabel: '',
  subjectId: '',
  age: '',
  sex: '',
  eye: '',
  iop: '',
  cdr: '',
  familyHistory: '',
  camera: '',
  notes: '',
};

export const CAMERA_MAX_CHARS = 100;
/** The contract's pseudonym: letters, digits, dots, underscores and hyphens only. */
const SUBJECT_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
export const NOTES_MAX_CHARS = 2000;

/** Accepts a decimal comma as well as a point (Spanish users write 0,7). */
function parseDecimal(text: string): number | null {
  const normalised = text.trim().replace(',', '.');
  return /^\d+(\.\d+)?$|^\.\d+$/.test(normalised) ? Number(normalised) : null;
}

function parseWholeNumber(text: string): number | null {
  const trimmed = text.trim();
  return /^\d+$/.test(trimmed) ? Number(trimmed) : null;
}

/**
 * Checks the form against the contract's rules and builds the PUT body. Empty fields are left
 * out; the metadata object is left out when nothing in it was given.
 */
export function validateFeedback(values: FeedbackFormValues): { payload: FeedbackPayload; errors: FeedbackErrors } {
  const errors: FeedbackErrors = {};
  const payload: FeedbackPayload = {};
  const metadata: FeedbackMetadata = {};

  if (values.correct === '') errors.correct = 'feedback.error.correct';
  else payload.diagnosis_correct = values.correct === 'yes' ? true : values.correct === 'no' ? false : null;

  if (values.trueLabel) payload.true_label = values.trueLabel;

  const subjectId = values.subjectId.trim();
  if (subjectId && !SUBJECT_ID_PATTERN.test(subjectId)) errors.subjectId = 'feedback.error.subjectId';
  else if (subjectId) metadata.subject_id = subjectId;

  if (values.age.trim()) {
    const age = parseWholeNumber(values.age);
    if (age === null || age > 120) errors.age = 'feedback.error.age';
    else metadata.age = age;
  }
  if (values.sex) metadata.sex = values.sex;
  if (values.eye) metadata.eye = values.eye;
  if (values.iop.trim()) {
    const iop = parseDecimal(values.iop);
    if (iop === null || iop > 80) errors.iop = 'feedback.error.iop';
    else metadata.iop_mmhg = iop;
  }
  if (values.cdr.trim()) {
    const cdr = parseDecimal(values.cdr);
    if (cdr === null || cdr > 1) errors.cdr = 'feedback.error.cdr';
    else metadata.cdr = cdr;
  }
  if (values.familyHistory) metadata.family_history = values.familyHistory === 'yes';
  const camera = values.camera.trim();
  if (camera.length > CAMERA_MAX_CHARS) errors.camera = 'feedback.error.camera';
  else if (camera) metadata.camera = camera;
  const notes = values.notes.trim();
  if (notes.length > NOTES_MAX_CHARS) errors.notes = 'feedback.error.notes';
  else if (notes) metadata.notes = notes;

  if (Object.keys(metadata).length > 0) payload.metadata = metadata;
  return { payload, errors };
}

/** Fills the form from feedback already saved, so a person can correct it. */
export function feedbackToFormValues(feedback: FeedbackPayload | undefined): FeedbackFormValues {
  if (!feedback) return EMPTY_FEEDBACK;
  const metadata = feedback.metadata ?? {};
  const correct =
    feedback.diagnosis_correct === true ? 'yes' : feedback.diagnosis_correct === false ? 'no' : feedback.diagnosis_correct === null ? 'unknown' : '';
  return {
    correct,
    trueLabel: feedback.true_label ?? '',
    subjectId: metadata.subject_id ?? '',
    age: metadata.age === undefined ? '' : String(metadata.age),
    sex: metadata.sex ?? '',
    eye: metadata.eye ?? '',
    iop: metadata.iop_mmhg === undefined ? '' : String(metadata.iop_mmhg),
    cdr: metadata.cdr === undefined ? '' : String(metadata.cdr),
    familyHistory: metadata.family_history === undefined ? '' : metadata.family_history ? 'yes' : 'no',
    camera: metadata.camera ?? '',
    notes: metadata.notes ?? '',
  };
}
