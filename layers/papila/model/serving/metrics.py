"""Screening metrics in plain NumPy (no scikit-learn at serving time)."""

from __future__ import annotations

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
