"""Quality gate: refuse what the model must not judge, with a reason a person can act on.

Checks run on a small copy of the photo (colour of a fundus, exposure, contrast) and on the disc
crop (visible structure). Thresholds were set so that every shared training image passes (RIM-ONE DL crops and
Drishti-GS1 photos: `bench/quality.py` prints false rejections and rejections of non-fundus images).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from papila.imaging import downscale
from papila.locate import field_of_view


@dataclass(frozen=True)
class Rejection:
    code: str
    message: str


def _stats(image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    small, _ = downscale(image.convert("RGB"), 256)
    rgb = np.asarray(small, np.float32)
    fov = field_of_view(rgb)
    if fov.mean() < 0.05:
        fov = np.ones(fov.shape, bool)
    return rgb, fov


def check_photo(image: Image.Image) -> Rejection | None:
    """A fundus photo: a reddish-orange field, reasonably exposed, with some structure."""
    rgb, fov = _stats(image)
    field = rgb[fov]
    r, g, b = (float(field[:, i].mean()) for i in range(3))
    luminance = 0.3 * r + 0.6 * g + 0.1 * b
    spread = float(np.std(field.mean(axis=1)))
    if luminance < 12:
        return Rejection("too_dark", "The photo is too dark to judge; retake it with more light or a wider pupil.")
    if spread < 4.0:
        return Rejection("not_a_fundus_photo", "The image is nearly uniform; upload a colour photo of the retina.")
    # Fundus colour: red clearly dominant over blue, red above green (retina, disc and vessels alike).
    if not (r > 1.15 * g and r > 1.6 * b and r - b > 25):
        return Rejection("not_a_fundus_photo", "This does not look like a retinal fundus photo; upload a colour photo of the back of the eye.")
    if luminance > 200 or float(np.mean(field.mean(axis=1) > 245)) > 0.4:
        return Rejection("too_bright", "The photo is over-exposed; retake it with less flash.")
    return None


def check_crop(crop: Image.Image) -> Rejection | None:
    """The disc region must show structure (rim, cup, vessels), not a flat or washed-out patch.
    (A sharpness test that separates defocused photos from every real training image is left for
    later: the simple measures tried overlapped.)"""
    gray = np.asarray(crop.convert("L").resize((224, 224), Image.Resampling.BILINEAR), np.float32)
    if float(gray.std()) < 6.0:
        return Rejection("disc_not_visible", "The optic disc area shows no detail; crop around the disc or retake the photo in focus.")
    return None
