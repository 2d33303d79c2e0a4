"""Fit the "is this a colour fundus photo?" gate (weights/fundus_gate.json) on every real fundus image.

Positives only (a one-class model): RIM-ONE DL crops, Drishti-GS1 photos and HYGD photos, each as
uploaded and in camera-like variations (colour balance, gamma, exposure, resolution, JPEG quality,
mild defocus, mirror image), plus disc crops cut from the photos at several framings (people upload
crops too). Features: `papila.core.quality.features`; model: a Gaussian mixture (scikit-learn, full
covariances) on standardised features, written as plain numbers that numpy evaluates at serving.

The refusal limit is set from out-of-fold scores (5 folds grouped by patient / image; the folds'
images never train the mixture that scores them): the 99.5th percentile of the out-of-fold scores of
every real row, the camera-like variations and disc crops included, so the images as they come
(out of fold: ~0.2 % over it) keep a margin for cameras we have not seen. Leave-one-dataset-out
scores are printed too: how a dataset's camera fares when the gate never saw it.

A logistic regression (features and their squares, standardised like the mixture's) of the same rows
against generated non-fundus pictures: tests/negatives.py's generators with seeds 1-3, never seed 0, the
set the tests and bench/quality.py check; its limit is the 0.25th percentile of the out-of-fold scores of
every real row. A photo is refused when either the mixture or the classifier refuses it.

Usage: python bench/fit_gate.py [--data DATASETS_DIR] [--out weights/fundus_gate.json]
       [--cache bench/out/gate_rows] [--components 4]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from papila.core.imaging import Crop, square_crop
from papila.core.quality import (
    FEATURE_SIZE,
    FEATURES,
    FundusGate,
    features,
    field_of_view,
    small_rgb,
)

VARIANTS = 5  # camera-like variations per real image (besides the image as it is)
CROPS_PER_PHOTO = 2  # disc crops cut from each full photo
LIMIT_FACTOR = 1.0
SYNTHETIC = 60  # generated fundus photos (tests/fundus.py) added to the positives
SEED = 11


def load_sources(root: Path) -> list[dict]:
    """Every real image: dataset, group (patient or image), kind (photo or crop), path, disc if known."""
    items = []
    rim = root / "rim-one-dl-hospital-train/images"
    for path in sorted(rim.rglob("*.png")):
        items.append({"dataset": "rim_one", "group": f"rim:{path.stem}", "kind": "crop", "path": path, "label": path.parent.name})
    drishti = root / "drishti-gs1-train"
    if (drishti / "discs.json").exists():
        for d in json.loads((drishti / "discs.json").read_text()):
            items.append({"dataset": "drishti", "group": f"drishti:{d['file']}", "kind": "photo", "path": drishti / d["file"],
                          "disc": (d["disc_center_x"], d["disc_center_y"], d["disc_diameter"])})
    hygd = root / "hygd-dev"
    if (hygd / "labels.csv").exists():
        with open(hygd / "labels.csv") as f:
            for row in csv.DictReader(f):
                items.append({"dataset": "hygd", "group": f"hygd:{row['patient_group']}", "kind": "photo",
                              "path": hygd / row["file"], "label": row["label"], "quality": float(row["quality_score"])})
    return items


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def camera_variation(image: Image.Image, rng: np.random.Generator, disc_px: float) -> Image.Image:
    """Another camera's rendering of the same eye: white balance, gamma, exposure, resolution, JPEG,
    slight defocus, mirror image."""
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.005, 0.05)) * disc_px))
    longest = int(rng.uniform(0.25, 1.0) * max(image.size))
    if longest >= 200 and longest < max(image.size):
        s = longest / max(image.size)
        image = image.resize((max(1, round(image.width * s)), max(1, round(image.height * s))), Image.Resampling.LANCZOS)
    a = np.asarray(image, np.float32) / 255.0
    gains = np.exp(rng.normal(0, [0.08, 0.14, 0.30]))
    a = np.clip(a * gains * float(rng.uniform(0.6, 1.25)), 0, 1) ** float(rng.uniform(0.7, 1.4))
    if rng.random() < 0.4:  # contrast
        m = a.mean(axis=(0, 1))
        a = np.clip(m + (a - m) * float(rng.uniform(0.7, 1.4)), 0, 1)
    image = Image.fromarray((a * 255 + 0.5).astype(np.uint8))
    return _jpeg(image, int(rng.integers(45, 96)))


def disc_estimate(image: Image.Image) -> tuple[float, float, float]:
    """Disc centre and diameter for photos without expert ones (HYGD): the locator on a copy whose field
    rim (bright reflections) is painted with the field's median colour. Wrong on a few photos: those
    crops are then of other retina, still fundus."""
    from papila.core.locate import locate

    small = image.copy()
    small.thumbnail((512, 512))
    a = np.asarray(small).copy()
    fov = field_of_view(a.astype(np.float32))
    eroded = np.asarray(Image.fromarray(fov.astype(np.uint8) * 255).filter(ImageFilter.MinFilter(17))) > 127
    if eroded.mean() > 0.1:
        a[~eroded] = np.median(a[eroded], axis=0)
    found = locate(Image.fromarray(a))
    s = image.width / small.width
    field_d = 2 * np.sqrt(fov.sum() / np.pi) * s
    return float(found.center[0] * s), float(found.center[1] * s), float(0.14 * field_d)  # HYGD (45 degrees): disc ~0.14 of the field


def rows_for(item: dict, rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    """(variant name, the FEATURE_SIZE copy `features` works on) for one real image: as it is, camera
    variations, and disc crops."""
    image = Image.open(item["path"]).convert("RGB")
    if item["kind"] == "crop":
        disc_px = 0.75 * image.width
    else:
        disc = item.get("disc") or disc_estimate(image)
        disc_px = disc[2]

    def small(im: Image.Image) -> np.ndarray:
        return small_rgb(im, FEATURE_SIZE).astype(np.uint8)

    out = [("original", small(image))]
    for _ in range(VARIANTS):
        out.append(("variation", small(camera_variation(image, rng, disc_px))))
    if item["kind"] == "photo":
        cx, cy, d = disc
        for _ in range(CROPS_PER_PHOTO):
            side = float(rng.uniform(1.3, 3.5)) * d
            x, y = cx + rng.normal(0, 0.1) * d - side / 2, cy + rng.normal(0, 0.1) * d - side / 2
            crop = square_crop(image, Crop(round(x), round(y), round(side)))
            out.append(("disc_crop", small(camera_variation(crop, rng, d) if rng.random() < 0.7 else crop)))
    return out


def add_synthetic(rows: dict, rng: np.random.Generator) -> None:
    """The project's generated fundus photos (tests/fundus.py), which every plumbing test screens, as a
    small extra set of positives (never used to set the limit): as they are and in camera variations."""
    from tests.fundus import make_fundus

    for i in range(SYNTHETIC):
        w = int(rng.integers(480, 2000))
        h = int(w * rng.uniform(0.72, 1.0))
        image = make_fundus(w, h, seed=1000 + i)
        for name, im in (("original", image), ("variation", camera_variation(image, rng, 0.15 * min(w, h)))):
            rows["small"].append(small_rgb(im, FEATURE_SIZE).astype(np.uint8))
            rows["group"].append(f"generated:{i}")
            rows["dataset"].append("generated")
            rows["variant"].append(name)
            rows["index"].append(-1)
    rows["synthetic"] = SYNTHETIC


def compute(root: Path, cache: Path | None, limit: int | None = None) -> dict[str, np.ndarray]:
    """Features of every row. The FEATURE_SIZE copies are cached (cache.pkl; slow to make: the photos are
    decoded, varied and cropped), and the features of them (cache.npz; quick to redo when FEATURES change)."""
    import pickle

    if cache and cache.with_suffix(".npz").exists():
        data = dict(np.load(cache.with_suffix(".npz"), allow_pickle=False))
        if list(data["feature_names"]) == list(FEATURES) and int(data["size"]) == FEATURE_SIZE:
            return data
    rows = None
    if cache and cache.with_suffix(".pkl").exists():
        rows = pickle.loads(cache.with_suffix(".pkl").read_bytes())
        if rows.get("size") != FEATURE_SIZE or rows.get("limit") != limit:
            rows = None
    if rows is None:
        rng = np.random.default_rng(SEED)
        items = load_sources(root)
        if limit:
            items = [it for d in ("rim_one", "drishti", "hygd") for it in [i for i in items if i["dataset"] == d][:limit]]
        if not items:
            sys.exit(f"no datasets under {root}")
        rows = {"size": FEATURE_SIZE, "limit": limit, "small": [], "group": [], "dataset": [], "variant": [], "index": [],
                "files": [str(it["path"].name) for it in items]}
        started = time.time()
        for i, item in enumerate(items):
            for name, a in rows_for(item, rng):
                rows["small"].append(a)
                rows["group"].append(item["group"])
                rows["dataset"].append(item["dataset"])
                rows["variant"].append(name)
                rows["index"].append(i)
            if i % 100 == 0:
                print(f"  {i}/{len(items)} images, {time.time() - started:.0f} s", file=sys.stderr, flush=True)
        if cache:
            cache.with_suffix(".pkl").write_bytes(pickle.dumps(rows))
    if "synthetic" not in rows:
        add_synthetic(rows, np.random.default_rng(SEED + 2))
        if cache:
            cache.with_suffix(".pkl").write_bytes(pickle.dumps(rows))
    X = np.array([features(a.astype(np.float32)) for a in rows["small"]])
    data = {"X": X, **{k: np.array(rows[k]) for k in ("group", "dataset", "variant", "index", "files")},
            "feature_names": np.array(FEATURES), "size": np.array(FEATURE_SIZE)}
    # Defocused copies (a Gaussian of 4-14 % of the disc diameter, at the copies' scale) for the second
    # mixture: a photo that is a fundus but out of focus is told so, not that it is no fundus.
    rng = np.random.default_rng(SEED + 1)
    blurred, keep = [], []
    for i, (a, variant, dataset) in enumerate(zip(rows["small"], rows["variant"], rows["dataset"], strict=True)):
        if variant == "disc_crop" or (variant == "variation" and i % 2):
            continue
        if dataset == "rim_one":
            disc = 0.75 * a.shape[1]
        else:
            disc = 0.14 * 2 * np.sqrt(field_of_view(a.astype(np.float32)).sum() / np.pi)
        image = Image.fromarray(a).filter(ImageFilter.GaussianBlur(float(rng.uniform(0.04, 0.14) * disc)))
        blurred.append(features(np.asarray(image, np.float32)))
        keep.append(i)
    data["X_blurred"] = np.array(blurred)
    data["blurred_rows"] = np.array(keep)
    if cache:
        np.savez(cache.with_suffix(".npz"), **data)
    return data


def fit(X: np.ndarray, components: int, seed: int = SEED) -> dict:
    from sklearn.mixture import GaussianMixture

    center = np.median(X, axis=0)
    scale = np.percentile(X, 75, axis=0) - np.percentile(X, 25, axis=0)
    scale = np.maximum(scale / 1.349, 0.5 * X.std(axis=0)) + 1e-6  # IQR as a standard deviation, or half the sd
    Z = (X - center) / scale
    gmm = GaussianMixture(components, covariance_type="full", reg_covar=0.05, n_init=2, max_iter=500,
                          random_state=seed).fit(Z)
    nll = -gmm.score_samples(Z)
    return {"features": list(FEATURES), "feature_size": FEATURE_SIZE, "center": center.tolist(), "scale": scale.tolist(),
            "weights": gmm.weights_.tolist(), "means": gmm.means_.tolist(),
            "precisions_cholesky": gmm.precisions_cholesky_.tolist(), "typical_nll": float(np.median(nll)), "limit": 0.0}


def score(spec: dict, X: np.ndarray) -> np.ndarray:
    gate = FundusGate(spec)
    return np.array([gate.ood(x) for x in X])


def grouped_folds(groups: np.ndarray, k: int, seed: int = SEED) -> np.ndarray:
    unique = np.unique(groups)
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of = {g: int(i % k) for i, g in zip(order, unique, strict=True)}
    return np.array([fold_of[g] for g in groups])


TRAIN_NEGATIVE_SEEDS = (1, 2, 3)  # tests/negatives.py's test set is seed 0: never fitted on


def training_negatives(cache: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """Features of generated non-fundus images for the classifier, from other seeds than the tests' set and
    without k = 0, 1 (the natural group's two scikit-learn sample photos are the same in every seed)."""
    from tests.negatives import GROUPS, make_negative

    path = cache.with_name(cache.name + "_negatives.npz") if cache else None
    if path and path.exists():
        data = np.load(path)
        if list(data["feature_names"]) == list(FEATURES) and int(data.get("size", -1)) == FEATURE_SIZE:
            return data["X"], data["group"]
    xs, names = [], []
    for seed in TRAIN_NEGATIVE_SEEDS:
        for group in GROUPS:
            for k in range(2, 2 + 8):
                xs.append(features(make_negative(group, k, seed)))
                names.append(f"{group}:{seed}:{k}")
    X, names_ = np.array(xs), np.array(names)
    if path:
        np.savez(path, X=X, group=names_, feature_names=np.array(FEATURES), size=np.array(FEATURE_SIZE))
    return X, names_


CLASSIFIER_PERCENTILE = 0.25


def score_classifier(spec: dict, Z: np.ndarray) -> np.ndarray:
    E = np.hstack([Z, np.clip(Z, -8, 8) ** 2])
    return E @ np.asarray(spec["weights"]) + spec["bias"]


def fit_classifier(Z_pos: np.ndarray, Z_neg: np.ndarray) -> dict:
    """A logistic regression, fundus (1) against generated non-fundus pictures (0), on the standardised
    features (and their squares: a tint or a missing field shows as a feature far out on either side)."""
    from sklearn.linear_model import LogisticRegression

    def expand(Z: np.ndarray) -> np.ndarray:
        return np.hstack([Z, np.clip(Z, -8, 8) ** 2])

    X = np.vstack([expand(Z_pos), expand(Z_neg)])
    y = np.r_[np.ones(len(Z_pos)), np.zeros(len(Z_neg))]
    model = LogisticRegression(C=0.3, class_weight="balanced", max_iter=5000).fit(X, y)
    return {"weights": model.coef_[0].tolist(), "bias": float(model.intercept_[0]), "limit": 0.0}


def summary(values: np.ndarray) -> dict[str, float]:
    return {q: round(float(np.percentile(values, p)), 2) for q, p in (("p50", 50), ("p99", 99), ("max", 100))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared/datasets")
    parser.add_argument("--out", type=Path, default=REPO / "weights/fundus_gate.json")
    parser.add_argument("--cache", type=Path, default=REPO / "bench/out/gate_rows")
    parser.add_argument("--components", type=int, default=4)
    parser.add_argument("--limit", type=int, default=None, help="images per dataset (a quick trial)")
    args = parser.parse_args()

    data = compute(args.data, args.cache, args.limit)
    X, groups, datasets, variants = data["X"], data["group"], data["dataset"], data["variant"]
    report: dict[str, object] = {"rows": len(X), "images": int((variants == "original").sum())}
    if args.components < 1:
        sys.exit("--components must be at least 1")

    # Out-of-fold: each image scored by a mixture that never saw its patient.
    folds = grouped_folds(groups, 5)
    oof = np.zeros(len(X))
    for f in range(5):
        spec = fit(X[folds != f], args.components)
        oof[folds == f] = score(spec, X[folds == f])
    originals = variants == "original"
    real = datasets != "generated"
    base_limit = float(np.percentile(oof[real], 99.5))
    limit = round(LIMIT_FACTOR * base_limit, 2)
    report["out_of_fold"] = {v: summary(oof[variants == v]) for v in np.unique(variants)}
    report["limit"] = {"p99.5_out_of_fold_real_rows": round(base_limit, 2), "factor": LIMIT_FACTOR, "limit": limit}
    report["out_of_fold_refused"] = {
        f"{d}/{v}": f"{int(((oof > limit) & (datasets == d) & (variants == v)).sum())}/{int(((datasets == d) & (variants == v)).sum())}"
        for d in np.unique(datasets) for v in np.unique(variants) if ((datasets == d) & (variants == v)).any()}

    # Leave one dataset out: a camera the gate never saw.
    lodo = {}
    for d in np.unique(datasets[real]):
        spec = fit(X[datasets != d], args.components)
        s = score(spec, X[(datasets == d) & originals])
        lodo[d] = {"refused": f"{int((s > limit).sum())}/{len(s)}", **summary(s)}
    report["leave_one_dataset_out"] = lodo

    # The defocused-fundus mixture, its limit set the same way (out of fold, same factor).
    XB, rows_b = data["X_blurred"], data["blurred_rows"]
    folds_b = folds[rows_b]
    oof_b = np.zeros(len(XB))
    for f in range(5):
        oof_b[folds_b == f] = score({**fit(XB[folds_b != f], args.components)}, XB[folds_b == f])
    blurred_spec = fit(XB, args.components)
    blurred_spec["limit"] = round(LIMIT_FACTOR * float(np.percentile(oof_b, 99.5)), 2)
    report["blurred_mixture"] = {"rows": len(XB), "limit": blurred_spec["limit"],
                                 "out_of_fold_over_limit": f"{int((oof_b > blurred_spec['limit']).sum())}/{len(XB)}"}
    for key in ("features", "feature_size"):
        blurred_spec.pop(key)

    spec = fit(X, args.components)
    spec["limit"] = limit

    # The classifier: fundus against generated non-fundus pictures (other seeds than the tests'), its limit
    # set like the mixture's, on out-of-fold scores of every real row (the 0.25th percentile).
    XN, neg_names = training_negatives(args.cache)
    center, scale = np.asarray(spec["center"]), np.asarray(spec["scale"])
    neg_folds = np.array([int(n.rsplit(":", 1)[1]) % 5 for n in neg_names])  # by image index within a group
    oof_c = np.zeros(len(X))
    for f in range(5):
        clf = fit_classifier((X[folds != f] - center) / scale, (XN[neg_folds != f] - center) / scale)
        oof_c[folds == f] = score_classifier(clf, (X[folds == f] - center) / scale)
    classifier = fit_classifier((X - center) / scale, (XN - center) / scale)
    classifier["limit"] = round(float(np.percentile(oof_c[real], CLASSIFIER_PERCENTILE)), 2)
    spec["classifier"] = classifier
    both = (oof > limit) | (oof_c < classifier["limit"])
    report["classifier"] = {
        "training_negatives": len(XN), "limit": classifier["limit"],
        "out_of_fold_refused_by_either": {
            f"{d}/{v}": f"{int((both & (datasets == d) & (variants == v)).sum())}/{int(((datasets == d) & (variants == v)).sum())}"
            for d in np.unique(datasets) for v in np.unique(variants) if ((datasets == d) & (variants == v)).any()},
        "training_negatives_refused": f"{int((score_classifier(classifier, (XN - center) / scale) < classifier['limit']).sum())}/{len(XN)}"}
    spec["blurred"] = blurred_spec
    spec["version"] = time.strftime("%Y-%m-%d")
    spec["fitted_on"] = {d: int(((datasets == d) & originals).sum()) for d in np.unique(datasets)}
    spec["fitted_on_note"] = "real images and their camera-like variations and disc crops; 'generated': tests/fundus.py"
    spec["rows"] = len(X)
    spec["limit_rule"] = (f"{LIMIT_FACTOR} x the 99.5th percentile of the out-of-fold scores (5 folds grouped by patient) of "
                          "every real row: the images as they are, their camera-like variations and disc crops")
    args.out.write_text(json.dumps(spec, separators=(",", ":")) + "\n")
    report["written"] = str(args.out)

    try:
        from tests.negatives import negative_groups
    except ImportError:
        negative_groups = None
    if negative_groups:
        gate = FundusGate(spec)
        report["negatives_over_limit"] = {}
        for name, images in negative_groups().items():
            xs = [features(im) for im in images]
            s = [gate.ood(x) for x in xs]
            b = [gate.blurred.ood(x) for x in xs]
            c = [gate.fundus_logit(x) for x in xs]
            report["negatives_over_limit"][name] = {"refused": f"{sum(v > limit for v in s)}/{len(s)}",
                                                    "refused_by_either": f"{sum(gate.unlike_fundus(x) for x in xs)}/{len(s)}",
                                                    "max_fundus_logit": round(float(max(c)), 1),
                                                    "min": round(float(min(s)), 1),
                                                    "like_defocused_fundus": sum(v <= gate.blurred.limit for v in b)}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
