import { useCallback, useEffect, useRef, useState } from 'react';
import { useApi } from '../api/ApiContext';
import type { NaturalCrop, Screening } from '../api/types';
import { CropStep } from '../components/CropStep';
import { ErrorView } from '../components/ErrorView';
import { FeedbackForm } from '../components/FeedbackForm';
import { ProgressView, type WorkStage } from '../components/ProgressView';
import { ResultView } from '../components/ResultView';
import { UploadStep } from '../components/UploadStep';
import { useI18n } from '../i18n/I18nContext';
import { contentTypeFor } from '../lib/fileChecks';
import { isAbortError, isTerminal, pollUntilTerminal } from '../lib/poller';

export type ConsentState = 'pending' | 'accepted' | 'declined';

type Phase =
  | { kind: 'choose' }
  | { kind: 'crop'; rerun: boolean }
  | { kind: 'working'; stage: WorkStage; uploadFraction: number }
  | { kind: 'result'; screening: Screening }
  | { kind: 'error'; message: string; errorKind: 'rejected' | 'failed'; code?: string };

interface Photo {
  file: File;
  /** An object URL of the file, shown in the crop step. */
  url: string;
  /** False once the browser failed to show it (TIFF in most browsers): no crop can be placed. */
  viewable: boolean;
}

interface ScreenPageProps {
  consent: ConsentState;
  onReviewConsent: () => void;
}

const FALLBACK_FAILURE = 'The photo could not be screened. Please try again.';

function errorMessage(error: unknown): string {
  return error instanceof Error && error.message ? error.message : FALLBACK_FAILURE;
}

/** The screening flow: choose → crop → upload and wait → result (+ feedback), or an error. */
export function ScreenPage({ consent, onReviewConsent }: ScreenPageProps) {
  const { t } = useI18n();
  const api = useApi();
  const [phase, setPhase] = useState<Phase>({ kind: 'choose' });
  const [photo, setPhoto] = useState<Photo | null>(null);
  const [screeningId, setScreeningId] = useState<string | null>(null);
  const [lastResult, setLastResult] = useState<Screening | null>(null);
  const pollController = useRef<AbortController | null>(null);
  const pageRef = useRef<HTMLDivElement>(null);

  // One flow at a time: starting another stops the polling of the previous one.
  const freshSignal = useCallback((): AbortSignal => {
    pollController.current?.abort();
    pollController.current = new AbortController();
    return pollController.current.signal;
  }, []);

  useEffect(() => () => pollController.current?.abort(), []);
  const photoUrl = photo?.url;
  useEffect(
    () => () => {
      if (photoUrl) URL.revokeObjectURL(photoUrl);
    },
    [photoUrl],
  );

  // Each step's heading takes focus, so screen-reader and keyboard users land on the new step.
  const focusedPhase = useRef(phase.kind);
  useEffect(() => {
    if (focusedPhase.current === phase.kind) return;
    focusedPhase.current = phase.kind;
    pageRef.current?.querySelector<HTMLElement>('h2')?.focus();
  }, [phase.kind]);

  function reset() {
    pollController.current?.abort();
    setPhoto(null);
    setScreeningId(null);
    setLastResult(null);
    setPhase({ kind: 'choose' });
  }

  function onFileAccepted(file: File) {
    setPhoto({ file, url: URL.createObjectURL(file), viewable: true });
    setScreeningId(null);
    setLastResult(null);
    setPhase({ kind: 'crop', rerun: false });
  }

  async function followUntilDone(id: string, signal: AbortSignal) {
    const final = await pollUntilTerminal({
      load: () => api.getScreening(id),
      signal,
      onUpdate: (screening) => {
        if (!isTerminal(screening.status)) {
          setPhase({ kind: 'working', stage: screening.status as WorkStage, uploadFraction: 1 });
        }
      },
    });
    if (final.status === 'done') {
      setLastResult(final);
      setPhase({ kind: 'result', screening: final });
    } else {
      setPhase({
        kind: 'error',
        message: final.error?.message ?? FALLBACK_FAILURE,
        code: final.error?.code,
        errorKind: final.status === 'rejected' ? 'rejected' : 'failed',
      });
    }
  }

  async function runFlow(signal: AbortSignal, steps: () => Promise<void>) {
    try {
      await steps();
    } catch (error) {
      if (isAbortError(error) || signal.aborted) return;
      setPhase({ kind: 'error', message: errorMessage(error), errorKind: 'failed' });
    }
  }

  function startScreening(crop: NaturalCrop | null) {
    if (!photo) return;
    const signal = freshSignal();
    const { file } = photo;
    setPhase({ kind: 'working', stage: 'starting', uploadFraction: 0 });
    void runFlow(signal, async () => {
      const created = await api.createScreening({
        filename: file.name,
        content_type: contentTypeFor(file.name) ?? file.type,
        size: file.size,
        consent: true,
        ...(crop ? { crop } : {}),
      });
      if (signal.aborted) return;
      setScreeningId(created.id);
      if (created.upload) {
        setPhase({ kind: 'working', stage: 'uploading', uploadFraction: 0 });
        await api.uploadToPresignedPost(created.upload, file, (fraction) => {
          if (!signal.aborted) setPhase({ kind: 'working', stage: 'uploading', uploadFraction: fraction });
        });
      }
      await followUntilDone(created.id, signal);
    });
  }

  function rerunWithCrop(crop: NaturalCrop) {
    if (!screeningId) return;
    const id = screeningId;
    const signal = freshSignal();
    setPhase({ kind: 'working', stage: 'queued', uploadFraction: 1 });
    void runFlow(signal, async () => {
      await api.rerunScreening(id, crop);
      await followUntilDone(id, signal);
    });
  }

  if (consent !== 'accepted') {
    return (
      <div className="screen-page" ref={pageRef}>
        <h1 tabIndex={-1}>{t('nav.screen')}</h1>
        {consent === 'declined' && (
          <section className="notice" aria-labelledby="declined-title" data-testid="consent-declined">
            <h2 id="declined-title">{t('consent.declinedTitle')}</h2>
            <p>{t('consent.declinedText')}</p>
            <button type="button" className="primary" onClick={onReviewConsent}>
              {t('consent.review')}
            </button>
          </section>
        )}
      </div>
    );
  }

  return (
    <div className="screen-page" ref={pageRef} data-screening-id={screeningId ?? undefined} data-phase={phase.kind}>
      <h1 tabIndex={-1}>{t('nav.screen')}</h1>
      {phase.kind === 'choose' && <UploadStep onFileAccepted={onFileAccepted} />}
      {phase.kind === 'crop' && photo && (
        <CropStep
          key={photo.url + String(phase.rerun)}
          photoUrl={photo.url}
          initialCrop={phase.rerun ? (lastResult?.result?.crop ?? null) : null}
          allowAuto={!phase.rerun}
          onSubmit={(crop) => (phase.rerun ? crop && rerunWithCrop(crop) : startScreening(crop))}
          onBack={() => (phase.rerun && lastResult ? setPhase({ kind: 'result', screening: lastResult }) : reset())}
          onUnviewable={() => setPhoto((current) => (current ? { ...current, viewable: false } : current))}
        />
      )}
      {phase.kind === 'working' && <ProgressView stage={phase.stage} uploadFraction={phase.uploadFraction} />}
      {phase.kind === 'error' && <ErrorView message={phase.message} code={phase.code} kind={phase.errorKind} onTryAgain={reset} />}
      {phase.kind === 'result' && (
        <>
          <ResultView
            screening={phase.screening}
            onRerun={photo?.viewable ? () => setPhase({ kind: 'crop', rerun: true }) : undefined}
            onNewScreening={reset}
          />
          <FeedbackForm key={phase.screening.id} screeningId={phase.screening.id} existing={phase.screening.feedback} />
        </>
      )}
    </div>
  );
}
