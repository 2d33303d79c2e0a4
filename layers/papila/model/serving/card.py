"""The model card's machine-readable half (`model.json` beside the model file) and the wording that
derives from its operating point."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from papila.config import Settings

REFERRAL = {
    "glaucoma": "Refer to an ophthalmologist: the optic disc shows signs associated with glaucoma. "
                "This is a screening aid, not a diagnosis.",
    "normal": "No glaucoma signs found at this operating point. Keep routine eye examinations; "
              "this is a screening aid, not a diagnosis.",
}
# The files a release writes beside model.json (its `files`).
SERVING_NAME = "papila_vgg19_int8.tflite"
MASTER_NAME = "papila_vgg19_master.npz"
DISC_CUP_NAME = "papila_disc_cup.tflite"
HIGH_CDR = 0.65  # vertical cup-to-disc ratio above which a normal-looking result still suggests review


# Where a CDR error was measured (`cdr_error.measured_on`, copied into each result), in words.
MEASURED_ON = {
    "cv_drishti_gs1": "Drishti-GS1 photos, cross-validated",
    "cv_rim_one_unet": "RIM-ONE DL crops, cross-validated",
    "cv_rim_one": "RIM-ONE DL crops, cross-validated",
    "drishti_gs1": "Drishti-GS1 photos",
}


def measured_on(key: str) -> str:
    return MEASURED_ON.get(key, key.replace("_", " "))


def card_path(model_path: Path) -> Path:
    return Path(model_path).with_name("model.json")


@cache
def load_card(model_path: Path | None = None) -> dict[str, Any]:
    path = card_path(model_path or Settings.from_env().model_path)
    if not path.exists():
        raise FileNotFoundError(f"model card not found: {path}")
    return json.loads(path.read_text())


def model_summary(card: dict[str, Any] | None = None) -> dict[str, Any]:
    """What GET /api/model serves, of `card` (default: the installed model's)."""
    card = load_card() if card is None else card
    keys = ("model_version", "architecture", "input_size", "runtime", "threshold", "threshold_rule", "metrics",
            "reference", "training_data", "licence", "intended_use", "limits", "trained_at", "plots")
    return {k: card[k] for k in keys if k in card}


def label_for(probability: float, threshold: float) -> str:
    return "glaucoma" if probability >= threshold else "normal"


def referral(label: str, cdr: float | None = None) -> str:
    if label == "normal" and cdr is not None and cdr >= HIGH_CDR:
        return ("The network found no glaucoma signs, but the estimated cup-to-disc ratio is high "
                f"({cdr:.2f}): consider an ophthalmologist's review. This is a screening aid, not a diagnosis.")
    return REFERRAL[label]
