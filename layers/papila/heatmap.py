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


def overlay(crop: Image.Image, cam: np.ndarray, alpha: float = 0.45) -> Image.Image:
    """Positive evidence for the class, normalised to its own maximum, blended over the crop."""
    positive = np.maximum(np.asarray(cam, np.float32), 0)
    peak = float(positive.max())
    norm = positive / peak if peak > 0 else positive
    size = crop.size
    upsampled = np.asarray(Image.fromarray((norm * 255).astype(np.uint8)).resize(size, Image.Resampling.BICUBIC),
                           np.float32) / 255.0
    heat = colormap(upsampled).astype(np.float32)
    base = np.asarray(crop.convert("RGB"), np.float32)
    weight = alpha * (0.25 + 0.75 * upsampled[..., None])  # cooler areas stay closer to the photo
    return Image.fromarray((base * (1 - weight) + heat * weight).clip(0, 255).astype(np.uint8))
