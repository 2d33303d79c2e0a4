import { useEffect, useRef, type KeyboardEvent } from 'react';
import { wrapTabFocus } from '../lib/focusTrap';

interface ConfirmDialogProps {
  title: string;
  text: string;
  confirmLabel: string;
  cancelLabel: string;
  busy?: boolean;
  busyLabel?: string;
  error?: string | null;
  onConfirm: () => void;
  onCancel: () => void;
  testId?: string;
}

/**
 * A modal confirmation (role alertdialog): focus starts on Cancel, the safe answer; Tab stays
 * between its buttons; Escape cancels. The caller puts focus back where it was when it closes.
 */
export function ConfirmDialog({ title, text, confirmLabel, cancelLabel, busy, busyLabel, error, onConfirm, onCancel, testId }: ConfirmDialogProps) {
  const dialogRef = useRef<HTMLDivElement>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    cancelRef.current?.focus();
  }, []);

  function onKeyDown(event: KeyboardEvent<HTMLDivElement>) {
    if (event.key === 'Escape') {
      event.preventDefault();
      if (!busy) onCancel();
      return;
    }
    wrapTabFocus(event, dialogRef.current, 'button:not([disabled])');
  }

  return (
    <div className="modal-backdrop">
      <div
        ref={dialogRef}
        className="modal"
        role="alertdialog"
        aria-modal="true"
        aria-labelledby="confirm-title"
        aria-describedby="confirm-text"
        onKeyDown={onKeyDown}
        data-testid={testId}
      >
        <h2 id="confirm-title">{title}</h2>
        <p id="confirm-text">{text}</p>
        {error && (
          <p className="error-text" role="alert">
            {error}
          </p>
        )}
        <div className="actions">
          <button type="button" className="danger" onClick={onConfirm} disabled={busy} aria-busy={busy} data-testid="confirm-yes">
            {busy && busyLabel ? busyLabel : confirmLabel}
          </button>
          <button type="button" ref={cancelRef} onClick={onCancel} disabled={busy} data-testid="confirm-no">
            {cancelLabel}
          </button>
        </div>
      </div>
    </div>
  );
}
