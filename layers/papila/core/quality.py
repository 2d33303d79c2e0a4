"""Quality gate: refuse what the model must not judge, with a reason a person can act on.

Two stages, each with the scores behind its decision (stored with the screening, so an admin can see
why a photo was refused):

- `assess_photo(image)` on the whole upload, in this order: too dark; nearly uniform; over-exposed (when
  what is not white is still fundus-coloured); a loose colour rule; then a learned "is this a colour
  fundus photo?" decision on 28 cheap colour / field-of-view / texture features (`features`): the
  negative log-likelihood under a Gaussian mixture fitted on every real fundus image we have (RIM-ONE DL
  crops, Drishti-GS1 and HYGD photos and their disc crops, with camera-like colour, exposure, scale and
  JPEG variations, and tests/fundus.py's generated photos), and a logistic regression of those images
  against generated non-fundus pictures (tests/negatives.py's generators, other seeds than the tests').
  A photo either refuses is told it is too blurred when it is like a defocused copy of a real one (a
  third mixture), else that it is not a fundus photo. Their numbers live in weights/fundus_gate.json
  (plain numbers, evaluated with numpy); `bench/fit_gate.py` regenerates it.
- `assess_crop(crop)` on the disc crop the models see (normalised by the disc: the disc spans ~0.77 of
  the side): visible structure and focus (`sharpness`, MIN_SHARPNESS).

`check_photo` / `check_crop` return only the refusal; inside `recording()` their assessments are kept, so
the worker stores the scores behind a refusal with the screening. `bench/quality.py` prints false
refusals on every real image, refusals of generated non-fundus images by group, and the time the gate
adds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from papila.config import DEFAULT_MODEL_PATH, Settings
from papila.core.imaging import rank_filter

GATE_FILE = "fundus_gate.json"
# The photo's longest side when its features are computed (weights/fundus_gate.json is fitted at this size;
# 128 rather than 160 px: the features cost two thirds as much, and the gate's refusals are as good).
FEATURE_SIZE = 128


@dataclass(frozen=True)
class Rejection:
    code: str
    message: str
    scores: dict[str, float] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Assessment:
    """The scores behind a gate decision and the refusal, if any (None: the image passes)."""

    scores: dict[str, float]
    rejection: Rejection | None


_RECORDING: ContextVar[list[Assessment] | None] = ContextVar("papila_quality_recording", default=None)


@contextmanager
def recording() -> Iterator[list[Assessment]]:
    """Collect every assessment made inside the block, in order (the pipeline hands on only a refusal's
    code and message; the worker stores the scores behind the decision with the screening)."""
    seen: list[Assessment] = []
    token = _RECORDING.set(seen)
    try:
        yield seen
    finally:
        _RECORDING.reset(token)


def _recorded(assessment: Assessment) -> Assessment:
    seen = _RECORDING.get()
    if seen is not None:
        seen.append(assessment)
    return assessment


def merged_scores(assessments: list[Assessment]) -> dict[str, float]:
    """The scores of a screening's assessments in one flat dict (the photo's, then the crop's)."""
    out: dict[str, float] = {}
    for assessment in assessments:
        out.update(assessment.scores)
    return out


MESSAGES = {
    "too_dark": "The photo is too dark to judge; retake it with more light (flash) or a wider pupil.",
    "too_bright": "The photo is over-exposed; retake it with less flash or light.",
    "uniform": "The image is nearly uniform; upload a colour photo of the back of the eye (a fundus photo).",
    "not_a_fundus_photo": ("This does not look like a colour photo of the back of the eye; upload a colour fundus "
                           "photo. If it is one, retake it evenly lit, in focus and with the optic disc in view."),
    "disc_not_visible": ("The optic disc area shows no detail; draw the square around the optic disc by hand, or "
                         "retake the photo in focus and with the disc in view."),
    "too_blurred": "The photo is out of focus; retake it with the camera focused on the optic disc.",
}


# ---------------------------------------------------------------------------------------------- helpers

def field_of_view(rgb: np.ndarray) -> np.ndarray:
    """Boolean mask of the camera's illuminated field (the dark surround excluded). Kept here, not
    imported from the locator, because the fitted gate depends on exactly this rule."""
    red = rgb[..., 0].astype(np.float32)
    level = max(18.0, 0.12 * float(np.percentile(red, 99)))
    return _box_count(red > level, 5) >= 13  # a 5 x 5 median of the mask: fills holes, removes specks


def _box_count(mask: np.ndarray, size: int) -> np.ndarray:
    """How many pixels of each size x size window are set (edges replicated)."""
    r = size // 2
    a = np.pad(mask.astype(np.int16), r, mode="edge")
    a = sum(a[i:i + mask.shape[0] + 2 * r - size + 1] for i in range(size))
    return sum(a[:, i:i + mask.shape[1] + 2 * r - size + 1] for i in range(size))


def small_rgb(image: Image.Image, longest: int) -> np.ndarray:
    """RGB float32 copy no longer than `longest` px (big photos are box-reduced first: fast)."""
    image = image if image.mode == "RGB" else image.convert("RGB")
    scale = max(image.size) / longest
    if scale > 1:
        size = (max(1, round(image.width / scale)), max(1, round(image.height / scale)))
        image = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(image, np.float32)


def _fast_len(n: int) -> int:
    """The smallest 2-3-5-smooth size >= n (FFTs of such sizes are fast)."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def _logit(p: float, n: int) -> float:
    p = (p * n + 0.5) / (n + 1)
    return float(np.log(p / (1 - p)))


# ------------------------------------------------------------------------------- fundus features

FEATURES = (
    "log_r_over_g", "log_r_over_g_sd", "log_g_over_b", "log_g_over_b_sd", "log_luminance", "log_contrast",
    "corr_rg", "corr_gb", "rel_contrast_r_vs_g", "skew_g", "skew_r", "red_dominance_p2", "corner_darkness",
    "field_fraction", "field_roundness", "grad_mean", "grad_tail", "band_fine", "band_mid", "band_coarse",
    "dark_vs_bright_lines", "blob_peak", "saturation", "radial_falloff",
    "vessels_g_vs_r", "vessels_b_vs_g", "detail_r_vs_g", "detail_b_vs_g",
)


def _channel_blurs(rgb: np.ndarray, wanted: tuple[tuple[int, float], ...]) -> list[np.ndarray]:
    """Gaussian blurs of several channels at several scales via FFTs (one forward per channel used, one
    inverse per blur; reflected edges, padded to a fast size). `wanted`: (channel, sigma) pairs."""
    r = int(2 * max(s for _, s in wanted))  # 2 sigma of reflected border: enough for the field inside
    h, w = rgb.shape[:2]
    py, px = min(r, h - 1), min(r, w - 1)
    pads = ((py, _fast_len(h + 2 * py) - h - py), (px, _fast_len(w + 2 * px) - w - px))
    # numpy's forward FFT is faster in float64, its inverse in float32 (and a loop over planes is faster
    # than an FFT of their stack)
    spectra = {c: np.fft.rfft2(np.pad(rgb[..., c].astype(np.float64), pads, mode="reflect")).astype(np.complex64)
               for c in sorted({c for c, _ in wanted})}
    shape = (h + sum(pads[0]), w + sum(pads[1]))
    return [np.fft.irfft2(spectra[c] * _gaussian_transfer(shape, s), s=shape)[py:py + h, px:px + w] for c, s in wanted]


@lru_cache(maxsize=64)
def _gaussian_transfer(shape: tuple[int, int], sigma: float) -> np.ndarray:
    """A Gaussian's transfer function on an rfft2 grid of `shape` (kept: most uploads share a few sizes)."""
    fy2 = (2 * np.pi * np.fft.fftfreq(shape[0])) ** 2
    fx2 = (2 * np.pi * np.fft.rfftfreq(shape[1])) ** 2
    transfer = (np.exp(-0.5 * sigma * sigma * fy2)[:, None] * np.exp(-0.5 * sigma * sigma * fx2)[None, :]).astype(np.float32)
    transfer.flags.writeable = False
    return transfer


def features(image: Image.Image | np.ndarray, fov: np.ndarray | None = None) -> np.ndarray:
    """Cheap features of the whole photo (FEATURES, in order) on a FEATURE_SIZE copy: colour inside the
    field of view, the field's shape and dark surround, and texture: vessels are thin dark lines on a
    smooth background, seen in green and blue far more than in the saturated red; natural pictures have
    edges of every kind, and a tinted picture the same relative contrast in every channel."""
    rgb = image if isinstance(image, np.ndarray) else small_rgb(image, FEATURE_SIZE)
    h, w = rgb.shape[:2]
    fov = field_of_view(rgb) if fov is None else fov
    fov_frac = float(fov.mean())
    if fov_frac < 0.05:
        fov = np.ones_like(fov)
    inner = rank_filter(fov, 5, dilate=False)
    if inner.sum() < 0.02 * h * w:
        inner = fov
    r, g, b = (rgb[..., i][inner] for i in range(3))
    lum = 0.3 * r + 0.6 * g + 0.1 * b
    lrg = np.log((r + 1) / (g + 1))
    lgb = np.log((g + 1) / (b + 1))
    p5, p50, p95 = np.percentile(lum, [5, 50, 95])
    medians = np.array([r.mean(), g.mean(), b.mean()], np.float32) + 4.0  # each channel's level (mean)

    def corr(x: np.ndarray, y: np.ndarray) -> float:
        sx, sy = float(x.std()), float(y.std())
        if sx < 1e-3 or sy < 1e-3:
            return 0.0
        c = float(np.mean((x - x.mean()) * (y - y.mean())) / (sx * sy))
        return float(np.arctanh(np.clip(c, -0.995, 0.995)))

    def skew(x: np.ndarray) -> float:
        s = float(x.std())
        return 0.0 if s < 1e-3 else float(np.clip(np.mean(((x - x.mean()) / s) ** 3), -6, 6))

    rel_r = (float(r.std()) + 1) / (float(r.mean()) + 1)
    rel_g = (float(g.std()) + 1) / (float(g.mean()) + 1)
    red_dominance = float(np.percentile(np.log(r + 1) - np.log(np.maximum(g, b) + 1), 2))
    mx, mn = np.maximum(np.maximum(r, g), b), np.minimum(np.minimum(r, g), b)
    saturation = float(np.mean((mx - mn) / (mx + 1)))

    # The dark surround: the frame's corners against the field's median brightness.
    c = max(2, round(0.08 * min(h, w)))
    full_lum = 0.3 * rgb[..., 0] + 0.6 * rgb[..., 1] + 0.1 * rgb[..., 2]
    corners = (full_lum[:c, :c].mean() + full_lum[:c, -c:].mean() + full_lum[-c:, :c].mean() + full_lum[-c:, -c:].mean()) / 4
    corner_darkness = float(np.log((corners + 2) / (p50 + 2)))
    # Roundness: the field against the disc of the same area about its centroid (clipped to the frame).
    ys, xs = np.nonzero(fov)
    cy, cx = float(ys.mean()), float(xs.mean())
    d2 = (np.arange(h, dtype=np.float32)[:, None] - cy) ** 2 + (np.arange(w, dtype=np.float32)[None, :] - cx) ** 2
    radius = np.sqrt(fov.sum() / np.pi)
    ideal = d2 <= radius**2
    roundness = float((fov & ideal).sum() / max((fov | ideal).sum(), 1))
    # Vignetting: the field's rim against its centre.
    rr = d2[inner] / max(radius, 1) ** 2
    centre_l = lum[rr < 0.25].mean() if np.any(rr < 0.25) else p50
    rim_l = lum[rr > 0.5625].mean() if np.any(rr > 0.5625) else p50
    radial = float(np.log((rim_l + 2) / (centre_l + 2)))

    # Texture: every channel over its median; green at four scales, red and blue at two.
    s1, s2, s4, s8, r1, r4, b1, b4 = _channel_blurs(
        rgb / medians, ((1, 1.0), (1, 2.0), (1, 4.0), (1, 8.0), (0, 1.0), (0, 4.0), (2, 1.0), (2, 4.0)))
    gy, gx = np.gradient(s1)
    grad = np.hypot(gx, gy)[inner]
    g50, g99 = np.percentile(grad, [50, 99])
    grad_mean = float(np.log(grad.mean() + 1e-4))
    grad_tail = float(np.log((g99 + 1e-4) / (g50 + 1e-4)))
    e1, e2, e3 = (float(np.mean(((a - b_)[inner]) ** 2)) + 1e-8 for a, b_ in ((s1, s2), (s2, s4), (s4, s8)))
    # Thin dark lines (a grey closing over the channel) in every channel, thin bright ones in green; and
    # fine detail (a fine blur less a coarser one), each relative to its channel's median.
    closed = rank_filter(rank_filter(rgb, 5, dilate=True), 5, dilate=False) - rgb
    opened = rgb[..., 1] - rank_filter(rank_filter(rgb[..., 1], 5, dilate=False), 5, dilate=True)
    dark_r, dark_g, dark_b = (float(np.mean(closed[..., i][inner])) / medians[i] for i in range(3))
    bright_g = float(np.mean(opened[inner])) / medians[1]
    fine_g = (s1 - s4)[inner]
    fine_r, fine_b = (r1 - r4)[inner], (b1 - b4)[inner]
    detail_r, detail_g, detail_b = (float(np.mean(d * d)) + 1e-8 for d in (fine_r, fine_g, fine_b))
    blob = s4[inner]
    blob_peak = float(np.log((blob.max() + 0.05) / (blob.mean() + 0.05)))

    return np.array([
        float(lrg.mean()), float(np.log(lrg.std() + 1e-3)), float(lgb.mean()), float(np.log(lgb.std() + 1e-3)),
        float(np.log(p50 + 2)), float(np.log((p95 - p5 + 2) / (p50 + 2))), corr(r, g), corr(g, b),
        float(np.log(rel_r / rel_g)), skew(g), skew(r), red_dominance, corner_darkness,
        _logit(min(max(fov_frac, 0.02), 0.98), 1000), roundness, grad_mean, grad_tail,
        float(np.log(e1 / e3)), float(np.log(e2 / e3)), float(np.log(e3)),
        float(np.log((dark_g + 1e-3) / (bright_g + 1e-3))), blob_peak, saturation, radial,
        float(np.log((dark_g + 1e-3) / (dark_r + 1e-3))), float(np.log((dark_b + 1e-3) / (dark_g + 1e-3))),
        float(np.log(detail_r / detail_g)), float(np.log(detail_b / detail_g)),
    ], np.float64)


class Mixture:
    """A Gaussian mixture over standardised `features` (plain numbers from bench/fit_gate.py)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.center = np.asarray(spec["center"], np.float64)
        self.scale = np.asarray(spec["scale"], np.float64)
        self.log_weights = np.log(np.asarray(spec["weights"], np.float64))
        self.means = np.asarray(spec["means"], np.float64)
        self.chol = np.asarray(spec["precisions_cholesky"], np.float64)  # K x D x D (sklearn's convention)
        self.log_det = np.log(np.diagonal(self.chol, axis1=1, axis2=2)).sum(axis=1)
        self.offset = float(spec["typical_nll"])
        self.limit = float(spec["limit"])

    def ood(self, x: np.ndarray) -> float:
        """How unlike the fitted images: negative log-likelihood over the median fitted image's (0 = typical)."""
        z = (np.asarray(x, np.float64) - self.center) / self.scale
        y = np.einsum("kd,kde->ke", z[None, :] - self.means, self.chol)
        logs = self.log_weights - 0.5 * (np.sum(y * y, axis=1) + z.size * np.log(2 * np.pi)) + self.log_det
        top = float(logs.max())
        return float(-(top + np.log(np.exp(logs - top).sum())) - self.offset)


class FundusGate:
    """The fitted gate (weights/fundus_gate.json): a mixture of real fundus images (`ood`, refused over
    `limit`); a logistic regression of real fundus images against generated non-fundus pictures
    (`fundus_logit`, refused under its limit; both limits set on out-of-fold scores of real images); and a
    mixture of defocused copies of real images (`blurred`): a photo refused by the first two but like a
    defocused fundus is refused as too blurred, not as no fundus."""

    def __init__(self, spec: dict[str, Any]) -> None:
        if list(spec["features"]) != list(FEATURES) or int(spec.get("feature_size", FEATURE_SIZE)) != FEATURE_SIZE:
            raise ValueError(f"{GATE_FILE} was fitted on other features; rerun bench/fit_gate.py")
        self.spec = spec
        self.fundus = Mixture(spec)
        self.blurred = Mixture(spec["blurred"]) if "blurred" in spec else None
        self.limit = self.fundus.limit
        classifier = spec.get("classifier") or {}
        self.weights = np.asarray(classifier.get("weights", []), np.float64)
        self.bias = float(classifier.get("bias", 0.0))
        self.logit_limit = float(classifier["limit"]) if classifier else None
        self.version = str(spec.get("version", ""))

    def ood(self, x: np.ndarray) -> float:
        return self.fundus.ood(x)

    def fundus_logit(self, x: np.ndarray) -> float:
        """Log-odds of fundus against non-fundus (the classifier's; +inf when the gate has none)."""
        if self.logit_limit is None:
            return float("inf")
        z = np.clip((np.asarray(x, np.float64) - self.fundus.center) / self.fundus.scale, -1e3, 1e3)
        return float(np.hstack([z, np.clip(z, -8, 8) ** 2]) @ self.weights + self.bias)

    def unlike_fundus(self, x: np.ndarray) -> bool:
        return self.ood(x) > self.limit or (self.logit_limit is not None and self.fundus_logit(x) < self.logit_limit)


def gate_paths() -> list[Path]:
    """Where the gate's numbers are looked for: beside the serving model (the container image puts the
    weights in one folder, MODEL_PATH's), then the repository's weights/."""
    return [Settings.from_env().model_path.parent / GATE_FILE, DEFAULT_MODEL_PATH.parent / GATE_FILE]


@lru_cache(maxsize=1)
def fundus_gate() -> FundusGate:
    for path in gate_paths():
        if path.exists():
            return FundusGate(json.loads(path.read_text()))
    raise FileNotFoundError(f"no {GATE_FILE} in {', '.join(map(str, gate_paths()))}: run bench/fit_gate.py")


# ---------------------------------------------------------------------------------------- the photo

# Exposure, on the field of view of the FEATURE_SIZE copy. Real images (RIM-ONE crops, Drishti and HYGD
# photos): mean luminance 21-155, at most 11 % of the field with the red channel clipped (>= 250), at
# most 3 % near white. Copies darkened to x0.15 fall to 2-23; blown out (3v + 80): 136-255, mostly clipped.
MIN_LUMINANCE = 16.0  # 25 % under the darkest real image
MAX_LUMINANCE = 185.0
MAX_SATURATED = 0.4  # share of the field at grey level > 245
MAX_CLIPPED_RED = 0.2  # share of the field with red >= 250: twice the most a real image has
MIN_SPREAD = 4.0  # std of the field's grey levels


def _refuse(code: str, scores: dict[str, float]) -> Assessment:
    return Assessment(scores, Rejection("not_a_fundus_photo" if code == "uniform" else code, MESSAGES[code], scores))


def assess_photo(image: Image.Image) -> Assessment:
    """Exposure, then the learned fundus score of the whole photo, in an order that gives a dark, blown-out
    or defocused fundus photo its own code: too dark; nearly uniform (no photo at all); over-exposed, when
    what is left unclipped is still fundus-coloured (a white page is no fundus, not over-exposed); a loose
    colour rule; then the learned scores: unlike a fundus but like a defocused one is too blurred, and only
    what is still unlike a fundus is refused as not a fundus photo."""
    rgb = small_rgb(image, FEATURE_SIZE)
    fov = field_of_view(rgb)
    field_ = rgb[fov] if fov.mean() >= 0.05 else rgb.reshape(-1, 3)
    r, g, b = (float(field_[:, i].mean()) for i in range(3))
    grey = field_.mean(axis=1)
    luminance = 0.3 * r + 0.6 * g + 0.1 * b
    scores = {"luminance": round(luminance, 1), "saturated": round(float(np.mean(grey > 245)), 3),
              "clipped_red": round(float(np.mean(field_[:, 0] >= 250)), 3), "spread": round(float(np.std(grey)), 1)}
    if luminance < MIN_LUMINANCE:
        return _refuse("too_dark", scores)
    if scores["spread"] < MIN_SPREAD:
        return _refuse("uniform", scores)
    if luminance > MAX_LUMINANCE or scores["saturated"] > MAX_SATURATED or scores["clipped_red"] > MAX_CLIPPED_RED:
        coloured = field_[grey <= 245]  # not white: a blown-out fundus stays red where red is clipped
        if len(coloured) >= 0.02 * len(field_) and _fundus_coloured(*(float(coloured[:, i].mean()) for i in range(3))):
            return _refuse("too_bright", scores)
        return _refuse("not_a_fundus_photo", scores)
    if not _fundus_coloured(r, g, b):
        return _refuse("not_a_fundus_photo", scores)
    gate = fundus_gate()
    x = features(rgb, fov)
    scores["fundus_ood"] = round(gate.ood(x), 2)
    scores["fundus_ood_limit"] = gate.limit
    if gate.logit_limit is not None:
        scores["fundus_logit"] = round(gate.fundus_logit(x), 2)
        scores["fundus_logit_limit"] = gate.logit_limit
    if gate.unlike_fundus(x):
        if gate.blurred is not None:
            scores["defocused_ood"] = round(gate.blurred.ood(x), 2)
            scores["defocused_ood_limit"] = gate.blurred.limit
            if scores["defocused_ood"] <= gate.blurred.limit:
                return _refuse("too_blurred", scores)
        return _refuse("not_a_fundus_photo", scores)
    return Assessment(scores, None)


def _fundus_coloured(r: float, g: float, b: float) -> bool:
    """A loose colour rule on a field's mean: red dominates a fundus photo, blue is weak."""
    return r > 1.05 * g and r > 1.3 * b and r - b > 15


def check_photo(image: Image.Image) -> Rejection | None:
    """A colour fundus photo, reasonably exposed (None), or why not."""
    return _recorded(assess_photo(image)).rejection


# ----------------------------------------------------------------------------------------- the crop

# Focus is measured on the disc crop, normalised by the disc (the pipeline's square spans ~1.3 disc
# heights), so a crop resized to SHARPNESS_SIZE shows the same anatomy at the same scale.
SHARPNESS_SIZE = 128
# Set on RIM-ONE DL crops and Drishti-GS1 photos (expert discs), each cut to the normalised square, with
# copies: JPEG q60, noise, darkened (x0.35) and 60 px a disc, which must pass; blurred by a Gaussian of 3, 5,
# 8 and 12 % of the disc diameter, also saved as JPEG q90/q75 or with noise after the blur, which must not.
# Measured on luminance, not on green: a JPEG's colour is stored at half resolution in 16 px blocks, and
# those blocks, in the green channel, read as detail in a defocused photo. The softest sharp real crop
# scores 0.205 (darkened and 60 px-a-disc copies: 1 in 361 under 0.19), while 5 % blurs score <= 0.15
# (then JPEG q90: 95 % under 0.19, q75: 77 %; 8 % then JPEG q90: 99 %); 3 % blurs 0.13-0.25 (half
# refused). bench/quality.py prints the figures on every real image and copy.
MIN_SHARPNESS = 0.19
MIN_CROP_CONTRAST = 6.0  # std of the crop's grey levels


def sharpness(crop: Image.Image) -> float | None:
    """How focused the disc crop is: the 99th percentile, inside the field of view, of |Laplacian| of the
    luminance over the local standard deviation (floored at 4 grey levels so sensor noise in flat areas
    does not count as detail). A dim crop is first brightened (at most 2x) so its 95th percentile
    reaches 160: dark photos from other cameras are not mistaken for blurred ones. Sharp vessel edges and the disc rim score high; defocus smears them
    and the score falls steadily with the blur. None when too little of the crop is inside the field."""
    return _sharpness(_square_rgb(crop))


def _square_rgb(crop: Image.Image) -> np.ndarray:
    crop = crop if crop.mode == "RGB" else crop.convert("RGB")
    return np.asarray(crop.resize((SHARPNESS_SIZE, SHARPNESS_SIZE), Image.Resampling.BILINEAR), np.float32)


def _sharpness(rgb: np.ndarray) -> float | None:
    k = SHARPNESS_SIZE / 128  # scales are set in pixels of a 128 px crop
    inside = field_of_view(rgb)  # not the black surround or padding
    r = max(1, round(4 * k))  # keep clear of the field's rim and of the crop's border
    inside = rank_filter(inside, 2 * r + 1, dilate=False)
    inside[:r] = inside[-r:] = False
    inside[:, :r] = inside[:, -r:] = False
    if inside.mean() < 0.1:
        return None
    luma = rgb @ np.array([0.299, 0.587, 0.114], np.float32)  # JPEG's Y: full resolution, unlike its colour
    luma = luma * float(np.clip(160.0 / max(float(np.percentile(luma[inside], 95)), 1.0), 1.0, 2.0))
    smooth, mean, mean_sq = _channel_blurs(np.stack([luma, luma * luma], axis=2), ((0, k), (0, 4 * k), (1, 4 * k)))
    laplacian = 4 * smooth - np.roll(smooth, 1, 0) - np.roll(smooth, -1, 0) - np.roll(smooth, 1, 1) - np.roll(smooth, -1, 1)
    local_std = np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))
    ratio = np.abs(laplacian[inside]) * k * k / np.maximum(local_std[inside], 4.0)
    return float(np.percentile(ratio, 99))


def assess_crop(crop: Image.Image) -> Assessment:
    """The disc region must show structure (rim, cup, vessels), not a flat or washed-out patch, and be in
    focus (`sharpness` at least MIN_SHARPNESS)."""
    rgb = _square_rgb(crop)
    grey = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    scores: dict[str, float] = {"crop_contrast": round(float(grey.std()), 1)}
    if scores["crop_contrast"] < MIN_CROP_CONTRAST:
        return Assessment(scores, Rejection("disc_not_visible", MESSAGES["disc_not_visible"], scores))
    score = _sharpness(rgb)
    if score is not None:
        scores["sharpness"] = round(score, 3)
        scores["sharpness_min"] = MIN_SHARPNESS
        if score < MIN_SHARPNESS:
            return Assessment(scores, Rejection("too_blurred", MESSAGES["too_blurred"], scores))
    return Assessment(scores, None)


def check_crop(crop: Image.Image) -> Rejection | None:
    """None when the disc crop may be graded, else why not."""
    return _recorded(assess_crop(crop)).rejection
