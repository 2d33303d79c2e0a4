"""The seed's network: VGG19 convolutional base, global average pooling, Dense(2, softmax), 224 px.

Trained from scratch here (no ImageNet weights can be fetched), so every convolution is followed by
batch normalisation (the accepted `vgg19_bn` variant) with He-normal initialisation; the input is
scaled to [-1, 1] inside the model, so callers feed plain RGB 0..255.

During training an auxiliary decoder predicts the expert disc and cup masks from the encoder
(dense supervision for 20 M parameters learning from ~300 labels); it is dropped at serving time.
The serving graph has two outputs: the class probabilities and the last block's feature maps, which
with the dense weights give an exact class activation map (no gradients).
"""

from __future__ import annotations

from typing import Any

import numpy as np

INPUT_SIZE = 224
# VGG19's 16 convolutions: (filters, convolutions) per block.
VGG19_BLOCKS = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))
FEATURES_LAYER = "block5_pool"
HEAD_LAYER = "predictions"


def build(input_size: int = INPUT_SIZE, *, with_seg_head: bool = False) -> Any:
    """The classifier; `with_seg_head` adds the disc/cup decoder (outputs {"cls", "seg"})."""
    import keras
    from keras import layers

    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="scale")(inputs)
    skips: dict[str, Any] = {}
    for b, (filters, convs) in enumerate(VGG19_BLOCKS, start=1):
        for c in range(1, convs + 1):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False,
                              kernel_initializer="he_normal", name=f"block{b}_conv{c}")(x)
            # Momentum 0.9: ~13 steps an epoch here, so the default 0.99 would serve stale statistics.
            x = layers.BatchNormalization(momentum=0.9, name=f"block{b}_bn{c}")(x)
            x = layers.Activation("relu", name=f"block{b}_relu{c}")(x)
        skips[f"block{b}"] = x
        x = layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
    features = x
    pooled = layers.GlobalAveragePooling2D(name="gap")(features)
    probs = layers.Dense(2, activation="softmax", dtype="float32", name=HEAD_LAYER)(pooled)

    if not with_seg_head:
        return keras.Model(inputs, probs, name="papila_vgg19")

    # Auxiliary disc/cup decoder at 1/4 resolution: block5 upsampled x4 joined with block3.
    up = layers.UpSampling2D(4, interpolation="bilinear", name="seg_up")(skips["block5"])
    y = layers.Concatenate(name="seg_concat")([up, skips["block3"]])
    y = layers.Conv2D(64, 3, padding="same", activation="relu", kernel_initializer="he_normal",
                      name="seg_conv")(y)
    seg = layers.Conv2D(2, 1, activation="sigmoid", dtype="float32", name="seg")(y)
    return keras.Model(inputs, {"cls": probs, "seg": seg}, name="papila_vgg19_train")


def save_npz(model: Any, path: str) -> None:
    """The master weights as float16 arrays by layer (half the size; training ran in bfloat16 anyway),
    the disc/cup decoder included: serving uses it for the cup-to-disc ratio."""
    arrays = {}
    for layer in model.layers:
        for i, w in enumerate(layer.get_weights()):
            arrays[f"{layer.name}/{i}"] = w.astype("float16")
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def load_npz(model: Any, path: str) -> int:
    """Set every layer found in the file; returns how many layers were loaded."""
    with np.load(path) as data:
        by_layer: dict[str, dict[int, Any]] = {}
        for key in data.files:
            name, i = key.rsplit("/", 1)
            by_layer.setdefault(name, {})[int(i)] = data[key]
    loaded = 0
    for layer in model.layers:
        if layer.name in by_layer:
            weights = by_layer[layer.name]
            layer.set_weights([weights[i].astype("float32") for i in range(len(weights))])
            loaded += 1
    return loaded


def copy_weights(src: Any, dst: Any) -> None:
    """Copy every layer's weights that exist in both models, by layer name."""
    names = {layer.name for layer in dst.layers}
    for layer in src.layers:
        if layer.name in names and layer.weights:
            dst.get_layer(layer.name).set_weights(layer.get_weights())
