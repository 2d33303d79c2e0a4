"""One screening, from image bytes to a result (no AWS, no database): decode -> quality gate ->
user crop or located disc -> 224 crop -> model -> heat map."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from papila import heatmap, imaging, quality
from papila.locate import locate
from papila.model import card as model_card

MIN_LOCATE_CONFIDENCE = 0.15


class Model(Protocol):
    input_size: int

    def predict(self, batch: np.ndarray) -> list[Any]: ...


@dataclass(frozen=True)
class Screened:
    result: dict[str, Any]
    crop_png: bytes
    heatmap_png: bytes


@dataclass(frozen=True)
class Rejected:
    code: str
    message: str


def screen_image(data: bytes, crop_request: dict[str, int] | None, model: Model, card: dict[str, Any]) -> Screened | Rejected:
    try:
        image = imaging.decode(data)
    except imaging.ImageError as exc:
        return Rejected(exc.code, exc.message)
    problem = quality.check_photo(image)
    if problem:
        return Rejected(problem.code, problem.message)

    if crop_request:
        crop = imaging.clamp_crop(imaging.Crop(**crop_request), image.width, image.height)
        source = "user"
    else:
        found = locate(image)
        if found.confidence < MIN_LOCATE_CONFIDENCE:
            return Rejected("disc_not_found", "The optic disc could not be found; crop around it by hand or retake the photo with the disc in view.")
        crop, source = found.crop, "auto"

    crop_image = imaging.square_crop(image, crop)
    problem = quality.check_crop(crop_image)
    if problem:
        return Rejected(problem.code, problem.message)

    seen = crop_image.resize((model.input_size, model.input_size), imaging.Image.Resampling.BILINEAR)
    started = time.perf_counter()
    prediction = model.predict(imaging.model_input(seen, model.input_size)[None])[0]
    inference_ms = (time.perf_counter() - started) * 1000

    threshold = float(card["threshold"])
    probability = round(float(prediction.probability_glaucoma), 4)
    label = model_card.label_for(probability, threshold)
    result = {
        "probability_glaucoma": probability,
        "label": label,
        "threshold": threshold,
        "referral": model_card.referral(label, prediction.cdr),
        "model_version": card["model_version"],
        "crop": {**crop.as_dict(), "source": source},
        "inference_ms": round(inference_ms, 1),
    }
    if prediction.probability_network is not None:
        result["probability_network"] = round(float(prediction.probability_network), 4)
    if prediction.cdr is not None:
        result["cdr"] = {"vertical": prediction.cdr, **card.get("cdr_error", {})}
    return Screened(result, imaging.png_bytes(seen), imaging.png_bytes(heatmap.overlay(seen, prediction.cam)))
