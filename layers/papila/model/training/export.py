"""Export the trained Keras master to the serving runtime: a full-integer-quantised LiteRT model with
float input/output whose second output is the class activation maps (exact for the GAP + Dense head)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from papila.model.training import architecture


def serving_model(master: Any) -> Any:
    """Float32 graph: image -> (probabilities, CAMs[, disc/cup masks]). CAM_c = sum_k w_kc * feature_k."""
    import keras

    keras.mixed_precision.set_global_policy("float32")
    size = int(master.inputs[0].shape[1])
    has_seg = any(layer.name == "seg" for layer in master.layers)
    serving = architecture.build(size, with_seg_head=has_seg)
    architecture.copy_weights(master, serving)
    features = serving.get_layer(architecture.FEATURES_LAYER).output
    kernel, _bias = serving.get_layer(architecture.HEAD_LAYER).get_weights()
    cam_layer = keras.layers.Conv2D(2, 1, use_bias=False, name="cam")
    cams = cam_layer(features)
    cam_layer.set_weights([kernel.reshape(1, 1, *kernel.shape)])
    outputs = [serving.get_layer(architecture.HEAD_LAYER).output, cams]
    if has_seg:
        outputs.append(serving.get_layer("seg").output)
    return keras.Model(serving.inputs[0], outputs, name="papila_vgg19_serving")


def to_litert(master: Any, calibration: np.ndarray, out_path: Path) -> Path:
    """Full int8 quantisation calibrated on real crops; float32 input and outputs kept for callers."""
    import keras
    import tensorflow as tf

    model = serving_model(master)
    size = int(model.input_shape[1])

    # Through a SavedModel: converting a live tf.function leaves variable reads the quantiser can't run.
    saved = Path(tempfile.mkdtemp(prefix="papila-export-"))
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", lambda image: model(image, training=False),
                         input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32, name="image")])
    archive.write_out(str(saved))

    def representative() -> Iterator[list[np.ndarray]]:
        for image in calibration:
            yield [image[None].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved), signature_keys=["serve"])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.float32
    converter.inference_output_type = tf.float32
    out_path = Path(out_path)
    try:
        out_path.write_bytes(converter.convert())
    finally:
        shutil.rmtree(saved, ignore_errors=True)
    return out_path
