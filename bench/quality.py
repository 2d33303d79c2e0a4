"""Quality gate on every real image we have and on generated non-fundus images. Prints one JSON object:

- false_refusals: real images refused, per dataset (RIM-ONE DL crops by subset and label, Drishti-GS1
  photos, HYGD photos by quality-score band and label), with the refusal codes; also for JPEG q60 and
  512 px wide copies. The photo check runs on the upload as it is; the crop check on the square the
  models see, normalised by the disc (1.3 disc heights a side): RIM-ONE and Drishti from the experts'
  discs, HYGD from the served pipeline's verified disc (`pipeline.disc_crop` with the disc/cup
  segmenter; photos where it finds none are counted apart, as the pipeline's refusal, not the gate's);
  the served disc's size over HYGD's typical disc (0.14 of the field's diameter) is printed.
- copies: copies that must pass (JPEG q60, 512 px wide) and copies that must be refused: blurred by a
  Gaussian of 3/5/8/12 % of the diameter of the disc the square is cut for (the experts' disc, or for
  HYGD the disc the pipeline found: the focus check sees the square normalised by that disc, so a
  percentage means the same blur in the checked crop on every dataset; the whole photo is blurred, as a
  defocused camera would, and the same square is cut), also saved as JPEG q90 after the blur (5 %, 8 %),
  dark (x0.15) and blown out (x3 + 80).
- negatives: tests/negatives.py's groups (seed 0, never fitted on) through the whole gate (photo check,
  then the crop check on the locator's square), refused per group, the codes, and per group the most
  fundus-like scores (lowest mixture score, highest classifier log-odds).
- ms_per_photo: what the gate adds per photo (check_photo + check_crop) on the real photos, p50/p95, and
  on a 12-megapixel upscale.

Usage: python bench/quality.py [DATASETS_DIR] [--limit N] [--no-copies]"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from papila.core import quality
from papila.core.imaging import Crop, square_crop
from papila.core.locate import locate

BLUR_LEVELS = (0.03, 0.05, 0.08, 0.12)  # Gaussian sigma as a fraction of the disc diameter
SIDE_PER_DISC = 1.3
HYGD_DISC_PER_FIELD = 0.14


def normalised(cx: float, cy: float, disc: float) -> Crop:
    side = SIDE_PER_DISC * disc
    return Crop(round(cx - side / 2), round(cy - side / 2), max(8, round(side)))


def jpeg(image: Image.Image, q: int) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=q)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def gate(image: Image.Image, crop: Crop | None) -> tuple[str | None, dict[str, float]]:
    """The gate as the pipeline runs it: the photo, then the normalised square (None: the locator's)."""
    photo = quality.assess_photo(image)
    if photo.rejection:
        return photo.rejection.code, photo.scores
    square = crop if crop is not None else locate(image).crop
    checked = quality.assess_crop(square_crop(image, square))
    scores = {**photo.scores, **checked.scores}
    return (checked.rejection.code if checked.rejection else None), scores


class ServedDisc:
    """The pipeline's verified disc for a full photo (None when it finds none), if this tree has it."""

    def __init__(self) -> None:
        self.disc_crop = self.segmenter = None
        try:
            from papila.core.pipeline import disc_crop
            from papila.model.serving.runtime import DiscCupModel

            self.segmenter = DiscCupModel(REPO / "weights/papila_disc_cup.tflite", threads=1)
            self.disc_crop = disc_crop
        except (ImportError, OSError, ValueError) as exc:
            print(f"no served disc finder ({exc}); HYGD squares from the locator", file=sys.stderr)

    def __call__(self, image: Image.Image) -> tuple[Crop | None, str]:
        if self.disc_crop is None:
            found = locate(image)
            return normalised(*found.center, found.disc_diameter / 1.5), "locator"
        try:
            outcome = self.disc_crop(image, None, self.segmenter)
        except TypeError:  # the pipeline changed its signature: fall back to the locator
            self.disc_crop = None
            return self(image)
        if not isinstance(outcome, tuple):
            return None, getattr(outcome, "code", "disc_not_found")
        return outcome[0], "served"


def field_diameter(image: Image.Image) -> float:
    small = image.copy()
    small.thumbnail((256, 256))
    fov = quality.field_of_view(np.asarray(small, np.float32))
    return float(2 * np.sqrt(fov.sum() / np.pi) * image.width / small.width)


def real_images(root: Path, served: ServedDisc, limit: int | None) -> list[dict]:
    """Each real image with its set, band, label and the normalised squares to check."""
    items: list[dict] = []
    rim = root / "rim-one-dl-hospital-train"
    for path in sorted((rim / "images").rglob("*.png"))[:limit]:
        mask = np.asarray(Image.open(rim / "masks" / path.parent.name / f"{path.stem}_disc.png").convert("L")) > 127
        ys, xs = np.nonzero(mask)
        d = float(ys.max() - ys.min() + 1)
        items.append({"set": f"rim_one/{path.stem[:2]}", "label": path.parent.name, "path": path, "disc": d,
                      "crops": {"expert": normalised((xs.min() + xs.max() + 1) / 2, (ys.min() + ys.max() + 1) / 2, d)}})
    drishti = root / "drishti-gs1-train"
    if (drishti / "discs.json").exists():
        for e in json.loads((drishti / "discs.json").read_text())[:limit]:
            items.append({"set": "drishti", "label": None, "path": drishti / e["file"], "disc": e["disc_diameter"],
                          "crops": {"expert": normalised(e["disc_center_x"], e["disc_center_y"], e["disc_diameter"])}})
    hygd = root / "hygd-dev"
    if (hygd / "labels.csv").exists():
        with open(hygd / "labels.csv") as f:
            rows = list(csv.DictReader(f))[:limit]
        for row in rows:
            q = float(row["quality_score"])
            band = "q<4" if q < 4 else "q4-5" if q < 5 else "q5-6" if q < 6 else "q>=6"
            items.append({"set": f"hygd/{band}", "label": row["label"], "path": hygd / row["file"], "quality": q})
    for item in items:
        if item["set"].startswith("hygd"):
            image = Image.open(item["path"]).convert("RGB")
            crop, how = served(image)
            disc = HYGD_DISC_PER_FIELD * field_diameter(image)
            item["disc"] = disc
            item["served"] = how
            item["crops"] = {}
            if crop is not None:
                item["crops"]["served"] = crop
                item["served_disc_over_typical"] = crop.size / SIDE_PER_DISC / disc
                item["disc"] = crop.size / SIDE_PER_DISC  # blur copies scale with the disc the crop is cut for
    return items


def rate(codes: list[str | None]) -> str:
    return f"{sum(c is not None for c in codes)}/{len(codes)}"


def main() -> None:
    parser = argparse.ArgumentParser(description="quality gate benchmark")
    parser.add_argument("datasets", nargs="?", type=Path, default=REPO.parent / "shared/datasets")
    parser.add_argument("--limit", type=int, default=None, help="images per dataset (quick runs)")
    parser.add_argument("--no-copies", action="store_true", help="skip the JPEG/512 px/blurred/dark copies")
    args = parser.parse_args()

    quality.fundus_gate()  # load once, outside the timings
    served = ServedDisc()
    items = real_images(args.datasets, served, args.limit)
    if not items:
        sys.exit(f"no datasets under {args.datasets}")

    refused: dict[str, list[str | None]] = defaultdict(list)  # set/crop kind -> codes
    by_label: dict[str, list[str | None]] = defaultdict(list)
    examples: dict[str, list[str]] = defaultdict(list)
    copies: dict[str, list[str | None]] = defaultdict(list)
    no_disc: Counter = Counter()
    lowest: dict[str, tuple[float, str]] = {}
    ms: list[float] = []
    for item in items:
        image = Image.open(item["path"]).convert("RGB")
        if not item["crops"]:
            no_disc[item["set"]] += 1
        for kind, crop in item["crops"].items() or [("none", None)]:
            started = time.perf_counter()
            code, scores = gate(image, crop)
            if kind != "none":
                ms.append((time.perf_counter() - started) * 1000)
            key = f"{item['set']} [{kind}]"
            refused[key].append(code)
            if kind in ("expert", "served"):
                by_label[f"{item['set'].split('/')[0]}/{item['label']}"].append(code)
            if code:
                examples[key].append(f"{item['path'].name}:{code}")
            if "sharpness" in scores and (key not in lowest or scores["sharpness"] < lowest[key][0]):
                lowest[key] = (scores["sharpness"], item["path"].name)
        if args.no_copies or not item["crops"]:
            continue
        kind, crop = next(iter(item["crops"].items()))
        dataset = item["set"].split("/")[0]
        small = image.resize((512, round(image.height * 512 / image.width)), Image.Resampling.LANCZOS)
        s = 512 / image.width
        scaled = Crop(round(crop.x * s), round(crop.y * s), max(8, round(crop.size * s)))
        copies[f"must_pass/jpeg_q60/{dataset}"].append(gate(jpeg(image, 60), crop)[0])
        copies[f"must_pass/width_512/{dataset}"].append(gate(small, scaled)[0])
        for level in BLUR_LEVELS:
            blurred = image.filter(ImageFilter.GaussianBlur(level * item["disc"]))
            copies[f"must_refuse/blur_{level:.0%}/{dataset}"].append(gate(blurred, crop)[0])
            if level in (0.05, 0.08):  # as a camera saves it: JPEG after the blur
                copies[f"must_refuse/blur_{level:.0%}_then_jpeg90/{dataset}"].append(gate(jpeg(blurred, 90), crop)[0])
        copies[f"must_refuse/dark_x0.15/{dataset}"].append(gate(Image.eval(image, lambda v: int(v * 0.15)), crop)[0])
        copies[f"must_refuse/blown_out/{dataset}"].append(gate(Image.eval(image, lambda v: min(255, 3 * v + 80)), crop)[0])

    big = Image.open(next(i["path"] for i in items if i["set"].startswith(("hygd", "drishti")))).convert("RGB")
    big = big.resize((4000, round(4000 * big.height / big.width)), Image.Resampling.BILINEAR)
    big_ms = []
    for _ in range(5):
        started = time.perf_counter()
        gate(big, None)
        big_ms.append((time.perf_counter() - started) * 1000)

    from tests.negatives import negative_groups

    negatives, neg_codes, neg_lowest, neg_logit, passed = {}, {}, {}, {}, []
    for group, images in negative_groups().items():
        codes, oods, logits = [], [], []
        for k, im in enumerate(images):
            code, scores = gate(im, None)
            codes.append(code)
            if "fundus_ood" in scores:
                oods.append(scores["fundus_ood"])
            if "fundus_logit" in scores:
                logits.append(scores["fundus_logit"])
            if code is None:
                passed.append(f"{group}#{k}")
        negatives[group] = rate(codes)
        neg_codes[group] = dict(Counter(c or "passed" for c in codes))
        neg_lowest[group] = round(min(oods), 1) if oods else None
        neg_logit[group] = round(max(logits), 1) if logits else None
    gate_spec = quality.fundus_gate()
    ratios = [i["served_disc_over_typical"] for i in items if "served_disc_over_typical" in i]
    report = {
        "false_refusals": {k: rate(v) for k, v in sorted(refused.items())},
        "false_refusals_by_label": {k: rate(v) for k, v in sorted(by_label.items())},
        "false_refusal_codes": {k: dict(Counter(c for c in v if c)) for k, v in sorted(refused.items()) if any(v)},
        "examples": {k: v[:8] for k, v in sorted(examples.items())},
        "hygd_no_disc_by_pipeline": dict(no_disc),
        "hygd_square_source": dict(Counter(i.get("served") for i in items if "served" in i)),
        "hygd_served_disc_over_typical": [round(float(np.percentile(ratios, p)), 2) for p in (10, 50, 90)] if ratios else None,
        "lowest_sharpness": {k: [round(v[0], 3), v[1]] for k, v in sorted(lowest.items())},
        "thresholds": {"min_sharpness": quality.MIN_SHARPNESS, "fundus_ood_limit": gate_spec.limit,
                       "fundus_logit_limit": gate_spec.logit_limit,
                       "gate_version": gate_spec.version},
        "copies": {k: rate(v) for k, v in sorted(copies.items())},
        "negatives_refused": negatives,
        "negatives_total": f"{sum(int(v.split('/')[0]) for v in negatives.values())}/"
                           f"{sum(int(v.split('/')[1]) for v in negatives.values())}",
        "negative_codes": neg_codes,
        "negatives_lowest_fundus_ood": neg_lowest,
        "negatives_highest_fundus_logit": neg_logit,
        "negatives_passed": passed,
        "ms_per_photo": {"p50": round(float(np.percentile(ms, 50)), 1), "p95": round(float(np.percentile(ms, 95)), 1),
                         "n": len(ms), "12_megapixel_p50": round(float(np.median(big_ms)), 1)},
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
