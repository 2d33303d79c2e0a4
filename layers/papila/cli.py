"""The `papila` command line: train, evaluate, locate, screen, purge."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from papila.config import Settings


def _print(obj: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(obj), flush=True)
    else:
        print("  ".join(f"{k}={v}" for k, v in obj.items()), flush=True)


def _disc_centres(value: str | None) -> Path | None:
    """The photos with expert disc centres the U-Net also learns from: the shared Drishti-GS1 folder
    when it is there, a given folder, or none."""
    from papila.model.training.release import DRISHTI

    if value == "none":
        return None
    folder = Path(value) if value else DRISHTI
    if value and not (folder / "discs.json").exists():
        raise SystemExit(f"no discs.json in {folder}")
    return folder if (folder / "discs.json").exists() else None


def cmd_train(args: argparse.Namespace) -> int:
    """Three stages, each resumable: the disc/cup U-Net (it cuts what the VGG19 sees, so it comes first;
    kept when OUT already has one, unless --refit-segmenter), the VGG19's person-grouped CV and final fit,
    then the release (out-of-fold CDRs, the combination, the threshold, the card and its plots)."""
    from papila.model.serving.card import DISC_CUP_NAME
    from papila.model.training.data import list_samples
    from papila.model.training.release import fit_segmenter, release
    from papila.model.training.train import TrainConfig, train, train_head

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    centres = _disc_centres(args.disc_centres)
    if not args.release_only:
        if args.refit_segmenter or not (out / DISC_CUP_NAME).exists():
            samples = [s for d in args.data for s in list_samples(d)]
            fit_segmenter(out, samples, epochs=args.seg_epochs, seed=args.seed, disc_centres=centres)
        cfg = TrainConfig(data=args.data, out=args.out, epochs=args.epochs, folds=args.folds, size=args.size,
                          batch=args.batch, seed=args.seed, init=args.init, segmenter=str(out / DISC_CUP_NAME),
                          target_specificity=args.target_specificity)
        (train_head if args.head_only else train)(cfg)
    if args.no_release:
        return 0
    card = release(args.out, args.data, compare_folds=args.folds > 1 and not args.head_only, seg_epochs=args.seg_epochs,
                   disc_centres=centres, target_specificity=args.target_specificity)
    _print({"model_version": card["model_version"], "cv_auc": card["metrics"].get("cv", {}).get("auc"),
            "threshold": card["threshold"], "out": args.out}, True)
    return 0


# ---------------------------------------------------------------- evaluate (the served path)

def __getattr__(name: str) -> Any:
    """`screening_metrics` and `LABEL_NAMES` live in `papila.model.serving.metrics` (the admin's monitoring
    serves the same figures); still importable from here, without loading NumPy for every command."""
    if name in ("screening_metrics", "LABEL_NAMES"):
        from papila.model.serving import metrics

        return getattr(metrics, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _finite(obj: Any) -> Any:
    """NaN (an AUC with one class, a rate with no cases) as JSON null, not the non-standard NaN."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def _labelled_photos(folder: Path) -> list[dict[str, str]]:
    """`labels.csv` rows (`file,label`, more columns allowed), with the file checked and the label one of
    glaucoma|normal."""
    import csv

    from papila.model.serving.metrics import LABEL_NAMES

    table = folder / "labels.csv"
    if not table.exists():
        raise SystemExit(f"no labels.csv in {folder}")
    with table.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or not {"file", "label"} <= set(rows[0]):
        raise SystemExit(f"{table} needs the columns file,label")
    for line, row in enumerate(rows, start=2):
        row["label"] = (row["label"] or "").strip().lower()
        if row["label"] not in LABEL_NAMES:
            raise SystemExit(f"{table}:{line}: label must be glaucoma or normal, not {row['label']!r}")
        if not (folder / row["file"]).is_file():
            raise SystemExit(f"{table}:{line}: no file {row['file']}")
    return rows


def _exported_cases(folder: Path) -> list[dict[str, Any]]:
    """A dataset export's screenings (`papila.core.exports`): each labels.csv row with its metadata.jsonl
    line (`meta`: the stored result, the files) and its original photo's path (`original`, None if the
    export has none)."""
    rows = _labelled_photos(folder)
    if "screening_id" not in rows[0]:
        raise SystemExit(f"{folder / 'labels.csv'} has no screening_id column: not a dataset export")
    lines = folder / "metadata.jsonl"
    if not lines.exists():
        raise SystemExit(f"no metadata.jsonl in {folder}")
    meta = {}
    for line in lines.read_text(encoding="utf-8").splitlines():
        if line.strip():
            entry = json.loads(line)
            meta[entry["id"]] = entry
    for row in rows:
        entry = meta.get(row["screening_id"])
        if entry is None:
            raise SystemExit(f"metadata.jsonl has no line for screening {row['screening_id']}")
        original = (entry.get("files") or {}).get("original")
        row["meta"] = entry
        row["original"] = folder / original if original and (folder / original).is_file() else None
    return rows


def _whole_square(data: bytes) -> dict[str, int]:
    """A crop offered as the user's square: the whole image (the longer side, clamped by the pipeline)."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return {"x": 0, "y": 0, "size": max(im.size)}


Offer = bool | dict[str, int] | None  # the square offered as the user's: True the whole image, None/False none


def _served(items: list[tuple[Path, str, int, Offer]], model: Any, card: dict[str, Any]
            ) -> tuple[list[dict[str, Any]], float]:
    """Each image through `papila.core.pipeline.screen_image`, exactly as the inference function runs it:
    (path, name to report, label, offer) with `offer` = True: the whole image as the user's square; a
    square (original pixels): that one, as the user drew it; None or False: the pipeline locates the disc."""
    from papila.core import pipeline
    from papila.model.serving.metrics import LABEL_NAMES

    outcomes, elapsed = [], 0.0
    for path, name, label, offer in items:
        data = path.read_bytes()
        square = _whole_square(data) if offer is True else (offer or None)
        t0 = time.perf_counter()
        try:
            outcome = pipeline.screen_image(data, square, model, card)
        except Exception as exc:
            raise RuntimeError(f"{path}: {exc}") from exc
        elapsed += time.perf_counter() - t0
        row: dict[str, Any] = {"file": name, "label": LABEL_NAMES[label], "status": "done", "code": None,
                               "probability_glaucoma": None, "probability_network": None, "cdr": None}
        if isinstance(outcome, pipeline.Rejected):
            row.update(status="rejected", code=outcome.code)
        else:
            r = outcome.result
            row.update(probability_glaucoma=r["probability_glaucoma"], probability_network=r.get("probability_network"),
                       cdr=(r.get("cdr") or {}).get("vertical"))
        outcomes.append(row)
    return outcomes, elapsed


def _figures(rows: list[dict[str, Any]], threshold: float | None) -> dict[str, Any]:
    """`screening_metrics` over the rows; `threshold` None: each row's own (`threshold`, stored results)."""
    import numpy as np

    from papila.model.serving.metrics import screening_metrics

    def column(name: str) -> Any:
        return np.array([np.nan if r[name] is None else float(r[name]) for r in rows], dtype=np.float64)

    out = screening_metrics([r["label"] == "glaucoma" for r in rows], column("probability_glaucoma"),
                            column("threshold") if threshold is None else threshold,
                            network=column("probability_network"), cdr=column("cdr"))
    codes: dict[str, int] = {}
    for r in rows:
        if r["code"]:
            codes[r["code"]] = codes.get(r["code"], 0) + 1
    out["refused_codes"] = dict(sorted(codes.items()))
    return out


def _write_predictions(path: Path, rows: list[dict[str, Any]]) -> None:
    import csv

    fields = list(rows[0]) if rows else ["file", "label", "status"]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def _master_path(model_path: Path, card: dict[str, Any]) -> Path:
    master = card.get("files", {}).get("master")
    if not master:  # an older card: the release's default name (importing it loads TensorFlow)
        from papila.model.serving.card import MASTER_NAME

        master = MASTER_NAME
    return model_path.with_name(master)


def _breakdown(rows: list[dict[str, Any]], groups: list[str | None], threshold: float | None) -> dict[str, Any]:
    out = {}
    for value in sorted({g for g in groups if g is not None}):
        part = [r for r, g in zip(rows, groups, strict=True) if g == value]
        figures = _figures(part, threshold)
        figures.pop("threshold")
        out[value] = figures
    return out


def _export_groups(cases: list[dict[str, Any]], by: str | None) -> list[str | None]:
    """An export's `--by` column per case; blank is "(unknown)", as the admin's monitoring names it."""
    from papila.core.monitoring import UNKNOWN

    if not by:
        return [None] * len(cases)
    if by not in cases[0]:
        raise SystemExit(f"labels.csv has no column {by!r}")
    return [(c.get(by) or "").strip() or UNKNOWN for c in cases]


def _evaluate_stored(args: argparse.Namespace) -> int:
    """`--export DIR --stored`: the figures of the results the export carries, each at its stored threshold,
    without grading anything: the same numbers GET /api/admin/monitoring serves for the same cases."""
    cases = _exported_cases(Path(args.export))
    groups = _export_groups(cases, args.by)
    rows, versions = [], {}
    for case in cases:
        result = case["meta"].get("result") or {}
        if not isinstance(result.get("probability_glaucoma"), int | float) or \
                not isinstance(result.get("threshold"), int | float):
            raise SystemExit(f"screening {case['screening_id']}: metadata.jsonl has no stored probability and threshold")
        version = str(result.get("model_version") or case.get("model_version") or "")
        versions[version] = versions.get(version, 0) + 1
        rows.append({"file": case["file"], "label": case["label"], "status": "done", "code": None,
                     "probability_glaucoma": result["probability_glaucoma"], "threshold": result["threshold"],
                     "model_label": result.get("label"), "probability_network": None, "cdr": None})
    out = _figures(rows, None)
    out.update(stored=True, model_versions=dict(sorted(versions.items())),
               agreement=sum(r["model_label"] == r["label"] for r in rows) / len(rows))
    if args.by:
        out["by"] = _breakdown(rows, groups, None)
    if args.predictions:
        for r, g in zip(rows, groups, strict=True):
            if args.by:
                r[args.by] = g
        _write_predictions(Path(args.predictions), rows)
    _print(_finite(out), args.json)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Runs every image through the served code path (`papila.core.pipeline.screen_image`: decode, quality gate,
    disc location or the given square, model) and prints the screening figures over all of them."""
    from papila.model.serving.metrics import LABEL_NAMES

    if args.stored and not args.export:
        raise SystemExit("--stored needs --export (a dataset export's stored results)")
    if args.export and args.stored:
        return _evaluate_stored(args)

    from papila.model.serving import runtime
    from papila.model.serving.card import load_card

    model_path = Path(args.model) if args.model else Settings.from_env().model_path
    card = load_card(model_path)
    threshold = float(card["threshold"])
    groups: list[str | None]
    missing = None
    if args.export:
        # Each original photo again, with the square its user drew (the stored result's `crop.requested`),
        # else located as for an upload without one; a screening exported without its original is left out.
        cases = _exported_cases(Path(args.export))
        groups = _export_groups(cases, args.by)
        missing = sum(c["original"] is None for c in cases)
        kept = [(c, g) for c, g in zip(cases, groups, strict=True) if c["original"] is not None]
        items = [(c["original"], c["file"], LABEL_NAMES.index(c["label"]),
                  ((c["meta"].get("result") or {}).get("crop") or {}).get("requested")) for c, _ in kept]
        groups = [g for _, g in kept]
    elif args.photos:
        folder = Path(args.photos)
        table = _labelled_photos(folder)
        if args.by and args.by not in table[0]:
            raise SystemExit(f"labels.csv has no column {args.by!r}")
        # Full photos: no square given, so the pipeline locates the disc itself.
        items = [(folder / r["file"], r["file"], LABEL_NAMES.index(r["label"]), False) for r in table]
        groups = [(r.get(args.by) or "").strip() or "(blank)" for r in table] if args.by else [None] * len(table)
    else:
        from papila.model.training.data import list_samples

        if args.by:
            raise SystemExit("--by needs --photos or --export (a labels.csv to read the column from)")
        # Disc crops: each is offered as the user's square (the whole crop).
        items = [(s.path, str(s.path.relative_to(args.data)), s.label, True) for s in list_samples(args.data)]
        groups = [None] * len(items)

    runtimes = ["litert", "keras"] if args.runtime == "both" else [args.runtime]
    report: dict[str, Any] = {}
    for name in runtimes:
        path = model_path if name == "litert" else _master_path(model_path, card)
        if name == "litert":
            model = runtime.load(path)
        else:
            from papila.model.training import master

            model = master.load(path)
        rows, elapsed = _served(items, model, card)
        out = _figures(rows, threshold)
        out.update(model_version=card["model_version"], ms_per_image=round(1000 * elapsed / max(len(rows), 1), 2))
        if missing is not None:
            out["missing_original"] = missing
        if args.by:
            out["by"] = _breakdown(rows, groups, threshold)
        if name != "litert":
            out["runtime"] = name
        report[name] = out
        if args.predictions and name == runtimes[0]:
            for r, g in zip(rows, groups, strict=True):
                if args.by:
                    r[args.by] = g
            _write_predictions(Path(args.predictions), rows)
    result = report[runtimes[0]] if len(runtimes) == 1 else {**report["litert"], "runtimes": report}
    _print(_finite(result), args.json)
    return 0


def cmd_locate(args: argparse.Namespace) -> int:
    from PIL import Image

    from papila.core.locate import locate

    status = 0
    for file in args.images:
        try:
            with Image.open(file) as im:
                found = locate(im.convert("RGB"))
        except OSError as exc:
            print(json.dumps({"file": file, "error": str(exc)}), file=sys.stderr)
            status = 1
            continue
        _print({"file": file, "crop": found.crop.as_dict(), "confidence": found.confidence}, args.json)
    return status


def _image_files(items: list[str]) -> list[Path]:
    from papila.model.training.data import IMAGE_SUFFIXES

    files: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            files += sorted(p for p in item.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            files.append(item)
    return files


def _screen_local(file: Path, crop: dict[str, int] | None) -> dict[str, Any]:
    from papila.core import pipeline
    from papila.model.serving import card as model_card
    from papila.model.serving import runtime

    settings = Settings.from_env()
    global _MODEL
    if _MODEL is None:
        _MODEL = runtime.load(settings.model_path)
    outcome = pipeline.screen_image(file.read_bytes(), crop, _MODEL, model_card.load_card(settings.model_path))
    if isinstance(outcome, pipeline.Rejected):
        return {"status": "rejected", "probability_glaucoma": None, "label": None, "crop": None, "cdr": None,
                "probability_network": None, "error": {"code": outcome.code, "message": outcome.message}}
    return {"status": "done", **_graded(outcome.result)}


def _graded(result: dict[str, Any]) -> dict[str, Any]:
    """What `screen` prints of a result: the served probability and label, the crop, the estimated vertical
    cup-to-disc ratio and the VGG19's own probability (null where the model has none)."""
    return {"probability_glaucoma": result.get("probability_glaucoma"), "label": result.get("label"),
            "crop": result.get("crop"), "cdr": (result.get("cdr") or {}).get("vertical"),
            "probability_network": result.get("probability_network")}


_MODEL: Any = None


def _screen_api(file: Path, crop: dict[str, int] | None, api: str, timeout: float) -> dict[str, Any]:
    import requests

    from papila.core.keys import EXTENSIONS

    content_type = EXTENSIONS.get(file.suffix.lower(), "application/octet-stream")
    body: dict[str, Any] = {"filename": file.name, "content_type": content_type, "size": file.stat().st_size,
                            "consent": True}
    if crop:
        body["crop"] = crop
    # The key makes a create retried after a lost answer the same screening, not a second one.
    idempotency = {"Idempotency-Key": str(uuid.uuid4())}
    created = requests.post(f"{api}/api/screenings", json=body, headers=idempotency, timeout=30)
    if created.status_code >= 400:
        return {"status": "error", "error": created.json().get("error")}
    screening = created.json()
    owner = {"X-Screening-Secret": screening["secret"]}  # feedback and rerun need it: it is printed
    upload = screening["upload"]
    with file.open("rb") as fh:
        sent = requests.post(upload["url"], data=upload["fields"], files={"file": (file.name, fh, content_type)}, timeout=60)
    sent.raise_for_status()
    deadline, delay = time.monotonic() + timeout, 0.1
    while time.monotonic() < deadline:
        screening = requests.get(f"{api}/api/screenings/{screening['id']}", headers=owner, timeout=30).json()
        if screening["status"] in ("done", "rejected", "failed"):
            break
        time.sleep(delay)
        delay = min(delay * 1.5, 2.0)
    result = screening.get("result") or {}
    out = {"id": screening["id"], "secret": owner["X-Screening-Secret"], "status": screening["status"],
           **_graded(result)}
    if "error" in screening:
        out["error"] = screening["error"]
    return out


def cmd_screen(args: argparse.Namespace) -> int:
    crop = json.loads(args.crop) if args.crop else None
    for file in _image_files(args.inputs):
        t0 = time.perf_counter()
        out = _screen_api(file, crop, args.api.rstrip("/"), args.timeout) if args.api else _screen_local(file, crop)
        _print({"file": str(file), **out, "seconds": round(time.perf_counter() - t0, 3)}, args.json)
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from papila.usecases.retention import purge_from_env

    _print(purge_from_env(retention_days=args.days, dry_run=args.dry_run), args.json)
    return 0


def cmd_model(args: argparse.Namespace) -> int:
    """The model registry: register a trained version, promote one (or roll back), show which serves; train a
    candidate on a dataset export in the bucket (train-job: training.yaml's Batch job)."""
    from papila.adapters.aws import ImageBucket
    from papila.adapters.registry import ModelRegistry, RegistryError

    settings = Settings.from_env()
    if not settings.model_parameter:
        print("papila model: MODEL_PARAMETER is not set (source .run/env, or the stack's ModelVersionParameterName)",
              file=sys.stderr)
        return 2
    if args.action == "train-job":
        return _train_job(args, settings)
    if args.action in ("register", "promote") and not args.target:
        print(f"papila model {args.action}: say which " + ("folder" if args.action == "register" else "version"),
              file=sys.stderr)
        return 2
    registry = ModelRegistry(ImageBucket(settings.uploads_bucket), settings.model_parameter)
    try:
        if args.action == "register":
            out = {"registered": registry.register(Path(args.target))}
            if args.promote:
                out["previous"] = registry.promote(out["registered"])
        elif args.action == "promote":
            out = {"serving": args.target, "previous": registry.promote(args.target)}
        else:
            out = {"serving": registry.current(), "versions": registry.versions()}
    except RegistryError as exc:
        print(f"papila model: {exc}", file=sys.stderr)
        return 2
    _print(out, args.json)
    return 0


TRAINING_DISC_CENTRES = "training/disc-centres.zip"


def _train_job(args: argparse.Namespace, settings: Settings) -> int:
    """`papila model train-job`: the export in the bucket through `papila train`, registered (not promoted)."""
    import tempfile

    from papila.adapters.aws import ImageBucket
    from papila.adapters.registry import ModelRegistry, RegistryError
    from papila.core.exports import export_key
    from papila.model.serving.card import DISC_CUP_NAME
    from papila.model.training.job import JobError, run_job

    if not args.export_id or "/" in args.export_id:
        print("papila model train-job: say which export (--export-id ID)", file=sys.stderr)
        return 2
    train_args: list[str] = []
    for name in ("epochs", "folds", "size", "seg_epochs"):
        if getattr(args, name) is not None:
            train_args += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    bucket = ImageBucket(settings.uploads_bucket)
    centres = args.disc_centres_key
    if centres is None and bucket.exists(TRAINING_DISC_CENTRES):
        centres = TRAINING_DISC_CENTRES
    base = Path(args.base_weights) if args.base_weights else settings.model_path.parent
    if not args.base_weights and not (base / DISC_CUP_NAME).exists():
        base = None
    registry = ModelRegistry(bucket, settings.model_parameter)
    with tempfile.TemporaryDirectory(prefix="papila-train-job-") as tmp:
        try:
            out = run_job(export_key(args.export_id), bucket, registry, Path(args.work or tmp), train_args, base,
                          disc_centres_key=centres or None)
            out["serving"] = registry.current()  # a candidate: what serves is unchanged
        except (JobError, RegistryError, RuntimeError) as exc:
            print(f"papila model train-job: {exc}", file=sys.stderr)
            return 2
    _print(out, args.json)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="papila", description="Papila glaucoma screening tools")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="cross-validate, train the VGG19 and write the model + card")
    p.add_argument("--data", action="append", required=True, help="folder with glaucoma/ and normal/ (repeatable)")
    p.add_argument("--out", default="weights")
    p.add_argument("--epochs", type=int, default=14)
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seed", type=int, default=20201)
    p.add_argument("--seg-epochs", type=int, default=40, help="epochs of the disc/cup U-Net (needs masks)")
    p.add_argument("--init", help="start from these master weights (.npz), e.g. weights/papila_vgg19_master.npz")
    p.add_argument("--disc-centres", help="folder with discs.json and photos (Drishti-GS1 layout) the U-Net also "
                                          "learns from; default the shared Drishti-GS1 set when present; 'none'")
    p.add_argument("--refit-segmenter", action="store_true",
                   help="retrain the served disc/cup U-Net first even when OUT has one (it cuts the training crops)")
    p.add_argument("--target-specificity", type=float, default=0.80,
                   help="the threshold rule: lowest threshold with this pooled out-of-fold specificity")
    p.add_argument("--no-release", action="store_true", help="train only (checkpoints in OUT/.train)")
    p.add_argument("--head-only", action="store_true",
                   help="keep the VGG19 body of --init and refit only its Dense(2) head on every image (by the "
                        "same person-grouped folds): transfer learning where a full training does not fit")
    p.add_argument("--release-only", action="store_true", help="release a finished training run in OUT/.train")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="screening figures through the served path, on disc crops or full photos",
                       description="Every image goes through the served path (quality gate, disc check, model). "
                                   "AUCs are over graded images; sensitivity and specificity count refused "
                                   "photos against the screen (a refused glaucoma photo is a miss, a refused "
                                   "normal photo is not a correct normal call).")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="folder with glaucoma/ and normal/ disc crops (each offered as the user's square)")
    source.add_argument("--photos", help="folder with labels.csv (file,label[,more columns]) and full photos "
                                         "(the disc is located as for an upload without a square)")
    source.add_argument("--export", help="an unzipped dataset export (POST /api/admin/exports): each original "
                                         "photo again, with the square its user drew, through the installed model")
    p.add_argument("--stored", action="store_true",
                   help="with --export: the stored results' probabilities at their stored thresholds instead "
                        "(no model; what GET /api/admin/monitoring serves for the same cases)")
    p.add_argument("--by", help="with --photos or --export: also break the figures down by this labels.csv column "
                                "(camera, model_version, subject_id)")
    p.add_argument("--predictions", help="write one CSV row per image (status, refusal code, probabilities, CDR)")
    p.add_argument("--model", help="serving model (default MODEL_PATH)")
    p.add_argument("--runtime", choices=["litert", "keras", "both"], default="litert")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("locate", help="propose the square crop around the optic disc")
    p.add_argument("images", nargs="+")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_locate)

    p = sub.add_parser("screen", help="screen photos in-process or through the HTTP API")
    p.add_argument("inputs", nargs="+")
    p.add_argument("--api", help="base URL of the API, e.g. http://127.0.0.1:8000")
    p.add_argument("--crop", help='JSON {"x":..,"y":..,"size":..} in original pixels')
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_screen)

    p = sub.add_parser("purge", help="erase unlabelled screenings older than RETENTION_DAYS (what the daily function runs)")
    p.add_argument("--days", type=int, help="retention in days (default: RETENTION_DAYS, else 365)")
    p.add_argument("--dry-run", action="store_true", help="count only; erase nothing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_purge)

    p = sub.add_parser("model", help="the model registry: register a version, promote it (or roll back), list; "
                                     "train-job: train a candidate on a dataset export")
    p.add_argument("action", choices=("register", "promote", "list", "train-job"))
    p.add_argument("target", nargs="?", help="register: a release folder (model.json + files); promote: a version or 'baked'")
    p.add_argument("--promote", action="store_true", help="register: promote the version at once")
    job = p.add_argument_group("train-job", "train on a dataset export in the bucket and register a candidate "
                                            "(what training.yaml's Batch job runs)")
    job.add_argument("--export-id", help="the export to train on (exports/<id>.zip in UPLOADS_BUCKET)")
    for flag in ("--epochs", "--folds", "--size", "--seg-epochs"):
        job.add_argument(flag, type=int, help=f"papila train {flag} (default: papila train's)")
    job.add_argument("--disc-centres-key", help="a zip in the bucket (discs.json + photos, Drishti-GS1 layout) "
                                                "the release's fold U-Nets also learn from; default "
                                                f"{TRAINING_DISC_CENTRES} when it is there")
    job.add_argument("--base-weights", help="folder whose disc/cup U-Net the candidate keeps (default: the "
                                            "folder of MODEL_PATH, when it has one)")
    job.add_argument("--work", help="scratch folder (default: a temporary one)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_model)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
