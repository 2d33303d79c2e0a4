"""Labelled image folders: `glaucoma/` and `normal/` sub-folders (the layout export writes and train reads).

Optional expert masks are looked up beside the images as `masks/<label>/<stem>_disc.png` and
`<stem>_cup.png` (RIM-ONE DL layout), either under DIR or under DIR's parent.

A dataset export (`labels.csv` with `file,label,screening_id,...,subject_id,camera`) also says who each
photo is of and which camera took it: folds are grouped by `subject_id` (both eyes and repeats of one
person on one side of a split) and metrics are reported per `camera`. Its crops are already the
served, disc-normalised squares (`normalised`); other folders hold crops the trainer normalises itself.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

LABELS = ("normal", "glaucoma")  # index = class id of the Dense(2) head
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int  # 1 = glaucoma
    disc_mask: Path | None = None
    cup_mask: Path | None = None
    group: str = ""  # who the photo is of: folds never split a group
    domain: str = ""  # hospital / camera, for per-domain metrics
    normalised: bool = False  # already the served disc-normalised square (an export's crops)


def list_samples(data_dir: str | Path) -> list[Sample]:
    """Every image under DIR/glaucoma and DIR/normal, sorted for reproducibility."""
    root = Path(data_dir)
    if not all((root / name).is_dir() for name in LABELS):
        raise FileNotFoundError(f"{root} must contain 'glaucoma/' and 'normal/' sub-folders")
    rows = _export_rows(root)
    domain = "rim-one" if "rim-one" in str(root).lower() else root.name
    samples = []
    for label, name in enumerate(LABELS):
        for path in sorted((root / name).iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES or path.name.startswith("."):
                continue
            disc = cup = None
            for masks in (root / "masks" / name, root.parent / "masks" / name):
                if (masks / f"{path.stem}_disc.png").exists():
                    disc, cup = masks / f"{path.stem}_disc.png", masks / f"{path.stem}_cup.png"
                    break
            row = rows.get(f"{name}/{path.name}")
            if row is not None:
                samples.append(Sample(path, label, disc, cup if cup and cup.exists() else None,
                                      group=row.get("subject_id") or row.get("screening_id") or path.stem,
                                      domain=row.get("camera") or domain, normalised=True))
            else:
                samples.append(Sample(path, label, disc, cup if cup and cup.exists() else None,
                                      group=f"{domain}:{path.stem}", domain=domain))
    if not samples:
        raise FileNotFoundError(f"no images under {root}/glaucoma or {root}/normal")
    return samples


def _export_rows(root: Path) -> dict[str, dict[str, str]]:
    """labels.csv of a dataset export, by file; empty for other folders."""
    labels = root / "labels.csv"
    if not labels.exists():
        return {}
    with labels.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "screening_id" not in rows[0]:
        return {}
    return {row["file"]: row for row in rows}


def framing_offsets(samples: list[Sample]) -> np.ndarray:
    """How far off the photo's centre the served square sat, across: |square centre x - W/2| / (W/2), for an
    export's samples (its metadata.jsonl has the square, `originals/` the photo); NaN for the others. A
    dataset whose classes were photographed differently (disc-centred vs macula-centred) shows it here."""
    offsets = np.full(len(samples), np.nan)
    where: dict[Path, dict[str, dict]] = {}
    for i, sample in enumerate(samples):
        root = sample.path.parent.parent
        if root not in where:
            meta = root / "metadata.jsonl"
            lines = meta.read_text().splitlines() if meta.exists() else []
            where[root] = {str(row["id"]): row for row in map(json.loads, filter(None, lines))}
        row = where[root].get(sample.path.stem)
        crop = ((row or {}).get("result") or {}).get("crop")
        original = ((row or {}).get("files") or {}).get("original")
        if not crop or not original or not (root / original).exists():
            continue
        with Image.open(root / original) as im:  # the header only: the size
            width = im.width
        offsets[i] = abs(crop["x"] + crop["size"] / 2 - width / 2) / (width / 2)
    return offsets


def load_rgb(path: Path, size: int) -> np.ndarray:
    """Image as uint8 RGB, resized to size x size (the crops are square already)."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR))


def load_mask(path: Path | None, size: int) -> np.ndarray:
    if path is None:
        return np.zeros((size, size), np.uint8)
    with Image.open(path) as im:
        return (np.asarray(im.convert("L").resize((size, size), Image.Resampling.NEAREST)) > 127).astype(
            np.uint8
        )
