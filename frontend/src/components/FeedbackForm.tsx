import { useRef, useState, type ChangeEvent, type FormEvent } from 'react';
import { useApi } from '../api/ApiContext';
import type { FeedbackPayload } from '../api/types';
import { useI18n } from '../i18n/I18nContext';
import type { MessageKey } from '../i18n/messages';
import {
  CAMERA_MAX_CHARS,
  NOTES_MAX_CHARS,
  feedbackToFormValues,
  validateFeedback,
  type FeedbackErrors,
  type FeedbackField,
  type FeedbackFormValues,
} from '../lib/feedback';

interface FeedbackFormProps {
  screeningId: string;
  existing?: FeedbackPayload;
}

type SaveState = { kind: 'idle' } | { kind: 'saving' } | { kind: 'saved' } | { kind: 'failed'; message: string };

const FIELD_ORDER: FeedbackField[] = ['correct', 'trueLabel', 'subjectId', 'age', 'sex', 'eye', 'iop', 'cdr', 'familyHistory', 'camera', 'notes'];
/** The element that takes focus for each field when it is wrong. */
const FIELD_FOCUS_ID: Record<FeedbackField, string> = {
  correct: 'fb-correct-yes',
  trueLabel: 'fb-true-label',
  subjectId: 'fb-subject-id',
  age: 'fb-age',
  sex: 'fb-sex',
  eye: 'fb-eye',
  iop: 'fb-iop',
  cdr: 'fb-cdr',
  familyHistory: 'fb-family-history',
  camera: 'fb-camera',
  notes: 'fb-notes',
};

export function FeedbackForm({ screeningId, existing }: FeedbackFormProps) {
  const { t } = useI18n();
  const api = useApi();
  const [values, setValues] = useState<FeedbackFormValues>(() => feedbackToFormValues(existing));
  const [errors, setErrors] = useState<FeedbackErrors>({});
  const [saveState, setSaveState] = useState<SaveState>({ kind: 'idle' });
  const formRef = useRef<HTMLFormElement>(null);

  function update<K extends FeedbackField>(field: K, value: FeedbackFormValues[K]) {
    setValues((previous) => ({ ...previous, [field]: value }));
    if (saveState.kind === 'saved') setSaveState({ kind: 'idle' });
  }
  const onText = (field: FeedbackField) => (event: ChangeEvent<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>) =>
    update(field, event.target.value as never);

  async function onSubmit(event: FormEvent) {
    event.preventDefault();
    const { payload, errors: found } = validateFeedback(values);
    setErrors(found);
    const firstWrong = FIELD_ORDER.find((field) => found[field]);
    if (firstWrong) {
      formRef.current?.querySelector<HTMLElement>(`#${FIELD_FOCUS_ID[firstWrong]}`)?.focus();
      return;
    }
    setSaveState({ kind: 'saving' });
    try {
      await api.putFeedback(screeningId, payload);
      setSaveState({ kind: 'saved' });
    } catch (error) {
      setSaveState({ kind: 'failed', message: error instanceof Error ? error.message : String(error) });
    }
  }

  const errorId = (field: FeedbackField) => `fb-${field}-error`;
  const describedBy = (field: FeedbackField, hintId?: string) =>
    [hintId, errors[field] ? errorId(field) : undefined].filter(Boolean).join(' ') || undefined;
  const errorText = (field: FeedbackField) => {
    const key = errors[field];
    return key ? (
      <p id={errorId(field)} className="error-text field-error">
        {t(key)}
      </p>
    ) : null;
  };
  const hasErrors = Object.keys(errors).length > 0;

  const correctOptions: { value: FeedbackFormValues['correct']; label: MessageKey }[] = [
    { value: 'yes', label: 'feedback.correct.yes' },
    { value: 'no', label: 'feedback.correct.no' },
    { value: 'unknown', label: 'feedback.correct.unknown' },
  ];

  return (
    <section className="step feedback" aria-labelledby="feedback-title" data-testid="feedback-form">
      <h2 id="feedback-title">{t('feedback.title')}</h2>
      <p>{t('feedback.intro')}</p>
      <form ref={formRef} onSubmit={onSubmit} noValidate>
        {hasErrors && (
          <p className="error-text" role="alert">
            {t('feedback.fixErrors')}
          </p>
        )}
        <fieldset className="field" aria-invalid={errors.correct ? true : undefined} aria-describedby={describedBy('correct')}>
          <legend>{t('feedback.correct')}</legend>
          <div className="radio-row">
            {correctOptions.map((option) => (
              <label key={option.value} className="radio">
                <input
                  type="radio"
                  name="fb-correct"
                  id={`fb-correct-${option.value}`}
                  value={option.value}
                  checked={values.correct === option.value}
                  onChange={() => update('correct', option.value)}
                />
                {t(option.label)}
              </label>
            ))}
          </div>
          {errorText('correct')}
        </fieldset>

        <div className="field">
          <label htmlFor="fb-true-label">{t('feedback.trueLabel')}</label>
          <select id="fb-true-label" value={values.trueLabel} onChange={onText('trueLabel')}>
            <option value="">{t('feedback.trueLabel.none')}</option>
            <option value="glaucoma">{t('feedback.trueLabel.glaucoma')}</option>
            <option value="normal">{t('feedback.trueLabel.normal')}</option>
            <option value="suspect">{t('feedback.trueLabel.suspect')}</option>
            <option value="unknown">{t('feedback.trueLabel.unknown')}</option>
          </select>
        </div>

        <fieldset className="clinical">
          <legend>{t('feedback.clinical')}</legend>
          <div className="field">
            <label htmlFor="fb-subject-id">{t('feedback.subjectId')}</label>
            <input
              id="fb-subject-id"
              type="text"
              autoComplete="off"
              spellCheck={false}
              value={values.subjectId}
              onChange={onText('subjectId')}
              aria-invalid={errors.subjectId ? true : undefined}
              aria-describedby={describedBy('subjectId', 'fb-subject-id-hint')}
            />
            <p id="fb-subject-id-hint" className="hint">
              {t('feedback.subjectIdHint')}
            </p>
            {errorText('subjectId')}
          </div>
          <div className="field-grid">
            <div className="field">
              <label htmlFor="fb-age">{t('feedback.age')}</label>
              <input
                id="fb-age"
                type="text"
                inputMode="numeric"
                autoComplete="off"
                value={values.age}
                onChange={onText('age')}
                aria-invalid={errors.age ? true : undefined}
                aria-describedby={describedBy('age')}
              />
              {errorText('age')}
            </div>
            <div className="field">
              <label htmlFor="fb-sex">{t('feedback.sex')}</label>
              <select id="fb-sex" value={values.sex} onChange={onText('sex')}>
                <option value="">{t('feedback.notGiven')}</option>
                <option value="female">{t('feedback.sex.female')}</option>
                <option value="male">{t('feedback.sex.male')}</option>
                <option value="other">{t('feedback.sex.other')}</option>
              </select>
            </div>
            <div className="field">
              <label htmlFor="fb-eye">{t('feedback.eye')}</label>
              <select id="fb-eye" value={values.eye} onChange={onText('eye')}>
                <option value="">{t('feedback.notGiven')}</option>
                <option value="left">{t('feedback.eye.left')}</option>
                <option value="right">{t('feedback.eye.right')}</option>
              </select>
            </div>
            <div className="field">
              <label htmlFor="fb-iop">{t('feedback.iop')}</label>
              <input
                id="fb-iop"
                type="text"
                inputMode="decimal"
                autoComplete="off"
                value={values.iop}
                onChange={onText('iop')}
                aria-invalid={errors.iop ? true : undefined}
                aria-describedby={describedBy('iop')}
              />
              {errorText('iop')}
            </div>
            <div className="field">
              <label htmlFor="fb-cdr">{t('feedback.cdr')}</label>
              <input
                id="fb-cdr"
                type="text"
                inputMode="decimal"
                autoComplete="off"
                value={values.cdr}
                onChange={onText('cdr')}
                aria-invalid={errors.cdr ? true : undefined}
                aria-describedby={describedBy('cdr')}
              />
              {errorText('cdr')}
            </div>
            <div className="field">
              <label htmlFor="fb-family-history">{t('feedback.familyHistory')}</label>
              <select id="fb-family-history" value={values.familyHistory} onChange={onText('familyHistory')}>
                <option value="">{t('feedback.notGiven')}</option>
                <option value="yes">{t('feedback.familyHistory.yes')}</option>
                <option value="no">{t('feedback.familyHistory.no')}</option>
              </select>
            </div>
          </div>
          <div className="field">
            <label htmlFor="fb-camera">{t('feedback.camera')}</label>
            <input
              id="fb-camera"
              type="text"
              autoComplete="off"
              value={values.camera}
              onChange={onText('camera')}
              aria-invalid={errors.camera ? true : undefined}
              aria-describedby={describedBy('camera', 'fb-camera-hint')}
            />
            <p id="fb-camera-hint" className="hint">
              {t('feedback.cameraHint')} {t('feedback.charsLeft', { count: CAMERA_MAX_CHARS - values.camera.trim().length })}
            </p>
            {errorText('camera')}
          </div>
          <div className="field">
            <label htmlFor="fb-notes">{t('feedback.notes')}</label>
            <textarea
              id="fb-notes"
              rows={4}
              value={values.notes}
              onChange={onText('notes')}
              aria-invalid={errors.notes ? true : undefined}
              aria-describedby={describedBy('notes', 'fb-notes-hint')}
            />
            <p id="fb-notes-hint" className="hint">
              {t('feedback.notesHint')} {t('feedback.charsLeft', { count: NOTES_MAX_CHARS - values.notes.trim().length })}
            </p>
            {errorText('notes')}
          </div>
        </fieldset>

        <div className="actions">
          <button type="submit" className="primary" disabled={saveState.kind === 'saving'} data-testid="feedback-submit">
            {saveState.kind === 'saving' ? t('feedback.saving') : t('feedback.submit')}
          </button>
        </div>
        <div role="status" className="status">
          {saveState.kind === 'saved' && (
            <p className="success-text" data-testid="feedback-saved">
              {t('feedback.saved')}
            </p>
          )}
        </div>
        {saveState.kind === 'failed' && (
          <p className="error-text" role="alert" data-testid="feedback-error">
            {saveState.message}
          </p>
        )}
      </form>
    </section>
  );
}
