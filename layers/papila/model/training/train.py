"""`papila train`: k-fold CV on the training folder(s), folds stratified by label and grouped by person
(`Sample.group`: both eyes and repeat photos of one person never sit on both sides of a split), then a
final fit on all of it. Every image is first cut as the served path cuts it (`prepare.inputs`: the disc
verified by the segmenter, a square of one anatomical scale around it), so the network learns from
what it will see.

Recipe (see weights/MODEL_CARD.md): VGG19-BN from scratch, float32 (bfloat16 where the hardware has it), AdamW with warm-up and
cosine decay, label smoothing, class weighting, fundus-safe augmentation (flip, small rotation /
zoom / shift, colour jitter), auxiliary disc/cup mask loss where masks exist. The out-of-fold
predictions are each fold's last epoch (no epoch is chosen on held-out data). Checkpoints every epoch under OUT/.train/, so a killed run resumes.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from papila.model.serving import metrics
from papila.model.serving.runtime import GLAUCOMA_CLASS
from papila.model.training import architecture, prepare
from papila.model.training.data import Sample, list_samples

SEG_SCALE = 4  # the decoder predicts masks at 1/4 of the input size


@dataclass
class TrainConfig:
    data: list[str]
    out: str = "weights"
    epochs: int = 16
    folds: int = 4
    size: int = architecture.INPUT_SIZE
    batch: int = 16
    lr: float = 1e-3
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    seg_weight: float = 1.0
    seed: int = 20201
    init: str | None = None  # start from these weights (retraining)
    target_specificity: float = 0.85
    final_fit: bool = True
    segmenter: str | None = None  # the disc/cup U-Net that cuts the crops (default: the served one)
    extra: dict[str, Any] = field(default_factory=dict)


def precision_policy() -> str:
    """mixed_bfloat16 where the hardware computes in bfloat16 (a GPU, or a CPU with AVX-512 BF16 / AMX);
    elsewhere TensorFlow emulates it and an epoch takes many times longer than in float32."""
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return "mixed_bfloat16"
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "float32"
    return "mixed_bfloat16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "float32"


def _log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def _dataset(images, masks, labels, has_mask, class_w, cfg: TrainConfig, seed: int):
    import keras
    import tensorflow as tf

    geo = keras.Sequential([
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomRotation(0.035, fill_mode="reflect", seed=seed + 1),  # about +-12 degrees
        keras.layers.RandomZoom((-0.1, 0.1), fill_mode="reflect", seed=seed + 2),
        keras.layers.RandomTranslation(0.05, 0.05, fill_mode="reflect", seed=seed + 3),
    ])
    seg_size = cfg.size // SEG_SCALE

    def augment(img, mask, label, hm):
        both = tf.concat([tf.cast(img, tf.float32), tf.cast(mask, tf.float32) * 255.0], -1)
        both = geo(both, training=True)
        img, mask = both[..., :3], both[..., 3:] / 255.0
        img = tf.image.random_brightness(img, 25.0)
        img = tf.image.random_contrast(img, 0.8, 1.2)
        img = tf.image.random_saturation(img, 0.8, 1.2)
        img = tf.image.random_hue(img / 255.0, 0.03) * 255.0
        img = tf.clip_by_value(img, 0.0, 255.0)
        mask = tf.cast(tf.image.resize(mask, (seg_size, seg_size)) > 0.5, tf.float32)
        y = {"cls": tf.one_hot(label, 2), "seg": mask}
        w = {"cls": tf.gather(class_w, label), "seg": hm}
        return img, y, w

    ds = tf.data.Dataset.from_tensor_slices((images, masks, labels, has_mask))
    ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    return ds.map(augment, num_parallel_calls=2).batch(cfg.batch).prefetch(2)


def _seg_loss(y_true, y_pred):
    """Per-image mean binary cross-entropy over the disc and cup masks (weighted 0 without masks)."""
    import keras

    return keras.ops.mean(keras.losses.binary_crossentropy(y_true, y_pred), axis=(1, 2))


def _compile(model, cfg: TrainConfig, steps_per_epoch: int, epochs: int) -> None:
    import keras

    total = max(1, steps_per_epoch * epochs)
    warmup = min(steps_per_epoch, total // 4)
    schedule = keras.optimizers.schedules.CosineDecay(
        cfg.lr * 0.05, decay_steps=total - warmup, alpha=0.01, warmup_target=cfg.lr, warmup_steps=warmup
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay),
        loss={
            "cls": keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
            "seg": _seg_loss,
        },
        loss_weights={"cls": 1.0, "seg": cfg.seg_weight},
    )


def _predict(model, images: np.ndarray, batch: int = 32) -> np.ndarray:
    out = model.predict(images.astype(np.float32), batch_size=batch, verbose=0)
    probs = out["cls"] if isinstance(out, dict) else out
    return np.asarray(probs, np.float64)[:, GLAUCOMA_CLASS]


def _fit(cfg: TrainConfig, data, train_idx, val_idx, epochs: int, ckpt_dir: Path, tag: str) -> dict:
    """Train one model; checkpoint each epoch; return per-epoch val AUCs and best-epoch val scores."""
    import keras

    images, masks, labels, has_mask = data
    state_path = ckpt_dir / f"{tag}.state.json"
    ckpt_path = ckpt_dir / f"{tag}.keras"
    state = json.loads(state_path.read_text()) if state_path.exists() else {"epoch": 0, "aucs": []}
    if state.get("done"):
        return state

    keras.utils.set_random_seed(cfg.seed)
    keras.mixed_precision.set_global_policy(precision_policy())
    counts = np.bincount(labels[train_idx], minlength=2)
    class_w = (len(train_idx) / (2.0 * np.maximum(counts, 1))).astype(np.float32)
    steps = int(np.ceil(len(train_idx) / cfg.batch))
    if state["epoch"] > 0 and ckpt_path.exists():
        model = keras.models.load_model(ckpt_path, custom_objects={"_seg_loss": _seg_loss})
        _log(f"{tag}: resumed after epoch {state['epoch']}")
    else:
        model = architecture.build(cfg.size, with_seg_head=True)
        if cfg.init:  # retraining: start from the current master (the seg head starts fresh)
            architecture.load_npz(model, cfg.init)
        _compile(model, cfg, steps, epochs)
    ds = _dataset(images[train_idx], masks[train_idx], labels[train_idx], has_mask[train_idx],
                  class_w, cfg, cfg.seed + 17 * len(state["aucs"]))

    for epoch in range(state["epoch"], epochs):
        t0 = time.time()
        hist = model.fit(ds, epochs=epoch + 1, initial_epoch=epoch, verbose=0)
        loss = {k: round(float(v[-1]), 4) for k, v in hist.history.items()}
        line = f"{tag} epoch {epoch + 1}/{epochs} {time.time() - t0:.0f}s loss={loss}"
        if len(val_idx):
            scores = _predict(model, images[val_idx])
            auc = metrics.roc_auc(labels[val_idx], scores)
            state["aucs"].append(auc)
            state["last_scores"] = scores.tolist()
            if auc >= max(state["aucs"]):
                state["best_epoch"], state["best_scores"] = epoch + 1, scores.tolist()
                model.save(ckpt_dir / f"{tag}.best.keras")
            line += f" val_auc={auc:.4f}"
        state["epoch"] = epoch + 1
        model.save(ckpt_path)
        state_path.write_text(json.dumps(state))
        _log(line)
    state["done"] = True
    state_path.write_text(json.dumps(state))
    return state


def _prepared(cfg: TrainConfig) -> tuple[Path, list[Sample], prepare.Inputs]:
    """The checkpoint folder, the samples of every --data folder and their inputs as the served path cuts
    them (cached in the checkpoint folder)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    out = Path(cfg.out)
    ckpt_dir = out / ".train"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    samples = [s for d in cfg.data for s in list_samples(d)]
    return ckpt_dir, samples, prepare.inputs(samples, cfg.size, prepare.segmenter(cfg.segmenter, out), ckpt_dir)


def train(cfg: TrainConfig) -> dict:
    ckpt_dir, samples, inputs = _prepared(cfg)
    data = (inputs.images, inputs.masks, inputs.labels, inputs.has_mask)
    labels = inputs.labels
    domains = [s.domain for s in samples]
    _log(f"{len(samples)} images ({int(labels.sum())} glaucoma, {int((1 - labels).sum())} normal) from "
         f"{len({s.group for s in samples})} people, {sum(s.disc_mask is not None for s in samples)} with expert masks, "
         f"{int((~inputs.disc_found).sum())} without a verified disc; {cfg.folds}-fold CV, {cfg.epochs} epochs")
    t_start = time.time()

    oof = np.full(len(samples), np.nan)
    folds = []
    if cfg.folds > 1:
        for k, (tr, va) in enumerate(prepare.folds(samples, cfg.folds, cfg.seed)):
            state = _fit(cfg, data, tr, va, cfg.epochs, ckpt_dir, f"fold{k}")
            oof[va] = state["last_scores"]  # the last epoch: no choice made on the held-out fold
            folds.append({"fold": k, "best_epoch": state["best_epoch"], "auc": max(state["aucs"]),
                          "auc_last_epoch": state["aucs"][-1], "n_val": len(va)})
        threshold = metrics.threshold_for_specificity(labels, oof, cfg.target_specificity)
        cv = metrics.summary(labels, oof, threshold)
        cv["by_domain"] = {d: metrics.summary(labels[m], oof[m], threshold)
                           for d in sorted(set(domains)) if (m := np.array(domains) == d).any()}
        fold_aucs = [f["auc"] for f in folds]
        cv.update(auc_fold_mean=float(np.mean(fold_aucs)), auc_fold_std=float(np.std(fold_aucs)),
                  auc_last_epoch_fold_mean=float(np.mean([f["auc_last_epoch"] for f in folds])))
        final_epochs = cfg.epochs  # as the folds were trained: their last epoch gave the out-of-fold numbers
        _log(f"CV: {json.dumps(cv)}")
    else:
        cv, threshold, final_epochs = {}, 0.5, cfg.epochs

    result = {"config": asdict(cfg), "cv": cv, "folds": folds, "threshold": threshold,
              "final_epochs": final_epochs, "n": len(samples), "precision": precision_policy(),
              "n_glaucoma": int(labels.sum()), "n_normal": int((1 - labels).sum()),
              "oof": {"labels": labels.tolist(), "scores": oof.tolist(),
                      "files": [s.path.name for s in samples], "domains": domains,
                      "groups": [s.group for s in samples]}}
    (ckpt_dir / "cv.json").write_text(json.dumps(result, indent=1))
    if cfg.final_fit:
        _fit(cfg, data, np.arange(len(samples)), np.array([], int), final_epochs, ckpt_dir, "final")
        result["train_seconds"] = round(time.time() - t_start)
        (ckpt_dir / "cv.json").write_text(json.dumps(result, indent=1))
    return result


def _features(master_path: str, images: np.ndarray, cache: Path) -> np.ndarray:
    """The VGG19 body's pooled features (GAP, 512) of each image and its mirror image, averaged: run as
    a dynamic-range LiteRT model (minutes on 2 CPU cores where TensorFlow's float graph takes most of an
    hour), cached beside the training checkpoints."""
    import hashlib

    import keras
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    key = hashlib.sha256(Path(master_path).read_bytes() + images.tobytes()).hexdigest()[:16]
    path = cache / f"features-{key}.npy"
    if path.exists():
        return np.load(path)
    keras.mixed_precision.set_global_policy("float32")
    master = architecture.build(images.shape[1], with_seg_head=True)
    architecture.load_npz(master, master_path)
    body = keras.Model(master.input, master.get_layer("gap").output)
    converter = tf.lite.TFLiteConverter.from_keras_model(body)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    interpreter = Interpreter(model_content=converter.convert(), num_threads=os.cpu_count() or 1)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    feats = []
    for image in images.astype(np.float32):
        pair = []
        for view in (image, image[:, ::-1]):
            interpreter.set_tensor(inp["index"], np.ascontiguousarray(view)[None])
            interpreter.invoke()
            pair.append(interpreter.get_tensor(out["index"])[0])
        feats.append(np.mean(pair, axis=0))
    result = np.stack(feats)
    np.save(path, result)
    return result


def _head(features: np.ndarray, labels: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray, Any]:
    """A logistic regression on standardised features, folded into the Dense(2) softmax head's weights
    (p_glaucoma = sigmoid(z1 - z0)), so the served graph and its class activation map stay as they are."""
    from sklearn.linear_model import LogisticRegression

    mean, std = features.mean(0), features.std(0) + 1e-6
    lr = LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit((features - mean) / std, labels)
    w = lr.coef_[0] / std
    b = float(lr.intercept_[0] - np.sum(lr.coef_[0] * mean / std))
    kernel = np.stack([-w / 2, w / 2], axis=1).astype(np.float32)
    bias = np.array([-b / 2, b / 2], np.float32)
    return kernel, bias, lambda x: 1 / (1 + np.exp(-(x @ w + b)))


HEAD_C = 0.05  # L2 strength of the head: fixed beforehand, not chosen on held-out folds


def train_head(cfg: TrainConfig) -> dict:
    """Transfer learning where training the whole VGG19 does not fit the hardware: the body of the
    master (`cfg.init`) is kept, and only the Dense(2) head is refitted on every image (a logistic
    regression on the pooled features), by the same person-grouped folds. Writes the same checkpoints
    and `cv.json` as `train`, so the release is the same."""
    import keras

    if not cfg.init:
        raise ValueError("--head-only needs --init (the master whose body is kept)")
    ckpt_dir, samples, inputs = _prepared(cfg)
    labels = inputs.labels
    domains = [s.domain for s in samples]
    t_start = time.time()
    feats = _features(cfg.init, inputs.images, ckpt_dir)
    _log(f"{len(samples)} images from {len({s.group for s in samples})} people; features {feats.shape} "
         f"in {time.time() - t_start:.0f}s")

    keras.mixed_precision.set_global_policy("float32")
    master = architecture.build(cfg.size, with_seg_head=True)
    architecture.load_npz(master, cfg.init)

    def save(kernel: np.ndarray, bias: np.ndarray, tag: str) -> None:
        master.get_layer(architecture.HEAD_LAYER).set_weights([kernel, bias])
        master.save(ckpt_dir / f"{tag}.keras")

    oof = np.full(len(samples), np.nan)
    folds = []
    for k, (tr, va) in enumerate(prepare.folds(samples, cfg.folds, cfg.seed)):
        kernel, bias, predict = _head(feats[tr], labels[tr], HEAD_C)
        oof[va] = predict(feats[va])
        save(kernel, bias, f"fold{k}")
        auc = metrics.roc_auc(labels[va], oof[va])
        folds.append({"fold": k, "best_epoch": 1, "auc": auc, "auc_last_epoch": auc, "n_val": len(va)})
        _log(f"fold {k}: head AUC {auc:.4f} on {len(va)} held-out images")
    threshold = metrics.threshold_for_specificity(labels, oof, cfg.target_specificity)
    cv = metrics.summary(labels, oof, threshold)
    cv["by_domain"] = {d: metrics.summary(labels[m], oof[m], threshold)
                       for d in sorted(set(domains)) if (m := np.array(domains) == d).any()}
    kernel, bias, _ = _head(feats, labels, HEAD_C)
    save(kernel, bias, "final")
    _log(f"CV (head only): {json.dumps(cv)}")
    result = {"config": asdict(cfg) | {"head_only": True, "head_c": HEAD_C}, "cv": cv, "folds": folds,
              "threshold": threshold, "final_epochs": 0, "n": len(samples), "precision": "float32",
              "n_glaucoma": int(labels.sum()), "n_normal": int((1 - labels).sum()),
              "train_seconds": round(time.time() - t_start),
              "oof": {"labels": labels.tolist(), "scores": oof.tolist(), "files": [s.path.name for s in samples],
                      "domains": domains, "groups": [s.group for s in samples]}}
    (ckpt_dir / "cv.json").write_text(json.dumps(result, indent=1))
    return result
