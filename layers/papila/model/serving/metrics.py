"""Screening metrics in plain NumPy (no scikit-learn at serving time)."""

from __future__ import annotations

from typing import Any

import numpy as np


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve = P(score of a random positive > a random negative), ties count half."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    pos, neg = scores[labels], scores[~labels]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def matched_auc(labels: np.ndarray, scores: np.ndarray, strata: np.ndarray) -> float:
    """AUC over the (positive, negative) pairs that share a stratum only: what a score tells apart once
    the strata (e.g. how a photo is framed) are held equal. NaN when no stratum holds both classes."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    strata = np.asarray(strata)
    wins = pairs = 0.0
    for stratum in np.unique(strata):
        here = strata == stratum
        pos, neg = scores[here & labels], scores[here & ~labels]
        wins += (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
        pairs += len(pos) * len(neg)
    return float(wins / pairs) if pairs else float("nan")


def threshold_for_specificity(labels: np.ndarray, scores: np.ndarray, specificity: float = 0.85) -> float:
    """Lowest threshold (most sensitive) whose specificity on these scores is >= `specificity`."""
    labels = np.asarray(labels).astype(bool)
    neg = np.sort(np.asarray(scores, dtype=np.float64)[~labels])
    # label = score >= t; specificity = share of negatives strictly below t.
    k = int(np.ceil(specificity * len(neg)))  # negatives that must fall below t
    if k <= 0:
        return float(neg[0]) if len(neg) else 0.5
    if k >= len(neg):
        return float(np.nextafter(neg[-1], np.inf))
    return float((neg[k - 1] + neg[k]) / 2) if neg[k] > neg[k - 1] else float(np.nextafter(neg[k], np.inf))


def sensitivity_at_specificity(labels: np.ndarray, scores: np.ndarray, specificity: float = 0.85) -> float:
    """Best sensitivity reachable on these scores while specificity stays >= `specificity`."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    t = threshold_for_specificity(labels, scores, specificity)
    return float((scores[labels] >= t).mean()) if labels.any() else float("nan")


def summary(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float | int]:
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    pred = scores >= threshold
    return {
        "n": len(labels),
        "auc": roc_auc(labels, scores),
        "accuracy": float((pred == labels).mean()),
        "sensitivity": float(pred[labels].mean()) if labels.any() else float("nan"),
        "specificity": float((~pred[~labels]).mean()) if (~labels).any() else float("nan"),
        "sensitivity_at_85_specificity": sensitivity_at_specificity(labels, scores, 0.85),
        "threshold": float(threshold),
    }


LABEL_NAMES = ("normal", "glaucoma")  # index = label (1 = glaucoma), as papila.model.training.data.LABELS


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """`roc_auc` over the images that have a score (NaN: none)."""
    labels, scores = np.asarray(labels, bool), np.asarray(scores, np.float64)
    keep = ~np.isnan(scores)
    return roc_auc(labels[keep], scores[keep])


def screening_metrics(labels: Any, probability: Any, threshold: Any, *, network: Any = None,
                      cdr: Any = None) -> dict[str, Any]:
    """Screening figures over every image offered, as a user meets them: what `papila evaluate` prints, what
    the admin's monitoring (`papila.core.monitoring`) and model comparison (`papila.usecases.compare`) serve.

    `labels`: 1 glaucoma / 0 normal for each image; `probability`: the served probability, NaN where the
    served path refused the image (quality gate, no disc found); `network` and `cdr`: the VGG19 alone and
    the estimated vertical CDR, NaN where refused or missing. AUCs are over graded images (and, for
    `auc_network` / `auc_cdr`, over those that have that score).

    `threshold`: the operating point, one number, or one per image (stored results of several model
    versions, each graded at its own card's threshold): an image is called glaucoma when its probability
    is >= its threshold. The reported `threshold` is that one number (NaN when the images' differ).

    Refusals count against the screen, never for it: a refused glaucoma photo is a miss (in the
    sensitivity's denominator, not its numerator), and a refused normal photo is not a correct "normal"
    call either (in the specificity's denominator, not its numerator): a photo that cannot be graded
    sends the person back for another photo or an examination, so it is not the reassurance a true
    negative gives. `sensitivity_graded` / `specificity_graded` are the same rates over graded images only.
    """
    y = np.asarray(labels).astype(bool)
    p = np.asarray(probability, dtype=np.float64)
    if y.shape != p.shape:
        raise ValueError(f"{len(y)} labels but {len(p)} probabilities")
    t = np.asarray(threshold, dtype=np.float64)
    if t.ndim and t.shape != p.shape:
        raise ValueError(f"{len(p)} probabilities but {len(t)} thresholds")
    nan = np.full(len(y), np.nan)
    net = nan if network is None else np.asarray(network, dtype=np.float64)
    est = nan if cdr is None else np.asarray(cdr, dtype=np.float64)
    graded = ~np.isnan(p)
    positive = graded & (p >= t)
    negative = graded & (p < t)

    def rate(hit: np.ndarray, among: np.ndarray) -> float:
        return float(hit[among].mean()) if among.any() else float("nan")

    if t.ndim == 0:
        one_threshold = float(t)
    else:
        one_threshold = float(t[0]) if len(t) and bool((t == t[0]).all()) else float("nan")
    return {
        "n": len(y),
        "done": int(graded.sum()),
        "refused": {name: int((~graded & (y == bool(k))).sum()) for k, name in enumerate(LABEL_NAMES)},
        "auc": _auc(y[graded], p[graded]),
        "auc_network": _auc(y[graded], net[graded]),
        "auc_cdr": _auc(y[graded], est[graded]),
        "accuracy": float(((positive & y) | (negative & ~y)).mean()) if len(y) else float("nan"),
        "sensitivity": rate(positive, y),
        "specificity": rate(negative, ~y),
        "sensitivity_graded": rate(positive, y & graded),
        "specificity_graded": rate(negative, ~y & graded),
        "sensitivity_at_85_specificity": sensitivity_at_specificity(y[graded], p[graded], 0.85)
        if (y[graded].any() and (~y[graded]).any()) else float("nan"),
        "threshold": one_threshold,
    }
