"""Disc measurements beyond the vertical CDR, from the disc/cup U-Net's probabilities and the crop itself.

The VGG19, trained from scratch on a few hundred crops, does not carry to a camera it has not seen; what
an ophthalmologist reads on a disc does: how large the cup is (vertically, horizontally, by area, at
three confidence levels of the U-Net), and how pale the disc is from its centre outwards, above/below
and beside the centre (the brightness of each colour at five distances from the centre, relative to the
retina around the disc, so that a camera's exposure and white balance cancel out). Training and serving
call this one function on the same arrays: the U-Net's output and the crop at the U-Net's input size.
"""

from __future__ import annotations

import itertools

import numpy as np

LEVELS = (0.3, 0.5, 0.7)
RADII = (0.0, 0.25, 0.5, 0.75, 1.0, 1.3)  # in disc radii
SECTORS = ("vertical", "horizontal")
HALVES = (0.0, 0.5, 1.0, 1.3)  # rings above and below the centre apart (the rim thins first there)
CHANNELS = ("r", "g", "b")
NAMES = tuple([f"{axis}_cdr_{level}" for level in LEVELS for axis in ("vertical", "horizontal")]
              + ["cup_disc_area", "disc_area"]
              + [f"{c}_{sector}_{lo}_{hi}" for sector in SECTORS for lo, hi in itertools.pairwise(RADII)
                 for c in CHANNELS]
              + [f"{c}_{half}_{lo}_{hi}" for lo, hi in itertools.pairwise(HALVES) for half in ("above", "below")
                 for c in CHANNELS]
              + [f"{c}_spread_{lo}_{hi}" for lo, hi in itertools.pairwise(HALVES) for c in CHANNELS]
              + ["texture_disc_vs_around"])


def _extent(mask: np.ndarray, axis: int) -> int:
    rows = np.nonzero(mask.any(axis=axis))[0]
    return int(rows[-1] - rows[0] + 1) if len(rows) else 0


def measures(masks: np.ndarray, image: np.ndarray) -> np.ndarray:
    """`masks`: S x S x 2 (disc, cup) probabilities; `image`: the crop at S x S x 3, 0..255.
    Returns len(NAMES) float32 values (never NaN: an empty region takes a neutral value)."""
    disc = np.asarray(masks[..., 0], np.float64)
    cup = np.asarray(masks[..., 1], np.float64) * disc
    values: list[float] = []
    for level in LEVELS:
        d, c = disc > level, cup > level
        values += [_extent(c, 1) / max(_extent(d, 1), 1), _extent(c, 0) / max(_extent(d, 0), 1)]
    size = disc.shape[0]
    values += [float(cup.sum() / max(disc.sum(), 1e-3)), float(disc.sum() / size / size)]

    rgb = np.asarray(image, np.float64) / 255.0
    yy, xx = np.mgrid[0:size, 0:size]
    weight = disc / max(disc.sum(), 1e-3)
    cy, cx = float((weight * yy).sum()), float((weight * xx).sum())
    if disc.sum() < 1e-3:
        cy = cx = (size - 1) / 2
    radius = max(np.sqrt(disc.sum() / np.pi), 1.0)
    r = np.hypot(yy - cy, xx - cx) / radius
    vertical = np.abs(yy - cy) > np.abs(xx - cx)
    around = r >= 1.1
    reference = (rgb[around].mean(0) if around.sum() >= 10 else rgb.reshape(-1, 3).mean(0)) + 1e-3
    for sector in (vertical, ~vertical):
        for lo, hi in itertools.pairwise(RADII):
            ring = sector & (r >= lo) & (r < hi)
            values += list(rgb[ring].mean(0) / reference) if ring.sum() else [1.0, 1.0, 1.0]
    above, below = vertical & (yy < cy), vertical & (yy > cy)
    for lo, hi in itertools.pairwise(HALVES):
        for half in (above, below):
            ring = half & (r >= lo) & (r < hi)
            values += list(rgb[ring].mean(0) / reference) if ring.sum() else [1.0, 1.0, 1.0]
    for lo, hi in itertools.pairwise(HALVES):
        ring = (r >= lo) & (r < hi)
        values += list(rgb[ring].std(0) / reference) if ring.sum() > 2 else [0.0, 0.0, 0.0]
    # How much fine structure (vessels, the cup's edge) the disc holds against the retina around it.
    gy, gx = np.gradient(rgb[..., 1])
    energy = np.hypot(gx, gy)
    inside = r < 1.0
    values.append(float(energy[inside].mean() / (energy[around].mean() + 1e-3))
                  if inside.sum() and around.sum() >= 10 else 1.0)
    return np.asarray(values, np.float32)
