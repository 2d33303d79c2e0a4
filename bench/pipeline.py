"""Plumbing against the model (issue 13, item 6): CPU milliseconds per stage of one screening as the worker
runs it (strip the original's metadata, then `pipeline.screen_image`), for a 1900 px and a 640 px photo.

The photos are tests/fundus.py's synthetic fundus (deterministic), saved as JPEG q92 with EXIF (camera,
date, GPS): what a phone or a fundus camera uploads. Each stage's time is CPU time (`time.process_time`,
every thread of the process) spent in it and not in a stage nested inside it; the two networks (the
VGG19 and the disc/cup U-Net: every LiteRT `invoke`) are the model, everything else is plumbing.
Medians over --runs screenings after two warm-ups.

Usage: python bench/pipeline.py [--runs 15] [--json]
With --json the last line is {"photo_px": 1900, "model_ms", "plumbing_ms", "ratio"} for the 1900 px photo.
Target: ratio <= 1 (plumbing no dearer than the model)."""

from __future__ import annotations

import argparse
import functools
import io
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image

from tests.fundus import make_fundus

MODEL = ROOT / "weights" / "papila_vgg19_int8.tflite"
NETWORKS = "networks"
# (module, attribute, stage): what each stage is, wherever the pipeline calls it from. A stage's time
# excludes the stages it calls (the networks inside disc verification, a copy made inside locate, ...).
STAGES = (
    ("papila.core.imaging", "strip_metadata", "strip metadata"),
    ("papila.core.imaging", "decode", "decode"),
    ("papila.core.quality", "check_photo", "gate: photo"),
    ("papila.core.pipeline", "candidates", "locate"),
    ("papila.core.disc", "verified_disc", "verify disc"),
    ("papila.core.quality", "check_crop", "gate: crop"),
    ("papila.model.serving.runtime", "CombinedModel.predict", "model runtime (python)"),
    ("papila.core.heatmap", "overlay", "heat map"),
    ("papila.core.imaging", "png_bytes", "PNG encodes"),
)


class Clock:
    """Exclusive CPU time per stage: entering a nested stage pauses the one around it."""

    def __init__(self) -> None:
        self.stack: list[list[Any]] = []
        self.spent: dict[str, float] = defaultdict(float)

    def wrap(self, stage: str, fn: Any) -> Any:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            now = time.process_time()
            if self.stack:
                outer = self.stack[-1]
                self.spent[outer[0]] += now - outer[1]
            self.stack.append([stage, now])
            try:
                return fn(*args, **kwargs)
            finally:
                name, since = self.stack.pop()
                now = time.process_time()
                self.spent[name] += now - since
                if self.stack:
                    self.stack[-1][1] = now
        return timed


def install(clock: Clock, model: Any) -> None:
    import importlib

    for module_name, attribute, stage in STAGES:
        module = importlib.import_module(module_name)
        owner, _, name = attribute.rpartition(".")
        target = getattr(module, owner) if owner else module
        if hasattr(target, name):
            setattr(target, name, clock.wrap(stage, getattr(target, name)))
    # disc.py calls square_crop as its own name: the verification's crops count as verification
    for part in (getattr(model, "network", model), getattr(model, "disc_cup", None)):
        interpreter = getattr(part, "interpreter", None)
        if interpreter is not None:
            interpreter.invoke = clock.wrap(NETWORKS, interpreter.invoke)


def photo(width: int, height: int) -> bytes:
    """A synthetic fundus JPEG with the EXIF a camera writes (maker, date, GPS), upright (orientation 1)."""
    exif = Image.Exif()
    exif[0x010F] = "Topcon"
    exif[0x0132] = "2026:12:06 10:00:00"
    exif[0x0112] = 1
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (47.0, 23.0, 9.0), "E", (8.0, 32.0, 1.0)
    buf = io.BytesIO()
    make_fundus(width, height, seed=3).save(buf, "JPEG", quality=92, exif=exif)
    return buf.getvalue()


def measure(data: bytes, model: Any, card: dict[str, Any], clock: Clock, runs: int) -> dict[str, Any]:
    from papila.core import imaging, pipeline

    per_run: list[dict[str, float]] = []
    outcome: Any = None
    for i in range(runs + 2):
        clock.spent.clear()
        started = time.process_time()
        clean = imaging.strip_metadata(data)  # the worker's first step (worker._clean_original)
        outcome = pipeline.screen_image(clean, None, model, card)
        total = time.process_time() - started
        if i >= 2:
            row = {k: v * 1000 for k, v in clock.spent.items()}
            row["other"] = total * 1000 - sum(row.values())
            row["total"] = total * 1000
            per_run.append(row)
    names = [stage for _, _, stage in STAGES] + ["other", NETWORKS]
    med = {name: round(statistics.median(r.get(name, 0.0) for r in per_run), 1) for name in names}
    model_ms = statistics.median(r.get(NETWORKS, 0.0) for r in per_run)
    plumbing_ms = statistics.median(r["total"] - r.get(NETWORKS, 0.0) for r in per_run)
    status = "done" if isinstance(outcome, pipeline.Screened) else f"rejected ({outcome.code})"
    return {"stages": med, "model_ms": round(model_ms, 1), "plumbing_ms": round(plumbing_ms, 1),
            "total_ms": round(statistics.median(r["total"] for r in per_run), 1), "status": status}


def inline_original(data: bytes, runs: int) -> dict[str, float]:
    """CPU ms to make the stored original of an inline upload (the API's seed route, service.py), outside
    the screening above: re-encoding the decoded pixels (imaging.encode) against the lossless strip
    (imaging.clean_original, where this version has it)."""
    from papila.core import imaging

    image = imaging.decode(data)
    ways = {"re-encode (imaging.encode)": lambda: imaging.encode(image, "image/jpeg")}
    if hasattr(imaging, "clean_original"):
        ways["lossless (imaging.clean_original)"] = lambda: imaging.clean_original(data, image, "image/jpeg")
    out = {}
    for name, make in ways.items():
        times = []
        for _ in range(runs):
            started = time.process_time()
            make()
            times.append((time.process_time() - started) * 1000)
        out[name] = round(statistics.median(times), 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--json", action="store_true", help="end with one JSON line for the 1900 px photo")
    args = parser.parse_args()

    from papila.core import quality
    from papila.model.serving import card as model_card
    from papila.model.serving import runtime

    model = runtime.load(args.model)
    card = model_card.load_card(args.model)
    quality.fundus_gate()  # loaded once per container, outside the screenings
    clock = Clock()
    install(clock, model)
    results = {}
    for width, height in ((1900, 1500), (640, 480)):
        data = photo(width, height)
        found = measure(data, model, card, clock, args.runs)
        results[width] = found
        print(f"{width} x {height} JPEG ({len(data) // 1024} KiB, {found['status']}), CPU ms per screening, "
              f"median of {args.runs}:")
        for name, ms in found["stages"].items():
            kind = "model" if name == NETWORKS else "plumbing"
            print(f"  {name:<24} {ms:7.1f}  {kind}")
        ratio = found["plumbing_ms"] / max(found["model_ms"], 1e-9)
        print(f"  {'total':<24} {found['total_ms']:7.1f}   plumbing {found['plumbing_ms']:.1f} / model "
              f"{found['model_ms']:.1f} = {ratio:.2f}")
        inline = ", ".join(f"{name} {ms:.1f}" for name, ms in inline_original(data, args.runs).items())
        print(f"  inline upload's stored original (API, not in the screening above), CPU ms: {inline}")
    if args.json:
        big = results[1900]
        print(json.dumps({"photo_px": 1900, "model_ms": big["model_ms"], "plumbing_ms": big["plumbing_ms"],
                          "ratio": round(big["plumbing_ms"] / max(big["model_ms"], 1e-9), 3)}))


if __name__ == "__main__":
    main()
