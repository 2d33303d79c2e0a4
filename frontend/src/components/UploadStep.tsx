import { useState } from 'react';
import { useDropzone, type FileRejection } from 'react-dropzone';
import { useI18n } from '../i18n/I18nContext';
import type { MessageKey } from '../i18n/messages';
import { ACCEPTED_TYPES, checkFile } from '../lib/fileChecks';
import { ROUTE_HREF } from '../lib/hashRoute';

interface UploadStepProps {
  onFileAccepted: (file: File) => void;
}

/** The drop zone. Files are checked here, in the page, so a wrong one never leaves the device. */
export function UploadStep({ onFileAccepted }: UploadStepProps) {
  const { t } = useI18n();
  const [problem, setProblem] = useState<MessageKey | null>(null);

  function onDrop(accepted: File[], rejected: FileRejection[]) {
    if (accepted.length + rejected.length > 1) {
      setProblem('upload.error.too_many');
      return;
    }
    // Our own check decides for both lists, so the sentence is ours and the rules are one.
    const file = accepted[0] ?? rejected[0]?.file;
    if (!file) return;
    const fileProblem = checkFile(file);
    if (fileProblem) {
      setProblem(`upload.error.${fileProblem}`);
      return;
    }
    setProblem(null);
    onFileAccepted(file);
  }

  // The zone takes drops; a real button opens the picker (a clickable div with a button
  // inside would be two nested controls for screen readers).
  const { getRootProps, getInputProps, isDragActive, open } = useDropzone({
    onDrop,
    accept: ACCEPTED_TYPES,
    multiple: false,
    noClick: true,
    noKeyboard: true,
  });

  return (
    <section className="step" aria-labelledby="upload-title" data-testid="upload-step">
      <h2 id="upload-title" tabIndex={-1}>
        {t('upload.title')}
      </h2>
      <div {...getRootProps({ className: 'dropzone' + (isDragActive ? ' dropzone-active' : '') })} data-testid="dropzone">
        <input {...getInputProps({ 'aria-label': t('upload.choose') })} data-testid="file-input" />
        <svg className="dropzone-icon" viewBox="0 0 48 48" aria-hidden="true" focusable="false">
          <circle cx="24" cy="24" r="20" fill="#f3e3d6" stroke="#8a3a17" strokeWidth="2" />
          <circle cx="30" cy="21" r="6" fill="#ffd9a0" stroke="#8a3a17" strokeWidth="1.5" />
          <path d="M24 34V16m0 0-6 6m6-6 6 6" stroke="#1d2733" strokeWidth="2.5" fill="none" strokeLinecap="round" />
        </svg>
        <p className="dropzone-text">{isDragActive ? t('upload.dropActive') : t('upload.dropHint')}</p>
        <button
          type="button"
          className="primary"
          onClick={open}
          aria-describedby={problem ? 'upload-rules upload-problem' : 'upload-rules'}
          data-testid="choose-file"
        >
          {t('upload.choose')}
        </button>
        <p id="upload-rules" className="hint">
          {t('upload.rules')}
        </p>
      </div>
      {problem && (
        <p id="upload-problem" className="error-text" role="alert" data-testid="upload-error">
          {t(problem)}
        </p>
      )}
      <p>
        <a href={ROUTE_HREF.guide}>{t('upload.guideLink')}</a>
      </p>
    </section>
  );
}
