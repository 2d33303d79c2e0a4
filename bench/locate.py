"""Disc locator on Drishti-GS1 (expert disc centres): hit rate within 0.5 R and 1 R, median error,
whole disc inside the crop, and latency. Usage: python bench/locate.py [DATASET_DIR]"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from papila.locate import locate
from PIL import Image

root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared/datasets/drishti-gs1-train")
if not (root / "discs.json").exists():
    sys.exit(f"no Drishti-GS1 data at {root}: pass the folder holding discs.json")
errors, inside, ms, confs = [], [], [], []
for item in json.loads((root / "discs.json").read_text()):
    image = Image.open(root / item["file"]).convert("RGB")
    t0 = time.perf_counter()
    found = locate(image)
    ms.append((time.perf_counter() - t0) * 1000)
    r = item["disc_diameter"] / 2
    dist = float(np.hypot(found.center[0] - item["disc_center_x"], found.center[1] - item["disc_center_y"]))
    errors.append(dist / r)
    c = found.crop
    inside.append(c.x <= item["disc_center_x"] - r and c.y <= item["disc_center_y"] - r
                  and c.x + c.size >= item["disc_center_x"] + r and c.y + c.size >= item["disc_center_y"] + r)
    confs.append(found.confidence)
e = np.array(errors)
print(json.dumps({"n": len(e), "within_0.5R": round(float((e <= 0.5).mean()), 3), "within_1R": round(float((e <= 1).mean()), 3),
                  "median_error_R": round(float(np.median(e)), 3), "disc_inside_crop": round(float(np.mean(inside)), 3),
                  "ms_p50": round(float(np.median(ms)), 1), "ms_max": round(float(np.max(ms)), 1),
                  "min_confidence": round(float(min(confs)), 3)}))
