import { describe, expect, it } from 'vitest';
import { centredCrop, clampCrop, displayedToNatural, downscaledSize, naturalToPercent } from './crop';

describe('displayedToNatural', () => {
  it('scales a box drawn on a smaller display up to the photo pixels', () => {
    // A 4000x3000 photo shown 800x600: every screen pixel is 5 photo pixels.
    const crop = displayedToNatural({ x: 100, y: 60, width: 120, height: 120 }, { width: 800, height: 600 }, { width: 4000, height: 3000 });
    expect(crop).toEqual({ x: 500, y: 300, size: 600 });
  });

  it('gives the same photo crop for the same box at two window sizes', () => {
    const natural = { width: 2124, height: 2056 };
    // The photo is shown unstretched, so the displayed height follows from the width.
    const shownAt = (width: number) => ({ width, height: (width * natural.height) / natural.width });
    // The same square (left 30%, top 40%, side 20% of the width) on a phone and on a desktop.
    const boxOn = (shown: { width: number; height: number }) => ({
      x: 0.3 * shown.width,
      y: 0.4 * shown.height,
      width: 0.2 * shown.width,
      height: 0.2 * shown.width,
    });
    const phone = shownAt(350);
    const desktop = shownAt(1062);
    const onPhone = displayedToNatural(boxOn(phone), phone, natural);
    const onDesktop = displayedToNatural(boxOn(desktop), desktop, natural);
    expect(onPhone).toEqual(onDesktop);
    expect(onDesktop).toEqual({ x: 637, y: 822, size: 425 });
  });

  it('upscales when the photo is shown larger than it is', () => {
    const crop = displayedToNatural({ x: 200, y: 100, width: 200, height: 200 }, { width: 1000, height: 500 }, { width: 500, height: 250 });
    expect(crop).toEqual({ x: 100, y: 50, size: 100 });
  });

  it('keeps the square inside the photo', () => {
    const crop = displayedToNatural({ x: 750, y: 550, width: 100, height: 100 }, { width: 800, height: 600 }, { width: 1600, height: 1200 });
    expect(crop.x + crop.size).toBeLessThanOrEqual(1600);
    expect(crop.y + crop.size).toBeLessThanOrEqual(1200);
    expect(crop.size).toBe(200);
  });

  it('refuses a photo that has not been laid out', () => {
    expect(() => displayedToNatural({ x: 0, y: 0, width: 1, height: 1 }, { width: 0, height: 0 }, { width: 10, height: 10 })).toThrow();
  });
});

describe('naturalToPercent', () => {
  it('places a locator crop in percent of a non-square photo', () => {
    expect(naturalToPercent({ x: 100, y: 50, size: 200 }, { width: 1000, height: 800 })).toEqual({
      unit: '%',
      x: 10,
      y: 6.25,
      width: 20,
      height: 25,
    });
  });

  it('round-trips through a display of any size', () => {
    const natural = { width: 3000, height: 2000 };
    const start = { x: 1800, y: 700, size: 640 };
    for (const displayedWidth of [320, 777, 1500]) {
      const displayed = { width: displayedWidth, height: (displayedWidth * 2) / 3 };
      const percent = naturalToPercent(start, natural);
      const box = {
        x: (percent.x / 100) * displayed.width,
        y: (percent.y / 100) * displayed.height,
        width: (percent.width / 100) * displayed.width,
        height: (percent.height / 100) * displayed.height,
      };
      expect(displayedToNatural(box, displayed, natural)).toEqual(start);
    }
  });
});

describe('helpers', () => {
  it('clamps a crop that sticks out of the photo', () => {
    expect(clampCrop({ x: -20, y: 900, size: 300 }, { width: 1000, height: 1000 })).toEqual({ x: 0, y: 700, size: 300 });
    expect(clampCrop({ x: 0, y: 0, size: 5000 }, { width: 1000, height: 600 })).toEqual({ x: 0, y: 0, size: 600 });
  });

  it('centres the fallback box', () => {
    expect(centredCrop({ width: 1000, height: 500 })).toEqual({ x: 400, y: 150, size: 200 });
  });

  it('downscales the long side to the limit and never upscales', () => {
    expect(downscaledSize({ width: 4096, height: 3072 }, 1024)).toEqual({ width: 1024, height: 768 });
    expect(downscaledSize({ width: 600, height: 400 }, 1024)).toEqual({ width: 600, height: 400 });
  });
});
