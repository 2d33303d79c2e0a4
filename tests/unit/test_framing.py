"""The framing check of the model card: a score that only knows how each class was photographed keeps
its plain AUC but falls to chance over pairs framed alike; a score that sees the eye keeps both."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image


def test_matched_auc_removes_what_the_strata_explain():
    from papila.model.serving.metrics import matched_auc, roc_auc

    rng = np.random.default_rng(3)
    strata = rng.integers(0, 5, 400)
    labels = rng.random(400) < 0.15 + 0.15 * strata  # the class rate rises with the stratum
    framing_only = strata + rng.random(400) * 0.01  # knows the stratum, nothing about the eye
    eye = labels + rng.normal(0, 0.6, 400)  # knows the eye
    assert roc_auc(labels, framing_only) > 0.7
    assert abs(matched_auc(labels, framing_only, strata) - 0.5) < 0.1
    assert matched_auc(labels, eye, strata) > 0.75
    assert np.isnan(matched_auc(np.array([1, 0]), np.array([0.2, 0.1]), np.array([0, 1])))


def test_framing_offsets_read_the_square_and_the_photo_of_an_export(tmp_path):
    from papila.model.training.data import framing_offsets, list_samples

    rows = []
    for label, sid, x in (("glaucoma", "a1", 450), ("normal", "b2", 100)):
        (tmp_path / label).mkdir()
        Image.new("RGB", (8, 8)).save(tmp_path / label / f"{sid}.png")
        (tmp_path / "originals" / label).mkdir(parents=True)
        Image.new("RGB", (1000, 600)).save(tmp_path / "originals" / label / f"{sid}.jpg")
        rows.append({"id": sid, "label": label, "result": {"crop": {"x": x, "y": 10, "size": 100}},
                     "files": {"original": f"originals/{label}/{sid}.jpg"}})
    (tmp_path / "metadata.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    offsets = framing_offsets(list_samples(tmp_path))
    # normal first (class 0): its square centre 150 of a 1000-wide photo -> 0.7; the glaucoma one at 500 -> 0.0
    assert np.allclose(offsets, [0.7, 0.0]), offsets
