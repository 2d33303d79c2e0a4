import { useEffect, useRef, useState, type SyntheticEvent } from 'react';
import ReactCrop, { type PercentCrop, type PixelCrop } from 'react-image-crop';
import 'react-image-crop/dist/ReactCrop.css';
import { useApi } from '../api/ApiContext';
import type { NaturalCrop } from '../api/types';
import { useI18n } from '../i18n/I18nContext';
import { centredCrop, clampCrop, displayedToNatural, naturalToPercent, type PercentBox, type Size } from '../lib/crop';
import { downscaleToJpegBase64 } from '../lib/downscale';

type CropOrigin = 'locator' | 'centre' | 'previous';

interface CropStepProps {
  photoUrl: string;
  /** Start here instead of asking the locator (rerun: the crop of the last result). */
  initialCrop: NaturalCrop | null;
  /** "Let Papila find the disc" is offered for a new screening, not for a rerun (which needs a crop). */
  allowAuto: boolean;
  onSubmit: (crop: NaturalCrop | null) => void;
  onBack: () => void;
  /** Told when the browser cannot show the photo, so no crop can be placed on it. */
  onUnviewable?: () => void;
}

const LOCATE_TIMEOUT_MS = 10_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

export function CropStep({ photoUrl, initialCrop, allowAuto, onSubmit, onBack, onUnviewable }: CropStepProps) {
  const { t } = useI18n();
  const api = useApi();
  const imageRef = useRef<HTMLImageElement>(null);
  const [natural, setNatural] = useState<Size | null>(null);
  const [unviewable, setUnviewable] = useState(false);
  // The box is kept twice: in percent for drawing (it survives window resizes) and in the
  // photo's own pixels, the coordinates the API gets.
  const [percentCrop, setPercentCrop] = useState<PercentBox | undefined>(undefined);
  const [naturalCrop, setNaturalCrop] = useState<NaturalCrop | null>(null);
  const [origin, setOrigin] = useState<CropOrigin | null>(null);
  const mounted = useRef(true);

  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  function placeBox(crop: NaturalCrop, size: Size, from: CropOrigin) {
    const inside = clampCrop(crop, size);
    setNaturalCrop(inside);
    setPercentCrop(naturalToPercent(inside, size));
    setOrigin(from);
  }

  async function onImageLoad(event: SyntheticEvent<HTMLImageElement>) {
    const image = event.currentTarget;
    const size = { width: image.naturalWidth, height: image.naturalHeight };
    setNatural(size);
    if (initialCrop) {
      placeBox(initialCrop, size, 'previous');
      return;
    }
    try {
      const base64 = downscaleToJpegBase64(image);
      const located = await withTimeout(api.locateDisc(base64, size.width, size.height), LOCATE_TIMEOUT_MS);
      if (mounted.current) placeBox(located.crop, size, 'locator');
    } catch {
      // No locator (404), a failure or a timeout: a centred box the person moves.
      if (mounted.current) placeBox(centredCrop(size), size, 'centre');
    }
  }

  function onCropChange(pixelCrop: PixelCrop, percent: PercentCrop) {
    const image = imageRef.current;
    if (!image || !natural) return;
    const shown = image.getBoundingClientRect();
    if (shown.width <= 0 || shown.height <= 0) return;
    setPercentCrop({ ...percent, unit: '%' });
    setNaturalCrop(displayedToNatural(pixelCrop, { width: shown.width, height: shown.height }, natural));
  }

  const ready = natural !== null && naturalCrop !== null;
  const status =
    origin === 'locator'
      ? t('crop.fromLocator')
      : origin === 'centre'
        ? t('crop.fromCentre')
        : origin === 'previous'
          ? t('crop.fromPrevious')
          : natural
            ? t('crop.locating')
            : t('crop.loadingPhoto');

  return (
    <section
      className="step"
      aria-labelledby="crop-title"
      data-testid="crop-step"
      data-crop-origin={origin ?? ''}
      data-crop-x={naturalCrop?.x}
      data-crop-y={naturalCrop?.y}
      data-crop-size={naturalCrop?.size}
    >
      <h2 id="crop-title" tabIndex={-1}>
        {t('crop.title')}
      </h2>
      {unviewable ? (
        <p className="notice" role="alert">
          {t('crop.unviewable')}
        </p>
      ) : (
        <>
          <p id="crop-help">{t('crop.help')}</p>
          <p className="hint">{t('crop.keyboardHelp')}</p>
          <p className="status" role="status" data-testid="crop-status">
            {status}
          </p>
          <div className="crop-frame">
            <ReactCrop
              crop={ready ? percentCrop : undefined}
              onChange={onCropChange}
              aspect={1}
              keepSelection
              minWidth={24}
              ariaLabels={{
                cropArea: t('crop.aria.selection'),
                nwDragHandle: t('crop.aria.nw'),
                nDragHandle: t('crop.aria.n'),
                neDragHandle: t('crop.aria.ne'),
                eDragHandle: t('crop.aria.e'),
                seDragHandle: t('crop.aria.se'),
                sDragHandle: t('crop.aria.s'),
                swDragHandle: t('crop.aria.sw'),
                wDragHandle: t('crop.aria.w'),
              }}
              disabled={!ready}
            >
              <img
                ref={imageRef}
                src={photoUrl}
                alt={t('crop.imageAlt')}
                onLoad={onImageLoad}
                onError={() => {
                  setUnviewable(true);
                  onUnviewable?.();
                }}
                className="crop-image"
                data-testid="crop-image"
              />
            </ReactCrop>
          </div>
          {ready && natural && naturalCrop && (
            <p className="hint" data-testid="crop-coordinates">
              {t('crop.coordinates', { ...naturalCrop, width: natural.width, height: natural.height })}
            </p>
          )}
        </>
      )}
      <div className="actions">
        {!unviewable && (
          <button
            type="button"
            className="primary"
            disabled={!ready}
            onClick={() => naturalCrop && onSubmit(naturalCrop)}
            data-testid="submit-crop"
          >
            {allowAuto ? t('crop.submit') : t('crop.submitRerun')}
          </button>
        )}
        {allowAuto && (
          <button
            type="button"
            className={unviewable ? 'primary' : undefined}
            onClick={() => onSubmit(null)}
            data-testid="submit-auto"
          >
            {t('crop.auto')}
          </button>
        )}
        <button type="button" className="link-button" onClick={onBack} data-testid="crop-back">
          {allowAuto ? t('crop.back') : t('crop.cancelRerun')}
        </button>
      </div>
    </section>
  );
}
