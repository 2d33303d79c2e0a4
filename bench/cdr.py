"""Cup-to-disc ratio error by cross-validation, the way the release measures it (`disc_cup_stage`):
the U-Net is trained k times on RIM-ONE crops with expert masks plus Drishti-GS1 photos with expert disc
centres and CDRs, and each held-out part is scored. Prints the mean absolute error against the experts
on held-out RIM-ONE crops (vertical CDR of the expert masks) and on held-out Drishti-GS1 whole photos as
served (the verified disc, the disc-normalised square; mean of four experts). Tens of minutes per fold here.

Usage: python bench/cdr.py [--folds 4] [--epochs 40] [DATASETS_DIR]"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from papila.model.training import prepare
from papila.model.training.data import list_samples
from papila.model.training.release import disc_cup_stage

parser = argparse.ArgumentParser()
parser.add_argument("datasets", nargs="?", default=str(Path(__file__).resolve().parents[2] / "shared/datasets"))
parser.add_argument("--folds", type=int, default=4)
parser.add_argument("--epochs", type=int, default=40)
parser.add_argument("--seed", type=int, default=20201, help="the release's seed (model.json training.seed)")
args = parser.parse_args()
root = Path(args.datasets)
if not (root / "rim-one-dl-hospital-train/images").is_dir():
    sys.exit(f"no RIM-ONE DL data under {root}: pass the folder holding rim-one-dl-hospital-train/")

samples = list_samples(root / "rim-one-dl-hospital-train/images")
t0 = time.time()
crops = prepare.inputs(samples, 224, prepare.segmenter(None, Path("weights"))).images  # as served: disc-normalised
cv = disc_cup_stage(samples, crops, prepare.folds(samples, args.folds, args.seed), args.seed, args.epochs,
                    root / "drishti-gs1-train")
print(json.dumps({"folds": args.folds, "epochs": args.epochs,
                  "rim_one_crops_vs_expert_masks": cv["cdr_mae_cv"],
                  "drishti_gs1_photos_as_served_vs_experts": cv["cdr_mae_photos_cv"],
                  "seconds": round(time.time() - t0)}))
