"""Class-activation heat map drawn over the crop the model saw (no AWS, no model code)."""

from __future__ import annotations

import numpy as np
from PIL import Image

# A perceptual blue -> green -> yellow -> red ramp (5 anchors, linearly interpolated).
_ANCHORS = np.array([[48, 18, 160], [33, 145, 140], [94, 201, 98], [253, 231, 37], [220, 40, 30]], np.float32)


def colormap(values: np.ndarray) -> np.ndarray:
    """values in 0..1 -> H x W x 3 uint8."""
    pos = np.clip(values, 0, 1) * (len(_ANCHORS) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(_ANCHORS) - 2)
    frac = (pos - lo)[..., None]
    return (_ANCHORS[lo] * (1 - frac) + _ANCHORS[lo + 1] * frac).astype(np.uint8)


# The map is upsampled as 8-bit grey, so it takes 256 values: each one's colour, worked out once.
_LEVELS = np.arange(256, dtype=np.float32) / 255.0
_COLOURS = colormap(_LEVELS).astype(np.float32)


def overlay(crop: Image.Image, cam: np.ndarray, alpha: float = 0.45) -> Image.Image:
    """Positive evidence for the class, normalised to its own maximum, blended over the crop."""
    positive = np.maximum(np.asarray(cam, np.float32), 0)
    peak = float(positive.max())
    norm = positive / peak if peak > 0 else positive
    size = crop.size
    grey = np.asarray(Image.fromarray((norm * 255).astype(np.uint8)).resize(size, Image.Resampling.BICUBIC))
    upsampled = _LEVELS[grey]  # grey / 255 (float32)
    heat = _COLOURS[grey]  # colormap(upsampled), looked up
    base = np.asarray(crop if crop.mode == "RGB" else crop.convert("RGB"), np.float32)
    weight = alpha * (0.25 + 0.75 * upsampled[..., None])  # cooler areas stay closer to the photo
    return Image.fromarray((base * (1 - weight) + heat * weight).clip(0, 255).astype(np.uint8))
