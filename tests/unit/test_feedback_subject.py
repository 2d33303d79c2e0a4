"""The feedback metadata's pseudonymous `subject_id` (both eyes / repeat photos of one person share it, so
training folds can be grouped by person): validated on PUT .../feedback and the seed route POST
/api/metadata, shown in the OpenAPI document."""

from __future__ import annotations

import pytest
from papila.api.openapi import document

from tests.unit.test_api_screenings import assert_error, inline_body
from tests.unit.test_api_seed import process_body

GOOD = ["hygd-17", "P.017_b", "a", "x" * 64, "0"]
BAD = [
    ("", "empty"),
    ("x" * 65, "too long"),
    ("Jane Doe", "a space"),
    ("p/17", "a slash"),
    ("ñandú", "not ASCII"),
    ("id\n", "a newline"),
    (17, "a number, not a string"),
]


@pytest.fixture
def done_id(api, images, worker):
    sid = api.post("/api/screenings", inline_body(images)).json_body["id"]
    worker.finish(sid)
    return sid


@pytest.mark.parametrize("subject_id", GOOD)
def test_feedback_keeps_a_good_subject_id(api, service, done_id, subject_id):
    body = {"diagnosis_correct": True, "true_label": "glaucoma",
            "metadata": {"subject_id": subject_id, "eye": "left", "camera": "Topcon DRI OCT Triton"}}
    r = api.put(f"/api/screenings/{done_id}/feedback", body)
    assert r.status_code == 200, r.body
    assert r.json_body["feedback"]["metadata"] == body["metadata"]
    assert service.store.get(done_id)["feedback"]["metadata"]["subject_id"] == subject_id
    assert api.get(f"/api/screenings/{done_id}").json_body["feedback"]["metadata"]["subject_id"] == subject_id


@pytest.mark.parametrize(("subject_id", "why"), BAD, ids=[why for _, why in BAD])
def test_feedback_refuses_a_bad_subject_id(api, service, done_id, subject_id, why):
    body = {"diagnosis_correct": True, "true_label": "glaucoma", "metadata": {"subject_id": subject_id}}
    err = assert_error(api.put(f"/api/screenings/{done_id}/feedback", body), 400, "invalid_request")
    assert [d["field"] for d in err["details"]] == ["metadata.subject_id"], why
    assert "metadata.subject_id" in err["message"]
    if isinstance(subject_id, str) and subject_id:
        assert subject_id not in err["message"]  # never echoes the input
    assert "feedback" not in service.store.get(done_id)


def test_seed_metadata_accepts_a_subject_id(api, images, service):
    sid = api.post("/api/process", process_body(images)).body.decode()
    r = api.post("/api/metadata", {"uuid": sid, "subject_id": "hygd-3", "eye": "right"})
    assert r.status_code == 200, r.body
    assert r.json_body == {"uuid": sid, "metadata": {"subject_id": "hygd-3", "eye": "right"}}
    assert service.store.get(sid)["feedback"]["metadata"]["subject_id"] == "hygd-3"


@pytest.mark.parametrize("subject_id", ["x" * 65, "has space", ""])
def test_seed_metadata_refuses_a_bad_subject_id(api, images, service, subject_id):
    sid = api.post("/api/process", process_body(images)).body.decode()
    err = assert_error(api.post("/api/metadata", {"uuid": sid, "subject_id": subject_id}), 400, "invalid_request")
    assert [d["field"] for d in err["details"]] == ["subject_id"]
    assert "feedback" not in service.store.get(sid)


def test_openapi_documents_the_subject_id():
    doc = document()
    prop = doc["components"]["schemas"]["FeedbackMetadata"]["properties"]["subject_id"]
    string = next(s for s in prop["anyOf"] if s.get("type") == "string")
    assert string["maxLength"] == 64 and string["minLength"] == 1
    assert string["pattern"] == "^[A-Za-z0-9._-]{1,64}$"
    assert "subject_id" in doc["paths"]["/api/admin/exports"]["post"]["description"]


@pytest.mark.parametrize(("typed", "stored"), [("  Topcon   DRI OCT Triton ", "Topcon DRI OCT Triton"),
                                                ("Topcon", "Topcon"), ("   ", None)])
def test_feedback_camera_is_stored_with_its_spaces_collapsed(api, service, done_id, typed, stored):
    body = {"diagnosis_correct": True, "true_label": "glaucoma", "metadata": {"camera": typed}}
    r = api.put(f"/api/screenings/{done_id}/feedback", body)
    assert r.status_code == 200, r.body
    assert service.store.get(done_id)["feedback"]["metadata"].get("camera") == stored
