"""The served probability from its parts (pure NumPy + Pillow: the serving image has no TensorFlow or
scikit-learn): a crop at the disc/cup U-Net's input size, and the card's logistic combination of the
network's probability with the disc measurements. `papila.model.training.cdr.combine_fit` fits the weights."""

from __future__ import annotations

from typing import Any

import numpy as np

from papila.model.serving.measures import NAMES


def resize(image: np.ndarray, size: int) -> np.ndarray:
    """A crop (H x W x 3, 0..255) at the U-Net's input size, as the runtime and the training both see it."""
    from PIL import Image

    small = Image.fromarray(np.asarray(image).clip(0, 255).astype(np.uint8))
    return np.asarray(small.resize((size, size), Image.Resampling.BILINEAR), np.float32)


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def combine(probability: float, measures: np.ndarray, weights: dict[str, Any]) -> float:
    """The screening probability from the network's probability and the disc measurements."""
    w = np.array([weights["w_measures"][name] for name in NAMES])
    z = (weights["w_logit"] * float(logit(np.array([probability]))[0])
         + float(np.dot(w, np.asarray(measures, np.float64))) + weights["bias"])
    return float(1 / (1 + np.exp(-np.clip(z, -50, 50))))
