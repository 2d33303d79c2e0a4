"""The `papila` command line: train, evaluate, locate, screen, purge."""

from __future__ import annotations

import argparse
import json
import sys
import time
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
    from papila.model.release import DRISHTI

    if value == "none":
        return None
    folder = Path(value) if value else DRISHTI
    if value and not (folder / "discs.json").exists():
        raise SystemExit(f"no discs.json in {folder}")
    return folder if (folder / "discs.json").exists() else None


def cmd_train(args: argparse.Namespace) -> int:
    from papila.model.release import release
    from papila.model.train import TrainConfig, train

    if args.disc_cup_only:
        from papila.model.release import refit_disc_cup

        card = refit_disc_cup(args.out, args.data, seg_epochs=args.seg_epochs, seg_folds=args.seg_folds,
                              disc_centres=_disc_centres(args.disc_centres))
    else:
        cfg = TrainConfig(data=args.data, out=args.out, epochs=args.epochs, folds=args.folds, size=args.size,
                          batch=args.batch, seed=args.seed, init=args.init)
        train(cfg)
        card = release(args.out, args.data, compare_folds=args.folds > 1, seg_epochs=args.seg_epochs,
                       seg_folds=args.seg_folds, disc_centres=_disc_centres(args.disc_centres))
    _print({"model_version": card["model_version"], "cv_auc": card["metrics"]["cv"].get("auc"),
            "threshold": card["threshold"], "out": args.out}, True)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from papila.model import metrics, runtime
    from papila.model.card import load_card
    from papila.model.data import list_samples, load_rgb
    from papila.model.release import MASTER_NAME

    model_path = Path(args.model) if args.model else Settings.from_env().model_path
    card = load_card(model_path)
    samples = list_samples(args.data)
    labels = np.array([s.label for s in samples])
    runtimes = ["litert", "keras"] if args.runtime == "both" else [args.runtime]
    report: dict[str, Any] = {}
    for name in runtimes:
        path = model_path if name == "litert" else model_path.with_name(card.get("files", {}).get("master", MASTER_NAME))
        model = runtime.load(path)
        scores, elapsed = [], 0.0
        for s in samples:
            x = load_rgb(s.path, model.input_size).astype(np.float32)[None]
            t0 = time.perf_counter()
            scores.append(model.predict(x)[0].probability_glaucoma)
            elapsed += time.perf_counter() - t0
        out = metrics.summary(labels, np.array(scores), float(card["threshold"]))
        out.update(model_version=card["model_version"], ms_per_image=round(1000 * elapsed / len(samples), 2))
        if name != "litert":
            out["runtime"] = name
        report[name] = out
    result = report[runtimes[0]] if len(runtimes) == 1 else {**report["litert"], "runtimes": report}
    _print(result, args.json)
    return 0


def cmd_locate(args: argparse.Namespace) -> int:
    from PIL import Image

    from papila.locate import locate

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
    from papila.model.data import IMAGE_SUFFIXES

    files: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            files += sorted(p for p in item.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            files.append(item)
    return files


def _screen_local(file: Path, crop: dict[str, int] | None) -> dict[str, Any]:
    from papila import pipeline
    from papila.model import card as model_card
    from papila.model import runtime

    settings = Settings.from_env()
    global _MODEL
    if _MODEL is None:
        _MODEL = runtime.load(settings.model_path)
    outcome = pipeline.screen_image(file.read_bytes(), crop, _MODEL, model_card.load_card(settings.model_path))
    if isinstance(outcome, pipeline.Rejected):
        return {"status": "rejected", "probability_glaucoma": None, "label": None, "crop": None,
                "error": {"code": outcome.code, "message": outcome.message}}
    r = outcome.result
    return {"status": "done", "probability_glaucoma": r["probability_glaucoma"], "label": r["label"], "crop": r["crop"]}


_MODEL: Any = None


def _screen_api(file: Path, crop: dict[str, int] | None, api: str, timeout: float) -> dict[str, Any]:
    import requests

    from papila.keys import EXTENSIONS

    content_type = EXTENSIONS.get(file.suffix.lower(), "application/octet-stream")
    body: dict[str, Any] = {"filename": file.name, "content_type": content_type, "size": file.stat().st_size,
                            "consent": True}
    if crop:
        body["crop"] = crop
    created = requests.post(f"{api}/api/screenings", json=body, timeout=30)
    if created.status_code >= 400:
        return {"status": "error", "error": created.json().get("error")}
    screening = created.json()
    upload = screening["upload"]
    with file.open("rb") as fh:
        sent = requests.post(upload["url"], data=upload["fields"], files={"file": (file.name, fh, content_type)}, timeout=60)
    sent.raise_for_status()
    deadline, delay = time.monotonic() + timeout, 0.1
    while time.monotonic() < deadline:
        screening = requests.get(f"{api}/api/screenings/{screening['id']}", timeout=30).json()
        if screening["status"] in ("done", "rejected", "failed"):
            break
        time.sleep(delay)
        delay = min(delay * 1.5, 2.0)
    result = screening.get("result") or {}
    out = {"id": screening["id"], "status": screening["status"], "probability_glaucoma": result.get("probability_glaucoma"),
           "label": result.get("label"), "crop": result.get("crop")}
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
    from papila.retention import purge_from_env

    _print(purge_from_env(retention_days=args.days, dry_run=args.dry_run), args.json)
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
    p.add_argument("--seg-folds", type=int, default=4, help="CV folds of the disc/cup U-Net")
    p.add_argument("--disc-centres", help="folder with discs.json and photos (Drishti-GS1 layout) the U-Net also "
                                          "learns from; default the shared Drishti-GS1 set when present; 'none'")
    p.add_argument("--disc-cup-only", action="store_true",
                   help="keep the trained network (OUT/.train) and retrain only the disc/cup U-Net and combination")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="metrics on a folder of disc crops (glaucoma/, normal/)")
    p.add_argument("--data", required=True)
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

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
