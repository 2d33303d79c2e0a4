"""The model card's plots: each writes a small, valid PNG of the stated size and refuses bad input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

plots = pytest.importorskip("papila.model.training.plots", reason="matplotlib is in the train extra")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _data(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    scores = np.clip(0.3 * labels + rng.normal(0.35, 0.2, n), 0, 1)
    return labels, scores


def _assert_png(path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) < 80_000, len(data)
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size == (600, 450)


def test_roc_curves_write_a_small_png(tmp_path):
    rim, hygd = _data(seed=1), _data(80, seed=2)
    out = plots.roc_curves(tmp_path / "roc.png", {"RIM-ONE": rim, "HYGD": hygd}, "Out-of-fold ROC")
    assert out == tmp_path / "roc.png"
    _assert_png(out)


def test_calibration_writes_a_small_png(tmp_path):
    out = plots.calibration(tmp_path / "calibration.png", {"served": _data(), "network": _data(seed=3)})
    _assert_png(out)


def test_cdr_scatter_writes_a_small_png_and_skips_missing(tmp_path):
    rng = np.random.default_rng(4)
    expert = rng.uniform(0.2, 0.9, 60)
    predicted = np.clip(expert + rng.normal(0, 0.06, 60), 0, 1)
    predicted[3] = np.nan  # no disc found in one photo
    _assert_png(plots.cdr_scatter(tmp_path / "cdr.png", predicted, expert, "CDR vs experts"))


def test_roc_points_run_from_corner_to_corner_and_give_the_auc():
    from papila.model.serving.metrics import roc_auc

    labels, scores = _data(200, seed=5)
    scores = np.round(scores, 1)  # many ties
    fpr, tpr = plots.roc_points(labels.astype(bool), scores)
    assert (fpr[0], tpr[0]) == (0, 0) and (fpr[-1], tpr[-1]) == (1, 1)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert np.trapezoid(tpr, fpr) == pytest.approx(roc_auc(labels, scores))


def test_calibration_bins_count_every_prediction():
    labels = np.array([0, 0, 1, 1, 1])
    probs = np.array([0.05, 0.08, 0.55, 0.95, 1.0])
    mean_p, observed, counts = plots.calibration_bins(labels, probs)
    assert counts.tolist() == [2, 0, 0, 0, 0, 1, 0, 0, 0, 2]
    assert observed[0] == 0 and observed[9] == 1 and np.isnan(observed[1])
    assert mean_p[9] == pytest.approx(0.975)


@pytest.mark.parametrize("draw", [
    lambda p: plots.roc_curves(p, {"a": ([0, 1, 1], [0.1, 0.9])}, "t"),
    lambda p: plots.calibration(p, {"a": ([0, 1], [0.1, 0.9, 0.5])}),
    lambda p: plots.cdr_scatter(p, [0.3, 0.5], [0.4], "t"),
])
def test_length_mismatch_raises(tmp_path, draw):
    with pytest.raises(ValueError, match="but"):
        draw(tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("draw", [
    lambda p: plots.roc_curves(p, {}, "t"),
    lambda p: plots.roc_curves(p, {"one class": ([1, 1], [0.2, 0.8])}, "t"),
    lambda p: plots.roc_curves(p, {"nan": ([0, 1], [0.2, float("nan")])}, "t"),
    lambda p: plots.roc_curves(p, {"labels": ([0, 2], [0.2, 0.3])}, "t"),
    lambda p: plots.calibration(p, {"a": ([0, 1], [0.1, 1.2])}),
    lambda p: plots.cdr_scatter(p, [float("nan")], [0.4], "t"),
    lambda p: plots.cdr_scatter(p, [0.3], [1.4], "t"),
])
def test_bad_input_raises(tmp_path, draw):
    with pytest.raises(ValueError):
        draw(tmp_path / "x.png")
