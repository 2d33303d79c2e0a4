"""The model card's figures as small PNGs (matplotlib, Agg canvas; training extra only, never served code):
ROC curves per domain or model, a reliability diagram, and estimated CDR against the experts'.

Each function checks its input (equal lengths, finite numbers, the right ranges) and raises ValueError
before drawing anything; each writes one ~600 x 450 PNG, palette-quantised to stay well under 80 KB.

    from papila.model.training.plots import roc_curves, calibration, cdr_scatter
    roc_curves("weights/roc.png", {"RIM-ONE": (labels, scores), "HYGD": (labels2, scores2)}, "Out-of-fold")
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from papila.model.serving.metrics import roc_auc

WIDTH, HEIGHT, DPI = 6.0, 4.5, 100  # inches at 100 dpi: 600 x 450 pixels
BINS = 10
COLOURS = 64  # palette size of the written PNG (plain lines and text need few)

ArrayLike = Sequence[float] | np.ndarray


def _pair(name: str, labels: Any, values: Any, *, what: str = "scores") -> tuple[np.ndarray, np.ndarray]:
    labels_a = np.asarray(labels, dtype=np.float64).ravel()
    values_a = np.asarray(values, dtype=np.float64).ravel()
    if labels_a.shape != values_a.shape:
        raise ValueError(f"{name}: {len(labels_a)} labels but {len(values_a)} {what}")
    if len(labels_a) == 0:
        raise ValueError(f"{name}: no data")
    if not np.isin(labels_a, (0, 1)).all():
        raise ValueError(f"{name}: labels must be 0 (normal) or 1 (glaucoma)")
    if not np.isfinite(values_a).all():
        raise ValueError(f"{name}: {what} must be finite numbers")
    return labels_a.astype(bool), values_a


def roc_points(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate) at every distinct threshold, from (0, 0) to (1, 1);
    tied scores move both rates at once (a diagonal step), matching the AUC's half-credit for ties."""
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    last_of_tie = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp = np.cumsum(y)[last_of_tie]
    fp = np.cumsum(~y)[last_of_tie]
    tpr = np.r_[0.0, tp / max(int(y.sum()), 1)]
    fpr = np.r_[0.0, fp / max(int((~y).sum()), 1)]
    return fpr, tpr


def _figure(rows: int = 1, height_ratios: list[float] | None = None) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, squeeze=False, gridspec_kw={"height_ratios": height_ratios} if height_ratios else None)
    return fig, axes[:, 0]


def _write(fig: Any, path: str | Path) -> Path:
    """Saves at exactly WIDTH x HEIGHT inches (no tight cropping), then as a small palette PNG."""
    from PIL import Image

    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    with Image.open(buf) as im:
        small = im.convert("RGB").quantize(COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    small.save(path, "PNG", optimize=True)
    return path


def roc_curves(path: str | Path, curves: Mapping[str, tuple[ArrayLike, ArrayLike]], title: str) -> Path:
    """One ROC curve per entry (a domain, or a model: network alone, CDR alone, served), AUC and n in the
    legend. Each entry needs both classes."""
    if not curves:
        raise ValueError("no curves to draw")
    checked = {}
    for name, (labels, scores) in curves.items():
        y, s = _pair(name, labels, scores)
        if y.all() or not y.any():
            raise ValueError(f"{name}: a ROC curve needs both glaucoma and normal cases")
        checked[name] = (y, s)
    fig, (ax,) = _figure()
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=1, label="chance")
    for name, (y, s) in checked.items():
        fpr, tpr = roc_points(y, s)
        ax.plot(fpr, tpr, linewidth=1.8, label=f"{name}: AUC {roc_auc(y, s):.3f} (n={len(y)})")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="1 - specificity (false positive rate)",
           ylabel="Sensitivity (true positive rate)", title=title)
    ax.set_aspect("equal", adjustable="box")
    ax.grid(True, linewidth=0.4, alpha=0.5)
    ax.legend(loc="lower right", fontsize=8)
    return _write(fig, path)


def calibration_bins(labels: np.ndarray, probabilities: np.ndarray, bins: int = BINS
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per equal-width bin of predicted probability: mean prediction, observed glaucoma fraction (NaN
    where the bin is empty) and count."""
    index = np.minimum((probabilities * bins).astype(int), bins - 1)
    counts = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(index, probabilities, minlength=bins) / counts
        observed = np.bincount(index, labels.astype(np.float64), minlength=bins) / counts
    return mean_p, observed, counts


def calibration(path: str | Path, curves: Mapping[str, tuple[ArrayLike, ArrayLike]],
                title: str = "Calibration") -> Path:
    """Reliability diagram: observed glaucoma fraction against mean predicted probability in 10 equal
    bins, one line per entry; below it, how many photos fell in each bin."""
    if not curves:
        raise ValueError("no curves to draw")
    checked = {}
    for name, (labels, probabilities) in curves.items():
        y, p = _pair(name, labels, probabilities, what="probabilities")
        if ((p < 0) | (p > 1)).any():
            raise ValueError(f"{name}: probabilities must lie in [0, 1]")
        checked[name] = (y, p)
    fig, (ax, counts_ax) = _figure(2, [3, 1])
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=1, label="perfect calibration")
    edges = np.linspace(0, 1, BINS + 1)
    width = 1 / BINS / (len(checked) + 1)
    for k, (name, (y, p)) in enumerate(checked.items()):
        mean_p, observed, counts = calibration_bins(y, p)
        filled = counts > 0
        brier = float(np.mean((p - y) ** 2))
        line = ax.plot(mean_p[filled], observed[filled], marker="o", markersize=4, linewidth=1.5,
                       label=f"{name} (n={len(y)}, Brier {brier:.3f})")[0]
        counts_ax.bar(edges[:-1] + (k + 0.5) * width, counts, width=width, color=line.get_color())
        for x, c in zip(edges[:-1] + (k + 0.5) * width, counts, strict=True):
            if c:
                counts_ax.annotate(str(int(c)), (x, c), ha="center", va="bottom", fontsize=6)
    ax.set(xlim=(0, 1), ylim=(-0.02, 1.02), ylabel="Observed glaucoma fraction", title=title)
    ax.tick_params(labelbottom=False)
    ax.grid(True, linewidth=0.4, alpha=0.5)
    ax.legend(loc="upper left", fontsize=8)
    counts_ax.set(xlim=(0, 1), xlabel="Predicted probability of glaucoma (10 bins)", ylabel="Photos")
    counts_ax.set_ylim(0, max(1, counts_ax.get_ylim()[1] * 1.25))
    return _write(fig, path)


def cdr_scatter(path: str | Path, predicted: ArrayLike, expert: ArrayLike, title: str) -> Path:
    """Estimated vertical CDR against the experts' (one point per photo), the y = x line, and the mean
    absolute error in the title. Predictions may be NaN (no disc found): those points are left out and
    counted in the title."""
    pred = np.asarray(predicted, dtype=np.float64).ravel()
    truth = np.asarray(expert, dtype=np.float64).ravel()
    if pred.shape != truth.shape:
        raise ValueError(f"{len(pred)} predicted CDRs but {len(truth)} expert CDRs")
    if not np.isfinite(truth).all():
        raise ValueError("expert CDRs must be finite numbers")
    if np.isinf(pred).any():
        raise ValueError("predicted CDRs must be finite numbers (NaN marks a missing one)")
    shown = ~np.isnan(pred)
    if not shown.any():
        raise ValueError("no predicted CDR to draw")
    if ((pred[shown] < 0) | (pred[shown] > 1)).any() or ((truth < 0) | (truth > 1)).any():
        raise ValueError("CDRs must lie in [0, 1]")
    mae = float(np.mean(np.abs(pred[shown] - truth[shown])))
    missing = int((~shown).sum())
    fig, (ax,) = _figure()
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.5", linewidth=1, label="y = x")
    ax.scatter(truth[shown], pred[shown], s=14, alpha=0.7, edgecolors="none", label=f"photos (n={int(shown.sum())})")
    suffix = f", {missing} without a CDR" if missing else ""
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="Experts' vertical CDR", ylabel="Estimated vertical CDR",
           title=f"{title}\nMAE {mae:.3f}{suffix}")
    ax.set_aspect("equal", adjustable="box")
    ax.grid(True, linewidth=0.4, alpha=0.5)
    ax.legend(loc="upper left", fontsize=8)
    return _write(fig, path)
