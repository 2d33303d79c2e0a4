import type { NaturalCrop } from '../api/types';

export interface Size {
  width: number;
  height: number;
}

/** A rectangle in on-screen (CSS) pixels, relative to the displayed photo's top-left corner. */
export interface DisplayedBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A rectangle in percent of the photo, the unit react-image-crop keeps across window resizes. */
export interface PercentBox {
  unit: '%';
  x: number;
  y: number;
  width: number;
  height: number;
}

const clamp = (value: number, low: number, high: number) => Math.min(Math.max(value, low), high);

/** Keeps a square inside the photo: side at least 1 px and at most the short side. */
export function clampCrop(crop: NaturalCrop, natural: Size): NaturalCrop {
  const size = Math.round(clamp(crop.size, 1, Math.min(natural.width, natural.height)));
  return {
    x: Math.round(clamp(crop.x, 0, natural.width - size)),
    y: Math.round(clamp(crop.y, 0, natural.height - size)),
    size,
  };
}

/**
 * Converts the box the person sees into the photo's own pixels. The API wants original
 * pixels whatever the screen size (the 2020 app sent screen pixels, which broke on resize).
 * A box squared on screen is square in the photo too, since the photo is shown unstretched;
 * the smaller side wins to absorb rounding.
 */
export function displayedToNatural(box: DisplayedBox, displayed: Size, natural: Size): NaturalCrop {
  if (displayed.width <= 0 || displayed.height <= 0) throw new Error('The photo has no displayed size yet');
  const scaleX = natural.width / displayed.width;
  const scaleY = natural.height / displayed.height;
  return clampCrop(
    { x: box.x * scaleX, y: box.y * scaleY, size: Math.min(box.width * scaleX, box.height * scaleY) },
    natural,
  );
}

/** The inverse, for placing a box that came in photo pixels (the disc locator's, a previous crop). */
export function naturalToPercent(crop: NaturalCrop, natural: Size): PercentBox {
  const inside = clampCrop(crop, natural);
  return {
    unit: '%',
    x: (inside.x / natural.width) * 100,
    y: (inside.y / natural.height) * 100,
    width: (inside.size / natural.width) * 100,
    height: (inside.size / natural.height) * 100,
  };
}

/** The fallback box when the locator is unavailable: centred, 40% of the short side. */
export function centredCrop(natural: Size, fraction = 0.4): NaturalCrop {
  const size = Math.max(1, Math.round(Math.min(natural.width, natural.height) * fraction));
  return {
    x: Math.round((natural.width - size) / 2),
    y: Math.round((natural.height - size) / 2),
    size,
  };
}

/** Size of a copy whose long side is at most maxSide, keeping the proportions. */
export function downscaledSize(natural: Size, maxSide: number): Size {
  const scale = Math.min(1, maxSide / Math.max(natural.width, natural.height));
  return {
    width: Math.max(1, Math.round(natural.width * scale)),
    height: Math.max(1, Math.round(natural.height * scale)),
  };
}
