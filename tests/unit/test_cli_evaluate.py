"""`papila evaluate` (disc crops and full photos) and `papila screen --json` through the served path.

Most tests replace `papila.core.pipeline.screen_image` by a script of outcomes, so the counting is checked
exactly whatever the pipeline decides; one runs the real pipeline and the committed model on generated
photos."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from papila.cli import main as papila
from papila.cli import screening_metrics
from papila.core import pipeline
from PIL import Image

from tests.fundus import make_fundus

ROOT = Path(__file__).resolve().parents[2]
PHOTOS_KEYS = {"n", "done", "refused", "auc", "auc_network", "auc_cdr", "sensitivity", "specificity",
               "threshold", "model_version", "ms_per_image"}
DATA_KEYS = {"n", "auc", "accuracy", "sensitivity", "specificity", "sensitivity_at_85_specificity",
             "threshold", "model_version", "ms_per_image", "auc_network", "auc_cdr"}


# ---------------------------------------------------------------- the figures on made-up numbers


def test_refused_photos_count_against_sensitivity_and_specificity():
    nan = float("nan")
    labels = [1, 1, 1, 1, 0, 0, 0, 0, 0]
    p = [0.9, 0.8, 0.2, nan, 0.1, 0.2, 0.7, nan, nan]
    out = screening_metrics(labels, p, 0.5)
    assert out["n"] == 9 and out["done"] == 6
    assert out["refused"] == {"normal": 2, "glaucoma": 1}
    assert out["sensitivity"] == pytest.approx(2 / 4)  # the refused glaucoma photo is a miss
    assert out["sensitivity_graded"] == pytest.approx(2 / 3)
    assert out["specificity"] == pytest.approx(2 / 5)  # a refused normal is not a correct "normal" call
    assert out["specificity_graded"] == pytest.approx(2 / 3)
    assert out["accuracy"] == pytest.approx(4 / 9)
    # AUC over the graded photos only (a tie counts half).
    assert out["auc"] == pytest.approx(7.5 / 9)
    assert out["threshold"] == 0.5


def test_network_and_cdr_aucs_use_their_own_scores_over_graded_photos():
    nan = float("nan")
    labels = [1, 1, 0, 0, 1]
    p = [0.6, 0.7, 0.4, 0.3, nan]
    network = [0.2, 0.9, 0.5, 0.1, 0.99]  # the refused photo's score must not count
    cdr = [0.8, nan, 0.3, 0.4, 0.1]  # a graded photo without a CDR is left out of auc_cdr only
    out = screening_metrics(labels, p, 0.5, network=network, cdr=cdr)
    assert out["auc"] == 1.0
    assert out["auc_network"] == pytest.approx(0.75)
    assert out["auc_cdr"] == 1.0
    assert math.isnan(screening_metrics([1, 1], [0.9, 0.8], 0.5)["auc"])  # one class: no AUC


# ---------------------------------------------------------------- the command, with a scripted pipeline


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


class Script:
    """Plays `pipeline.screen_image`: each image's bytes map to a planned outcome."""

    def __init__(self) -> None:
        self.plan: dict[str, pipeline.Screened | pipeline.Rejected] = {}
        self.crops: dict[str, dict | None] = {}

    def add(self, data: bytes, p: float | None, network: float | None = None, cdr: float | None = None,
            code: str = "disc_not_found") -> bytes:
        key = hashlib.sha256(data).hexdigest()
        if p is None:
            self.plan[key] = pipeline.Rejected(code, "refused")
        else:
            result = {"probability_glaucoma": p, "label": "glaucoma" if p >= 0.5 else "normal", "threshold": 0.5,
                      "crop": {"x": 1, "y": 2, "size": 30, "source": "auto"}}
            if network is not None:
                result["probability_network"] = network
            if cdr is not None:
                result["cdr"] = {"vertical": cdr, "mae": 0.06}
            self.plan[key] = pipeline.Screened(result, b"", b"")
        return data

    def __call__(self, data, crop_request, model, card):
        key = hashlib.sha256(data).hexdigest()
        self.crops[key] = crop_request
        assert card["threshold"] == 0.5 and model == "fake-model"
        return self.plan[key]


@pytest.fixture
def scripted(monkeypatch, tmp_path):
    from papila.model.serving import runtime

    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "model.json").write_text(json.dumps({"model_version": "fake-1", "threshold": 0.5, "files": {}}))
    monkeypatch.setattr(runtime, "load", lambda path, **kw: "fake-model")
    script = Script()
    monkeypatch.setattr(pipeline, "screen_image", script)
    return script, weights / "fake.tflite"


def _photo(seed: int, size: tuple[int, int] = (160, 120)) -> bytes:
    return _png(make_fundus(*size, seed=seed))


# (file, label, camera, served probability or None = refused, network, cdr)
PHOTOS = [
    ("g1.png", "glaucoma", "topcon", 0.9, 0.7, 0.8),
    ("g2.png", "glaucoma", "topcon", 0.3, 0.6, 0.5),
    ("g3.png", "glaucoma", "canon", None, None, None),
    ("g4.png", "glaucoma", "canon", 0.8, 0.05, None),
    ("n1.png", "normal", "topcon", 0.1, 0.4, 0.3),
    ("n2.png", "normal", "canon", 0.6, 0.1, 0.4),
    ("n3.png", "normal", "canon", None, None, None),
]


def _photo_folder(root: Path, script: Script) -> Path:
    (root / "eyes").mkdir(parents=True)
    rows = []
    for i, (name, label, camera, p, network, cdr) in enumerate(PHOTOS):
        (root / "eyes" / name).write_bytes(script.add(_photo(i), p, network, cdr))
        rows.append({"file": f"eyes/{name}", "label": label.upper() if i == 0 else label, "camera": camera})
    with (root / "labels.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["file", "label", "camera"])
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_evaluate_photos_prints_the_served_figures(scripted, tmp_path, capsys):
    script, model = scripted
    folder = _photo_folder(tmp_path / "photos", script)
    assert papila(["evaluate", "--photos", str(folder), "--model", str(model), "--json",
                   "--predictions", str(tmp_path / "rows.csv")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert PHOTOS_KEYS <= set(out)
    assert out["n"] == 7 and out["done"] == 5
    assert out["refused"] == {"normal": 1, "glaucoma": 1}
    assert out["refused_codes"] == {"disc_not_found": 2}
    assert out["sensitivity"] == pytest.approx(2 / 4)  # g2 below the threshold, g3 refused
    assert out["specificity"] == pytest.approx(1 / 3)  # n2 above, n3 refused
    # graded: glaucoma 0.9, 0.3, 0.8 vs normal 0.1, 0.6 -> 5 of 6 pairs
    assert out["auc"] == pytest.approx(5 / 6)
    assert out["auc_network"] == pytest.approx(4 / 6)  # 0.7, 0.6, 0.05 vs 0.4, 0.1
    assert out["auc_cdr"] == 1.0  # g4 has no CDR: 0.8, 0.5 vs 0.3, 0.4
    assert out["threshold"] == 0.5 and out["model_version"] == "fake-1" and out["ms_per_image"] >= 0
    # Full photos are offered with no square: the pipeline locates the disc.
    assert set(script.crops.values()) == {None}
    rows = list(csv.DictReader((tmp_path / "rows.csv").open()))
    assert [r["status"] for r in rows] == ["done", "done", "rejected", "done", "done", "done", "rejected"]
    assert rows[2]["code"] == "disc_not_found" and rows[0]["cdr"] == "0.8"
    assert rows[0]["file"] == "eyes/g1.png" and rows[0]["label"] == "glaucoma"


def test_evaluate_photos_by_column(scripted, tmp_path, capsys):
    script, model = scripted
    folder = _photo_folder(tmp_path / "photos", script)
    assert papila(["evaluate", "--photos", str(folder), "--model", str(model), "--json", "--by", "camera"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["by"]) == {"canon", "topcon"}
    canon, topcon = out["by"]["canon"], out["by"]["topcon"]
    assert canon["n"] == 4 and canon["refused"] == {"normal": 1, "glaucoma": 1}
    assert canon["sensitivity"] == pytest.approx(1 / 2) and canon["specificity"] == 0.0
    assert topcon["n"] == 3 and topcon["done"] == 3 and topcon["auc"] == 1.0
    assert topcon["auc_cdr"] == 1.0 and canon["auc_cdr"] is None  # one graded canon photo has a CDR


def test_evaluate_photos_refuses_bad_labels(scripted, tmp_path):
    _script, model = scripted
    (tmp_path / "a.png").write_bytes(_photo(0))
    (tmp_path / "labels.csv").write_text("file,label\na.png,suspect\n")
    with pytest.raises(SystemExit, match="glaucoma or normal"):
        papila(["evaluate", "--photos", str(tmp_path), "--model", str(model), "--json"])
    (tmp_path / "labels.csv").write_text("file,label\nmissing.png,normal\n")
    with pytest.raises(SystemExit, match="no file"):
        papila(["evaluate", "--photos", str(tmp_path), "--model", str(model), "--json"])


def test_evaluate_data_offers_each_crop_as_the_users_square(scripted, tmp_path, capsys):
    script, model = scripted
    plan = {"glaucoma": [(0.9, 0.6, 0.7), (0.7, 0.05, 0.6), (None, None, None)],
            "normal": [(0.2, 0.5, 0.3), (0.4, 0.1, 0.65)]}
    sizes = {}
    for label, outcomes in plan.items():
        (tmp_path / "crops" / label).mkdir(parents=True)
        for i, (p, network, cdr) in enumerate(outcomes):
            data = script.add(_photo(10 * len(label) + i, (90 + i, 80)), p, network, cdr, code="too_blurred")
            (tmp_path / "crops" / label / f"{i}.png").write_bytes(data)
            sizes[hashlib.sha256(data).hexdigest()] = 90 + i
    assert papila(["evaluate", "--data", str(tmp_path / "crops"), "--model", str(model), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert DATA_KEYS <= set(out)
    assert out["n"] == 5 and out["done"] == 4 and out["refused"] == {"normal": 0, "glaucoma": 1}
    assert out["auc"] == 1.0 and out["auc_network"] == pytest.approx(2 / 4) and out["auc_cdr"] == pytest.approx(3 / 4)
    assert out["sensitivity"] == pytest.approx(2 / 3) and out["specificity"] == 1.0
    assert out["refused_codes"] == {"too_blurred": 1}
    # The whole crop is the user's square: from the corner, the longer side.
    for key, crop in script.crops.items():
        assert crop == {"x": 0, "y": 0, "size": sizes[key]}


def test_screen_json_prints_the_cdr_and_the_networks_probability(scripted, tmp_path, monkeypatch, capsys):
    from papila import cli

    script, model = scripted
    monkeypatch.setenv("MODEL_PATH", str(model))
    monkeypatch.setattr(cli, "_MODEL", None)
    graded = tmp_path / "graded.png"
    graded.write_bytes(script.add(_photo(1), 0.7, 0.4, 0.62))
    refused = tmp_path / "refused.png"
    refused.write_bytes(script.add(_photo(2), None, code="too_dark"))
    assert papila(["screen", str(graded), str(refused), "--json"]) == 0
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["status"] == "done" and first["cdr"] == 0.62 and first["probability_network"] == 0.4
    assert first["probability_glaucoma"] == 0.7 and first["label"] == "glaucoma"
    assert second["status"] == "rejected" and second["cdr"] is None and second["error"]["code"] == "too_dark"


# ---------------------------------------------------------------- the real served path


SERVING = ROOT / "weights" / "papila_vgg19_int8.tflite"


@pytest.mark.skipif(not SERVING.exists(), reason="no committed serving model")
def test_evaluate_photos_runs_the_real_pipeline_and_model(tmp_path, capsys):
    pytest.importorskip("ai_edge_litert")
    (tmp_path / "labels.csv").write_text(
        "file,label\n" + "".join(f"p{i}.jpg,{'glaucoma' if i % 2 else 'normal'}\n" for i in range(4))
        + "blue.png,glaucoma\n")
    for i in range(4):
        make_fundus(720, 600, seed=20 + i).save(tmp_path / f"p{i}.jpg", quality=92)
    Image.fromarray(np.full((400, 400, 3), (30, 60, 200), np.uint8)).save(tmp_path / "blue.png")  # not a fundus
    assert papila(["evaluate", "--photos", str(tmp_path), "--model", str(SERVING), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert PHOTOS_KEYS <= set(out)
    assert out["n"] == 5 and out["done"] + sum(out["refused"].values()) == 5
    assert out["refused"]["glaucoma"] >= 1  # the blue square is refused, and counts as a miss
    assert out["sensitivity"] is None or out["sensitivity"] <= 2 / 3
    assert out["done"] >= 1 and out["ms_per_image"] > 0
    assert out["model_version"] == json.loads((SERVING.parent / "model.json").read_text())["model_version"]
