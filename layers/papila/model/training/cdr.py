"""Cup-to-disc ratio: a small U-Net segments the optic disc and cup on the crop (96 px), and the
vertical CDR is the ratio of their heights. On the RIM-ONE training set the experts' own vertical
CDR separates glaucoma from normal with AUC 0.98, so the segmenter's CDR is combined with the VGG19
probability (logistic regression fitted on out-of-fold predictions: `combine_fit` here, applied by
`papila.model.serving.combination.combine` when serving)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from papila.model.serving.combination import logit

COMBINATION_C = 1.0  # L2 strength of the combination, chosen on the out-of-fold measurements of both domains
SEG_SIZE = 96
WIDTHS = (12, 24, 48, 96)


def build_unet(size: int = SEG_SIZE) -> Any:
    import keras
    from keras import layers

    inputs = keras.Input((size, size, 3), name="image")
    x = layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    skips = []
    for w in WIDTHS:
        for _ in range(2):
            x = layers.Conv2D(w, 3, padding="same", use_bias=False, kernel_initializer="he_normal")(x)
            x = layers.BatchNormalization(momentum=0.9)(x)
            x = layers.Activation("relu")(x)
        skips.append(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(WIDTHS[-1] * 2, 3, padding="same", activation="relu", kernel_initializer="he_normal")(x)
    for w, skip in zip(reversed(WIDTHS), reversed(skips), strict=True):
        x = layers.UpSampling2D(2)(x)
        x = layers.Concatenate()([x, skip])
        x = layers.Conv2D(w, 3, padding="same", use_bias=False, kernel_initializer="he_normal")(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.Activation("relu")(x)
    outputs = layers.Conv2D(2, 1, activation="sigmoid", dtype="float32", name="disc_cup")(x)
    return keras.Model(inputs, outputs, name="papila_disc_cup_unet")


def _dice_bce(y_true, y_pred):
    import keras

    ops = keras.ops
    bce = ops.mean(keras.losses.binary_crossentropy(y_true, y_pred), axis=(1, 2))
    inter = ops.sum(y_true * y_pred, axis=(1, 2))
    dice = 1 - (2 * inter + 1) / (ops.sum(y_true, axis=(1, 2)) + ops.sum(y_pred, axis=(1, 2)) + 1)
    return bce + ops.mean(dice, axis=-1)


def fit_unet(images: np.ndarray, masks: np.ndarray, epochs: int, seed: int, log: Any = print) -> Any:
    """images N x S x S x 3 uint8, masks N x S x S x 2 {0,1}; flips and small rotations as augmentation."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    keras.mixed_precision.set_global_policy("float32")
    model = build_unet(images.shape[1])
    steps = int(np.ceil(len(images) / 16)) * epochs
    model.compile(optimizer=keras.optimizers.AdamW(keras.optimizers.schedules.CosineDecay(2e-3, steps, alpha=0.02),
                                                   weight_decay=1e-4), loss=_dice_bce)
    geo = keras.Sequential([keras.layers.RandomFlip("horizontal", seed=seed),
                            keras.layers.RandomRotation(0.035, fill_mode="reflect", seed=seed + 1),
                            keras.layers.RandomZoom((-0.1, 0.1), fill_mode="reflect", seed=seed + 2)])

    def augment(img, mask):
        both = geo(tf.concat([tf.cast(img, tf.float32), tf.cast(mask, tf.float32) * 255.0], -1), training=True)
        img = tf.image.random_brightness(both[..., :3], 20.0)
        img = tf.clip_by_value(tf.image.random_contrast(img, 0.85, 1.15), 0, 255)
        return img, tf.cast(both[..., 3:] > 127.0, tf.float32)

    ds = (tf.data.Dataset.from_tensor_slices((images, masks)).shuffle(len(images), seed=seed)
          .map(augment, num_parallel_calls=2).batch(16).prefetch(2))
    t0 = time.time()
    model.fit(ds, epochs=epochs, verbose=0)
    log(f"U-Net {len(images)} images x {epochs} epochs in {time.time() - t0:.0f}s")
    return model


def predict_masks(model: Any, images: np.ndarray) -> np.ndarray:
    """A Keras U-Net's disc/cup probabilities for crops already at its input size."""
    return np.asarray(model.predict(images.astype(np.float32), batch_size=32, verbose=0))


def to_litert(model: Any, path: Path) -> Path:
    """Float16 weights (the network is small; int8 buys nothing here)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    path.write_bytes(converter.convert())
    return path


def combine_fit(probabilities: np.ndarray, measures: np.ndarray, labels: np.ndarray,
                use_network: bool = True) -> dict[str, Any]:
    """Logistic regression (L2, class-balanced, standardised inputs) on [logit(p_vgg19), disc measurements]
    (or on the measurements alone, `use_network=False`: then w_logit is 0). The standardisation is folded
    into the weights, so the runtime computes one dot product."""
    from sklearn.linear_model import LogisticRegression

    from papila.model.serving.measures import NAMES

    x = np.asarray(measures, np.float64)
    if use_network:
        x = np.column_stack([logit(probabilities), x])
    mean, scale = x.mean(0), x.std(0) + 1e-6
    lr = LogisticRegression(C=COMBINATION_C, class_weight="balanced", max_iter=5000).fit((x - mean) / scale, labels)
    coef = lr.coef_[0] / scale
    bias = float(lr.intercept_[0] - (coef * mean).sum())
    w_logit = float(coef[0]) if use_network else 0.0
    rest = coef[1:] if use_network else coef
    return {"w_logit": w_logit, "w_measures": dict(zip(NAMES, map(float, rest), strict=True)), "bias": bias}


def weak_masks(size: int, centre: tuple[float, float], disc_diameter: float, cdr: float) -> np.ndarray:
    """Disc and cup masks drawn from the experts' numbers alone (Drishti-GS1 gives a disc centre and
    diameter and a cup-to-disc ratio, no outlines): concentric discs whose heights give exactly that CDR."""
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    r2 = ((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (disc_diameter / 2) ** 2
    return np.stack([r2 <= 1.0, r2 <= cdr**2], -1).astype(np.uint8)


def expert_crops(root: Path, size: int = SEG_SIZE, disc_fractions: tuple[float, ...] = (0.75, 0.6, 0.45, 0.33),
                 seed: int = 0, negatives: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training crops from full photos with expert disc centres (`discs.json`, Drishti-GS1 layout): per
    photo one square per disc fraction (disc diameter / crop side: RIM-ONE's tight crops are ~0.75, the
    locator's ~0.3-0.5), shifted up to a quarter disc diameter, and `negatives` squares that hold no
    disc (empty masks: elsewhere in the field, on its bright rim), so the segmenter learns to find no
    disc where there is none; the pipeline relies on that to verify a square. Returns images, weak
    masks, photo index."""
    import json

    from PIL import Image

    from papila.core import imaging

    rng = np.random.default_rng(seed)
    images, masks, photo = [], [], []
    for i, item in enumerate(json.loads((root / "discs.json").read_text())):
        with Image.open(root / item["file"]) as im:
            full = im.convert("RGB")
        d = float(item["disc_diameter"])
        for fraction in disc_fractions:
            side = d / fraction
            shift = rng.uniform(-0.25, 0.25, 2) * d
            x0 = item["disc_center_x"] + shift[0] - side / 2
            y0 = item["disc_center_y"] + shift[1] - side / 2
            crop = imaging.square_crop(full, imaging.Crop(round(x0), round(y0), round(side)))
            scale = size / round(side)
            images.append(np.asarray(crop.resize((size, size), Image.Resampling.BILINEAR)))
            centre = ((item["disc_center_x"] - round(x0)) * scale, (item["disc_center_y"] - round(y0)) * scale)
            masks.append(weak_masks(size, centre, d * scale, float(np.mean(item["cdr_experts"]))))
            photo.append(i)
        for crop in _negative_squares(full, (item["disc_center_x"], item["disc_center_y"]), d, negatives, rng):
            images.append(np.asarray(imaging.square_crop(full, crop).resize((size, size), Image.Resampling.BILINEAR)))
            masks.append(np.zeros((size, size, 2), np.uint8))
            photo.append(i)
    return np.stack(images), np.stack(masks), np.array(photo)


def _negative_squares(photo: Any, centre: tuple[float, float], disc_diameter: float, count: int,
                      rng: np.random.Generator) -> list[Any]:
    """Squares at the locator's and the tight scales that stay clear of the disc; half of them centred
    on the field's rim (bright reflections there are what a locator mistakes for a disc)."""
    from papila.core import imaging
    from papila.core.locate import field_of_view

    small, scale = imaging.downscale(photo, 256)
    fov = field_of_view(np.asarray(small, np.float32))
    rim = fov & ~_eroded(fov)
    rim_points = np.argwhere(rim)
    out: list[Any] = []
    for attempt in range(50 * count):
        if len(out) == count:
            break
        side = disc_diameter / rng.uniform(0.3, 0.75)
        if attempt % 2 == 0 and len(rim_points):
            y, x = rim_points[rng.integers(len(rim_points))] * scale
        else:
            x, y = rng.uniform(0, photo.width), rng.uniform(0, photo.height)
        gap = np.hypot(x - centre[0], y - centre[1])
        if gap > side / np.sqrt(2) + 0.6 * disc_diameter:  # the disc wholly outside the square
            out.append(imaging.Crop(round(x - side / 2), round(y - side / 2), round(side)))
    return out


def _eroded(mask: np.ndarray) -> np.ndarray:
    from PIL import Image, ImageFilter

    return np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.MinFilter(7))) > 127
