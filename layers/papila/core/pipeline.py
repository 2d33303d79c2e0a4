"""One screening, from image bytes to a result (no AWS, no database): decode -> quality gate ->
disc candidates (the user's square, or the locator's peaks, then a grid over the field) -> the disc
verified by the segmenter ->
a square of one anatomical scale around it -> focus check -> model -> heat map."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from papila.core import disc as discs
from papila.core import heatmap, imaging, quality
from papila.core.locate import candidates, field_grids, locate
from papila.model.serving import card as model_card

MIN_LOCATE_CONFIDENCE = 0.15


class Model(Protocol):
    input_size: int
    segmenter: discs.Segmenter | None  # verifies the disc; a network alone grades the square as it is

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


NO_DISC_AUTO = ("No optic disc was found in the photo; draw a square around the disc by hand "
                "(\"Analyse this crop\") or retake the photo with the disc in view.")
NO_DISC_USER = ("No optic disc was found in the square you chose; draw the square around the optic disc (the bright "
                "round spot where the vessels meet) and try again.")


def disc_crop(image: imaging.Image.Image, crop_request: dict[str, int] | None,
              segmenter: discs.Segmenter | None) -> tuple[imaging.Crop, str, discs.Disc | None] | Rejected:
    """The square the models see, where it came from, and the verified disc; or why there is none."""
    user = imaging.clamp_crop(imaging.Crop(**crop_request), image.width, image.height) if crop_request else None
    if segmenter is None:  # a network without a segmenter: the square as given or located
        if user:
            return user, "user", None
        found = locate(image)
        if found.confidence < MIN_LOCATE_CONFIDENCE:
            return Rejected("disc_not_found", NO_DISC_AUTO)
        return found.crop, "auto", None
    if user:
        disc = discs.verified_disc(image, discs.user_squares(user), segmenter, recheck=False)
    else:
        found = candidates(image)
        disc = discs.verified_disc(image, [c.crop for c in found], segmenter,
                                   expected=found[0].disc_diameter) if found else None
        if disc is None and found:  # a disc the candidates missed: near the field's edge, beside glare
            expected = found[0].disc_diameter
            grids = field_grids(image, expected, [(step, side) for side, step, _ in discs.SEARCHES])
            for (_, _, recheck_side), squares in zip(discs.SEARCHES, grids, strict=True):
                disc = discs.searched_disc(image, squares, segmenter, expected, recheck_side)
                if disc is not None:
                    break
    if disc is None:
        return Rejected("disc_not_found", NO_DISC_USER if user else NO_DISC_AUTO)
    return discs.normalised_crop(disc), "user" if user else "auto", disc


def screen_image(data: bytes, crop_request: dict[str, int] | None, model: Model, card: dict[str, Any]) -> Screened | Rejected:
    try:
        image = imaging.decode(data)
    except imaging.ImageError as exc:
        return Rejected(exc.code, exc.message)
    problem = quality.check_photo(image)
    if problem:
        return Rejected(problem.code, problem.message)

    outcome = disc_crop(image, crop_request, getattr(model, "segmenter", None))
    if isinstance(outcome, Rejected):
        return outcome
    crop, source, disc = outcome

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
        "crop": {**crop.as_dict(), "source": source, **({"requested": crop_request} if crop_request else {})},
        **({"disc": disc.as_dict()} if disc else {}),
        "inference_ms": round(inference_ms, 1),
    }
    if prediction.probability_network is not None:
        result["probability_network"] = round(float(prediction.probability_network), 4)
    if prediction.cdr is not None:
        result["cdr"] = {"vertical": prediction.cdr, **card.get("cdr_error", {})}
    return Screened(result, imaging.png_bytes(seen), imaging.png_bytes(heatmap.overlay(seen, prediction.cam)))
