"""Optic-disc locator: classical image processing, no model, ~20-60 ms.

Inside the camera's circular field of view the disc is (a) the brightest compact region and (b) where
the large vessels converge. Both cues are computed on a ~512 px copy, blurred at the scale of a disc,
normalised and added; the peak is the disc centre. The proposed square is ~2.4 expected disc
diameters a side (the disc is ~1/6.5 of the field's diameter), which keeps the whole disc inside
even when the centre is off by half a radius.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from papila.core.imaging import Crop, ImageError, downscale, rank_filter

WORK_SIZE = 512
DISC_PER_FIELD = 1 / 6.5  # disc diameter / field-of-view diameter, typical for 30-50 degree cameras
CROP_PER_DISC = 2.4


@dataclass(frozen=True)
class LocateResult:
    crop: Crop
    confidence: float  # 0..1: how clearly the peak stands out
    center: tuple[float, float]  # original pixels
    disc_diameter: float  # expected, original pixels


def _blur(a: np.ndarray, radius: float) -> np.ndarray:
    lo, hi = float(a.min()), float(a.max())
    scaled = (a - lo) / (hi - lo + 1e-9) * 255.0
    im = Image.fromarray(scaled.astype(np.uint8)).filter(ImageFilter.GaussianBlur(float(radius)))
    return np.asarray(im, np.float32) / 255.0 * (hi - lo) + lo


def field_of_view(rgb: np.ndarray) -> np.ndarray:
    """Boolean mask of the camera's illuminated field (the dark surround excluded)."""
    red = rgb[..., 0].astype(np.float32)
    level = max(18.0, 0.12 * float(np.percentile(red, 99)))
    mask = red > level
    # Fill small holes / remove specks at the field's scale: a 5 x 5 median of the mask, edges replicated
    # (as Pillow's MedianFilter(5) of the 0/255 mask: set where at least 13 of the 25 are), by box sums.
    return _box_count(mask, 5) >= 13


def _box_count(mask: np.ndarray, size: int) -> np.ndarray:
    """How many pixels of each size x size window are set (edges replicated), from running sums."""
    r = size // 2
    a = np.pad(mask, r, mode="edge").astype(np.int32)
    c = np.cumsum(a, axis=0)
    a = c[size - 1:].copy()
    a[1:] -= c[:-size]
    c = np.cumsum(a, axis=1)
    a = c[:, size - 1:].copy()
    a[:, 1:] -= c[:, :-size]
    return a


def _normalise(a: np.ndarray, mask: np.ndarray) -> np.ndarray:
    vals = a[mask]
    if vals.size == 0:
        return np.zeros_like(a)
    lo, hi = np.percentile(vals, 50), np.percentile(vals, 99.9)
    return np.clip((a - lo) / (hi - lo + 1e-6), 0, None) * mask


def locate(image: Image.Image) -> LocateResult:
    """The single most likely disc position (the first of `candidates`); none at all on a flat picture."""
    found = candidates(image, 1)
    if not found:
        raise ImageError("disc_not_found", "No optic disc was found in the photo; draw a square around the disc by hand.")
    return found[0]


def candidates(image: Image.Image, count: int = 10) -> list[LocateResult]:
    """Up to `count` disc positions, best first, at least 1.2 expected disc diameters apart. The best peak
    is wrong on some real photos (a bright rim reflection, a white lesion beside the disc), so the
    pipeline verifies each square with the disc/cup segmenter and keeps the first that holds a disc."""
    small, scale = downscale(image if image.mode == "RGB" else image.convert("RGB"), WORK_SIZE)
    rgb = np.asarray(small, np.float32)
    fov = field_of_view(rgb)
    h, w = fov.shape
    if fov.mean() < 0.05:
        fov = np.ones_like(fov)
    # Field diameter from its area (robust to fields cut by the frame's top and bottom).
    ys, xs = np.nonzero(fov)
    field_d = max(float(xs.max() - xs.min()), float(ys.max() - ys.min()), 2.0 * float(np.sqrt(fov.sum() / np.pi)))
    disc_d = max(8.0, field_d * DISC_PER_FIELD)

    # Erode the field so its bright rim does not win.
    inner = _blur(fov.astype(np.float32), max(1.0, disc_d * 0.15)) > 0.97
    if inner.sum() < 0.2 * fov.sum():
        inner = fov

    green = rgb[..., 1]
    luminance = 0.3 * rgb[..., 0] + 0.6 * green + 0.1 * rgb[..., 2]
    brightness = _normalise(_blur(luminance, disc_d / 4), inner)

    # Vessels: dark thin lines = closing(green) - green (a black top-hat at vessel width).
    k = 2 * max(1, int(disc_d / 10)) + 1
    closed = rank_filter(rank_filter(green, k, dilate=True), k, dilate=False)
    vessels = np.clip(closed - green, 0, None) * inner
    density = _normalise(_blur(vessels, disc_d / 2), inner)

    score = brightness + 0.5 * density
    score = _blur(score, disc_d / 6) * inner
    # Confidence: peak height over the field's typical score, squashed to 0..1.
    typical = float(np.percentile(score[inner], 90)) if inner.any() else 0.0
    # A second cue for the candidates: a compact bright blob the size of a disc (a difference of
    # Gaussians), inside a field eroded by half a disc. Glare along the field's rim and a bright corner
    # are broad, so they win the first score on some photos but not this one.
    deep = _blur(fov.astype(np.float32), disc_d * 0.5) > 0.97
    if deep.sum() < 0.2 * fov.sum():
        deep = inner
    blob = np.clip(_blur(luminance, disc_d / 5) - _blur(luminance, disc_d), 0, None)
    blob = _normalise(blob, deep) + 0.5 * density * deep
    side = disc_d * CROP_PER_DISC * scale
    reach = int(np.ceil(1.2 * disc_d)) + 1  # the suppression's disc fits a window of this half-side
    found: list[LocateResult] = []
    maps = [score.copy(), _blur(blob, disc_d / 6) * deep]
    for k in range(2 * count):
        remaining = maps[k % 2]  # the two cues take turns, the first score first
        cy, cx = np.unravel_index(int(np.argmax(remaining)), remaining.shape)
        peak = float(remaining[cy, cx])
        if len(found) >= count or peak <= 0:
            break
        confidence = float(np.clip((peak - typical) / (peak + 1e-6) * 2.0, 0.0, 1.0)) if k % 2 == 0 else 0.0
        centre = (float(cx + 0.5) * scale, float(cy + 0.5) * scale)
        crop = Crop(round(centre[0] - side / 2), round(centre[1] - side / 2), round(side))
        # non-maximum suppression, in both maps (only the window around the peak can be near it)
        y0, y1, x0, x1 = max(0, cy - reach), min(h, cy + reach + 1), max(0, cx - reach), min(w, cx + reach + 1)
        yy, xx = np.ogrid[y0:y1, x0:x1]
        near = (yy - cy) ** 2 + (xx - cx) ** 2 < (1.2 * disc_d) ** 2
        for m in maps:
            m[y0:y1, x0:x1][near] = 0.0
        found.append(LocateResult(crop=crop, confidence=round(confidence, 3), center=centre,
                                  disc_diameter=disc_d * scale))
    return found


def field_grids(image: Image.Image, disc_diameter: float, shapes: list[tuple[float, float]]) -> list[list[Crop]]:
    """For each (step, side): squares of `side` disc diameters, every `step` disc diameters, centred inside
    the camera's field (its rim included: a disc near the edge is what the candidates miss), row by row.
    The field is found once for all of them."""
    small, scale = downscale(image if image.mode == "RGB" else image.convert("RGB"), WORK_SIZE)
    fov = field_of_view(np.asarray(small, np.float32))
    h, w = fov.shape
    grids = []
    for step, side in shapes:
        pitch, size = step * disc_diameter, side * disc_diameter
        grids.append([Crop(round(cx - size / 2), round(cy - size / 2), round(size))
                      for cy in np.arange(pitch / 2, image.height, pitch)
                      for cx in np.arange(pitch / 2, image.width, pitch)
                      if fov[min(h - 1, int(cy / scale)), min(w - 1, int(cx / scale))]])
    return grids
