"""GET /api/model/plots/{name}: only the PNGs the model card lists, from the model's folder; everything
else is a contract 404. GET /api/model passes the card's `plots` through."""

from __future__ import annotations

import io
import json

import pytest
from papila.api.modelfiles import listed_plots
from papila.model.serving import card
from PIL import Image

BROWSER_IMG_ACCEPT = {"Accept": "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"}


def _png(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (60, 45), colour).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def model_dir(tmp_path, monkeypatch):
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "model.json").write_text(json.dumps({
        "model_version": "vgg19-plots-1", "threshold": 0.4, "metrics": {"auc": 0.9},
        "plots": {"roc": "roc.png", "calibration": "calibration.png", "missing": "missing.png",
                  "escape": "../secret.png", "text": "notes.txt", "fake": "fake.png"},
    }))
    (weights / "roc.png").write_bytes(_png((200, 30, 30)))
    (weights / "calibration.png").write_bytes(_png((30, 30, 200)))
    (weights / "unlisted.png").write_bytes(_png((0, 0, 0)))
    (weights / "notes.txt").write_text("not a plot")
    (weights / "fake.png").write_text("not a PNG at all")
    (tmp_path / "secret.png").write_bytes(_png((1, 2, 3)))
    monkeypatch.setenv("MODEL_PATH", str(weights / "papila.tflite"))
    card.load_card.cache_clear()
    yield weights
    card.load_card.cache_clear()


def _assert_not_found(r) -> None:
    assert r.status_code == 404, r.body
    assert r.json_body["error"]["code"] == "not_found"
    assert set(r.json_body["error"]) >= {"code", "message"}


def test_a_listed_plot_is_served_as_png(api, model_dir):
    r = api.get("/api/model/plots/roc.png", headers=BROWSER_IMG_ACCEPT)
    assert r.status_code == 200, r.body
    assert r.headers["Content-Type"] == "image/png"
    assert r.body == (model_dir / "roc.png").read_bytes()
    with Image.open(io.BytesIO(r.body)) as im:
        assert im.size == (60, 45)
    assert api.get("/api/model/plots/calibration.png", headers=BROWSER_IMG_ACCEPT).status_code == 200


def test_the_model_summary_lists_the_plots(api, model_dir):
    r = api.get("/api/model")
    assert r.status_code == 200
    assert r.json_body["plots"]["roc"] == "roc.png"


@pytest.mark.parametrize("name", [
    "unlisted.png",  # in the folder, not in the card
    "missing.png",  # in the card, not in the folder
    "model.json", "notes.txt", "papila.tflite",
    "fake.png",  # listed, but not a PNG
    "..%2Fsecret.png", "%2E%2E%2Fsecret.png", "..", "roc",
])
def test_anything_else_is_a_contract_404(api, model_dir, name):
    _assert_not_found(api.get(f"/api/model/plots/{name}", headers=BROWSER_IMG_ACCEPT))


def test_no_model_installed_is_503(api, tmp_path, monkeypatch):
    monkeypatch.setenv("MODEL_PATH", str(tmp_path / "nowhere" / "papila.tflite"))
    card.load_card.cache_clear()
    try:
        r = api.get("/api/model/plots/roc.png", headers=BROWSER_IMG_ACCEPT)
    finally:
        card.load_card.cache_clear()
    assert r.status_code == 503 and r.json_body["error"]["code"] == "model_unavailable"
    assert str(tmp_path) not in r.body.decode()


def test_listed_plots_keep_only_plain_png_names():
    plots = {"roc": "roc.png", "up": "../x.png", "abs": "/etc/x.png", "dir": "a/b.png", "dots": "a..png",
             "txt": "x.txt", "num": 3, "cal": "calibration.png"}
    assert listed_plots({"plots": plots}) == {"roc": "roc.png", "cal": "calibration.png"}
    assert listed_plots({"plots": ["roc.png"]}) == {} and listed_plots({}) == {}
