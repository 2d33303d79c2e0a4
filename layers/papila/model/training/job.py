"""The managed training job (training.yaml: AWS Batch on a GPU instance; `papila model train-job`): a
dataset export in the uploads bucket in, a candidate version in the model registry out.

    exports/<id>.zip --download, extract (no path leaves the folder)--> WORK/data
    [base weights' disc/cup U-Net] --> WORK/release (kept, as `papila train` keeps a U-Net OUT has)
    papila train --data WORK/data --out WORK/release ...   (the command line itself, in a child process)
    WORK/release/training_set.json: the screening and subject ids trained on (a comparison holds them out)
    registry.register(WORK/release): models/<version>/, a candidate; the pointer is left as it is

Disc centres (Drishti-GS1 layout: discs.json + photos) for the fold U-Nets of the release can come from
the bucket as a zip (`disc_centres_key`): an export carries no expert masks."""

from __future__ import annotations

import csv
import json
import shutil
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from papila.adapters.aws import ImageBucket
from papila.adapters.registry import ModelRegistry
from papila.core.exports import EXPORTS_PREFIX, LABEL_DIRS
from papila.model.serving.card import DISC_CUP_NAME

TRAINING_SET = "training_set.json"
# The base weights' files that make `papila train` keep the segmenter (cli.cmd_train: OUT has one).
SEGMENTER_FILES = (DISC_CUP_NAME,)
# What training reads of an export (the originals and metadata.jsonl stay in the zip).
_WANTED = ("labels.csv", *LABEL_DIRS)


class JobError(ValueError):
    """An export (or disc-centres zip) the job cannot train on: missing, unsafe, not an export."""


def _member_path(name: str) -> PurePosixPath:
    """The relative path a zip member may be written to; JobError for one that would leave the folder."""
    path = PurePosixPath(name)
    if (not name or "\\" in name or "\0" in name or path.is_absolute() or ".." in path.parts
            or (path.parts and ":" in path.parts[0])):
        raise JobError(f"unsafe path in the zip: {name!r}")
    return path


def safe_extract(archive: Path, into: Path, wanted: tuple[str, ...] | None = None) -> list[Path]:
    """Extract `archive` under `into`: every member checked first (no absolute path, no `..`, no link),
    so an unsafe zip writes nothing; with `wanted`, only members equal to or under those names."""
    into.mkdir(parents=True, exist_ok=True)
    root = into.resolve()
    written: list[Path] = []
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        for info in members:
            _member_path(info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise JobError(f"link in the zip: {info.filename!r}")
        for info in members:
            if info.is_dir() or (wanted and not any(info.filename == w or (w.endswith("/") and
                                                    info.filename.startswith(w)) for w in wanted)):
                continue
            target = (root / _member_path(info.filename)).resolve()
            if not target.is_relative_to(root):
                raise JobError(f"unsafe path in the zip: {info.filename!r}")
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            written.append(target)
    return written


def training_set(data: Path, export_key: str) -> dict[str, Any]:
    """The export's screenings and people (labels.csv: screening_id, subject_id), as `training_set.json`."""
    table = data / "labels.csv"
    if not table.exists():
        raise JobError(f"{export_key} has no labels.csv: not a dataset export")
    with table.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not {"file", "screening_id", "subject_id"} <= set(reader.fieldnames or ()):
            raise JobError(f"{export_key}: labels.csv needs the columns file, screening_id, subject_id")
        rows = [row for row in reader if (data / row["file"]).is_file()]
    if not rows:
        raise JobError(f"{export_key} has no labelled crops")
    return {"export": export_key,
            "images": len(rows),
            "screening_ids": sorted({row["screening_id"] for row in rows if row["screening_id"]}),
            "subject_ids": sorted({row["subject_id"] for row in rows if (row["subject_id"] or "").strip()})}


def _download(bucket: ImageBucket, key: str, path: Path) -> Path:
    """The object in a file. Without s3:ListBucket (the job's role) S3 answers a missing key 403, not 404:
    any failure to read is reported as the key's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        bucket.download(key, path)
    except Exception as exc:
        raise JobError(f"cannot read {key} from the bucket: {exc}") from exc
    return path


def papila_train(args: list[str]) -> None:
    """`papila train ARGS`: the command line itself, in a child process (its logs on this one's stderr)."""
    result = subprocess.run([sys.executable, "-m", "papila.cli", "train", *args], stdout=sys.stderr, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"papila train exited with {result.returncode}")


def run_job(export_key: str, bucket: ImageBucket, registry: ModelRegistry, work: Path, train_args: list[str],
            base_weights: Path | None, *, disc_centres_key: str | None = None) -> dict[str, Any]:
    """Train on the export `export_key` (exports/<id>.zip) and register the release as a candidate (not
    promoted). `train_args`: more `papila train` options (--epochs, --folds, --size, ...); `base_weights`:
    a folder whose disc/cup U-Net the release keeps (None: `papila train` fits one)."""
    if not (export_key.startswith(EXPORTS_PREFIX) and export_key.endswith(".zip")):
        raise JobError(f"not a dataset export key: {export_key!r} (exports/<id>.zip)")
    work = Path(work)
    data, out = work / "data", work / "release"
    for folder in (data, out):
        if folder.exists():
            shutil.rmtree(folder)
    archive = _download(bucket, export_key, work / "export.zip")
    safe_extract(archive, data, _WANTED)
    archive.unlink()
    trained_on = training_set(data, export_key)

    out.mkdir(parents=True)
    if base_weights is not None:
        for name in SEGMENTER_FILES:
            if not (Path(base_weights) / name).exists():
                raise JobError(f"no {name} in the base weights {base_weights}")
            shutil.copy2(Path(base_weights) / name, out / name)
    args = ["--data", str(data), "--out", str(out), *train_args]
    if disc_centres_key:
        centres = work / "disc-centres"
        if centres.exists():
            shutil.rmtree(centres)
        zipped = _download(bucket, disc_centres_key, work / "disc-centres.zip")
        safe_extract(zipped, centres)
        zipped.unlink()
        if not (centres / "discs.json").exists():
            raise JobError(f"{disc_centres_key} has no discs.json at its top")
        args += ["--disc-centres", str(centres)]

    started = time.monotonic()
    papila_train(args)
    seconds = round(time.monotonic() - started, 1)
    (out / TRAINING_SET).write_text(json.dumps(trained_on, indent=1) + "\n")
    version = registry.register(out)
    return {"registered": version, "export": export_key, "images": trained_on["images"], "train_seconds": seconds}
