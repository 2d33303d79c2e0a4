"""The model registry (issue 14, item 1) on moto's S3 and SSM: register a trained version under
models/<version>/, promote it and roll back through the "current" pointer, and the inference side
(papila.usecases.model_version.ModelSwitch) grading with whatever the pointer names, at most every
check interval, keeping the model in hand when the pointer or a version is broken. GET /api/model and
`papila model` report the serving version."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from papila.adapters import registry as registry_mod
from papila.adapters.aws import ImageBucket
from papila.adapters.registry import BAKED, ModelRegistry, RegistryError
from papila.cli import main as papila
from papila.model.serving import runtime
from papila.model.serving.card import load_card
from papila.usecases.model_version import ModelSwitch

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = ROOT / "weights"
BAKED_VERSION = load_card(WEIGHTS / "papila_vgg19_int8.tflite")["model_version"]


@pytest.fixture
def pointer(aws, monkeypatch):
    """The SSM parameter template.yaml makes (initially "baked"), named in MODEL_PARAMETER."""
    import boto3

    registry_mod._ssm.cache_clear()
    boto3.client("ssm").put_parameter(Name="papila-model-version", Value=BAKED, Type="String")
    monkeypatch.setenv("MODEL_PARAMETER", "papila-model-version")
    yield "papila-model-version"
    registry_mod._ssm.cache_clear()


@pytest.fixture
def registry(aws, pointer) -> ModelRegistry:
    return ModelRegistry(ImageBucket(aws.bucket), pointer)


def release(tmp_path: Path, version: str) -> Path:
    """A release folder as `papila train` writes it: the installed weights under another version."""
    folder = tmp_path / version
    shutil.copytree(WEIGHTS, folder, ignore=shutil.ignore_patterns("*.npz"))
    card = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**card, "model_version": version}))
    return folder


def load(path: Path):
    return runtime.load(path), runtime.card_beside(path)


def test_register_uploads_the_version_without_its_training_master(registry, aws, tmp_path):
    assert registry.register(release(tmp_path, "v2")) == "v2"
    keys = {o["Key"] for o in aws.s3.list_objects_v2(Bucket=aws.bucket, Prefix="models/")["Contents"]}
    card = json.loads((WEIGHTS / "model.json").read_text())
    assert {f"models/v2/{card['files']['serving']}", f"models/v2/{card['files']['disc_cup']}",
            "models/v2/model.json", "models/v2/MODEL_CARD.md", "models/v2/fundus_gate.json"} <= keys
    assert not any(k.endswith(".npz") for k in keys)
    assert registry.versions() == ["v2"] and registry.card("v2")["model_version"] == "v2"


@pytest.mark.parametrize("breaks", ["no_card", "no_serving_file", "baked_name"])
def test_register_refuses_what_could_not_serve(registry, tmp_path, breaks):
    folder = release(tmp_path, BAKED if breaks == "baked_name" else "v3")
    if breaks == "no_card":
        (folder / "model.json").unlink()
    if breaks == "no_serving_file":
        (folder / "papila_vgg19_int8.tflite").unlink()
    with pytest.raises(RegistryError):
        registry.register(folder)
    assert registry.versions() == []


def test_promote_and_roll_back(registry, tmp_path):
    registry.register(release(tmp_path, "v2"))
    with pytest.raises(RegistryError):
        registry.promote("never-registered")
    assert registry.current() == BAKED
    assert registry.promote("v2") == BAKED and registry.current() == "v2"
    assert registry.promote(BAKED) == "v2" and registry.current() == BAKED


def test_the_switch_follows_the_pointer_at_most_every_interval(registry, tmp_path):
    registry.register(release(tmp_path, "v2"))
    clock = {"t": 0.0}
    baked_model, baked_card = load(WEIGHTS / "papila_vgg19_int8.tflite")
    worker = SimpleNamespace(model=baked_model, card=baked_card)  # the inference worker at its cold start
    switch = ModelSwitch(registry, load, WEIGHTS / "papila_vgg19_int8.tflite", tmp_path / "cache",
                         check_seconds=300, clock=lambda: clock["t"])
    assert switch.refresh(worker) == BAKED and worker.card["model_version"] == BAKED_VERSION

    registry.promote("v2")
    clock["t"] = 10.0
    assert switch.refresh(worker) == BAKED  # not looked at again before the interval
    clock["t"] = 301.0
    assert switch.refresh(worker) == "v2"
    assert worker.card["model_version"] == "v2" and worker.model is not baked_model
    assert (tmp_path / "cache" / "v2" / "model.json").exists()

    registry.promote(BAKED)  # roll back
    clock["t"] = 700.0
    assert switch.refresh(worker) == BAKED and worker.card["model_version"] == BAKED_VERSION


def test_a_broken_pointer_or_version_leaves_the_model_in_hand(registry, aws, tmp_path, caplog):
    import boto3

    folder = release(tmp_path, "v4")
    registry.register(folder)
    baked_model, baked_card = load(WEIGHTS / "papila_vgg19_int8.tflite")
    worker = SimpleNamespace(model=baked_model, card=baked_card)
    clock = {"t": 0.0}
    switch = ModelSwitch(registry, load, WEIGHTS / "papila_vgg19_int8.tflite", tmp_path / "cache",
                         check_seconds=1, clock=lambda: clock["t"])
    # A version whose serving file is not a model: it never serves.
    aws.s3.put_object(Bucket=aws.bucket, Key="models/v4/papila_vgg19_int8.tflite", Body=b"not a model")
    registry.promote("v4")
    assert switch.refresh(worker) == BAKED and worker.model is baked_model
    # The pointer gone: still the model in hand.
    boto3.client("ssm").delete_parameter(Name=registry.parameter)
    clock["t"] = 5.0
    assert switch.refresh(worker) == BAKED and worker.card["model_version"] == BAKED_VERSION
    assert "could not be loaded" in caplog.text and "unreadable" in caplog.text


def test_get_model_reports_the_version_the_pointer_names(registry, api, tmp_path):  # the pointer before the app
    body = api.get("/api/model").json_body
    assert body["model_version"] == BAKED_VERSION and body["serving"] == "baked"
    registry.register(release(tmp_path, "v5"))
    registry.promote("v5")
    body = api.get("/api/model").json_body
    assert body["model_version"] == "v5" and body["serving"] == "registry"


def test_the_plots_served_are_the_serving_versions(registry, api, tmp_path):
    """GET /api/model/plots/{name}: the registered version's plot once it serves, the installed one's before."""
    accept = {"Accept": "image/png"}
    installed = (WEIGHTS / "roc.png").read_bytes()
    assert api.get("/api/model/plots/roc.png", headers=accept).body == installed
    folder = release(tmp_path, "v6")
    from PIL import Image

    Image.new("RGB", (8, 8), (255, 0, 0)).save(folder / "roc.png")  # this version's own curve
    registry.register(folder)
    registry.promote("v6")
    served = api.get("/api/model/plots/roc.png", headers=accept)
    assert served.status_code == 200 and served.body == (folder / "roc.png").read_bytes() != installed
    assert api.get("/api/model/plots/other.png", headers=accept).status_code == 404  # not on its card

def test_the_command_line_registers_promotes_and_lists(registry, tmp_path, capsys):
    folder = release(tmp_path, "v6")
    assert papila(["model", "register", str(folder), "--promote", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"registered": "v6", "previous": BAKED}
    assert papila(["model", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"serving": "v6", "versions": ["v6"]}
    assert papila(["model", "promote", BAKED, "--json"]) == 0
    assert registry.current() == BAKED
    assert papila(["model", "promote", "nope"]) == 2 and registry.current() == BAKED
