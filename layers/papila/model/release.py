"""After training: write the serving model, the master weights, `model.json` and `MODEL_CARD.md`.

Also measures the int8 runtime against full precision on the CV folds: each fold's best checkpoint is
quantised (calibrated on its own training images) and both score the fold's held-out images."""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from papila.model import architecture, metrics
from papila.model.data import list_samples, load_mask, load_rgb
from papila.model.runtime import vertical_cdr

SERVING_NAME = "papila_vgg19_int8.tflite"
MASTER_NAME = "papila_vgg19_master.npz"
DISC_CUP_NAME = "papila_disc_cup.tflite"
DRISHTI = Path(__file__).resolve().parents[3].parent / "shared" / "datasets" / "drishti-gs1-train"
REFERENCE = {"source": "RIM-ONE DL paper, by-hospital test set, ImageNet-pretrained VGG19",
             "auc": 0.9272, "accuracy": 0.8563, "sensitivity_at_85_specificity": 0.875}


def _log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def _scores(model: Any, images: np.ndarray) -> np.ndarray:
    return np.array([p.probability_glaucoma for p in model.predict(images)])


def _cdr_mae(predicted: list[float | None], expert: list[float | None]) -> dict[str, Any]:
    pairs = [(p, e) for p, e in zip(predicted, expert, strict=True) if p is not None and e is not None]
    errors = np.array([abs(p - e) for p, e in pairs])
    return {"mae": round(float(errors.mean()), 4) if len(errors) else None, "n": len(pairs),
            "missing": len(predicted) - len(pairs)}


def located_crops(root: Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Full photos with expert CDRs (`discs.json`, Drishti-GS1 layout) cut as served: the locator's
    crop, resized to the network's input. Returns the crops and the mean of the experts' CDRs."""
    from PIL import Image

    from papila import imaging
    from papila.locate import locate

    crops, expert = [], []
    for item in json.loads((root / "discs.json").read_text()):
        with Image.open(root / item["file"]) as im:
            photo = im.convert("RGB")
        crops.append(imaging.model_input(imaging.square_crop(photo, locate(photo).crop), size))
        expert.append(float(np.mean(item["cdr_experts"])))
    return np.stack(crops), np.array(expert)


def disc_cup_stage(out: Path | None, samples: list, labels: np.ndarray, network_oof: np.ndarray | None, folds: int,
                   seed: int, epochs: int, disc_centres: Path | None = DRISHTI) -> dict[str, Any]:
    """Train the disc/cup U-Net by k-fold CV, combine its CDR with the network's out-of-fold probability,
    and write the final segmenter to `out`. Returns the combination and its CV metrics (the CV alone
    when `out` and `network_oof` are None, as `bench/cdr.py` runs it).

    Besides the crops with expert masks, the U-Net learns from full photos with expert disc centres and
    CDRs (`disc_centres`, Drishti-GS1): another camera, cut at the locator's scale as well as the tight
    one (`cdr.expert_crops`). Those photos are split into the same folds, and their held-out CDR is
    measured as served: the locator's crop of the whole photo against the experts' mean."""
    from sklearn.model_selection import KFold, StratifiedKFold

    from papila.model import cdr as cdr_model

    size = cdr_model.SEG_SIZE
    images = np.stack([load_rgb(s.path, size) for s in samples])
    masks = np.stack([np.stack([load_mask(s.disc_mask, size), load_mask(s.cup_mask, size)], -1) for s in samples])
    has_mask = np.array([s.disc_mask is not None for s in samples])
    expert = [vertical_cdr(m.astype(np.float32)) if h else None for m, h in zip(masks, has_mask, strict=True)]
    if disc_centres is not None and (disc_centres / "discs.json").exists():
        extra_images, extra_masks, extra_photo = cdr_model.expert_crops(disc_centres, size, seed=seed)
        photos, photo_cdr = located_crops(disc_centres, 224)
    else:
        extra_images, extra_masks, extra_photo = images[:0], masks[:0], np.zeros(0, int)
        photos, photo_cdr = np.zeros((0, 224, 224, 3), np.float32), np.zeros(0)
    held_out = len(photos) >= folds  # too few photos to hold any out: they only train
    photo_folds = (list(KFold(folds, shuffle=True, random_state=seed).split(photos)) if held_out
                   else [(np.arange(len(photos)), np.zeros(0, int))] * folds)

    def segment(model: Any, crops: np.ndarray) -> list[float | None]:  # as DiscCupModel.cdr: 224 px -> U-Net size
        return cdr_model.predict_cdr(model, np.stack([cdr_model.resize(c, size) for c in crops]))

    oof_cdr: list[float | None] = [None] * len(samples)
    photo_oof: list[float | None] = [None] * len(photos)
    skf = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for k, ((tr, va), (photo_tr, photo_va)) in enumerate(zip(skf.split(np.zeros(len(labels)), labels), photo_folds,
                                                             strict=True)):
        tr = tr[has_mask[tr]]
        extra = np.isin(extra_photo, photo_tr)
        model = cdr_model.fit_unet(np.concatenate([images[tr], extra_images[extra]]),
                                   np.concatenate([masks[tr], extra_masks[extra]]), epochs, seed + k, _log)
        for i, value in zip(va, cdr_model.predict_cdr(model, images[va]), strict=True):
            oof_cdr[i] = value
        if len(photo_va):
            for i, value in zip(photo_va, segment(model, photos[photo_va]), strict=True):
                photo_oof[i] = value
        _log(f"U-Net fold {k}: CDR error {json.dumps(_cdr_mae([oof_cdr[i] for i in va], [expert[i] for i in va]))}"
             f" (crops), {json.dumps(_cdr_mae([photo_oof[i] for i in photo_va], list(photo_cdr[photo_va])))} (photos)")
    cv_only = {"cdr_mae_cv": _cdr_mae(oof_cdr, expert), "epochs": epochs, "folds": folds,
               "cdr_mae_photos_cv": _cdr_mae(photo_oof, list(photo_cdr)) if len(photos) and held_out else None,
               "photos": len(photos), "photos_from": str(disc_centres) if len(photos) else None}
    if out is None or network_oof is None:
        return cv_only
    final = cdr_model.fit_unet(np.concatenate([images[has_mask], extra_images]),
                               np.concatenate([masks[has_mask], extra_masks]), epochs, seed, _log)
    cdr_model.to_litert(final, out / DISC_CUP_NAME)

    known = [c for c in oof_cdr if c is not None]
    cdr_default = float(np.mean(known)) if known else 0.5
    filled = np.array([c if c is not None else cdr_default for c in oof_cdr])
    weights = cdr_model.combine_fit(network_oof, filled, labels)
    combined = np.array([cdr_model.combine(p, c, weights, cdr_default) for p, c in zip(network_oof, filled, strict=True)])
    threshold = metrics.threshold_for_specificity(labels, combined, 0.85)
    return cv_only | {
        "weights": weights, "cdr_default": round(cdr_default, 4), "threshold": threshold,
        "cv": metrics.summary(labels, combined, threshold), "cdr_alone_auc": metrics.roc_auc(labels, filled),
    }


def release(out: str | Path, data_dirs: list[str], *, compare_folds: bool = True, seg_epochs: int = 40,
            seg_folds: int = 4, disc_centres: Path | None = DRISHTI) -> dict[str, Any]:
    import keras
    from sklearn.model_selection import StratifiedKFold

    from papila.model import export
    from papila.model.runtime import (
        KerasModel,
        LiteRtModel,
    )

    out = Path(out)
    work = out / ".train"
    cv = json.loads((work / "cv.json").read_text())
    cfg = cv["config"]
    samples = [s for d in data_dirs for s in list_samples(d)]
    images = np.stack([load_rgb(s.path, cfg["size"]) for s in samples]).astype(np.float32)
    labels = np.array([s.label for s in samples])
    rng = np.random.default_rng(cfg["seed"])

    final = keras.models.load_model(work / "final.keras", compile=False)
    architecture.save_npz(final, str(out / MASTER_NAME))
    calibration = images[rng.permutation(len(images))[:128]]
    export.to_litert(final, calibration, out / SERVING_NAME)
    _log(f"wrote {out / SERVING_NAME} and {out / MASTER_NAME}")

    comparison: dict[str, Any] = {}
    cdr: dict[str, Any] = {}
    if compare_folds and cv["folds"]:
        oof_float, oof_int8 = np.full(len(samples), np.nan), np.full(len(samples), np.nan)
        oof_cdr: list[float | None] = [None] * len(samples)
        skf = StratifiedKFold(cfg["folds"], shuffle=True, random_state=cfg["seed"])
        for k, (tr, va) in enumerate(skf.split(np.zeros(len(labels)), labels)):
            best = work / f"fold{k}.best.keras"
            fold_predictions = KerasModel(best).predict(images[va])
            oof_float[va] = [p.probability_glaucoma for p in fold_predictions]
            for i, p in zip(va, fold_predictions, strict=True):
                oof_cdr[i] = p.cdr
            with tempfile.TemporaryDirectory() as tmp:
                fold_model = keras.models.load_model(best, compile=False)
                path = export.to_litert(fold_model, images[tr][rng.permutation(len(tr))[:128]], Path(tmp) / "f.tflite")
                oof_int8[va] = _scores(LiteRtModel(path), images[va])
            _log(f"fold {k}: float AUC {metrics.roc_auc(labels[va], oof_float[va]):.4f}, "
                 f"int8 AUC {metrics.roc_auc(labels[va], oof_int8[va]):.4f}")
        comparison = {
            "auc_float": metrics.roc_auc(labels, oof_float), "auc_int8": metrics.roc_auc(labels, oof_int8),
            "max_abs_probability_difference": float(np.max(np.abs(oof_float - oof_int8))),
        }
        expert = [vertical_cdr(np.stack([load_mask(s.disc_mask, 56), load_mask(s.cup_mask, 56)], -1))
                  if s.disc_mask else None for s in samples]
        cdr["cv_rim_one"] = _cdr_mae(oof_cdr, expert)
    stage = None
    if cv["folds"] and any(s.disc_mask for s in samples):
        stage = disc_cup_stage(out, samples, labels, np.array(cv["oof"]["scores"]), seg_folds, cfg["seed"],
                               seg_epochs, disc_centres)

    card = {
        "model_version": "",
        "architecture": "VGG19 (16 conv + batch norm) -> GlobalAveragePooling2D -> Dense(2, softmax)",
        "input_size": cfg["size"],
        "runtime": "LiteRT full-integer int8 (float input/output), outputs probabilities and class activation maps",
        "threshold": cv["threshold"],
        "threshold_rule": f"lowest threshold with >= {cfg['target_specificity']:.2f} specificity on the pooled "
                          f"out-of-fold predictions of the {cfg['folds']}-fold CV (never on scored data)",
        "metrics": {"cv": cv["cv"], "folds": cv["folds"], "int8_vs_float": comparison, "cdr": cdr},
        "cdr_error": {"mae_vs_experts": (cdr.get("cv_rim_one") or {}).get("mae"), "measured_on": "cv_rim_one"},
        "reference": REFERENCE,
        "training_data": {"name": data_name(data_dirs), "n": cv["n"], "glaucoma": cv["n_glaucoma"],
                          "normal": cv["n_normal"]},
        "licence": "Trained on RIM-ONE DL: research and educational use only, free of charge; no commercial use, "
                   "no redistribution of the data. The weights carry these terms.",
        "intended_use": "Screening aid for research and education: flags optic-disc crops for an "
                        "ophthalmologist's review. Not a diagnosis.",
        "limits": ["trained on one hospital and one camera family", "expects optic-disc crops",
                   "not validated on a prospective population", "no pretrained weights: trained from scratch on 311 images"],
        "training": {k: cfg[k] for k in ("epochs", "folds", "batch", "lr", "weight_decay", "label_smoothing",
                                         "seg_weight", "seed")} | {"final_epochs": cv["final_epochs"],
                                                                   "train_seconds": cv.get("train_seconds")},
        "trained_at": "",
        "files": {"serving": SERVING_NAME, "master": MASTER_NAME},
    }
    if stage:
        apply_disc_cup(card, stage, cv["threshold"])
    write_card(out, card)
    _log(f"model {card['model_version']}: {json.dumps(comparison)}")
    return card


def data_name(data_dirs: list[str]) -> str:
    """What the network was trained on, by folder (RIM-ONE DL by name, anything else by path)."""
    names = ["RIM-ONE DL, partitioned by hospital, training set" if "rim-one" in str(d).lower() else f"images from {d}"
             for d in data_dirs]
    return "; ".join(names)


def apply_disc_cup(card: dict[str, Any], stage: dict[str, Any], network_threshold: float) -> None:
    """The screening probability combines the network with the CDR: its CV decides the threshold."""
    card["combination"] = {"weights": stage["weights"], "cdr_default": stage["cdr_default"],
                           "rule": "p = sigmoid(w_logit * logit(p_vgg19) + w_cdr * vertical_cdr + bias), "
                                   "fitted on the out-of-fold predictions"}
    card["threshold"] = stage["threshold"]
    card["threshold_rule"] = (f"lowest threshold with >= 0.85 specificity on the pooled out-of-fold screening "
                              f"probabilities (network {card['training']['folds']}-fold CV, disc/cup U-Net "
                              f"{stage['folds']}-fold CV; never on scored data)")
    metrics_ = card["metrics"]
    if "cv_network_only" not in metrics_:
        metrics_["cv_network_only"] = metrics_["cv"] | {"threshold": network_threshold}
        card["architecture"] += (" + a disc/cup U-Net (96 px) whose vertical cup-to-disc ratio is combined "
                                 "with the network's probability")
    metrics_["cv"] = stage["cv"] | {"cdr_alone_auc": stage["cdr_alone_auc"]}
    cdr = metrics_.setdefault("cdr", {})
    cdr.pop("drishti_gs1", None)  # an in-sample figure once the U-Net learns from those photos
    cdr["cv_rim_one_unet"] = stage["cdr_mae_cv"]
    if stage.get("cdr_mae_photos_cv"):
        cdr["cv_drishti_gs1"] = stage["cdr_mae_photos_cv"]
        card["cdr_error"] = {"mae_vs_experts": stage["cdr_mae_photos_cv"]["mae"], "measured_on": "cv_drishti_gs1"}
        drishti = "drishti" in str(stage["photos_from"]).lower()
        card["disc_cup_training_data"] = {
            "name": "Drishti-GS1 training photos (expert disc centres and diameters, four experts' CDRs)" if drishti
            else f"photos with expert disc centres and CDRs from {Path(str(stage['photos_from'])).name}",
            "photos": stage["photos"],
            "licence": "Drishti-GS1: research use; cite Sivaswamy J. et al., ISBI 2014." if drishti
            else "as stated by that data's owner"}
    else:
        card["cdr_error"] = {"mae_vs_experts": stage["cdr_mae_cv"]["mae"], "measured_on": "cv_rim_one_unet"}
    card["training"] |= {"disc_cup_epochs": stage["epochs"], "disc_cup_folds": stage["folds"]}
    card["files"]["disc_cup"] = DISC_CUP_NAME


def write_card(out: Path, card: dict[str, Any]) -> None:
    """Version from the served files' bytes (network and segmenter), then model.json and MODEL_CARD.md."""
    digest = hashlib.sha256()
    for name in (card["files"]["serving"], card["files"].get("disc_cup")):
        if name:
            digest.update((out / name).read_bytes())
    trained = datetime.now(UTC)
    card["model_version"] = f"vgg19bn-{trained:%Y-%m-%d}-{digest.hexdigest()[:8]}"
    card["trained_at"] = trained.isoformat(timespec="seconds").replace("+00:00", "Z")
    (out / "model.json").write_text(json.dumps(card, indent=2) + "\n")
    (out / "MODEL_CARD.md").write_text(markdown(card))


def refit_disc_cup(out: str | Path, data_dirs: list[str], *, seg_epochs: int = 40, seg_folds: int = 4,
                   disc_centres: Path | None = DRISHTI) -> dict[str, Any]:
    """Retrain only the disc/cup U-Net and the combination, keeping the released network: needs the
    training work folder (`.train/cv.json`, the network's out-of-fold scores) and `model.json`."""
    out = Path(out)
    cv = json.loads((out / ".train" / "cv.json").read_text())
    card = json.loads((out / "model.json").read_text())
    samples = [s for d in data_dirs for s in list_samples(d)]
    labels = np.array([s.label for s in samples])
    if labels.tolist() != cv["oof"]["labels"]:
        raise ValueError("--data does not list the images the network was trained on, in the same order")
    stage = disc_cup_stage(out, samples, labels, np.array(cv["oof"]["scores"]), seg_folds, cv["config"]["seed"],
                           seg_epochs, disc_centres)
    apply_disc_cup(card, stage, cv["threshold"])
    write_card(out, card)
    _log(f"model {card['model_version']}: CDR error {json.dumps(card['metrics']['cdr'])}, cv {json.dumps(card['metrics']['cv'])}")
    return card


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _performance(card: dict[str, Any]) -> str:
    rows = [("screening probability (as served)", card["metrics"]["cv"])]
    if "cv_network_only" in card["metrics"]:
        rows.append(("VGG19 alone", card["metrics"]["cv_network_only"]))
    lines = ["| model | AUC | accuracy | sensitivity | specificity | sens. at 85 % spec. | threshold |",
             "|---|---|---|---|---|---|---|"]
    rows = [(name, m) for name, m in rows if m]
    if not rows:
        return "No cross-validation in this run (`--folds 1`): no out-of-fold metrics."
    for name, m in rows:
        lines.append(f"| {name} | {_fmt(m['auc'])} | {_fmt(m['accuracy'])} | {_fmt(m['sensitivity'])} | "
                     f"{_fmt(m['specificity'])} | {_fmt(m['sensitivity_at_85_specificity'])} | {_fmt(m['threshold'])} |")
    net = card["metrics"].get("cv_network_only", card["metrics"]["cv"])
    lines.append(f"\nVGG19 AUC per fold: mean {_fmt(net.get('auc_fold_mean'))} +- {_fmt(net.get('auc_fold_std'))} (sd).")
    if "cdr_alone_auc" in card["metrics"]["cv"]:
        lines.append(f"The U-Net's vertical CDR alone: AUC {_fmt(card['metrics']['cv']['cdr_alone_auc'])} (out-of-fold).")
    return "\n".join(lines)


def _cdr_text(card: dict[str, Any]) -> str:
    cdr = card["metrics"]["cdr"]
    parts = []
    if "combination" in card:
        w = card["combination"]["weights"]
        parts.append("A small U-Net (96 px) segments the disc and cup on the crop; the vertical cup-to-disc ratio is "
                     "the ratio of their heights. The served probability is "
                     f"sigmoid({w['w_logit']:.3f} * logit(p_vgg19) + {w['w_cdr']:.3f} * CDR + {w['bias']:.3f}), "
                     "fitted on the out-of-fold predictions (the experts' own vertical CDR separates the classes "
                     "with AUC 0.979 on this set).")
        if abs(w["w_logit"]) < 0.25 * abs(w["w_cdr"]):
            parts.append("The network's weight is small: the served probability is driven mostly by the CDR, and the "
                         "heat map shows where the VGG19 looked, which weighs little in the answer.")
    folds = card["training"].get("disc_cup_folds")
    for key, name in (("cv_drishti_gs1", (f"as served, Drishti-GS1 whole photos (another hospital and camera; the "
                                         f"locator's crop; mean of four experts), {folds}-fold CV")),
                      ("cv_rim_one_unet", f"U-Net, RIM-ONE crops vs expert masks, {folds}-fold CV"),
                      ("cv_rim_one", "VGG19 auxiliary decoder, RIM-ONE out-of-fold crops vs expert masks"),
                      ("drishti_gs1", "as served, Drishti-GS1 photos (another hospital; located crop; mean of four experts)")):
        if cdr.get(key):
            parts.append(f"- mean absolute error {_fmt(cdr[key]['mae'])} over {cdr[key]['n']} images ({name})")
    return "\n".join(parts)


def _extra_data(card: dict[str, Any]) -> str:
    extra = card.get("disc_cup_training_data")
    if not extra:
        return ""
    return (f"\nThe disc/cup U-Net also learns from {extra['name']}: {extra['photos']} photos, cut around the "
            "experts' disc centre at several scales, with disc and cup drawn as concentric circles from the "
            f"experts' diameter and CDR (no outlines are given). Licence: {extra['licence']}\n")


def markdown(card: dict[str, Any]) -> str:
    """The human half of the card, generated from the same numbers as model.json."""
    ref, train = card["reference"], card["training"]
    net = card["metrics"].get("cv_network_only", card["metrics"]["cv"])
    folds = "\n".join(f"| {f['fold']} | {f['n_val']} | {f['best_epoch']} | {_fmt(f['auc'])} | {_fmt(f['auc_last_epoch'])} |"
                      for f in card["metrics"]["folds"])
    q = card["metrics"].get("int8_vs_float") or {}
    data = card["training_data"]
    return f"""# Model card: {card['model_version']}

**Intended use.** {card['intended_use']}

## Model
- Architecture: {card['architecture']}, input {card['input_size']} x {card['input_size']} RGB (scaled to [-1, 1]
  inside the model). Batch normalisation after every convolution (the `vgg19_bn` variant): no ImageNet
  weights can be fetched here, and plain VGG19 does not train from scratch on this data.
- Serving: `{card['files']['serving']}` ({card['runtime']}). Master weights: `{card['files']['master']}`
  (float16 arrays by layer, used by `papila evaluate --runtime keras` and to start retraining).
- Heat map: class activation map of the glaucoma class (exact for the GAP + Dense head), a second output.

## Training data and licence
{data['name']}: {data['n']} optic-disc crops ({data['glaucoma']} glaucoma, {data['normal']} normal) from one
hospital, with expert disc and cup masks. {card['licence']} Cite: Fumero Batista F.J. et al., RIM-ONE DL,
Image Analysis & Stereology 39(3):161-167, 2020, doi:10.5566/ias.2346.
{_extra_data(card)}
## Recipe
From scratch (He-normal init), mixed bfloat16 on CPU, AdamW (lr {train['lr']}, weight decay
{train['weight_decay']}) with one epoch of warm-up and cosine decay, batch {train['batch']}, label smoothing
{train['label_smoothing']}, class-balanced sample weights, augmentation (horizontal flip, +-12 degree rotation,
+-10 % zoom, +-5 % shift with reflection, brightness/contrast/saturation/hue jitter; no crops that cut
the disc), auxiliary disc/cup segmentation decoder on the encoder (loss weight {train['seg_weight']}; a
regulariser for the classifier). {train['folds']}-fold stratified CV of {train['epochs']} epochs each with early stopping on the fold's AUC
(best epoch kept), then a final fit on all images for {train['final_epochs']} epochs (the median best epoch).
Seed {train['seed']}. Training time: {train.get('train_seconds')} s on 2 CPU cores.

## Cross-validated performance (out-of-fold, training hospital)
{_performance(card)}

The fold AUCs use early stopping on the same fold, so they are optimistic; the last-epoch mean is
{_fmt(net.get('auc_last_epoch_fold_mean'))}. Published reference ({ref['source']}): AUC {ref['auc']}, accuracy
{ref['accuracy']}, sensitivity {ref['sensitivity_at_85_specificity']} at 0.85 specificity, on the two other hospitals.
This model's by-hospital test score is measured outside this repository.

| fold | held-out images | best epoch | AUC (best epoch) | AUC (last epoch) |
|---|---|---|---|---|
{folds}

int8 runtime against full precision on the same folds: AUC {_fmt(q.get('auc_int8'))} vs {_fmt(q.get('auc_float'))};
largest probability difference {_fmt(q.get('max_abs_probability_difference'))}.

## Cup-to-disc ratio
{_cdr_text(card)}

## Operating threshold
**{card['threshold']:.4f}**: the {card['threshold_rule']}. A probability at or above it is labelled
`glaucoma` with a referral wording.

## Limits
{chr(10).join('- ' + item for item in card['limits'])}
- The by-hospital generalisation gap is unknown until measured on the other hospitals' images.

## Reproduce
```
.venv/bin/papila train --data ../shared/datasets/rim-one-dl-hospital-train/images --out weights/ \\
    --epochs {train['epochs']} --folds {train['folds']} --seg-epochs {train.get('disc_cup_epochs', 40)}
.venv/bin/papila train --data ../shared/datasets/rim-one-dl-hospital-train/images --out weights/ --disc-cup-only \\
    --seg-epochs {train.get('disc_cup_epochs', 40)} --seg-folds {train.get('disc_cup_folds', 4)}   # the U-Net and combination only
.venv/bin/papila evaluate --data <folder with glaucoma/ and normal/> --json
python bench/cdr.py        # CDR error by cross-validation (RIM-ONE crops, Drishti-GS1 photos)
python bench/inference.py
```
"""
