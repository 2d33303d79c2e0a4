"""What the networks learn from: every training image cut as the served path cuts it.

A crop folder (RIM-ONE DL) is treated as a user's square: `pipeline.disc_crop` verifies the disc with
the segmenter and cuts the square of one anatomical scale around it; the expert masks are cut the same
way. A dataset export's crops are already those squares. Images without expert masks get the
segmenter's own disc and cup masks as the auxiliary decoder's target (pseudo-labels: the segmenter
never sees a glaucoma label), so the VGG19's encoder learns the disc and cup on every image. Folds are stratified by label and grouped
by person. The cut images are cached in the training work folder (keyed by the files and segmenter).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from papila.config import REPOSITORY
from papila.core import imaging
from papila.model.training.data import Sample


@dataclass(frozen=True)
class Inputs:
    images: np.ndarray  # N x S x S x 3 uint8
    masks: np.ndarray  # N x S x S x 2 uint8 (disc, cup), zeros without expert masks
    labels: np.ndarray  # N int32, 1 = glaucoma
    has_mask: np.ndarray  # N float32: 1 where the masks are a target (expert or the segmenter's)
    disc_found: np.ndarray  # N bool: the segmenter verified a disc (else the whole crop is used)


def segmenter(path: str | None, out: Path) -> Any:
    """The disc/cup U-Net that cuts the crops: a given file, the one in `out`, or the served one."""
    from papila.model.serving.card import DISC_CUP_NAME
    from papila.model.serving.runtime import DiscCupModel

    default = REPOSITORY / "weights" / DISC_CUP_NAME
    for candidate in (path, out / DISC_CUP_NAME, default):
        if candidate and Path(candidate).exists():
            return DiscCupModel(Path(candidate))
    raise FileNotFoundError(f"no disc/cup segmenter ({DISC_CUP_NAME}) in {out} or {default.parent}")


def _mask(path: Path | None, crop: imaging.Crop | None, size: int) -> np.ndarray:
    if path is None:
        return np.zeros((size, size), np.uint8)
    with Image.open(path) as im:
        m = im.convert("L")
        if crop is not None:
            m = imaging.square_crop(m.convert("RGB"), crop).convert("L")
        return (np.asarray(m.resize((size, size), Image.Resampling.NEAREST)) > 127).astype(np.uint8)


def cut(sample: Sample, size: int, seg: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    """One sample as the network sees it: image, masks, whether the disc was verified."""
    from papila.core.pipeline import Rejected, disc_crop

    with Image.open(sample.path) as im:
        image = im.convert("RGB")
    crop = None
    if not sample.normalised:
        outcome = disc_crop(image, {"x": 0, "y": 0, "size": max(image.size)}, seg)
        crop = None if isinstance(outcome, Rejected) else outcome[0]
        if crop is not None:
            image = imaging.square_crop(image, crop)
    rgb = np.asarray(image.resize((size, size), Image.Resampling.BILINEAR))
    if sample.disc_mask is not None:
        masks = np.stack([_mask(sample.disc_mask, crop, size), _mask(sample.cup_mask, crop, size)], -1)
    else:
        pseudo = (seg.segment(rgb.astype(np.float32)) > 0.5).astype(np.uint8) * 255
        masks = np.stack([np.asarray(Image.fromarray(pseudo[..., i]).resize((size, size), Image.Resampling.NEAREST))
                          > 127 for i in range(2)], -1).astype(np.uint8)
    return rgb, masks, sample.normalised or crop is not None


def inputs(samples: list[Sample], size: int, seg: Any, cache_dir: Path | None = None) -> Inputs:
    key = hashlib.sha256()
    for s in samples:
        key.update(f"{s.path}|{s.label}|{s.normalised}|{s.path.stat().st_size}\n".encode())
    key.update(Path(getattr(seg, "path", "")).read_bytes() if getattr(seg, "path", None) else b"")
    cache = cache_dir / f"inputs-{size}-{key.hexdigest()[:16]}.npz" if cache_dir else None
    if cache and cache.exists():
        z = np.load(cache)
        return Inputs(z["images"], z["masks"], z["labels"], z["has_mask"], z["disc_found"])
    cuts = [cut(s, size, seg) for s in samples]
    result = Inputs(np.stack([c[0] for c in cuts]), np.stack([c[1] for c in cuts]),
                    np.array([s.label for s in samples], np.int32),
                    np.ones(len(samples), np.float32), np.array([c[2] for c in cuts]))
    if cache:
        np.savez(cache, images=result.images, masks=result.masks, labels=result.labels, has_mask=result.has_mask,
                 disc_found=result.disc_found)
    return result


def folds(samples: list[Sample], k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """k folds stratified by label, grouped by person: the same split for the network, the segmenter's
    CDR and the combination, so every out-of-fold figure comes from models that never saw the person."""
    from sklearn.model_selection import StratifiedGroupKFold

    labels = np.array([s.label for s in samples])
    groups = np.array([s.group for s in samples])
    split = StratifiedGroupKFold(k, shuffle=True, random_state=seed)
    return [(tr, va) for tr, va in split.split(np.zeros(len(samples)), labels, groups)]
