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

from papila.config import REPOSITORY
from papila.core.disc import SIDE_PER_DISC
from papila.model.serving import combination, metrics
from papila.model.serving.card import DISC_CUP_NAME, MASTER_NAME, SERVING_NAME
from papila.model.serving.measures import NAMES, measures
from papila.model.serving.runtime import vertical_cdr
from papila.model.training import architecture
from papila.model.training.data import (
    framing_offsets,
    list_samples,
    load_mask,
    load_rgb,
)

DRISHTI = REPOSITORY.parent / "shared" / "datasets" / "drishti-gs1-train"
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


class KerasSegmenter:
    """A Keras U-Net as the pipeline's `Segmenter` (the fold models, which are never exported)."""

    def __init__(self, model: Any) -> None:

        self.model, self.input_size, self._resize = model, int(model.input_shape[1]), combination.resize

    def segment(self, crop: np.ndarray) -> np.ndarray:
        return np.asarray(self.model(self._resize(crop, self.input_size)[None], training=False))[0]


def served_photo_cdrs(root: Path, seg: Any) -> tuple[list[float | None], np.ndarray, int]:
    """Full photos with expert CDRs (`discs.json`, Drishti-GS1 layout) measured as served: the disc
    verified among the locator's candidates, the normalised square, its CDR. Returns the CDRs (None where
    no disc was verified), the experts' mean, and how many photos were refused."""
    from PIL import Image

    from papila.core import imaging
    from papila.core.pipeline import Rejected, disc_crop

    cdrs: list[float | None] = []
    expert = []
    for item in json.loads((root / "discs.json").read_text()):
        with Image.open(root / item["file"]) as im:
            photo = im.convert("RGB")
        outcome = disc_crop(photo, None, seg)
        if isinstance(outcome, Rejected):
            cdrs.append(None)
        else:
            crop = imaging.model_input(imaging.square_crop(photo, outcome[0]), seg.input_size)
            cdrs.append(vertical_cdr(seg.segment(crop)))
        expert.append(float(np.mean(item["cdr_experts"])))
    return cdrs, np.array(expert), sum(c is None for c in cdrs)


def segmenter_training_set(samples: list, disc_centres: Path | None, seed: int
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What the U-Net learns from: the crops with expert masks, and squares cut from photos with expert
    disc centres (several scales, and squares with no disc in them). Returns images, masks, the sample
    index of each crop (-1 for photo squares) and the photo index (-1 for crops)."""
    from papila.model.training import cdr as cdr_model

    size = cdr_model.SEG_SIZE
    masked = [i for i, s in enumerate(samples) if s.disc_mask is not None]
    images = [load_rgb(samples[i].path, size) for i in masked]
    masks = [np.stack([load_mask(samples[i].disc_mask, size), load_mask(samples[i].cup_mask, size)], -1)
             for i in masked]
    sample_idx, photo_idx = list(masked), [-1] * len(masked)
    if disc_centres is not None and (disc_centres / "discs.json").exists():
        extra_images, extra_masks, extra_photo = cdr_model.expert_crops(disc_centres, size, seed=seed)
        images += list(extra_images)
        masks += list(extra_masks)
        sample_idx += [-1] * len(extra_images)
        photo_idx += extra_photo.tolist()
    if not images:
        raise ValueError("no expert masks or disc centres to train the disc/cup segmenter on")
    return np.stack(images), np.stack(masks), np.array(sample_idx), np.array(photo_idx)


def fit_segmenter(out: Path, samples: list, *, epochs: int, seed: int, disc_centres: Path | None = DRISHTI) -> Path:
    """The served disc/cup U-Net, trained on everything it can learn from. It comes first: it verifies
    the disc and cuts the square of one anatomical scale that the VGG19 then learns from."""
    from papila.model.training import cdr as cdr_model

    images, masks, _, _ = segmenter_training_set(samples, disc_centres, seed)
    model = cdr_model.fit_unet(images, masks, epochs, seed, _log)
    return cdr_model.to_litert(model, out / DISC_CUP_NAME)


def disc_cup_stage(samples: list, inputs: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]], seed: int,
                   epochs: int, disc_centres: Path | None = DRISHTI) -> dict[str, Any]:
    """Out-of-fold CDRs by the same person-grouped folds as the network: fold k's U-Net learns from the
    other folds' expert masks (and photos with disc centres, split into as many folds), then measures the
    CDR on fold k's network inputs (the served squares) and on its held-out photos, cut as served."""
    from sklearn.model_selection import KFold

    from papila.model.training import cdr as cdr_model

    images, masks, sample_idx, photo_idx = segmenter_training_set(samples, disc_centres, seed)
    n_photos = int(photo_idx.max()) + 1 if (photo_idx >= 0).any() else 0
    held_out = n_photos >= len(splits)
    photo_folds = (list(KFold(len(splits), shuffle=True, random_state=seed).split(np.arange(n_photos))) if held_out
                   else [(np.arange(n_photos), np.zeros(0, int))] * len(splits))
    expert = [vertical_cdr(np.stack([load_mask(s.disc_mask, 56), load_mask(s.cup_mask, 56)], -1).astype(np.float32))
              if s.disc_mask else None for s in samples]
    oof: list[float | None] = [None] * len(samples)
    oof_masks: np.ndarray | None = None
    photo_oof: list[float | None] = []
    photo_expert: list[float] = []
    refused = 0
    for k, ((tr, va), (photo_tr, photo_va)) in enumerate(zip(splits, photo_folds, strict=True)):
        use = np.isin(sample_idx, tr) | np.isin(photo_idx, photo_tr)
        model = cdr_model.fit_unet(images[use], masks[use], epochs, seed + k, _log)
        seg = KerasSegmenter(model)
        small = np.stack([combination.resize(x, seg.input_size) for x in inputs[va]])
        predicted = cdr_model.predict_masks(model, small)
        if oof_masks is None:
            oof_masks = np.zeros((len(samples), *predicted.shape[1:]), np.float16)
        oof_masks[va] = predicted
        for i, probabilities in zip(va, predicted, strict=True):
            oof[i] = vertical_cdr(probabilities)
        if len(photo_va) and disc_centres is not None:
            with tempfile.TemporaryDirectory() as tmp:
                items = json.loads((disc_centres / "discs.json").read_text())
                sub = Path(tmp)
                (sub / "discs.json").write_text(json.dumps(
                    [{**items[i], "file": str((disc_centres / items[i]["file"]).resolve())} for i in photo_va]))
                cdrs, exp, n_refused = served_photo_cdrs(sub, seg)
            photo_oof += cdrs
            photo_expert += exp.tolist()
            refused += n_refused
        _log(f"U-Net fold {k}: CDR error {json.dumps(_cdr_mae([oof[i] for i in va], [expert[i] for i in va]))} (crops)")
    return {"oof_cdr": oof, "oof_masks": oof_masks, "cdr_mae_cv": _cdr_mae(oof, expert), "epochs": epochs,
            "folds": len(splits),
            "cdr_mae_photos_cv": (_cdr_mae(photo_oof, photo_expert) | {"refused": refused}) if photo_oof else None,
            "photo_cdrs": photo_oof, "photo_expert": photo_expert, "photos": n_photos,
            "photos_from": str(disc_centres) if n_photos else None}


def cached_disc_cup_stage(work: Path, samples: list, inputs: np.ndarray, splits: list, seed: int, epochs: int,
                          disc_centres: Path | None) -> dict[str, Any]:
    """`disc_cup_stage`, saved in the work folder under a key of its inputs: it does not depend on the
    network, so it can run beside the network's training, and a rerun of the release reuses it. The
    out-of-fold U-Net probabilities are kept (float16), so the disc measurements can change without
    refitting the fold U-Nets."""
    import hashlib

    key = hashlib.sha256(json.dumps([[str(s.path) for s in samples], [va.tolist() for _, va in splits], seed, epochs,
                                     str(disc_centres), "masks"]).encode())
    key.update(inputs.tobytes())
    path = work / f"disc_cup_cv-{key.hexdigest()[:16]}.json"
    masks_path = path.with_suffix(".npz")
    if path.exists() and masks_path.exists():
        return json.loads(path.read_text()) | {"oof_masks": np.load(masks_path)["oof_masks"]}
    stage = disc_cup_stage(samples, inputs, splits, seed, epochs, disc_centres)
    np.savez_compressed(masks_path, oof_masks=stage["oof_masks"])
    path.write_text(json.dumps({k: v for k, v in stage.items() if k != "oof_masks"}))
    return stage


def _stacked(network: np.ndarray, measures: np.ndarray, labels: np.ndarray,
             splits: list[tuple[np.ndarray, np.ndarray]], use_network: bool = True) -> np.ndarray:
    """Out-of-fold combined probabilities: fold k's combination is fitted on the other folds' out-of-fold
    network probabilities and disc measurements only."""
    from papila.model.training import cdr as cdr_model

    out = np.full(len(labels), np.nan)
    for tr, va in splits:
        w = cdr_model.combine_fit(network[tr], measures[tr], labels[tr], use_network=use_network)
        out[va] = [combination.combine(p, m, w) for p, m in zip(network[va], measures[va], strict=True)]
    return out


def operating_points(labels: np.ndarray, served: np.ndarray, domains: np.ndarray) -> list[dict[str, Any]]:
    """Other thresholds a clinic may choose, on the same pooled out-of-fold probabilities: the served one
    holds pooled specificity; these hold pooled sensitivity instead. Per domain, sensitivity/specificity."""
    y = np.asarray(labels).astype(bool)
    points = []
    for target in (0.75, 0.85, 0.90):
        positives = np.sort(served[y])
        t = float(positives[int(np.floor((1 - target) * len(positives)))])
        row: dict[str, Any] = {"rule": f"pooled sensitivity >= {target:.2f}", "threshold": t}
        for d in sorted(set(domains.tolist())):
            m = domains == d
            row[d] = {"sensitivity": float((served[m & y] >= t).mean()), "specificity": float((served[m & ~y] < t).mean())}
        points.append(row)
    return points


FRAMING_BIN = 0.1  # strata of the square's offset from the photo centre, in half-widths


def framing_check(labels: np.ndarray, scores: dict[str, np.ndarray], domains: np.ndarray,
                  offsets: np.ndarray) -> dict[str, Any]:
    """Per domain whose framing is known (an export's photos): how well where the disc sits in the photo
    separates the classes by itself, and each score's AUC over pairs framed alike (offset strata of
    FRAMING_BIN). A score that leaned on how each class was photographed loses AUC here."""
    out: dict[str, Any] = {}
    known = np.isfinite(offsets)
    for domain in sorted(set(domains[known].tolist())):
        k = known & (domains == domain)
        if len(set(labels[k].tolist())) < 2:
            continue
        strata = np.floor(offsets[k] / FRAMING_BIN).astype(int)
        alone = metrics.roc_auc(labels[k], offsets[k])
        out[domain] = {"n": int(k.sum()), "bin": FRAMING_BIN, "auc_framing_alone": max(alone, 1 - alone),
                       "matched_auc": {name: metrics.matched_auc(labels[k], v[k], strata)
                                       for name, v in scores.items()},
                       "auc": {name: metrics.roc_auc(labels[k], v[k]) for name, v in scores.items()}}
    return out


def _by_domain(labels: np.ndarray, scores: dict[str, np.ndarray], domains: np.ndarray, threshold: float
               ) -> dict[str, Any]:
    result = {}
    for domain in sorted(set(domains.tolist())):
        m = domains == domain
        result[domain] = {"n": int(m.sum()), "glaucoma": int(labels[m].sum()), "normal": int((1 - labels[m]).sum())}
        for name, s in scores.items():
            result[domain][f"auc_{name}"] = metrics.roc_auc(labels[m], s[m])
        served = metrics.summary(labels[m], scores["served"][m], threshold)
        result[domain] |= {k: served[k] for k in ("sensitivity", "specificity", "accuracy")}
    return result


def release(out: str | Path, data_dirs: list[str], *, compare_folds: bool = True, seg_epochs: int = 40,
            disc_centres: Path | None = DRISHTI, target_specificity: float = 0.80) -> dict[str, Any]:
    import keras

    from papila.model.serving.runtime import LiteRtModel
    from papila.model.training import cdr as cdr_model
    from papila.model.training import export, plots, prepare
    from papila.model.training.master import KerasModel

    out = Path(out)
    work = out / ".train"
    cv = json.loads((work / "cv.json").read_text())
    cfg = cv["config"]
    samples = [s for d in data_dirs for s in list_samples(d)]
    if [s.label for s in samples] != cv["oof"]["labels"]:
        raise ValueError("--data does not list the images the network was trained on, in the same order")
    inputs = prepare.inputs(samples, cfg["size"], prepare.segmenter(cfg.get("segmenter"), out), work)
    images, labels = inputs.images.astype(np.float32), inputs.labels
    domains = np.array([s.domain for s in samples])
    rng = np.random.default_rng(cfg["seed"])

    final = keras.models.load_model(work / "final.keras", compile=False)
    architecture.save_npz(final, str(out / MASTER_NAME))
    export.to_litert(final, images[rng.permutation(len(images))[:128]], out / SERVING_NAME)
    _log(f"wrote {out / SERVING_NAME} and {out / MASTER_NAME}")

    card_metrics: dict[str, Any] = {"folds": cv["folds"]}
    plot_files: dict[str, str] = {}
    card = {
        "model_version": "",
        "architecture": "VGG19 (16 conv + batch norm) -> GlobalAveragePooling2D -> Dense(2, softmax) + a disc/cup "
                        "U-Net (96 px) that verifies the disc, cuts the square of one anatomical scale and measures "
                        "the disc (cup-to-disc ratios, pallor profile), combined with the network's probability",
        "input_size": cfg["size"],
        "runtime": "LiteRT full-integer int8 (float input/output), outputs probabilities and class activation maps",
        "crop": {"side_per_disc_height": SIDE_PER_DISC,
                 "rule": "the disc verified by the U-Net (one round disc of plausible size, wholly inside), then a "
                         "square of this many disc heights centred on it"},
        "metrics": card_metrics,
        "reference": REFERENCE,
        "training_data": training_data(samples, data_dirs),
        "licence": LICENCE,
        "intended_use": "Screening aid for research and education: flags fundus photos (or optic-disc crops) for an "
                        "ophthalmologist's review. Not a diagnosis.",
        "limits": LIMITS,
        "training": {k: cfg[k] for k in ("epochs", "folds", "batch", "lr", "weight_decay", "label_smoothing",
                                         "seg_weight", "seed", "size")} | {"final_epochs": cv["final_epochs"],
                                                                            "train_seconds": cv.get("train_seconds"),
                                                                            "precision": cv.get("precision"),
                                                                            "head_only": bool(cfg.get("head_only")),
                                                                            "head_c": cfg.get("head_c")},
        "trained_at": "",
        "files": {"serving": SERVING_NAME, "master": MASTER_NAME, "disc_cup": DISC_CUP_NAME},
    }
    if not cv["folds"]:
        card |= {"threshold": cv["threshold"], "threshold_rule": "no cross-validation in this run (--folds 1)"}
        write_card(out, card)
        return card

    splits = prepare.folds(samples, cfg["folds"], cfg["seed"])
    network = np.array(cv["oof"]["scores"])
    if compare_folds:
        oof_float, oof_int8 = np.full(len(samples), np.nan), np.full(len(samples), np.nan)
        for k, (tr, va) in enumerate(splits):
            fold_model = keras.models.load_model(work / f"fold{k}.keras", compile=False)
            oof_float[va] = _scores(KerasModel(work / f"fold{k}.keras"), images[va])
            with tempfile.TemporaryDirectory() as tmp:
                path = export.to_litert(fold_model, images[tr][rng.permutation(len(tr))[:128]], Path(tmp) / "f.tflite")
                oof_int8[va] = _scores(LiteRtModel(path), images[va])
        card_metrics["int8_vs_float"] = {
            "auc_float": metrics.roc_auc(labels, oof_float), "auc_int8": metrics.roc_auc(labels, oof_int8),
            "max_abs_probability_difference": float(np.max(np.abs(oof_float - oof_int8)))}

    stage = cached_disc_cup_stage(work, samples, inputs.images, splits, cfg["seed"], seg_epochs, disc_centres)
    known = [c for c in stage["oof_cdr"] if c is not None]
    cdr = np.array([c if c is not None else float(np.mean(known) if known else 0.5) for c in stage["oof_cdr"]])
    disc_measures = np.stack([measures(m.astype(np.float32), combination.resize(x, m.shape[0]))
                              for m, x in zip(stage["oof_masks"], inputs.images, strict=True)]).astype(np.float64)
    served = _stacked(network, disc_measures, labels, splits)
    weights = cdr_model.combine_fit(network, disc_measures, labels)
    # The rule, fixed before looking: the network joins the served probability only where it earns its
    # place, i.e. the combination beats the disc measurements alone out of fold in every domain; otherwise
    # the served probability is the measurements alone (the network keeps drawing the heat map).
    measures_only = _stacked(network, disc_measures, labels, splits, use_network=False)
    beats = {d: metrics.roc_auc(labels[domains == d], served[domains == d])
             > metrics.roc_auc(labels[domains == d], measures_only[domains == d])
             for d in sorted(set(domains.tolist()))}
    network_serves = all(beats.values())
    if not network_serves:
        served = measures_only
        weights = cdr_model.combine_fit(network, disc_measures, labels, use_network=False)
    card_metrics["network_in_served_probability"] = {"serves": network_serves,
                                                     "beats_disc_measures_alone_by_domain": beats}
    threshold = metrics.threshold_for_specificity(labels, served, target_specificity)
    scores = {"served": served, "network": network, "cdr": cdr, "disc_measures": measures_only}
    card_metrics["cv"] = metrics.summary(labels, served, threshold) | {
        "auc_network": metrics.roc_auc(labels, network), "auc_cdr": metrics.roc_auc(labels, cdr),
        "auc_disc_measures": metrics.roc_auc(labels, measures_only)}
    card_metrics["by_domain"] = _by_domain(labels, scores, domains, threshold)
    card_metrics["framing"] = framing_check(labels, scores, domains, framing_offsets(samples))
    card_metrics["operating_points"] = operating_points(labels, served, domains)
    card_metrics["cdr"] = {"cv_rim_one_unet": stage["cdr_mae_cv"]}
    if stage["cdr_mae_photos_cv"]:
        card_metrics["cdr"]["cv_drishti_gs1"] = stage["cdr_mae_photos_cv"]
    card["combination"] = {"weights": weights,
                           "rule": "p = sigmoid(w_logit * logit(p_vgg19) + sum(w_measures[m] * m) + bias) over the "
                                   "disc measurements m of papila.model.serving.measures, fitted on the out-of-fold "
                                   "predictions and measurements"}
    card["threshold"] = threshold
    card["threshold_rule"] = (f"lowest threshold with >= {target_specificity:.2f} specificity on the pooled "
                              f"out-of-fold screening probabilities of every domain ({cfg['folds']} folds grouped by "
                              "person; the combination itself fitted out of fold; never on scored data)")
    card["cdr_error"] = ({"mae_vs_experts": stage["cdr_mae_photos_cv"]["mae"], "measured_on": "cv_drishti_gs1"}
                         if stage["cdr_mae_photos_cv"] else
                         {"mae_vs_experts": stage["cdr_mae_cv"]["mae"], "measured_on": "cv_rim_one_unet"})
    card["training"] |= {"disc_cup_epochs": seg_epochs, "disc_cup_folds": len(splits)}
    if stage["photos"]:
        card["disc_cup_training_data"] = {
            "name": "Drishti-GS1 training photos (expert disc centres and diameters, four experts' CDRs)",
            "photos": stage["photos"], "licence": "Drishti-GS1: research use; cite Sivaswamy J. et al., ISBI 2014."}

    try:
        plot_files["roc"] = plots.roc_curves(out / "roc.png", {
            d: (labels[domains == d], served[domains == d])
            for d in sorted(set(domains.tolist()))}, "Out-of-fold ROC, served probability, by domain").name
        plot_files["roc_parts"] = plots.roc_curves(out / "roc_parts.png", {
            "served": (labels, served), "VGG19 alone": (labels, network), "CDR alone": (labels, cdr),
            "disc measurements alone": (labels, measures_only)},
            "Out-of-fold ROC, all domains: the parts and the combination").name
        plot_files["calibration"] = plots.calibration(out / "calibration.png", {
            d: (labels[domains == d], served[domains == d]) for d in sorted(set(domains.tolist()))}).name
        if stage["photo_cdrs"]:
            plot_files["cdr"] = plots.cdr_scatter(out / "cdr.png", stage["photo_cdrs"], stage["photo_expert"],
                                                  "CDR as served vs experts' mean, Drishti-GS1 (out of fold)").name
    except ValueError as exc:  # a domain with one class (tiny runs): no plot rather than no model
        _log(f"plots skipped: {exc}")
    card["plots"] = plot_files
    (work / "oof.json").write_text(json.dumps({"labels": labels.tolist(), "domains": domains.tolist(),
                                               "network": network.tolist(), "cdr": cdr.tolist(),
                                               "disc_measures": measures_only.tolist(),
                                               "served": served.tolist()}))
    write_card(out, card)
    _log(f"model {card['model_version']}: {json.dumps(card_metrics['cv'])}")
    return card


LICENCE = ("Trained on RIM-ONE DL: research and educational use only, free of charge; no commercial use, no "
           "redistribution of the data. The weights carry these terms. Also trained on HYGD (Open Data Commons "
           "Attribution v1.0) where the training data says so.")
LIMITS = [("trained on crops from one RIM-ONE hospital and photos from one Topcon camera (HYGD); other cameras "
          "are measured only through Drishti-GS1's disc centres and CDRs"),
          "not validated on a prospective population",
          "no pretrained weights: the VGG19 is trained from scratch on a few hundred images on 2 CPU cores",
          "HYGD's labels come from a full work-up: some glaucoma eyes look unremarkable on a photo",
          ("the out-of-fold figures move by about 0.02 AUC between runs of the fold U-Nets (their training is not "
           "bit-reproducible on CPU threads) and between fold assignments: read differences smaller than that as "
           "noise")]


def training_data(samples: list, data_dirs: list[str]) -> dict[str, Any]:
    by: dict[str, dict[str, int]] = {}
    for s in samples:
        entry = by.setdefault(s.domain, {"n": 0, "glaucoma": 0, "normal": 0, "people": 0})
        entry["n"] += 1
        entry["glaucoma" if s.label else "normal"] += 1
    for domain, entry in by.items():
        entry["people"] = len({s.group for s in samples if s.domain == domain})
    return {"name": data_name(data_dirs), "n": len(samples), "glaucoma": sum(s.label for s in samples),
            "normal": sum(1 - s.label for s in samples), "by_domain": by}


def data_name(data_dirs: list[str]) -> str:
    """What the network was trained on, by folder (RIM-ONE DL by name, anything else by path)."""
    names = ["RIM-ONE DL, partitioned by hospital, training set" if "rim-one" in str(d).lower() else f"images from {d}"
             for d in data_dirs]
    return "; ".join(names)


def write_card(out: Path, card: dict[str, Any]) -> None:
    """Version from what serves: the files' bytes (network and segmenter) and the combination's weights;
    then model.json and MODEL_CARD.md."""
    digest = hashlib.sha256()
    for name in (card["files"]["serving"], card["files"].get("disc_cup")):
        if name:
            digest.update((out / name).read_bytes())
    digest.update(json.dumps(card.get("combination"), sort_keys=True).encode())
    trained = datetime.now(UTC)
    card["model_version"] = f"vgg19bn-{trained:%Y-%m-%d}-{digest.hexdigest()[:8]}"
    card["trained_at"] = trained.isoformat(timespec="seconds").replace("+00:00", "Z")
    (out / "model.json").write_text(json.dumps(card, indent=2) + "\n")
    (out / "MODEL_CARD.md").write_text(markdown(card))


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _domain_table(card: dict[str, Any]) -> str:
    rows = card["metrics"].get("by_domain") or {}
    if not rows:
        return "No cross-validation in this run (`--folds 1`): no out-of-fold metrics."
    lines = [("| domain | images (glaucoma / normal) | AUC served | AUC VGG19 alone | AUC CDR alone | AUC disc "
              "measurements alone | sensitivity | specificity |"), "|---|---|---|---|---|---|---|---|"]
    for name, m in rows.items():
        lines.append(f"| {name} | {m['n']} ({m['glaucoma']} / {m['normal']}) | {_fmt(m['auc_served'])} | "
                     f"{_fmt(m['auc_network'])} | {_fmt(m['auc_cdr'])} | {_fmt(m.get('auc_disc_measures'))} | "
                     f"{_fmt(m['sensitivity'])} | {_fmt(m['specificity'])} |")
    cv = card["metrics"]["cv"]
    lines.append(f"| all (pooled) | {cv['n']} | {_fmt(cv['auc'])} | {_fmt(cv['auc_network'])} | {_fmt(cv['auc_cdr'])} | "
                 f"{_fmt(cv.get('auc_disc_measures'))} | {_fmt(cv['sensitivity'])} | {_fmt(cv['specificity'])} |")
    return "\n".join(lines)


def _operating_points(card: dict[str, Any]) -> str:
    points = card["metrics"].get("operating_points") or []
    if not points:
        return ""
    domains = [k for k in points[0] if k not in ("rule", "threshold")]
    lines = ["Other operating points on the same out-of-fold probabilities (sensitivity / specificity):", "",
             "| rule | threshold | " + " | ".join(domains) + " |", "|---|---|" + "---|" * len(domains)]
    for p in points:
        lines.append(f"| {p['rule']} | {p['threshold']:.4f} | " + " | ".join(
            f"{p[d]['sensitivity']:.3f} / {p[d]['specificity']:.3f}" for d in domains) + " |")
    return "\n".join(lines)


def _framing(card: dict[str, Any]) -> str:
    checks = card["metrics"].get("framing") or {}
    if not checks:
        return ""
    names = {"served": "served", "network": "VGG19 alone", "cdr": "CDR alone", "disc_measures": "disc measurements"}
    lines = [("**Framing check.** Where the disc sits in the photo (|square centre - photo centre| / half-width) "
             "separates the classes by itself in HYGD (normal eyes mostly photographed macula-centred, glaucoma "
             "eyes disc-centred). A model could learn that instead of the disc. The AUC over glaucoma/normal pairs "
             "framed alike (offset within the same 0.1 band) shows how much of each score survives:"), "",
             "| domain | AUC of the framing alone | " + " | ".join(f"{v}: AUC / framed alike" for v in names.values())
             + " |", "|---|---|" + "---|" * len(names)]
    for domain, c in checks.items():
        lines.append(f"| {domain} ({c['n']}) | {_fmt(c['auc_framing_alone'])} | " + " | ".join(
            f"{_fmt(c['auc'].get(k))} / {_fmt(c['matched_auc'].get(k))}" for k in names) + " |")
    return "\n".join(lines)


def _verdict(card: dict[str, Any]) -> str:
    """Does the network earn its place (the combination beats the CDR alone in every domain)? Plainly."""
    rule = card["metrics"].get("network_in_served_probability")
    if not rule:
        return ""
    worse = [d for d, ok in rule["beats_disc_measures_alone_by_domain"].items() if not ok]
    if worse:
        return (f"**The VGG19 does not earn its place yet:** combined with the disc measurements it does not beat "
                f"the measurements alone out of fold in: {', '.join(worse)}. By the release rule the served "
                "probability is therefore the disc measurements alone (a logistic function of them); the VGG19 "
                "still draws the heat map.")
    return ("The combination beats the disc measurements alone out of fold in every domain, so the VGG19 is part "
            "of the served probability.")


def _plots(card: dict[str, Any]) -> str:
    captions = {"roc": "ROC curves per domain (out of fold)", "roc_parts": "VGG19 alone, CDR alone, disc measurements alone, served",
                "calibration": "Calibration (reliability) per domain", "cdr": "CDR as served vs experts (Drishti-GS1)"}
    return "\n".join(f"![{captions.get(k, k)}]({v})" for k, v in (card.get("plots") or {}).items())


def _cdr_lines(card: dict[str, Any]) -> str:
    cdr = card["metrics"].get("cdr") or {}
    names = {"cv_drishti_gs1": "Drishti-GS1 whole photos as served (the verified disc, the normalised square; mean of "
                               "four experts), out of fold",
             "cv_rim_one_unet": "RIM-ONE DL crops vs expert masks, out of fold"}
    lines = []
    for key, name in names.items():
        if cdr.get(key):
            extra = f", {cdr[key]['refused']} photos refused" if cdr[key].get("refused") else ""
            lines.append(f"- mean absolute error {_fmt(cdr[key]['mae'])} over {cdr[key]['n']} images ({name}{extra})")
    return "\n".join(lines)


def _head_note(card: dict[str, Any]) -> str:
    train = card["training"]
    if not train.get("head_only"):
        return ""
    return (f"**This release refits only the network's Dense(2) head** (`papila train --head-only`): a logistic "
            f"regression (L2, C={train.get('head_c')}) on the pooled features of the VGG19 body of the previous "
            "release (trained from scratch on the 311 RIM-ONE crops), by the same person-grouped folds. A full "
            "training measured ~1.2 s per image-step here (no bfloat16 hardware; float32 on 2 cores): tens of "
            "hours for a full training. The RIM-ONE figures of the VGG19 are therefore optimistic (its body saw "
            "those images and labels); HYGD's are clean (the body never saw HYGD). The body: release "
            "vgg19bn-2026-11-30-1287e0e9, VGG19-BN from scratch (He-normal init), 2-fold CV x 12 epochs then a final "
            "fit of 8 epochs, AdamW, label smoothing, class weights, fundus-safe augmentation, auxiliary disc/cup "
            "decoder.\n")


def _recipe(card: dict[str, Any]) -> str:
    train = card["training"]
    return f"""VGG19-BN from scratch (He-normal init), {train.get('precision') or 'float32'} on CPU, AdamW (lr {train['lr']}, weight decay
{train['weight_decay']}), warm-up and cosine decay, batch {train['batch']}, label smoothing {train['label_smoothing']},
class-balanced weights, fundus-safe augmentation, auxiliary disc/cup decoder (weight {train['seg_weight']}).
{train['folds']} folds stratified by label and **grouped by person** (both eyes and repeat photos of one person on
one side), {train['epochs']} epochs each; the out-of-fold scores are each fold's last epoch (no epoch chosen on
held-out data); then a final fit on everything for {train['final_epochs']} epochs. Seed {train['seed']}. Training
time: {train.get('train_seconds')} s on 2 CPU cores (no GPU)."""


def markdown(card: dict[str, Any]) -> str:
    """The human half of the card, generated from the same numbers as model.json."""
    ref, train = card["reference"], card["training"]
    data = card["training_data"]
    by = "\n".join(f"- {d}: {e['n']} images ({e['glaucoma']} glaucoma, {e['normal']} normal) of {e['people']} people"
                   for d, e in (data.get("by_domain") or {}).items())
    w = (card.get("combination") or {}).get("weights")
    combination = (f"sigmoid({w['w_logit']:.3f} * logit(p_vgg19) + a weighted sum of {len(w['w_measures'])} disc "
                   f"measurements + {w['bias']:.3f}) (weights in `model.json`)" if w else "the VGG19's probability")
    if w and w["w_logit"] == 0:
        combination += (" - **the disc measurements alone**: the VGG19 did not beat them out of fold in every "
                        "domain, so by the release rule it does not enter the served probability (it still draws "
                        "the heat map)")
    q = card["metrics"].get("int8_vs_float") or {}
    quantised = (f"int8 against full precision on the same folds: AUC {_fmt(q.get('auc_int8'))} vs "
                 f"{_fmt(q.get('auc_float'))}." if q else "int8 against full precision: not measured in this run "
                 "(`tests/unit` compares them on photos cut as served).")
    head = " \\\n    --head-only --init <master .npz of the body>" if train.get("head_only") else ""
    return f"""# Model card: {card['model_version']}

**Intended use.** {card['intended_use']}

## Model
- {card['architecture']}; network input {card['input_size']} x {card['input_size']} RGB.
- **One anatomical scale.** Every photo or crop goes through the same steps. The locator proposes candidate
  squares; the disc/cup U-Net must find one round disc of plausible size wholly inside a square (else the next
  candidate; then a search of the whole field, rim included, held to a stricter rule: the size the field implies
  and a cup; none: refused as `disc_not_found`). The networks then see a square of {card['crop']['side_per_disc_height']}
  disc heights centred on that disc (RIM-ONE DL crops have the disc at 0.76 of the side).
- Served probability: {combination}, fitted on out-of-fold predictions.
- Serving: `{card['files']['serving']}` ({card['runtime']}), `{card['files']['disc_cup']}` (float16). Master
  weights: `{card['files']['master']}`. Heat map: class activation map of the glaucoma class.

## Training data and licences
{data['name']}: {data['n']} images ({data['glaucoma']} glaucoma, {data['normal']} normal).
{by}

{card['licence']} Cite: Fumero Batista F.J. et al., RIM-ONE DL, Image Analysis & Stereology 39(3):161-167, 2020,
doi:10.5566/ias.2346. HYGD: Abramovich O. et al., Hillel Yaffe Glaucoma Dataset, PhysioNet 2025,
doi:10.13026/z0ak-km33 (ODC-By 1.0). HYGD photos reach training through the product's data loop
(`bench/data_loop.py`: screened through the API, feedback with the gold-standard label and a pseudonymous
`subject_id`, admin export). The disc/cup U-Net also learns from Drishti-GS1 (research use; cite Sivaswamy J. et
al., ISBI 2014): expert disc centres, diameters and CDRs, with squares that hold no disc as negatives.

## Recipe
{_head_note(card) or _recipe(card)}
## Out-of-fold performance, per domain
{_domain_table(card)}

At the served threshold {card['threshold']:.4f}. {_verdict(card)}
Published reference ({ref['source']}): AUC {ref['auc']}. This model's by-hospital test score is measured outside
this repository. {quantised}

{_framing(card)}

{_plots(card)}

## Cup-to-disc ratio
The U-Net segments disc and cup on the normalised square; the vertical CDR is the ratio of their heights.
{_cdr_lines(card)}

The served probability uses more than the CDR ({len(NAMES)} disc measurements, `papila/model/serving/measures.py`): vertical
and horizontal cup-to-disc ratios and the cup/disc area ratio at three confidence levels of the U-Net, the disc's
size, and the pallor profile (each colour's brightness at five distances from the disc centre, above/below and
beside it, relative to the retina around the disc, so that exposure and white balance cancel out).

## Operating threshold
**{card['threshold']:.4f}**: the {card['threshold_rule']}. A probability at or above it is labelled
`glaucoma` with a referral wording.

{_operating_points(card)}

## Limits
{chr(10).join('- ' + item for item in card['limits'])}

## Reproduce
```
python bench/data_loop.py                      # against `make up`: HYGD through the API, feedback, export
.venv/bin/papila train --data ../shared/datasets/rim-one-dl-hospital-train/images --data .localdata/exports/hygd \\
    --out weights/ --epochs {train['epochs']} --folds {train['folds']} --size {train['size']} --seg-epochs {train.get('disc_cup_epochs', 40)}{head}
.venv/bin/papila evaluate --photos <folder with labels.csv and photos> --json
python bench/locate.py && python bench/inference.py
```
"""
