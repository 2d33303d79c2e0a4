"""Training, export and evaluation end to end on a tiny generated set (seconds, small input), and the
committed serving model against its full-precision master."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from papila.cli import main as papila
from papila.model.serving.card import DISC_CUP_NAME, MASTER_NAME, SERVING_NAME
from papila.model.serving.measures import NAMES
from papila.model.serving.runtime import vertical_cdr
from papila.model.training.cdr import expert_crops, weak_masks
from PIL import Image, ImageDraw

from tests.fundus import make_fundus

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


def _photos_with_disc_centres(root: Path, n: int = 4) -> Path:
    """Whole generated photos with their disc centre, diameter and 'experts' CDRs (Drishti-GS1 layout)."""
    (root / "images").mkdir(parents=True)
    items = []
    for i in range(n):
        w, h = 480, 400
        disc = (330 - 10 * i, 190 + 8 * i)
        make_fundus(w, h, disc_xy=disc, seed=i).save(root / "images" / f"p{i}.jpg")
        items.append({"file": f"images/p{i}.jpg", "width": w, "height": h, "disc_center_x": disc[0],
                      "disc_center_y": disc[1], "disc_diameter": 0.45 * h * 2 / 6,
                      "cdr_experts": [0.4 + 0.1 * i, 0.42 + 0.1 * i]})
    (root / "discs.json").write_text(json.dumps(items))
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    data = _tiny_dataset(tmp_path_factory.mktemp("data"))
    photos = _photos_with_disc_centres(tmp_path_factory.mktemp("photos"))
    out = tmp_path_factory.mktemp("weights")
    assert papila(["train", "--data", str(data), "--out", str(out), "--epochs", "1", "--folds", "2",
                   "--size", "32", "--batch", "4", "--seg-epochs", "1", "--disc-centres", str(photos)]) == 0
    return data, out, photos


def test_train_writes_a_loadable_model_and_its_card(trained):
    _data, out, _photos = trained
    card = json.loads((out / "model.json").read_text())
    assert (out / SERVING_NAME).stat().st_size > 0 and (out / MASTER_NAME).stat().st_size > 0
    assert card["input_size"] == 32 and 0 <= card["threshold"] <= 1
    assert card["model_version"].startswith("vgg19bn-")
    assert {"auc", "auc_network", "auc_cdr", "sensitivity", "specificity"} <= set(card["metrics"]["cv"])
    assert "research and educational use only" in (out / "MODEL_CARD.md").read_text()
    # Per-domain figures (here one folder, one domain) and the combination fitted on out-of-fold predictions.
    assert card["metrics"]["by_domain"][_data.name]["n"] == 12
    assert set(card["combination"]["weights"]) == {"w_logit", "w_measures", "bias"}
    assert len(card["combination"]["weights"]["w_measures"]) == len(NAMES)
    # The U-Net also learned from the photos, and its CDR error on them is measured out of fold, as served.
    photos_cv = card["metrics"]["cdr"]["cv_drishti_gs1"]
    assert photos_cv["n"] + photos_cv["missing"] == 4
    assert card["cdr_error"]["measured_on"] == "cv_drishti_gs1"
    assert card["disc_cup_training_data"]["photos"] == 4 and card["files"]["disc_cup"] == DISC_CUP_NAME


def test_folds_never_split_a_person(tmp_path):
    from papila.model.training import prepare
    from papila.model.training.data import Sample

    samples = [Sample(tmp_path / f"{i}.png", i % 2, group=f"p{i // 4}") for i in range(40)]
    for tr, va in prepare.folds(samples, 3, seed=1):
        assert not {samples[i].group for i in tr} & {samples[i].group for i in va}


def test_an_export_folder_gives_people_and_cameras(tmp_path):
    from papila.model.training.data import list_samples

    for label in ("glaucoma", "normal"):
        (tmp_path / label).mkdir()
        Image.new("RGB", (8, 8)).save(tmp_path / label / f"{label}-id.png")
    (tmp_path / "labels.csv").write_text("file,label,screening_id,model_version,subject_id,camera\n"
                                         "glaucoma/glaucoma-id.png,glaucoma,s1,v,hygd-7,Topcon\n"
                                         "normal/normal-id.png,normal,s2,v,,\n")
    glaucoma, normal = sorted(list_samples(tmp_path), key=lambda s: -s.label)
    assert (glaucoma.group, glaucoma.domain, glaucoma.normalised) == ("hygd-7", "Topcon", True)
    assert normal.group == "s2" and normal.domain == tmp_path.name  # no subject: the screening is its own person


def test_expert_crops_include_squares_with_no_disc(tmp_path):
    """The segmenter verifies discs in the pipeline: it learns from squares that hold none (empty masks)."""
    photos = _photos_with_disc_centres(tmp_path)
    images, masks, photo = expert_crops(photos, 64, disc_fractions=(0.75,), negatives=2)
    assert len(images) == 4 * 3 and photo.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    positives, negatives = masks[0::3], np.concatenate([masks[1::3], masks[2::3]])
    assert all(m[..., 0].any() for m in positives) and not negatives.any()
    # No negative square reaches the disc (the circle of the experts' diameter).
    from papila.model.training.cdr import _negative_squares

    photo0 = Image.open(photos / "images" / "p0.jpg").convert("RGB")
    centre, d = (330.0, 190.0), 0.45 * 400 * 2 / 6
    squares = _negative_squares(photo0, centre, d, 20, np.random.default_rng(1))
    assert len(squares) == 20
    for c in squares:
        nearest = (np.clip(centre[0], c.x, c.x + c.size), np.clip(centre[1], c.y, c.y + c.size))
        assert np.hypot(nearest[0] - centre[0], nearest[1] - centre[1]) > d / 2


@pytest.mark.parametrize("cdr", [0.3, 0.55, 0.8])
def test_weak_masks_give_the_experts_cdr(cdr):
    masks = weak_masks(96, (50.0, 44.0), 60.0, cdr)
    assert abs(vertical_cdr(masks.astype(np.float32)) - cdr) <= 0.04
    assert masks[44, 50].all() and not masks[0, 0].any()


def test_expert_crops_cut_around_the_disc_centre(tmp_path):
    photos = _photos_with_disc_centres(tmp_path)
    images, masks, photo = expert_crops(photos, 64, disc_fractions=(0.75, 0.5), negatives=0)
    assert images.shape == (8, 64, 64, 3) and masks.shape == (8, 64, 64, 2)
    assert photo.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    # Disc heights follow the disc fraction; the disc is on the bright disc of the photo.
    heights = [int(m[..., 0].any(axis=1).sum()) for m in masks[:2]]
    assert abs(heights[0] - 0.75 * 64) <= 3 and abs(heights[1] - 0.5 * 64) <= 3
    disc_pixels = images[0][masks[0][..., 0] > 0].mean()
    assert disc_pixels > images[0][masks[0][..., 0] == 0].mean() + 20


def test_evaluate_prints_the_contract_json_for_both_runtimes(trained, capsys):
    data, out, _photos = trained
    capsys.readouterr()
    assert papila(["evaluate", "--data", str(data), "--model", str(out / SERVING_NAME), "--runtime", "both", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("n", "auc", "accuracy", "sensitivity", "specificity", "sensitivity_at_85_specificity",
                "threshold", "model_version", "ms_per_image"):
        assert key in result
    assert result["n"] == 12 and result["runtimes"]["keras"]["n"] == 12
    assert result["runtimes"]["keras"]["threshold"] == result["threshold"]  # one card, one operating point
    # The tiny segmenter may verify no disc in these caricatures: every crop is graded or refused.
    assert result["done"] + sum(result["refused"].values()) == 12
    assert result["auc"] is None or 0 <= result["auc"] <= 1
    assert result["ms_per_image"] > 0


def test_retraining_starts_from_the_master_weights(trained, tmp_path):
    data, out, _photos = trained
    assert papila(["train", "--data", str(data), "--out", str(tmp_path), "--epochs", "1", "--folds", "1",
                   "--size", "32", "--batch", "4", "--seg-epochs", "1", "--init", str(out / MASTER_NAME),
                   "--disc-centres", "none"]) == 0
    assert json.loads((tmp_path / "model.json").read_text())["model_version"].startswith("vgg19bn-")


def test_committed_serving_model_agrees_with_its_master():
    """The int8 network and its float master on fixed fundus-like photos cut as served (the verified
    disc, the square of one anatomical scale): probabilities within 0.1 (stated tolerance; the card
    reports both runtimes' AUC on the CV folds). Random noise is no fair input: it lies outside the int8
    calibration range."""
    from papila.core import imaging, pipeline
    from papila.model.serving.runtime import DiscCupModel, load
    from papila.model.training import master as keras_master

    from tests.fundus import make_fundus

    serving, master = ROOT / "weights" / SERVING_NAME, ROOT / "weights" / MASTER_NAME
    assert serving.exists() and master.exists(), "the trained model is committed in weights/"
    segmenter = DiscCupModel(ROOT / "weights" / DISC_CUP_NAME)
    photos = [make_fundus(w, h, disc, seed=i) for i, (w, h, disc) in
              enumerate([(1200, 1000, (800, 480)), (900, 800, (300, 420)), (1600, 1200, (1000, 600))])]
    squares = [pipeline.disc_crop(p, None, segmenter) for p in photos]
    assert not any(isinstance(s, pipeline.Rejected) for s in squares)
    x = np.stack([imaging.model_input(imaging.square_crop(p, s[0])) for p, s in zip(photos, squares, strict=True)])
    fast = [p.probability_glaucoma for p in load(serving, combined=False).predict(x)]
    full = [p.probability_glaucoma for p in keras_master.load(master, combined=False).predict(x)]
    assert np.max(np.abs(np.array(fast) - np.array(full))) <= 0.1
