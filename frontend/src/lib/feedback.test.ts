import { describe, expect, it } from 'vitest';
import { EMPTY_FEEDBACK, feedbackToFormValues, validateFeedback, type FeedbackFormValues } from './feedback';

const form = (values: Partial<FeedbackFormValues>): FeedbackFormValues => ({ ...EMPTY_FEEDBACK, ...values });

describe('validateFeedback', () => {
  it('asks whether the result was right', () => {
    expect(validateFeedback(form({})).errors).toEqual({ correct: 'feedback.error.correct' });
  });

  it("maps yes / no / don't know to true / false / null", () => {
    expect(validateFeedback(form({ correct: 'yes' })).payload).toEqual({ diagnosis_correct: true });
    expect(validateFeedback(form({ correct: 'no' })).payload).toEqual({ diagnosis_correct: false });
    expect(validateFeedback(form({ correct: 'unknown' })).payload).toEqual({ diagnosis_correct: null });
  });

  it('builds the full body with typed values and leaves out what was not given', () => {
    const { payload, errors } = validateFeedback(
      form({
        correct: 'yes',
        trueLabel: 'suspect',
        age: ' 63 ',
        sex: 'female',
        eye: 'left',
        iop: '24,5',
        cdr: '0.7',
        familyHistory: 'no',
        camera: ' Topcon NW400 ',
        notes: '',
      }),
    );
    expect(errors).toEqual({});
    expect(payload).toEqual({
      diagnosis_correct: true,
      true_label: 'suspect',
      metadata: { age: 63, sex: 'female', eye: 'left', iop_mmhg: 24.5, cdr: 0.7, family_history: false, camera: 'Topcon NW400' },
    });
  });

  it('refuses values outside the contract ranges', () => {
    const { errors, payload } = validateFeedback(
      form({ correct: 'no', age: '121', iop: '80.5', cdr: '1.2', camera: 'c'.repeat(101), notes: 'n'.repeat(2001) }),
    );
    expect(errors).toEqual({
      age: 'feedback.error.age',
      iop: 'feedback.error.iop',
      cdr: 'feedback.error.cdr',
      camera: 'feedback.error.camera',
      notes: 'feedback.error.notes',
    });
    expect(payload.metadata).toBeUndefined();
  });

  it('refuses text and negative or fractional ages', () => {
    for (const age of ['abc', '-3', '63.5', '6 3']) {
      expect(validateFeedback(form({ correct: 'yes', age })).errors.age).toBe('feedback.error.age');
    }
    expect(validateFeedback(form({ correct: 'yes', cdr: '-0.1' })).errors.cdr).toBe('feedback.error.cdr');
  });

  it('accepts the range ends', () => {
    const { errors, payload } = validateFeedback(form({ correct: 'yes', age: '0', iop: '80', cdr: '1', notes: 'n'.repeat(2000) }));
    expect(errors).toEqual({});
    expect(payload.metadata).toMatchObject({ age: 0, iop_mmhg: 80, cdr: 1 });
  });

  it('sends a pseudonymous subject id and refuses one with spaces, other characters or over 64 characters', () => {
    const good = validateFeedback(form({ correct: 'yes', subjectId: ' hygd-17_a.b ' }));
    expect(good.errors).toEqual({});
    expect(good.payload.metadata).toEqual({ subject_id: 'hygd-17_a.b' });
    expect(validateFeedback(form({ correct: 'yes', subjectId: 'x'.repeat(64) })).errors).toEqual({});
    for (const subjectId of ['Jane Doe', 'p/17', 'ñandú', 'x'.repeat(65)]) {
      const { errors, payload } = validateFeedback(form({ correct: 'yes', subjectId }));
      expect(errors, subjectId).toEqual({ subjectId: 'feedback.error.subjectId' });
      expect(payload.metadata).toBeUndefined();
    }
    expect(feedbackToFormValues({ diagnosis_correct: true, metadata: { subject_id: 'P-017' } }).subjectId).toBe('P-017');
  });

  it('round-trips saved feedback into the form', () => {
    const saved = { diagnosis_correct: null, true_label: 'glaucoma' as const, metadata: { age: 63, family_history: true } };
    const values = feedbackToFormValues(saved);
    expect(values).toMatchObject({ correct: 'unknown', trueLabel: 'glaucoma', age: '63', familyHistory: 'yes' });
    expect(validateFeedback(values).payload).toEqual(saved);
  });
});
