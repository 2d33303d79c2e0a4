import { downscaledSize } from './crop';

/**
 * A small JPEG copy of a loaded photo, as bare base64, for the disc locator: it needs the
 * shape of the fundus, not every pixel, and a 1024 px copy keeps the request small.
 */
export function downscaleToJpegBase64(image: HTMLImageElement, maxSide = 1024): string {
  const target = downscaledSize({ width: image.naturalWidth, height: image.naturalHeight }, maxSide);
  const canvas = document.createElement('canvas');
  canvas.width = target.width;
  canvas.height = target.height;
  const context = canvas.getContext('2d');
  if (!context) throw new Error('No 2D canvas in this browser');
  context.drawImage(image, 0, 0, target.width, target.height);
  const dataUrl = canvas.toDataURL('image/jpeg', 0.85);
  const comma = dataUrl.indexOf(',');
  if (comma < 0) throw new Error('The canvas gave no image');
  return dataUrl.slice(comma + 1);
}
