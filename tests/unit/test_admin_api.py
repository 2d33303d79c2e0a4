"""The admin routes behind a real admin token: list filters and cursor paging, the full record with a
presigned original, erasure (no object and no record left), stats, and the audit log they write."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import jwt
import pytest
from papila.api import admin
from papila.core import keys

from tests.unit.admin_support import T0, bodies, drain, objects_of, put_screening

pytest_plugins = ["tests.unit.admin_fixtures"]

UNKNOWN = str(uuid.uuid4())


def _ok(response, status: int = 200):
    assert response.status_code == status, response.body
    return response.json_body


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.body
    assert response.json_body["error"]["code"] == code
    return response.json_body["error"]


@pytest.fixture
def put(service, aws, images):
    def make(**kw):
        return put_screening(service, aws, images, **kw)

    return make


def _list(admin_api, query: str = "") -> dict:
    return _ok(admin_api.api.get(f"/api/admin/screenings{'?' + query if query else ''}", headers=admin_api.headers))


# ---------------------------------------------------------------- list


def test_list_is_newest_first_with_cursor_paging(admin_api, put):
    ids = [put(created_at=T0 + timedelta(hours=i)) for i in range(7)]
    # Two with the very same instant: the id breaks the tie, so paging neither skips nor repeats.
    ids += [put(created_at=T0 + timedelta(hours=3)) for _ in range(2)]
    expected = sorted(ids, key=lambda i: (admin_api.db["screenings"].find_one({"_id": i})["created_at"], i),
                      reverse=True)
    seen, cursor, pages = [], None, 0
    while True:
        page = _list(admin_api, "limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert page["limit"] == 2 and len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert pages == 5


def test_list_items_carry_what_the_panel_shows(admin_api, put):
    sid = put(true_label="glaucoma", diagnosis_correct=True)
    item = _list(admin_api)["items"][0]
    assert item["id"] == sid and item["status"] == "done"
    assert item["result"]["label"] == "glaucoma" and item["result"]["model_version"] == "vgg19-test"
    assert item["feedback"]["true_label"] == "glaucoma" and item["has_feedback"] is True
    assert item["consent"]["accepted"] is True and item["consent"]["version"] == "2026-11"
    assert item["links"]["admin"] == f"/api/admin/screenings/{sid}"
    assert "original_key" not in item and "_id" not in item and "original" not in item
    entry = admin_api.db["audit"].find_one({"action": "read"}, {"_id": 0})
    assert entry["details"] == {"view": "list", "filters": {}, "ids": [sid]} and "screening_id" not in entry


def test_list_filters(admin_api, put):
    a = put(created_at=T0, label="glaucoma", true_label="glaucoma")
    b = put(created_at=T0 + timedelta(days=1), label="normal")
    c = put(created_at=T0 + timedelta(days=2), status="queued")
    d = put(created_at=T0 + timedelta(days=3), label="normal", true_label="glaucoma", diagnosis_correct=False)

    def ids(query: str) -> set[str]:
        return {item["id"] for item in _list(admin_api, query)["items"]}

    assert ids("") == {a, b, c, d}
    assert ids("status=done") == {a, b, d}
    assert ids("status=queued") == {c}
    assert ids("label=normal") == {b, d}
    assert ids("feedback=given") == {a, d}
    assert ids("feedback=missing") == {b, c}
    assert ids("true_label=glaucoma") == {a, d}
    assert ids("from=2026-11-02") == {b, c, d}
    assert ids("to=2026-11-02") == {a, b}  # a bare date includes its whole day
    assert ids("from=2026-11-02T00:00:00Z&to=2026-11-03T23:59:59.999Z") == {b, c}
    assert ids("from=2026-11-02T13:00:00%2B01:00") == {b, c, d}  # offsets are honoured: 12:00Z
    assert ids("status=done&label=normal&feedback=given") == {d}
    assert ids("status=&label=") == {a, b, c, d}  # empty = no filter (what a cleared form sends)


@pytest.mark.parametrize("query, field", [
    ("status=finished", "status"), ("label=suspect", "label"), ("feedback=yes", "feedback"),
    ("limit=0", "limit"), ("limit=201", "limit"), ("limit=ten", "limit"), ("from=yesterday", "from"),
    ("to=2026-13-01", "to"), ("from=2026-11-05&to=2026-11-01", "body"), ("colour=red", "colour"),
])
def test_bad_query_parameters_are_400(admin_api, query, field):
    error = _error(admin_api.api.get(f"/api/admin/screenings?{query}", headers=admin_api.headers), 400,
                   "invalid_request")
    assert field in {d["field"] for d in error["details"]}


@pytest.mark.parametrize("cursor", ["junk", "!!!", base64.urlsafe_b64encode(b'["x","y"]').decode(),
                                    base64.urlsafe_b64encode(json.dumps(["2026-11-01T00:00:00Z", "not-a-uuid"]).encode()).decode(),
                                    base64.urlsafe_b64encode(b"{}").decode()])
def test_bad_cursors_are_400(admin_api, cursor):
    _error(admin_api.api.get(f"/api/admin/screenings?cursor={cursor}", headers=admin_api.headers), 400,
           "invalid_cursor")


# ---------------------------------------------------------------- detail


def test_detail_has_the_original_consent_history_feedback_and_is_audited(admin_api, put, aws):
    sid = put(true_label="normal", metadata={"age": 63, "eye": "left"})
    admin_api.db["screenings"].update_one({"_id": sid}, {"$push": {"history": {"status": "done", "at": T0}}})
    body = _ok(admin_api.api.get(f"/api/admin/screenings/{sid}", headers=admin_api.headers))
    assert body["id"] == sid and body["consent"] == {"accepted": True, "at": "2026-11-01T12:00:00.000Z",
                                                     "version": "2026-11"}
    assert body["feedback"]["metadata"] == {"age": 63, "eye": "left"}
    assert body["history"] == [{"status": "done", "at": "2026-11-01T12:00:00.000Z"}]
    assert body["content_type"] == "image/jpeg" and body["attempt"] == 0
    url = body["original"]["url"]
    assert keys.original_key(sid, "jpg") in url and "Signature" in url and body["original"]["expires_in"] == 300
    assert body["links"]["original"] == url
    # the crop and heat map as short-lived URLs too: an account's screening hides them on the public routes
    for name, key in (("crop", keys.crop_key(sid)), ("heatmap", keys.heatmap_key(sid))):
        assert key in body["links"][name] and "Signature" in body["links"][name]
        got = requests_get(body["links"][name])
        assert got == aws.s3.get_object(Bucket=aws.bucket, Key=key)["Body"].read()

    entries = list(admin_api.db["audit"].find({"screening_id": sid}, {"_id": 0}))
    assert sorted(e["action"] for e in entries) == ["download", "read"]
    sub = jwt.decode(admin_api.cognito.admin["AccessToken"], options={"verify_signature": False})["sub"]
    assert all(e["actor"]["sub"] == sub and set(e["actor"]) == {"sub", "username"} for e in entries)
    # Ids only: no file name, no metadata, no image bytes.
    assert sorted(json.dumps(e["details"], sort_keys=True) for e in entries) == [
        '{"expires_in": 300, "object": "original"}', '{"view": "detail"}']


def test_detail_of_a_screening_never_uploaded_has_no_original_url(admin_api, put):
    sid = put(status="awaiting_upload", with_original=False)
    body = _ok(admin_api.api.get(f"/api/admin/screenings/{sid}", headers=admin_api.headers))
    assert body["original"] is None
    assert [e["action"] for e in admin_api.db["audit"].find({"screening_id": sid})] == ["read"]


def test_detail_unknown_and_malformed_ids(admin_api):
    _error(admin_api.api.get(f"/api/admin/screenings/{UNKNOWN}", headers=admin_api.headers), 404, "not_found")
    _error(admin_api.api.get("/api/admin/screenings/nope", headers=admin_api.headers), 400, "invalid_id")


# ---------------------------------------------------------------- erasure


def test_delete_erases_every_object_and_the_record(admin_api, put, aws, service):
    sid = put(true_label="glaucoma")
    other = put()
    aws.s3.put_object(Bucket=aws.bucket, Key=f"results/{sid}/extra/anything.bin", Body=b"x")
    assert len(objects_of(aws, sid)) == 4
    r = admin_api.api.request("DELETE", f"/api/admin/screenings/{sid}", headers=admin_api.headers)
    assert r.status_code == 204, r.body
    assert r.body in (b"", "", None)
    assert objects_of(aws, sid) == []
    assert service.store.get(sid) is None
    assert len(objects_of(aws, other)) == 3 and service.store.get(other) is not None  # nothing else touched
    entry = admin_api.db["audit"].find_one({"screening_id": sid, "action": "delete"})
    assert entry["details"] == {"objects": 4, "record": True}
    # Gone for every route: admin and public.
    _error(admin_api.api.get(f"/api/admin/screenings/{sid}", headers=admin_api.headers), 404, "not_found")
    _error(admin_api.api.get(f"/api/screenings/{sid}"), 404, "not_found")
    _error(admin_api.api.request("DELETE", f"/api/admin/screenings/{sid}", headers=admin_api.headers), 404, "not_found")


def test_delete_through_the_upload_route_leaves_nothing(admin_api, api, images, worker, aws, service):
    # A screening made by the public API and finished by the (simulated) worker, then erased.
    r = api.post("/api/screenings", {"filename": "eye.png", "content_type": "image/png",
                                     "image_base64": images.b64(images.png()), "consent": True})
    sid = r.json_body["id"]
    worker.finish(sid)
    assert len(objects_of(aws, sid)) == 3
    assert admin_api.api.request("DELETE", f"/api/admin/screenings/{sid}", headers=admin_api.headers).status_code == 204
    assert objects_of(aws, sid) == [] and service.store.get(sid) is None


def test_delete_bad_id_is_400(admin_api):
    _error(admin_api.api.request("DELETE", "/api/admin/screenings/x", headers=admin_api.headers), 400, "invalid_id")


# ---------------------------------------------------------------- stats


def test_stats_counts_status_label_and_agreement(admin_api, put):
    put(label="glaucoma", true_label="glaucoma")  # agree (confirmed label)
    put(label="glaucoma", true_label="normal")  # disagree
    put(label="normal", diagnosis_correct=True)  # agree (by diagnosis_correct)
    put(label="normal", diagnosis_correct=False, true_label="suspect")  # disagree
    put(label="normal", true_label="unknown")  # unknown
    put(label="normal", model_version="vgg19-next")  # missing
    put(status="queued")
    put(status="rejected")
    body = _ok(admin_api.api.get("/api/admin/stats", headers=admin_api.headers))
    assert body["total"] == 8
    assert body["by_status"] == {"awaiting_upload": 0, "queued": 1, "processing": 0, "done": 6, "rejected": 1,
                                 "failed": 0}
    assert body["by_label"] == {"glaucoma": 2, "normal": 4}
    assert body["by_true_label"] == {"glaucoma": 1, "normal": 1, "suspect": 1, "unknown": 1}
    assert body["by_model_version"] == {"vgg19-test": 5, "vgg19-next": 1}
    assert body["feedback"] == {"given": 5, "missing": 1, "agree": 2, "disagree": 2, "unknown": 1}
    assert body["agreement_rate"] == 0.5


def test_stats_of_nothing(admin_api):
    body = _ok(admin_api.api.get("/api/admin/stats", headers=admin_api.headers))
    assert body["total"] == 0 and body["agreement_rate"] is None


# ---------------------------------------------------------------- exports (the API's half)


def test_create_export_records_it_and_hands_it_to_the_queue(admin_api, aws):
    drain(aws)
    r = admin_api.api.post("/api/admin/exports", {"true_label": "glaucoma", "from": "2026-11-01"},
                           headers=admin_api.headers)
    body = _ok(r, 202)
    assert body["status"] == "queued" and r.headers["Location"] == f"/api/admin/exports/{body['id']}"
    assert body["filters"] == {"true_label": "glaucoma", "from": "2026-11-01T00:00:00.000Z"}
    assert bodies(drain(aws)) == [{"papila_export": body["id"]}]
    assert drain(aws, aws.queue_url) == []  # never on the inference queue: exports have their own
    assert admin_api.db["audit"].find_one({"export_id": body["id"]})["action"] == "export"
    # The admin API's connection made the exports' indexes (the export function's steps read by them).
    assert "export_seq" in admin_api.db["export_items"].index_information()
    assert "created_at_desc" in admin_api.db["exports"].index_information()
    status = _ok(admin_api.api.get(f"/api/admin/exports/{body['id']}", headers=admin_api.headers))
    assert status["status"] == "queued" and "download_url" not in status


def test_create_export_without_a_body(admin_api, aws):
    drain(aws)
    r = admin_api.api.request("POST", "/api/admin/exports", headers=admin_api.headers)
    assert _ok(r, 202)["filters"] == {}
    assert len(drain(aws)) == 1


@pytest.mark.parametrize("body", [{"label": "suspect"}, {"true_label": "unknown"}, {"colour": "red"},
                                  {"from": 20261101}, {"from": "2026-11-05", "to": "2026-11-01"}, [1, 2]])
def test_create_export_rejects_bad_filters(admin_api, aws, body):
    r = admin_api.api.post("/api/admin/exports", body, headers=admin_api.headers)
    assert r.status_code == 400 and r.json_body["error"]["code"] in ("invalid_request", "invalid_json")
    assert drain(aws) == []


def test_export_unknown_and_malformed_ids(admin_api):
    _error(admin_api.api.get(f"/api/admin/exports/{UNKNOWN}", headers=admin_api.headers), 404, "not_found")
    _error(admin_api.api.get("/api/admin/exports/zip", headers=admin_api.headers), 400, "invalid_id")


def test_create_export_that_cannot_be_queued_is_marked_failed(admin_api, aws):
    aws.sqs.delete_queue(QueueUrl=aws.export_queue_url)
    r = admin_api.api.post("/api/admin/exports", {}, headers=admin_api.headers)
    assert r.status_code >= 500
    record = admin_api.db["exports"].find_one({})
    assert record["status"] == "failed" and record["error"]["code"] == "export_not_started"


def test_cursor_round_trip():
    created = T0 + timedelta(milliseconds=5)
    assert admin.decode_cursor(admin.encode_cursor(created, UNKNOWN)) == (created, UNKNOWN)


def test_detail_of_a_refused_photo_shows_the_gate_scores_the_public_view_does_not(admin_api, put):
    sid = put(status="rejected")
    scores = {"luminance": 0.41, "sharpness": 0.12, "sharpness_min": 0.19}
    admin_api.db["screenings"].update_one({"_id": sid}, {"$set": {"error": {
        "code": "too_blurred", "message": "Out of focus.", "quality_scores": scores}}})
    body = _ok(admin_api.api.get(f"/api/admin/screenings/{sid}", headers=admin_api.headers))
    assert body["quality_scores"] == scores and body["error"]["code"] == "too_blurred"
    public = _ok(admin_api.api.get(f"/api/screenings/{sid}"))
    assert public["error"] == {"code": "too_blurred", "message": "Out of focus."}
    assert "quality_scores" not in json.dumps(public)


def requests_get(url: str) -> bytes:
    """A presigned URL fetched as the browser would (moto answers it in-process)."""
    import requests

    r = requests.get(url, timeout=10)
    assert r.status_code == 200, r.text
    return r.content
