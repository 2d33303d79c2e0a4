"""Disc verification and the one anatomical scale (no AWS, no TensorFlow).

A square is graded only when the disc/cup segmenter finds one optic disc of plausible size and shape
inside it. The found disc then fixes what every model sees: a square of SIDE_PER_DISC disc heights
centred on the disc, whatever the camera, the photo's resolution or the user's square. RIM-ONE DL's
crops, the training set, have the disc at 0.76 of the side (median height, 311 expert masks), so a
Topcon photo's disc and a RIM-ONE crop look alike to the networks.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image

from papila.core.imaging import Crop, square_crop

SIDE_PER_DISC = 1.3  # normalised crop side / disc height (RIM-ONE DL: 1 / 0.76)
# Plausible disc in a verified square (segmenter pixels over the square's side): the locator's squares
# hold the disc at ~0.3-0.5 of the side, the refined and normalised ones at ~0.5-0.8.
MIN_HEIGHT, MAX_HEIGHT = 0.08, 0.92
MIN_FILL = 0.6  # component area over its bounding ellipse: a disc is round, a reflection or lesion is not
MAX_ASPECT = 1.7
MIN_CONFIDENCE = 0.75  # mean disc probability inside the component


class Segmenter(Protocol):
    input_size: int

    def segment(self, crop: np.ndarray) -> np.ndarray:
        """S x S x 3 float 0..255 (S = input_size) -> S x S x 2 probabilities (disc, cup)."""
        ...


@dataclass(frozen=True)
class Disc:
    """A verified disc in original pixels."""

    cx: float
    cy: float
    height: float
    width: float
    confidence: float
    cup: float = 0.0
    contrast: float = 0.0  # disc luminance over the ring around it

    def as_dict(self) -> dict[str, float]:
        return {"x": round(self.cx, 1), "y": round(self.cy, 1), "height": round(self.height, 1),
                "width": round(self.width, 1), "confidence": round(self.confidence, 3)}


@dataclass(frozen=True)
class Shape:
    """The disc component in segmenter pixels."""

    cx: float
    cy: float
    height: float
    width: float
    confidence: float
    cup: float  # share of the disc the segmenter calls cup: a real disc has one, a bright patch seldom


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 4-connected component of a boolean mask (a breadth-first fill; masks are ~96 px)."""
    labels = np.zeros(mask.shape, np.int32)
    best, best_size, current = 0, 0, 0
    h, w = mask.shape
    for y0, x0 in zip(*np.nonzero(mask), strict=True):
        if labels[y0, x0]:
            continue
        current += 1
        labels[y0, x0] = current
        queue, size = deque([(y0, x0)]), 0
        while queue:
            y, x = queue.popleft()
            size += 1
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not labels[ny, nx]:
                    labels[ny, nx] = current
                    queue.append((ny, nx))
        if size > best_size:
            best, best_size = current, size
    return labels == best if best else np.zeros(mask.shape, bool)


def measure(masks: np.ndarray) -> Shape | None:
    """The one disc in S x S x 2 segmenter probabilities, or None when there is no plausible disc: too
    small or too large, cut by the square's border, not round, or segmented without confidence."""
    size = masks.shape[0]
    disc = largest_component(masks[..., 0] > 0.5)
    if not disc.any():
        return None
    ys, xs = np.nonzero(disc)
    height, width = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    if not MIN_HEIGHT <= height / size <= MAX_HEIGHT or max(height / width, width / height) > MAX_ASPECT:
        return None
    if ys.min() == 0 or xs.min() == 0 or ys.max() == size - 1 or xs.max() == size - 1:
        return None  # cut by the border: not wholly inside (the caller looks again in a wider square)
    fill = disc.sum() / (np.pi / 4 * height * width)
    confidence = float(masks[..., 0][disc].mean())
    if fill < MIN_FILL or confidence < MIN_CONFIDENCE:
        return None
    cup = float(((masks[..., 1] > 0.5) & disc).sum() / disc.sum())
    return Shape(float(xs.mean()) + 0.5, float(ys.mean()) + 0.5, float(height), float(width), confidence, cup)


MIN_CONTRAST = 1.08  # disc luminance over the ring around it (RIM-ONE DL experts' masks: ~1.3)


def segment_square(image: Image.Image, crop: Crop, segmenter: Segmenter) -> tuple[np.ndarray, np.ndarray]:
    """The square at the segmenter's size (RGB float) and its disc/cup probabilities."""
    n = segmenter.input_size
    small = np.asarray(square_crop(image, crop).resize((n, n), Image.Resampling.BILINEAR), np.float32)
    return small, segmenter.segment(small)


def contrast(rgb: np.ndarray, shape: Shape) -> float:
    """Mean luminance inside the disc over a ring from 1.1 to 1.6 disc radii (black padding excluded):
    the disc is the palest part of its neighbourhood; a patch of plain retina is not."""
    yy, xx = np.mgrid[0:rgb.shape[0], 0:rgb.shape[1]] + 0.5
    r = np.hypot((xx - shape.cx) / (shape.width / 2), (yy - shape.cy) / (shape.height / 2))
    lum = rgb @ np.array([0.3, 0.6, 0.1], np.float32)
    inside, ring = r <= 0.8, (r >= 1.1) & (r <= 1.6) & (lum > 10)
    if not inside.any() or not ring.any():
        return 0.0
    return float(lum[inside].mean() / max(float(lum[ring].mean()), 1.0))


def find_in_square(image: Image.Image, crop: Crop, segmenter: Segmenter) -> Disc | None:
    """The disc inside `crop` (original pixels), verified by the segmenter and paler than its
    surround, or None."""
    rgb, masks = segment_square(image, crop, segmenter)
    shape = measure(masks)
    paler = contrast(rgb, shape) if shape else 0.0
    if shape is None or paler < MIN_CONTRAST:
        return None
    scale = crop.size / segmenter.input_size
    return Disc(crop.x + shape.cx * scale, crop.y + shape.cy * scale, shape.height * scale, shape.width * scale,
                shape.confidence, shape.cup, paler)


def around(cx: float, cy: float, side: float) -> Crop:
    return Crop(round(cx - side / 2), round(cy - side / 2), max(8, round(side)))


def verified_disc(image: Image.Image, squares: list[Crop], segmenter: Segmenter,
                  expected: float | None = None, recheck: bool = True) -> Disc | None:
    """The first square (in the locator's order) that holds a verified disc, re-measured in a square of 2
    disc heights centred on it (where the segmenter measures best). `expected`: the disc diameter the
    field of view implies (full photos): a disc measured far from it is a bright patch or a disc swollen
    by the atrophy around it, so the re-measuring square is sized from it, and an implausible size is
    no disc. (Choosing the most confident of all verified candidates instead put the square on bright
    patches more often on HYGD's contact sheets.) `recheck`: the disc must also be found again in the
    centred square (the locator's candidates); a user's square is trusted to hold the disc, so its
    first measure stands when the centred square, padded black beyond a tight crop, shows none."""
    for crop in squares:
        disc = _verified(image, crop, segmenter, expected, recheck)
        if disc is not None:
            return disc
    return None


def _verified(image: Image.Image, crop: Crop, segmenter: Segmenter, expected: float | None,
              recheck: bool, recheck_side: float = 2.0) -> Disc | None:
    disc = find_in_square(image, crop, segmenter)
    if disc is None:
        return None
    size = max(disc.height, disc.width)
    if expected:
        size = float(np.clip(size, 0.7 * expected, 1.4 * expected))
    refined = find_in_square(image, around(disc.cx, disc.cy, recheck_side * size), segmenter)
    if refined is None:  # a disc holds up when looked at again, centred; a bright patch seldom does
        if recheck:
            return None
        refined = disc
    if expected and not 0.4 * expected <= refined.height <= 2.6 * expected:
        return None
    return refined


# The search over the whole field (`searched_disc`) has no locator's peak behind it, so what it finds must
# look more like a disc than a candidate must: of the size the field implies, with a cup, found again
# in a square centred on it. Two grids, the second only when the first finds none: the segmenter misses
# some discs in wide squares (the locator's scale) that it finds in tighter ones.
SEARCHES = ((2.4, 0.8, 2.0), (1.6, 0.5, 1.6))  # square side and step (expected disc diameters), re-measuring side
SEARCH_HEIGHT = (0.6, 1.3)  # disc height / expected diameter (HYGD's bright patches measured >= 1.37)
SEARCH_MIN_CUP = 0.1


def searched_disc(image: Image.Image, squares: list[Crop], segmenter: Segmenter, expected: float,
                  recheck_side: float = 2.0) -> Disc | None:
    """When no locator candidate holds a verified disc: every square of a grid over the field (discs near
    the field's edge, which the locator's eroded field misses), verified as a candidate is, then held to
    the stricter rule. The palest disc with the most cup wins: on HYGD a glare on the field's rim was paler
    than the disc but held less cup, and a bright patch beside a disc was segmented more confidently."""
    found = []
    for crop in squares:
        disc = _verified(image, crop, segmenter, expected, recheck=True, recheck_side=recheck_side)
        if (disc is not None and SEARCH_HEIGHT[0] * expected <= disc.height <= SEARCH_HEIGHT[1] * expected
                and disc.cup >= SEARCH_MIN_CUP):
            found.append(disc)
    return max(found, key=lambda d: d.contrast * d.cup, default=None)


def user_squares(crop: Crop) -> list[Crop]:
    """Where to look for the disc in a user's square: the square itself, then a wider one around its
    centre (a tight square cuts the disc's border; a RIM-ONE crop is one)."""
    cx, cy = crop.x + crop.size / 2, crop.y + crop.size / 2
    return [crop, around(cx, cy, 1.8 * crop.size)]


def normalised_crop(disc: Disc) -> Crop:
    """The square every model sees: SIDE_PER_DISC disc heights, centred on the disc."""
    return around(disc.cx, disc.cy, SIDE_PER_DISC * max(disc.height, 0.9 * disc.width))
