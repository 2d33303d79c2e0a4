"""The full-precision master (`.npz` weights or a `.keras` checkpoint) served through Keras, for
evaluation against the int8 LiteRT model, export and retraining. Needs TensorFlow: never in the
inference image (`papila.model.serving.runtime` is what serves)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from papila.model.serving.runtime import (
    GLAUCOMA_CLASS,
    Prediction,
    vertical_cdr,
    with_card,
)


class KerasModel:
    def __init__(self, path: Path, input_size: int = 224) -> None:
        import keras

        from papila.model.training import architecture
        from papila.model.training.export import serving_model

        self.path = Path(path)
        if self.path.suffix == ".npz":
            keras.mixed_precision.set_global_policy("float32")
            master = architecture.build(input_size, with_seg_head=True)
            architecture.load_npz(master, str(self.path))
        else:
            master = keras.models.load_model(self.path, compile=False)
        self.model = serving_model(master)
        self.input_size = int(self.model.input_shape[1])

    def predict(self, batch: np.ndarray) -> list[Prediction]:
        probs, cams, *seg = self.model.predict(np.asarray(batch, np.float32), verbose=0, batch_size=16)
        masks = seg[0] if seg else [None] * len(probs)
        return [Prediction(float(p[GLAUCOMA_CLASS]), c[..., GLAUCOMA_CLASS], vertical_cdr(m) if m is not None else None)
                for p, c, m in zip(probs, cams, masks, strict=True)]


def load(path: str | Path, *, combined: bool = True) -> Any:
    """The master at `path`, combined with the segmenter and weights of the card beside it (as served)."""
    import json

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path}")
    card_file = path.with_name("model.json")
    size = int(json.loads(card_file.read_text()).get("input_size", 224)) if card_file.exists() else 224
    return with_card(KerasModel(path, size), path, combined=combined)
