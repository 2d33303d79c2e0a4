"""Dataset export end to end: the API queues it, the inference worker builds it in steps from the queue,
and the zip, unzipped, is what `papila train` and `papila evaluate` read. Also: many parts over many
steps, a duplicate message, a step killed half-way, the final failed attempt, ZIP64, an empty export."""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from papila.adapters.aws import WorkQueue
from papila.adapters.mongo import Exports
from papila.cli import main as papila
from papila.core import exports as zip_format
from papila.events import export_record
from papila.model.serving.runtime import Prediction
from papila.model.training.data import list_samples
from papila.usecases import export as export_mod

from tests.unit.admin_support import T0, drain, put_screening

pytest_plugins = ["tests.unit.admin_fixtures"]

ROOT = Path(__file__).resolve().parents[2]
MAX_RECEIVE_COUNT = 3  # the redrive policy's maxReceiveCount
REAL_MODEL = ROOT / "weights" / "papila_vgg19_int8.tflite"


@pytest.fixture
def put(service, aws, images):
    def make(**kw):
        return put_screening(service, aws, images, **kw)

    return make


@pytest.fixture
def work(service, aws):
    """Plays the export function: every waiting export message through its record handler, until none is left."""

    def run(max_rounds: int = 200) -> int:
        builder = _function_builder(service)  # a cold start: reads the environment the test set
        handled = 0
        for _ in range(max_rounds):
            records = drain(aws)
            if not records:
                return handled
            for record in records:
                export_record(builder, SQSRecord(record), MAX_RECEIVE_COUNT)
                handled += 1
        raise AssertionError("the export never finished")

    return run


def _function_builder(service) -> export_mod.ExportBuilder:
    """The builder the export function makes at its cold start (export_fn/exports.py)."""
    db = service.store.col.database
    return export_mod.builder_from_env(Exports(db), service.store, service.bucket, WorkQueue(os.environ["EXPORT_QUEUE_URL"]))


def _sqs_record(body: dict, receive_count: int = 1) -> SQSRecord:
    return SQSRecord({"body": json.dumps(body), "attributes": {"ApproximateReceiveCount": str(receive_count)}})


def _export(admin_api, body=None) -> str:
    r = admin_api.api.post("/api/admin/exports", body or {}, headers=admin_api.headers)
    assert r.status_code == 202, r.body
    return r.json_body["id"]


def _status(admin_api, export_id: str) -> dict:
    r = admin_api.api.get(f"/api/admin/exports/{export_id}", headers=admin_api.headers)
    assert r.status_code == 200, r.body
    return r.json_body


def _zip(aws, export_id: str) -> zipfile.ZipFile:
    data = aws.s3.get_object(Bucket=aws.bucket, Key=f"exports/{export_id}.zip")["Body"].read()
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None  # every CRC checks
    return archive


def _labelled_set(put) -> dict[str, list[str]]:
    ids = {
        "glaucoma": [put(created_at=T0 + timedelta(minutes=i), label="glaucoma", true_label="glaucoma",
                         metadata={"age": 70, "eye": "left", "notes": "Mr Smith, seen Tuesday"}) for i in range(3)],
        "normal": [put(created_at=T0 + timedelta(minutes=10 + i), label="glaucoma", true_label="normal",
                       diagnosis_correct=False) for i in range(2)],
    }
    ids["normal"].append(put(created_at=T0 + timedelta(minutes=20), label="normal", true_label="normal",
                             with_original=False))  # the crop alone still counts
    # Not exported: no confirmed label, not done, no crop.
    put(label="glaucoma", true_label="suspect")
    put(label="normal", true_label="unknown")
    put(label="normal", diagnosis_correct=True)
    put(label="normal")
    put(status="queued", true_label="glaucoma")
    put(label="normal", true_label="normal", with_crop=False)
    return ids


class FakeModel:
    """Stands in for the serving model when weights/ has none: the layout, not the weights, is under test."""

    input_size = 224

    def predict(self, batch: np.ndarray) -> list[Prediction]:
        p = float(batch[..., 0].mean() / 255.0)
        return [Prediction(p, np.zeros((7, 7), np.float32))]


def test_an_export_of_labelled_screenings_is_read_back_by_papila_evaluate(admin_api, put, work, aws, tmp_path,
                                                                          monkeypatch, capsys):
    ids = _labelled_set(put)
    export_id = _export(admin_api)
    assert _status(admin_api, export_id)["status"] == "queued"
    work()
    status = _status(admin_api, export_id)
    assert status["status"] == "done", status
    assert status["counts"] == {"screenings": 6, "glaucoma": 3, "normal": 3, "originals": 5, "missing_crop": 1,
                                "missing_original": 1}
    assert f"exports/{export_id}.zip" in status["download_url"] and status["size"] > 0
    assert admin_api.db["export_items"].count_documents({}) == 0  # the builder's scratch is gone

    archive = _zip(aws, export_id)
    names = set(archive.namelist())
    expected = {"glaucoma/", "normal/", "labels.csv", "metadata.jsonl"}
    for label, sids in ids.items():
        expected |= {f"{label}/{sid}.png" for sid in sids}
        expected |= {f"originals/{label}/{sid}.jpg" for sid in sids if sid != ids["normal"][-1]}
    assert names == expected

    rows = list(csv.DictReader(io.StringIO(archive.read("labels.csv").decode())))
    assert {(r["file"], r["label"], r["screening_id"], r["model_version"]) for r in rows} == {
        (f"{label}/{sid}.png", label, sid, "vgg19-test") for label, sids in ids.items() for sid in sids}
    lines = [json.loads(line) for line in archive.read("metadata.jsonl").decode().splitlines()]
    assert len(lines) == 6
    first = next(line for line in lines if line["id"] == ids["glaucoma"][0])
    assert first["label"] == "glaucoma" and first["model_version"] == "vgg19-test"
    assert first["result"]["label"] == "glaucoma" and first["result"]["probability_glaucoma"] == 0.9
    assert first["feedback"]["true_label"] == "glaucoma" and first["feedback"]["metadata"] == {"age": 70, "eye": "left"}
    assert first["files"] == {"crop": f"glaucoma/{ids['glaucoma'][0]}.png",
                              "original": f"originals/glaucoma/{ids['glaucoma'][0]}.jpg"}
    text = archive.read("metadata.jsonl").decode()
    assert "Smith" not in text and "patient-name" not in text  # no free text, no file names

    # Unzipped, it is a training/evaluation folder: originals/ and the csv/jsonl are not samples.
    data = tmp_path / "export"
    archive.extractall(data)
    samples = list_samples(data)
    assert sorted((s.path.parent.name, s.path.stem) for s in samples) == sorted(
        (label, sid) for label, sids in ids.items() for sid in sids)
    assert all(s.disc_mask is None for s in samples)

    if not REAL_MODEL.exists():
        from papila.model.serving import card, runtime

        monkeypatch.setattr(runtime, "load", lambda path: FakeModel())
        monkeypatch.setattr(card, "load_card", lambda path: {"model_version": "fake-model", "threshold": 0.5})
    capsys.readouterr()
    assert papila(["evaluate", "--data", str(data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 6
    assert {"auc", "accuracy", "sensitivity", "specificity", "threshold", "model_version", "ms_per_image"} <= set(report)


def test_labels_csv_carries_the_subject_and_the_camera_for_grouped_folds_and_domains(admin_api, put, work, aws):
    both_eyes = [put(created_at=T0 + timedelta(minutes=i), label="glaucoma", true_label="glaucoma",
                     metadata={"subject_id": "hygd-7", "eye": eye, "camera": "Topcon DRI OCT Triton",
                               "notes": "Mrs Jones"}) for i, eye in enumerate(("left", "right"))]
    odd_camera = put(created_at=T0 + timedelta(minutes=5), label="normal", true_label="normal",
                     metadata={"camera": 'Canon CR-2, "plus"'})
    bare = put(created_at=T0 + timedelta(minutes=6), label="normal", true_label="normal")
    export_id = _export(admin_api)
    work()
    archive = _zip(aws, export_id)
    text = archive.read("labels.csv").decode()
    assert text.splitlines()[0] == "file,label,screening_id,model_version,subject_id,camera"
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["screening_id"], r["subject_id"], r["camera"]) for r in rows] == [
        (both_eyes[0], "hygd-7", "Topcon DRI OCT Triton"),
        (both_eyes[1], "hygd-7", "Topcon DRI OCT Triton"),
        (odd_camera, "", 'Canon CR-2, "plus"'),  # quoted by the csv writer, read back whole
        (bare, "", ""),
    ]
    assert rows[0]["file"] == f"glaucoma/{both_eyes[0]}.png" and rows[0]["label"] == "glaucoma"
    assert rows[0]["model_version"] == "vgg19-test"
    lines = {line["id"]: line for line in map(json.loads, archive.read("metadata.jsonl").decode().splitlines())}
    assert lines[both_eyes[1]]["feedback"]["metadata"] == {"subject_id": "hygd-7", "eye": "right",
                                                           "camera": "Topcon DRI OCT Triton"}
    assert lines[bare]["feedback"]["metadata"] == {}
    assert "Jones" not in text and "Jones" not in archive.read("metadata.jsonl").decode()


def test_filters_choose_what_is_exported(admin_api, put, work, aws):
    g_old = put(created_at=T0, label="glaucoma", true_label="glaucoma")
    g_new = put(created_at=T0 + timedelta(days=5), label="normal", true_label="glaucoma", model_version="vgg19-next")
    put(created_at=T0 + timedelta(days=5), label="normal", true_label="normal")
    export_id = _export(admin_api, {"true_label": "glaucoma", "from": "2026-11-03"})
    work()
    assert _status(admin_api, export_id)["counts"]["screenings"] == 1
    assert f"glaucoma/{g_new}.png" in _zip(aws, export_id).namelist()
    export_id = _export(admin_api, {"label": "glaucoma"})
    work()
    assert [n for n in _zip(aws, export_id).namelist() if n.endswith(".png")] == [f"glaucoma/{g_old}.png"]
    export_id = _export(admin_api, {"model_version": "vgg19-next"})
    work()
    assert _status(admin_api, export_id)["counts"]["screenings"] == 1


def test_an_empty_export_is_done_with_empty_folders(admin_api, put, work, aws, tmp_path):
    put(true_label="suspect")
    export_id = _export(admin_api)
    work()
    status = _status(admin_api, export_id)
    assert status["status"] == "done" and status["counts"]["screenings"] == 0
    archive = _zip(aws, export_id)
    assert sorted(archive.namelist()) == ["glaucoma/", "labels.csv", "metadata.jsonl", "normal/"]
    assert archive.read("labels.csv") == b"file,label,screening_id,model_version,subject_id,camera\n"
    archive.extractall(tmp_path)
    assert (tmp_path / "glaucoma").is_dir() and (tmp_path / "normal").is_dir()


# ---------------------------------------------------------------- steps, parts and failures


@pytest.fixture
def small_parts(monkeypatch):
    """S3's 5 MiB part minimum lowered in moto, so a few small images make many parts."""
    from moto.s3 import models

    monkeypatch.setattr(models, "S3_UPLOAD_PART_MIN_SIZE", 1)


def _builder(service, aws, *, part_bytes: int = 1, kicks: list[str] | None = None) -> export_mod.ExportBuilder:
    db = service.store.col.database
    sent = kicks if kicks is not None else []
    clock = iter(range(0, 10**6, 100))  # every part "takes" 100 s: one part per step
    return export_mod.ExportBuilder(Exports(db), service.store, service.bucket,
                                    kick=sent.append, part_bytes=part_bytes, step_seconds=50,
                                    clock=lambda: float(next(clock)))


def _run_steps(builder: export_mod.ExportBuilder, export_id: str, kicks: list[str]) -> int:
    steps = 0
    kicks.append(export_id)
    while kicks:
        kicks.pop()
        builder.step(export_id)
        steps += 1
    return steps


def test_a_large_export_goes_part_by_part_over_many_steps(admin_api, put, aws, service, small_parts, tmp_path):
    ids = _labelled_set(put)
    export_id = _export(admin_api)
    drain(aws)
    kicks: list[str] = []
    steps = _run_steps(_builder(service, aws, kicks=kicks), export_id, kicks)
    record = admin_api.db["exports"].find_one({"_id": export_id})
    assert record["status"] == "done" and steps == 7  # one part per screening, then the closing part
    archive = _zip(aws, export_id)
    assert len([n for n in archive.namelist() if n.endswith(".png")]) == 6
    archive.extractall(tmp_path)
    assert len(list_samples(tmp_path)) == sum(len(v) for v in ids.values())


def test_the_steps_continue_through_the_queue(admin_api, put, work, aws, service, small_parts, monkeypatch):
    _labelled_set(put)
    monkeypatch.setenv("EXPORT_STEP_SECONDS", "0")  # each step writes one part, then queues the next step
    monkeypatch.setattr(export_mod, "S3_MIN_PART", 1)
    monkeypatch.setattr(export_mod, "MIB", 1)  # EXPORT_PART_MB=16 now means 16 bytes
    export_id = _export(admin_api)
    assert work() == 7  # messages: one step (one part) each, then the closing part
    assert _status(admin_api, export_id)["status"] == "done"
    assert len(_zip(aws, export_id).namelist()) == 15


def test_two_copies_of_one_step_save_the_part_once(admin_api, put, aws, service, small_parts):
    _labelled_set(put)
    export_id = _export(admin_api)
    kicks: list[str] = []
    builder = _builder(service, aws, kicks=kicks)
    builder.step(export_id)  # part 1
    snapshot = admin_api.db["exports"].find_one({"_id": export_id})
    # SQS delivered the next step twice, and both copies read the record before either saved part 2.
    first = builder._part(snapshot)
    second = _builder(service, aws)._part(snapshot)
    assert first is not None and first["progress"]["next_part"] == 3
    assert second is None  # its conditional save found part 2 saved: it stops, sending no next step
    _run_steps(builder, export_id, kicks)
    assert admin_api.db["exports"].find_one({"_id": export_id})["status"] == "done"
    assert len([n for n in _zip(aws, export_id).namelist() if n.endswith(".png")]) == 6
    assert builder.step(export_id) == "done"  # a late duplicate of a finished export is dropped


def test_diverging_copies_of_a_part_fail_the_export_rather_than_corrupt_it(admin_api, put, aws, service, images,
                                                                          small_parts):
    ids = _labelled_set(put)
    export_id = _export(admin_api)
    kicks: list[str] = []
    builder = _builder(service, aws, kicks=kicks)
    builder.step(export_id)
    kicks.clear()
    snapshot = admin_api.db["exports"].find_one({"_id": export_id})
    assert builder._part(snapshot) is not None  # part 2: the second-oldest screening
    # A slower copy of the same step, after that screening's crop changed, overwrote part 2 with other bytes.
    aws.s3.put_object(Bucket=aws.bucket, Key=f"results/{ids['glaucoma'][1]}/crop.png",
                      Body=images.encode(images.fundus(200, 200), "PNG"))
    assert _builder(service, aws)._part(snapshot) is None
    with pytest.raises(zip_format.ExportConflict):
        _run_steps(builder, export_id, kicks)
    export_record(_function_builder(service), _sqs_record({"papila_export": export_id}), MAX_RECEIVE_COUNT)
    record = admin_api.db["exports"].find_one({"_id": export_id})
    assert record["status"] == "failed" and record["error"]["code"] == "export_conflict"
    assert admin_api.db["export_items"].count_documents({"export_id": export_id}) == 0


def test_a_step_killed_after_its_upload_is_redone_from_the_last_saved_part(admin_api, put, aws, service, small_parts,
                                                                           monkeypatch):
    _labelled_set(put)
    export_id = _export(admin_api)
    kicks: list[str] = []
    builder = _builder(service, aws, kicks=kicks)
    builder.step(export_id)
    real = builder.exports.items.replace_one
    calls = {"n": 0}

    def dies_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise TimeoutError("the function timed out")
        return real(*args, **kwargs)

    monkeypatch.setattr(builder.exports.items, "replace_one", dies_once)
    with pytest.raises(TimeoutError):
        builder.step(export_id)
    kicks.clear()
    _run_steps(builder, export_id, kicks)  # SQS redelivers the message
    assert admin_api.db["exports"].find_one({"_id": export_id})["status"] == "done"
    archive = _zip(aws, export_id)
    assert len([n for n in archive.namelist() if n.endswith(".png")]) == 6


def test_a_step_that_completed_the_upload_but_not_the_record_finishes_on_redelivery(admin_api, put, aws, service,
                                                                                    monkeypatch):
    _labelled_set(put)
    export_id = _export(admin_api)
    builder = _builder(service, aws, part_bytes=10**9)
    real = builder._mark_done
    calls = {"n": 0}

    def dies_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise TimeoutError("killed between CompleteMultipartUpload and the save")
        return real(*args, **kwargs)

    monkeypatch.setattr(builder, "_mark_done", dies_once)
    with pytest.raises(TimeoutError):
        builder.step(export_id)
    assert builder.step(export_id) == "done"
    assert len([n for n in _zip(aws, export_id).namelist() if n.endswith(".png")]) == 6


def test_the_final_failed_attempt_marks_the_export_failed(admin_api, put, aws, service, monkeypatch):
    _labelled_set(put)
    export_id = _export(admin_api)
    [record] = drain(aws)
    builder = _function_builder(service)
    monkeypatch.setattr(export_mod.ExportBuilder, "_add", lambda *a, **k: (_ for _ in ()).throw(OSError("disk")))
    with pytest.raises(OSError):
        export_record(builder, SQSRecord(record), MAX_RECEIVE_COUNT)  # first receive: retried, still running
    assert _status(admin_api, export_id)["status"] == "running"
    record["attributes"]["ApproximateReceiveCount"] = str(MAX_RECEIVE_COUNT)
    with pytest.raises(OSError):
        export_record(builder, SQSRecord(record), MAX_RECEIVE_COUNT)
    status = _status(admin_api, export_id)
    assert status["status"] == "failed" and status["error"]["code"] == "export_failed"
    assert "download_url" not in status
    assert aws.s3.list_multipart_uploads(Bucket=aws.bucket).get("Uploads", []) == []


def test_a_malformed_export_message_is_dropped(service, aws, admin_api):
    builder = _function_builder(service)
    for body in ({"papila_export": "nope"}, {"papila_export": 42}, ["papila_export"], {"Records": []}):
        export_record(builder, _sqs_record(body), MAX_RECEIVE_COUNT)
    assert admin_api.db["exports"].count_documents({}) == 0 and drain(aws) == []


def test_zip64_records_are_written_when_offsets_are_large(admin_api, put, work, aws, monkeypatch, tmp_path):
    ids = _labelled_set(put)
    monkeypatch.setattr(zip_format, "ZIP64_LIMIT", 0)  # every offset "large": the ZIP64 path is taken
    export_id = _export(admin_api)
    work()
    archive = _zip(aws, export_id)
    data = aws.s3.get_object(Bucket=aws.bucket, Key=f"exports/{export_id}.zip")["Body"].read()
    assert b"PK\x06\x06" in data and b"PK\x06\x07" in data  # ZIP64 end record and locator
    archive.extractall(tmp_path)
    assert len(list_samples(tmp_path)) == sum(len(v) for v in ids.values())
