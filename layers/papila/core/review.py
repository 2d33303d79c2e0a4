"""Which unconfirmed screenings an expert should label first: those the model was least sure of. A
screening's review priority is how near its probability sits to the operating threshold (1 at the
threshold, 0 at the far end of its side) plus how far the VGG19 alone and the served probability (the disc
measurements) disagree (0..1): a confident call on both counts teaches the next model least."""

from __future__ import annotations

from typing import Any


def review_priority(result: dict[str, Any]) -> float | None:
    """The priority of a done screening's result (None: it has no probability and threshold to judge)."""
    p, threshold = result.get("probability_glaucoma"), result.get("threshold")
    if not isinstance(p, int | float) or not isinstance(threshold, int | float) or not 0 < threshold < 1:
        return None
    side = threshold if p < threshold else 1 - threshold
    nearness = max(0.0, 1 - abs(p - threshold) / side)
    network = result.get("probability_network")
    disagreement = abs(network - p) if isinstance(network, int | float) else 0.0
    return round(nearness + disagreement, 4)
