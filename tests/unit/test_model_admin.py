"""Register, compare, promote, roll back (issue 14, item 2) on moto's S3, SSM and SQS and an in-process
SecantusDB: the admin API lists the versions and the one serving, promotes and rolls back through the SSM
pointer (audited), asks for a comparison (stored `queued` beside the candidate, queued on its own queue);
the compare job grades the confirmed cases held out from the candidate's training (grouped by person) with
both models through the served pipeline and stores ROC curves and figures per camera."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import boto3
import numpy as np
import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from papila.adapters import registry as registry_mod
from papila.adapters.aws import ImageBucket
from papila.adapters.registry import BAKED, ModelRegistry
from papila.api import model_admin
from papila.core import comparisons
from papila.core.records import iso, now
from papila.events import compare_record
from papila.model.serving.metrics import roc_auc, screening_metrics
from papila.model.serving.runtime import Prediction
from papila.usecases.compare import Comparison, held_out, roc_points

from tests.fundus import encode, make_fundus
from tests.unit.admin_support import drain, put_screening

pytest_plugins = ["tests.unit.admin_fixtures"]

ROOT = Path(__file__).resolve().parents[2]
PARAMETER = "papila-model-version"


@pytest.fixture
def models(admin_api, aws, monkeypatch):
    """The pointer (initially "baked"), the compare queue, and two registered versions (cards only)."""
    registry_mod._ssm.cache_clear()
    boto3.client("ssm").put_parameter(Name=PARAMETER, Value=BAKED, Type="String")
    monkeypatch.setenv("MODEL_PARAMETER", PARAMETER)
    queue = aws.sqs.create_queue(QueueName="papila-compare")["QueueUrl"]
    monkeypatch.setenv("COMPARE_QUEUE_URL", queue)
    model_admin.reset()
    registry = ModelRegistry(ImageBucket(aws.bucket), PARAMETER)
    for version, day in (("v1", "2026-11-01"), ("v2", "2026-12-01")):
        card = {"model_version": version, "threshold": 0.5, "trained_at": f"{day}T00:00:00Z",
                "metrics": {"by_domain": {"Topcon": {"n": 40, "auc_served": 0.8, "sensitivity": 0.7,
                                                     "specificity": 0.75}}}}
        aws.s3.put_object(Bucket=aws.bucket, Key=f"models/{version}/model.json", Body=json.dumps(card).encode())
    yield registry, queue
    model_admin.reset()
    registry_mod._ssm.cache_clear()


def _call(admin_api, method: str, path: str, **kw):
    return getattr(admin_api.api, method)(path, headers=admin_api.headers, **kw)


def test_models_lists_versions_newest_first_then_the_baked_one(admin_api, models):
    r = _call(admin_api, "get", "/api/admin/models")
    assert r.status_code == 200, r.body
    body = r.json_body
    assert body["serving"] == BAKED and body["previous"] is None
    assert [(v["model_version"], v["baked"], v["serving"]) for v in body["versions"][:2]] == [
        ("v2", False, False), ("v1", False, False)]
    baked = body["versions"][2]
    assert baked["baked"] and baked["serving"] and baked["links"] == {"promote": "/api/admin/models/baked/promote"}
    assert body["versions"][0]["by_domain"] == {"Topcon": {"n": 40, "auc": 0.8, "sensitivity": 0.7, "specificity": 0.75}}


def test_promote_and_roll_back_move_the_pointer_and_are_audited(admin_api, models):
    registry, _ = models
    assert _call(admin_api, "post", "/api/admin/models/rollback").status_code == 409  # never changed
    r = _call(admin_api, "post", "/api/admin/models/v2/promote")
    assert r.status_code == 200 and r.json_body == {"serving": "v2", "previous": BAKED}
    assert registry.current() == "v2"
    listed = _call(admin_api, "get", "/api/admin/models").json_body
    assert listed["serving"] == "v2" and listed["previous"] == BAKED
    assert [v["serving"] for v in listed["versions"]] == [True, False, False]

    r = _call(admin_api, "post", "/api/admin/models/rollback")
    assert r.status_code == 200 and r.json_body == {"serving": BAKED, "previous": "v2"}
    assert registry.current() == BAKED
    actions = [(e["action"], e["details"]["version"]) for e in admin_api.db["audit"].find().sort("at", 1)]
    assert actions == [("promote", "v2"), ("rollback", BAKED)]


def test_promote_refuses_unknown_and_malformed_versions(admin_api, models):
    registry, _ = models
    r = _call(admin_api, "post", "/api/admin/models/v9/promote")
    assert r.status_code == 404 and r.json_body["error"]["code"] == "not_found"
    r = _call(admin_api, "post", "/api/admin/models/bad%20version/promote")
    assert r.status_code == 400 and r.json_body["error"]["code"] == "invalid_version"
    assert registry.current() == BAKED and admin_api.db["audit"].count_documents({}) == 0


def test_model_routes_need_an_admin(admin_api, models):
    assert admin_api.api.get("/api/admin/models").status_code == 401
    assert admin_api.api.post("/api/admin/models/v2/promote").status_code == 401
    viewer = admin_api.cognito.viewer["AccessToken"]
    r = admin_api.api.post("/api/admin/models/v2/promote", headers={"Authorization": f"Bearer {viewer}"})
    assert r.status_code == 403 and models[0].current() == BAKED


def test_asking_for_a_comparison_stores_it_queued_and_queues_the_job(admin_api, aws, models):
    registry, queue = models
    r = _call(admin_api, "post", "/api/admin/models/v2/comparison")
    assert r.status_code == 202, r.body
    assert r.json_body["status"] == "queued" and r.json_body["current"] == BAKED
    assert [json.loads(m["body"]) for m in drain(aws, queue)] == [{"papila_compare": "v2"}]
    got = _call(admin_api, "get", "/api/admin/models/v2/comparison")
    assert got.status_code == 200 and got.json_body["status"] == "queued"
    assert _call(admin_api, "get", "/api/admin/models").json_body["versions"][0]["comparison"]["status"] == "queued"
    assert _call(admin_api, "get", "/api/admin/models/v1/comparison").status_code == 404
    registry.promote("v1")
    r = _call(admin_api, "post", "/api/admin/models/v1/comparison")
    assert r.status_code == 409 and r.json_body["error"]["code"] == "same_model"
    assert admin_api.db["audit"].count_documents({"action": "compare"}) == 1


def test_a_comparison_its_job_never_finished_shows_failed():
    state = comparisons.requested("v2", BAKED)
    assert comparisons.shown(state)["status"] == "queued"
    later = now() + comparisons.STALLED_AFTER + timedelta(seconds=1)
    shown = comparisons.shown(state, later)
    assert shown["status"] == "failed" and shown["error"]["code"] == "comparison_stalled"


# ---------------------------------------------------------------- the compare job


class BrightnessModel:
    """Grades by the crop's mean red (a stand-in for weights): `flip` grades the other way round."""

    input_size = 224

    def __init__(self, flip: bool) -> None:
        self.flip = flip

    def predict(self, batch: np.ndarray) -> list[Prediction]:
        red = float(batch[0, ..., 0].mean())
        p = 1 / (1 + np.exp(-(red - float(np.median(batch[0, ..., 0]))) / 5))
        return [Prediction(1 - p if self.flip else p, np.zeros((7, 7), np.float32))]


def _confirmed(service, aws, images, n: int) -> list[str]:
    ids = []
    for i in range(n):
        label = "glaucoma" if i % 2 else "normal"
        sid = put_screening(service, aws, images, true_label=label,
                            metadata={"subject_id": f"p{i // 2}", "camera": "Topcon" if i < 6 else "Canon"})
        photo = encode(make_fundus(640, 480, seed=i), "JPEG")
        record = service.store.get(sid)
        aws.s3.put_object(Bucket=aws.bucket, Key=record["original_key"], Body=photo, ContentType="image/jpeg")
        ids.append(sid)
    return ids


def test_held_out_drops_every_screening_of_a_person_the_candidate_trained_on():
    def rec(sid, subject, label="glaucoma"):
        return {"_id": sid, "original_key": f"uploads/{sid}/original.jpg", "created_at": now(),
                "feedback": {"true_label": label, "metadata": {"subject_id": subject} if subject else {}}}

    records = [rec("a", "p1"), rec("b", "p1"), rec("c", "p2", "normal"), rec("d", None), rec("e", None, "suspect")]
    cases, counts = held_out(records, {"screening_ids": ["a", "d"], "subject_ids": ["p1"]})
    assert [c.screening_id for c in cases] == ["c"]  # b: the same person as a; e: not a confirmed label
    assert counts == {"confirmed": 4, "held_out": 1, "excluded_training": 3, "graded": 1, "glaucoma": 0, "normal": 1}


def test_roc_points_run_from_the_origin_to_the_corner_and_match_the_auc():
    rng = np.random.default_rng(1)
    y = rng.random(300) < 0.4
    s = np.where(y, rng.normal(1, 1, 300), rng.normal(0, 1, 300))
    roc = roc_points(y, s, points=1000)
    assert (roc["fpr"][0], roc["tpr"][0], roc["fpr"][-1], roc["tpr"][-1]) == (0, 0, 1, 1)
    assert np.trapezoid(roc["tpr"], roc["fpr"]) == pytest.approx(roc_auc(y, s), abs=1e-3)
    assert len(roc_points(y, s)["fpr"]) <= 101


def test_the_job_grades_held_out_cases_with_both_models(admin_api, service, aws, images, models):
    registry, _ = models
    ids = _confirmed(service, aws, images, 10)
    aws.s3.put_object(Bucket=aws.bucket, Key="models/v2/training_set.json",
                      Body=json.dumps({"screening_ids": [ids[0]], "subject_ids": ["p1"]}).encode())
    registry.save_comparison("v2", comparisons.requested("v2", BAKED))
    cards = {"v2": {"model_version": "v2", "threshold": 0.5}, BAKED: {"model_version": "baked-v", "threshold": 0.4}}
    job = Comparison(service.store, ImageBucket(aws.bucket), registry,
                     lambda v: (BrightnessModel(flip=v == BAKED), cards[v]))
    record = SQSRecord({"messageId": "m", "body": comparisons.message("v2"),
                        "attributes": {"ApproximateReceiveCount": "1"}})
    compare_record(job, record, 3)

    body = _call(admin_api, "get", "/api/admin/models/v2/comparison").json_body
    assert body["status"] == "done", body
    # p0 (ids 0, 1) and p1 (ids 2, 3) trained the candidate: 6 of 10 held out
    assert body["cases"] == {"confirmed": 10, "held_out": 6, "excluded_training": 4, "graded": 6,
                             "glaucoma": 3, "normal": 3}
    candidate, current = body["models"]
    assert (candidate["role"], candidate["model_version"], current["role"], current["model_version"]) == (
        "candidate", "v2", "current", "baked-v")
    assert set(candidate["by_camera"]) == {"Topcon", "Canon"}
    assert candidate["by_camera"]["Topcon"]["n"] + candidate["by_camera"]["Canon"]["n"] == 6
    graded = candidate["overall"]["done"]
    assert graded == current["overall"]["done"] and graded > 0
    # the two models rank the same photos in opposite orders
    assert candidate["overall"]["auc"] == pytest.approx(1 - current["overall"]["auc"], abs=1e-3)
    assert candidate["roc"]["fpr"][0] == 0 and candidate["roc"]["tpr"][-1] == 1


def test_the_figures_are_papila_evaluates(service, aws, images, models):
    """What the job stores is screening_metrics on the same probabilities (refusals count as misses)."""
    from papila.usecases.compare import column, figures, grade

    _ = models
    ids = _confirmed(service, aws, images, 6)
    cases, _ = held_out(service.store.confirmed({}, now()), None)
    assert {c.screening_id for c in cases} == set(ids)
    model, card = BrightnessModel(flip=False), {"model_version": "v2", "threshold": 0.5}
    p = grade(cases, ImageBucket(aws.bucket), model, card)
    labels = np.array([c.label == "glaucoma" for c in cases])
    expected = screening_metrics(labels, p, 0.5)
    got = column("candidate", card, cases, p)["overall"]
    assert got == figures(labels, p, 0.5)
    assert got["n"] == expected["n"] and got["done"] == expected["done"]
    for name in ("auc", "sensitivity", "specificity"):
        if not np.isnan(expected[name]):
            assert got[name] == pytest.approx(expected[name], abs=1e-4)


def test_a_job_whose_model_will_not_load_ends_failed(service, aws, images, models):
    registry, _ = models
    _confirmed(service, aws, images, 2)
    registry.save_comparison("v2", {**comparisons.requested("v2", BAKED), "requested_at": iso(now())})

    def broken(version):
        raise OSError("corrupt model")

    result = Comparison(service.store, ImageBucket(aws.bucket), registry, broken).run("v2")
    assert result["status"] == "failed" and result["error"]["code"] == "model_unavailable"
    assert registry.comparison("v2")["status"] == "failed"
    # a repeated message changes nothing: the comparison is finished
    assert Comparison(service.store, ImageBucket(aws.bucket), registry, broken).run("v2")["status"] == "failed"
