"""Disc location as served: the locator's candidates, each verified by the disc/cup segmenter, and the
square of one anatomical scale around the verified disc.

Drishti-GS1 (expert disc centres): centre error in disc radii (hits within 0.5 R and 1 R), disc
height error, refusals, latency; the raw locator's first peak beside it. HYGD (no centres): refusals
and contact sheets (PNG, the verified square drawn on each photo) under --sheets, to look at as a
clinician would.

Usage: python bench/locate.py [--drishti DIR] [--hygd DIR] [--sheets DIR] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
from papila.core import pipeline
from papila.core.locate import locate
from papila.model.serving import runtime
from PIL import Image, ImageDraw

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
WEIGHTS = Path(__file__).resolve().parents[1] / "weights"


def drishti(root: Path, seg: runtime.DiscCupModel) -> dict:
    errors, raw_errors, height_errors, refused, ms = [], [], [], 0, []
    for item in json.loads((root / "discs.json").read_text()):
        image = Image.open(root / item["file"]).convert("RGB")
        r = item["disc_diameter"] / 2
        centre = (item["disc_center_x"], item["disc_center_y"])
        raw = locate(image)
        raw_errors.append(float(np.hypot(raw.center[0] - centre[0], raw.center[1] - centre[1])) / r)
        t0 = time.perf_counter()
        outcome = pipeline.disc_crop(image, None, seg)
        ms.append((time.perf_counter() - t0) * 1000)
        if isinstance(outcome, pipeline.Rejected):
            refused += 1
            continue
        disc = outcome[2]
        errors.append(float(np.hypot(disc.cx - centre[0], disc.cy - centre[1])) / r)
        height_errors.append(abs(disc.height - item["disc_diameter"]) / item["disc_diameter"])
    e = np.array(errors)
    return {"dataset": "drishti-gs1", "n": len(raw_errors), "refused": refused,
            "within_0.5R": round(float((e <= 0.5).sum() / len(raw_errors)), 3),
            "within_1R": round(float((e <= 1).sum() / len(raw_errors)), 3),
            "median_error_R": round(float(np.median(e)), 3) if len(e) else None,
            "max_error_R": round(float(e.max()), 3) if len(e) else None,
            "median_height_error": round(float(np.median(height_errors)), 3) if height_errors else None,
            "raw_locator_within_0.5R": round(float((np.array(raw_errors) <= 0.5).mean()), 3),
            "ms_p50": round(float(np.median(ms)), 1), "ms_max": round(float(np.max(ms)), 1)}


def hygd(root: Path, seg: runtime.DiscCupModel, sheets: Path | None, limit: int | None) -> dict:
    rows = list(csv.DictReader((root / "labels.csv").open()))[:limit]
    tiles, refused, moved, ms = [], {"glaucoma": 0, "normal": 0}, 0, []
    for row in rows:
        image = Image.open(root / row["file"]).convert("RGB")
        t0 = time.perf_counter()
        outcome = pipeline.disc_crop(image, None, seg)
        ms.append((time.perf_counter() - t0) * 1000)
        first = locate(image)
        tile = image.copy()
        draw = ImageDraw.Draw(tile)
        c = first.crop
        draw.rectangle([c.x, c.y, c.x + c.size, c.y + c.size], outline=(255, 255, 0), width=max(2, image.width // 200))
        if isinstance(outcome, pipeline.Rejected):
            refused[row["label"]] += 1
            caption = "REFUSED"
        else:
            c, disc = outcome[0], outcome[2]
            moved += int(np.hypot(disc.cx - first.center[0], disc.cy - first.center[1]) > disc.height)
            draw.rectangle([c.x, c.y, c.x + c.size, c.y + c.size], outline=(0, 255, 0), width=max(3, image.width // 150))
            caption = f"disc {disc.height:.0f}px"
        tile.thumbnail((320, 320))
        ImageDraw.Draw(tile).text((4, 4), f"{Path(row['file']).stem} {row['label'][0]} {caption}", fill=(255, 255, 255))
        tiles.append(tile)
    if sheets:
        sheets.mkdir(parents=True, exist_ok=True)
        per = 48
        for k in range(0, len(tiles), per):
            sheet = Image.new("RGB", (8 * 320, 6 * 320))
            for i, tile in enumerate(tiles[k:k + per]):
                sheet.paste(tile, ((i % 8) * 320, (i // 8) * 320))
            sheet.save(sheets / f"hygd-{k // per:02d}.png")
    return {"dataset": "hygd", "n": len(rows), "refused": refused,
            "refused_share": round(sum(refused.values()) / max(1, len(rows)), 3),
            "not_the_locators_first_peak": moved, "ms_p50": round(float(np.median(ms)), 1),
            "sheets": str(sheets) if sheets else None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--drishti", type=Path, default=SHARED / "drishti-gs1-train")
    ap.add_argument("--hygd", type=Path, default=SHARED / "hygd-dev")
    ap.add_argument("--sheets", type=Path, default=Path("bench/out/locate"))
    ap.add_argument("--segmenter", type=Path, default=WEIGHTS / "papila_disc_cup.tflite")
    ap.add_argument("--limit", type=int)
    args = ap.parse_args()
    seg = runtime.DiscCupModel(args.segmenter)
    if (args.drishti / "discs.json").exists():
        print(json.dumps(drishti(args.drishti, seg)), flush=True)
    else:
        print(f"no Drishti-GS1 data at {args.drishti}")
    if (args.hygd / "labels.csv").exists():
        print(json.dumps(hygd(args.hygd, seg, args.sheets, args.limit)), flush=True)
    else:
        print(f"no HYGD data at {args.hygd}")


if __name__ == "__main__":
    main()
