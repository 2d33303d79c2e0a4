"""Training, export and evaluation end to end on a tiny generated set (seconds, small input), and the
committed serving model against its full-precision master."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from papila.cli import main as papila
from papila.model.release import MASTER_NAME, SERVING_NAME
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]


def _tiny_dataset(root: Path, per_class: int = 6) -> Path:
    """Discs with a small or a large pale cup: separable, like the real task in caricature."""
    rng = np.random.default_rng(0)
    for label, cup in (("normal", 0.3), ("glaucoma", 0.75)):
        (root / label).mkdir(parents=True)
        (root / "masks" / label).mkdir(parents=True)
        for i in range(per_class):
            im = Image.new("RGB", (96, 96), (150, 60, 30))
            d = ImageDraw.Draw(im)
            r = 30 + int(rng.integers(-3, 3))
            d.ellipse((48 - r, 48 - r, 48 + r, 48 + r), fill=(230, 170, 100))
            c = int(r * cup)
            d.ellipse((48 - c, 48 - c, 48 + c, 48 + c), fill=(250, 235, 200))
            im.save(root / label / f"{label}{i}.png")
            disc = Image.new("L", (96, 96))
            ImageDraw.Draw(disc).ellipse((48 - r, 48 - r, 48 + r, 48 + r), fill=255)
            disc.save(root / "masks" / label / f"{label}{i}_disc.png")
            cupm = Image.new("L", (96, 96))
            ImageDraw.Draw(cupm).ellipse((48 - c, 48 - c, 48 + c, 48 + c), fill=255)
            cupm.save(root / "masks" / label / f"{label}{i}_cup.png")
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    data = _tiny_dataset(tmp_path_factory.mktemp("data"))
    out = tmp_path_factory.mktemp("weights")
    assert papila(["train", "--data", str(data), "--out", str(out), "--epochs", "1", "--folds", "2",
                   "--size", "32", "--batch", "4", "--seg-epochs", "1"]) == 0
    return data, out


def test_train_writes_a_loadable_model_and_its_card(trained):
    _data, out = trained
    card = json.loads((out / "model.json").read_text())
    assert (out / SERVING_NAME).stat().st_size > 0 and (out / MASTER_NAME).stat().st_size > 0
    assert card["input_size"] == 32 and 0 <= card["threshold"] <= 1
    assert card["model_version"].startswith("vgg19bn-")
    assert {"auc", "sensitivity_at_85_specificity"} <= set(card["metrics"]["cv"])
    assert "research and educational use only" in (out / "MODEL_CARD.md").read_text()


def test_evaluate_prints_the_contract_json_for_both_runtimes(trained, capsys):
    data, out = trained
    capsys.readouterr()
    assert papila(["evaluate", "--data", str(data), "--model", str(out / SERVING_NAME), "--runtime", "both", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("n", "auc", "accuracy", "sensitivity", "specificity", "sensitivity_at_85_specificity",
                "threshold", "model_version", "ms_per_image"):
        assert key in result
    assert result["n"] == 12 and result["runtimes"]["keras"]["n"] == 12
    assert result["runtimes"]["keras"]["threshold"] == result["threshold"]  # one card, one operating point
    assert 0 <= result["auc"] <= 1 and result["ms_per_image"] > 0


def test_retraining_starts_from_the_master_weights(trained, tmp_path):
    data, out = trained
    assert papila(["train", "--data", str(data), "--out", str(tmp_path), "--epochs", "1", "--folds", "1",
                   "--size", "32", "--batch", "4", "--seg-epochs", "1", "--init", str(out / MASTER_NAME)]) == 0
    assert json.loads((tmp_path / "model.json").read_text())["model_version"].startswith("vgg19bn-")


def test_committed_serving_model_agrees_with_its_master():
    """The int8 network and its float master on fixed fundus-like crops: probabilities within 0.1 (stated
    tolerance; the card reports both runtimes' AUC on the CV folds). Random noise is no fair input: it lies
    outside the int8 calibration range."""
    from papila import imaging
    from papila.locate import locate
    from papila.model.runtime import load

    from tests.fundus import make_fundus

    serving, master = ROOT / "weights" / SERVING_NAME, ROOT / "weights" / MASTER_NAME
    assert serving.exists() and master.exists(), "the trained model is committed in weights/"
    photos = [make_fundus(w, h, disc, seed=i) for i, (w, h, disc) in
              enumerate([(1200, 1000, (800, 480)), (900, 800, (300, 420)), (1600, 1200, (1000, 600))])]
    x = np.stack([imaging.model_input(imaging.square_crop(p, locate(p).crop)) for p in photos])
    fast = [p.probability_glaucoma for p in load(serving, combined=False).predict(x)]
    full = [p.probability_glaucoma for p in load(master, combined=False).predict(x)]
    assert np.max(np.abs(np.array(fast) - np.array(full))) <= 0.1
