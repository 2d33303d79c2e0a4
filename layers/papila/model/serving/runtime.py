"""Serving runtime: the int8 LiteRT model (no TensorFlow needed), loaded once per process.

The serving graph has two outputs: softmax probabilities [normal, glaucoma] and class activation
maps (7 x 7 x 2: the last block's feature maps weighted by the Dense head, exact for a GAP head).
A Keras master (`.keras`, `.npz`) is served for comparison (`papila evaluate --runtime keras`) by
`papila.model.training.master`: serving never imports TensorFlow.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from papila.model.serving.combination import combine, resize
from papila.model.serving.measures import measures

GLAUCOMA_CLASS = 1  # index of "glaucoma" in the network's Dense(2) softmax: [normal, glaucoma]


@dataclass(frozen=True)
class Prediction:
    probability_glaucoma: float
    cam: np.ndarray  # H x W activation map of the glaucoma class (float32, un-normalised)
    cdr: float | None = None  # vertical cup-to-disc ratio, if the model has a disc/cup segmenter
    probability_network: float | None = None  # the VGG19 alone, when the screening probability combines it with the CDR


def vertical_cdr(masks: np.ndarray, min_disc_rows: int = 3) -> float | None:
    """Vertical cup-to-disc ratio from H x W x 2 (disc, cup) probabilities: the ratio of their heights."""
    disc_rows = np.nonzero((masks[..., 0] > 0.5).any(axis=1))[0]
    if len(disc_rows) < min_disc_rows:
        return None
    cup_rows = np.nonzero(((masks[..., 1] > 0.5) & (masks[..., 0] > 0.5)).any(axis=1))[0]
    cup_height = cup_rows[-1] - cup_rows[0] + 1 if len(cup_rows) else 0
    return round(float(cup_height / (disc_rows[-1] - disc_rows[0] + 1)), 3)


class LiteRtModel:
    """A `.tflite` model: input 1 x 224 x 224 x 3 float32 RGB 0..255; outputs probabilities and CAMs."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        self.interpreter = Interpreter(model_path=str(self.path), num_threads=threads or os.cpu_count() or 1)
        self.interpreter.allocate_tensors()
        self._input = self.interpreter.get_input_details()[0]
        outputs = self.interpreter.get_output_details()
        # By shape: probabilities (1 x 2), CAMs (1/32 of the input), disc/cup masks (1/4 of the input).
        self.input_size = int(self._input["shape"][1])
        self._probs = next(o for o in outputs if len(o["shape"]) == 2)
        maps = sorted((o for o in outputs if len(o["shape"]) == 4), key=lambda o: int(o["shape"][1]))
        self._cam = maps[0]
        self._seg = maps[1] if len(maps) > 1 else None

    def predict(self, batch: np.ndarray) -> list[Prediction]:
        results = []
        for image in np.asarray(batch, np.float32):
            self.interpreter.set_tensor(self._input["index"], image[None])
            self.interpreter.invoke()
            probs = self.interpreter.get_tensor(self._probs["index"])[0]
            cam = self.interpreter.get_tensor(self._cam["index"])[0]
            cdr = vertical_cdr(self.interpreter.get_tensor(self._seg["index"])[0]) if self._seg else None
            results.append(Prediction(float(probs[GLAUCOMA_CLASS]), cam[..., GLAUCOMA_CLASS].astype(np.float32), cdr))
        return results


class DiscCupModel:
    """The small disc/cup U-Net (`.tflite`): crop in, vertical cup-to-disc ratio out."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        self.interpreter = Interpreter(model_path=str(path), num_threads=threads or os.cpu_count() or 1)
        self.interpreter.allocate_tensors()
        self._input = self.interpreter.get_input_details()[0]
        self._output = self.interpreter.get_output_details()[0]
        self.input_size = int(self._input["shape"][1])

    def segment(self, image: np.ndarray) -> np.ndarray:
        """A crop (H x W x 3, 0..255) -> input_size x input_size x 2 probabilities (disc, cup)."""
        return self._segment_small(resize(image, self.input_size))

    def _segment_small(self, small: np.ndarray) -> np.ndarray:
        self.interpreter.set_tensor(self._input["index"], small[None])
        self.interpreter.invoke()
        return np.array(self.interpreter.get_tensor(self._output["index"])[0])

    def measure(self, image: np.ndarray) -> tuple[float | None, np.ndarray]:
        """The vertical CDR and the disc measurements (`papila.model.serving.measures`) of a crop."""
        small = resize(image, self.input_size)
        masks = self._segment_small(small)
        return vertical_cdr(masks), measures(masks, small)


class CombinedModel:
    """The network's probability combined with the segmenter's disc measurements by the card's logistic
    weights (w_logit 0: the measurements alone)."""

    def __init__(self, network: Any, disc_cup: DiscCupModel, combination: dict) -> None:
        self.network, self.disc_cup, self.combination = network, disc_cup, combination
        self.input_size = network.input_size
        self.segmenter = disc_cup  # the pipeline verifies the disc with it before grading

    def predict(self, batch: np.ndarray) -> list[Prediction]:
        out = []
        for image, p in zip(np.asarray(batch, np.float32), self.network.predict(batch), strict=True):
            cdr, measures = self.disc_cup.measure(image)
            probability = combine(p.probability_glaucoma, measures, self.combination["weights"])
            out.append(Prediction(probability, p.cam, cdr, p.probability_glaucoma))
        return out


def load(path: str | Path, *, combined: bool = True) -> LiteRtModel | CombinedModel:
    """The serving model at `path` (LiteRT); with the card's disc/cup segmenter and combination when it has
    them. A Keras master (`.keras`, `.npz`) needs TensorFlow: `papila.model.training.master.load`."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path}")
    if path.suffix in (".keras", ".npz"):
        raise ValueError(f"{path.name} is a Keras master: load it with papila.model.training.master.load (TensorFlow)")
    return with_card(LiteRtModel(path), path, combined=combined)


def card_beside(path: Path) -> dict:
    card_file = path.with_name("model.json")
    return json.loads(card_file.read_text()) if card_file.exists() else {}


def with_card(network: Any, path: Path, *, combined: bool = True) -> Any:
    """`network` combined with the segmenter and weights its card (model.json beside `path`) names, if any."""
    card = card_beside(path)
    if combined and card:
        seg_file = card.get("files", {}).get("disc_cup")
        if seg_file and card.get("combination") and (path.parent / seg_file).exists():
            return CombinedModel(network, DiscCupModel(path.parent / seg_file), card["combination"])
    return network
