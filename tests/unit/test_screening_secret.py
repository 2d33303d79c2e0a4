"""Knowing a screening's id is not enough (issue 12, defect 8): writing into it, or reading its clinical
feedback, takes the secret its create returned once; the record keeps only a hash. And a create sent
again with the same Idempotency-Key is the same screening (a retry after a lost answer)."""

from __future__ import annotations

import io
import json

from pypdf import PdfReader

FEEDBACK = {"diagnosis_correct": False, "true_label": "normal",
            "metadata": {"age": 63, "sex": "female", "iop_mmhg": 24, "notes": "seen in clinic"}}
PRESIGNED = {"filename": "left.png", "content_type": "image/png", "size": 1000, "consent": True}


def inline(api, images, **headers):
    return api.post("/api/screenings", {"filename": "eye.png", "content_type": "image/png", "consent": True,
                                        "image_base64": images.b64(images.png())}, headers=headers)


def done_with_feedback(api, images, worker) -> str:
    r = inline(api, images)
    assert r.status_code == 202, r.body
    sid = r.json_body["id"]
    worker.finish(sid)
    assert api.put(f"/api/screenings/{sid}/feedback", FEEDBACK).status_code == 200
    return sid


def code(response) -> tuple[int, str]:
    return response.status_code, json.loads(response.body)["error"]["code"]


def test_the_secret_is_returned_once_and_stored_only_as_a_hash(api, images, service):
    r = inline(api, images)
    secret = r.json_body["secret"]
    assert len(secret) >= 40
    sid = r.json_body["id"]
    stored = service.store.get(sid)
    assert secret not in json.dumps(stored, default=str)
    assert stored["secret_hash"] and stored["secret_hash"] != secret
    again = api.get(f"/api/screenings/{sid}")
    assert again.status_code == 200 and "secret" not in again.json_body and "secret_hash" not in again.json_body


def test_a_stranger_reads_the_result_but_not_the_feedback(api, images, worker):
    sid = done_with_feedback(api, images, worker)
    stranger = api.get(f"/api/screenings/{sid}", own=False).json_body
    assert stranger["result"]["probability_glaucoma"] == worker.result["probability_glaucoma"]
    assert "feedback" not in stranger
    owner = api.get(f"/api/screenings/{sid}").json_body
    assert owner["feedback"]["metadata"]["iop_mmhg"] == 24
    assert code(api.get(f"/api/screenings/{sid}", own=False, headers={"X-Screening-Secret": "guess"})) == \
        (403, "secret_invalid")
    # the 2020 client's read of the probability by id stays open
    assert api.get(f"/api/getDiagnosis/{sid}", own=False).json_body == {
        "diagnosisResult": worker.result["probability_glaucoma"]}


def test_feedback_takes_this_screenings_secret(api, images, worker, service):
    sid = done_with_feedback(api, images, worker)
    other = inline(api, images).json_body["secret"]
    before = service.store.get(sid)
    changed = {"diagnosis_correct": True, "true_label": "glaucoma", "metadata": {"age": 20}}
    assert code(api.put(f"/api/screenings/{sid}/feedback", changed, own=False)) == (401, "secret_required")
    assert code(api.put(f"/api/screenings/{sid}/feedback", changed, own=False,
                        headers={"X-Screening-Secret": other})) == (403, "secret_invalid")
    assert service.store.get(sid) == before
    assert api.put(f"/api/screenings/{sid}/feedback", changed).json_body["feedback"]["true_label"] == "glaucoma"


def test_rerun_takes_the_secret(api, images, worker, service):
    sid = done_with_feedback(api, images, worker)
    assert code(api.post(f"/api/screenings/{sid}/rerun", {}, own=False)) == (401, "secret_required")
    assert service.store.get(sid)["status"] == "done"
    assert api.post(f"/api/screenings/{sid}/rerun", {}).status_code == 202


def test_the_report_carries_the_feedback_only_for_the_owner(api, images, worker):
    sid = done_with_feedback(api, images, worker)

    def text(**kw) -> str:
        r = api.get(f"/api/screenings/{sid}/report", headers={"Accept": "application/pdf"}, **kw)
        assert r.status_code == 200, r.body
        return " ".join((page.extract_text() or "") for page in PdfReader(io.BytesIO(r.body)).pages)

    assert "seen in clinic" in text()
    stranger = text(own=False)
    assert "seen in clinic" not in stranger and worker.result["referral"].split()[0] in stranger


def test_a_record_from_before_secrets_takes_no_writes(api, images, worker, service):
    sid = done_with_feedback(api, images, worker)
    service.store.col.update_one({"_id": sid}, {"$unset": {"secret_hash": ""}})
    assert code(api.put(f"/api/screenings/{sid}/feedback", FEEDBACK)) == (403, "secret_invalid")


def test_the_seed_client_gets_its_secret_in_a_header(api, images, service):
    from tests.unit.test_api_seed import process_body

    r = api.post("/api/process", process_body(images), own=False)
    sid, secret = r.body.decode(), r.headers["X-Screening-Secret"]
    assert code(api.post("/api/metadata", {"uuid": sid, "age": 70}, own=False)) == (401, "secret_required")
    assert "feedback" not in service.store.get(sid)
    # in the header, or beside the uuid in the body
    r = api.post("/api/metadata", {"uuid": sid, "secret": secret, "age": 70}, own=False)
    assert r.status_code == 200 and r.json_body == {"uuid": sid, "metadata": {"age": 70}}
    r = api.post("/api/metadata", {"uuid": sid, "age": 71}, own=False, headers={"X-Screening-Secret": secret})
    assert r.status_code == 200 and service.store.get(sid)["feedback"]["metadata"] == {"age": 71}


def test_a_retried_create_is_the_same_screening_with_a_fresh_secret(api, aws, service):
    key = {"Idempotency-Key": "5b0c8f9e-3f4e-4c61-9d7a-0d1c2e3f4a5b"}
    first = api.post("/api/screenings", PRESIGNED, headers=key, own=False)
    again = api.post("/api/screenings", PRESIGNED, headers=key, own=False)
    assert first.status_code == again.status_code == 201
    assert again.json_body["id"] == first.json_body["id"]
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert again.json_body["upload"]["fields"]["key"] == first.json_body["upload"]["fields"]["key"]
    assert service.store.col.count_documents({}) == 1
    sid = first.json_body["id"]
    # the last answer's secret is the one that works
    assert code(api.get(f"/api/screenings/{sid}", own=False,
                        headers={"X-Screening-Secret": first.json_body["secret"]})) == (403, "secret_invalid")
    assert api.get(f"/api/screenings/{sid}", own=False,
                   headers={"X-Screening-Secret": again.json_body["secret"]}).status_code == 200


def test_an_inline_retry_stores_the_photo_once(api, images, aws, service):
    key = {"Idempotency-Key": "retry-1"}
    first, again = inline(api, images, **key), inline(api, images, **key)
    assert first.status_code == again.status_code == 202
    assert again.json_body["id"] == first.json_body["id"]
    assert service.store.col.count_documents({}) == 1
    assert len(aws.s3.list_objects_v2(Bucket=aws.bucket).get("Contents", [])) == 1


def test_a_key_sent_with_another_request_is_refused(api, aws, service):
    key = {"Idempotency-Key": "retry-2"}
    assert api.post("/api/screenings", PRESIGNED, headers=key).status_code == 201
    other = {**PRESIGNED, "filename": "right.png"}
    assert code(api.post("/api/screenings", other, headers=key)) == (422, "idempotency_key_reused")
    assert service.store.col.count_documents({}) == 1
    # without a key, the same body twice is two screenings
    assert api.post("/api/screenings", PRESIGNED).json_body["id"] != api.post("/api/screenings", PRESIGNED).json_body["id"]


def test_two_racing_creates_with_one_key_insert_one_record(service):
    from papila.core.records import Status, new_record

    def record(sid: str) -> dict:
        r = new_record(screening_id=sid, filename="a.png", content_type="image/png", original_key=f"uploads/{sid}",
                       status=Status.AWAITING_UPLOAD, crop=None, consent={"accepted": True})
        r["idempotency"] = {"key_hash": "k" * 64, "request_hash": "r" * 64, "status": 201}
        return r

    assert service.store.insert(record("3f1c2d9e-0000-4000-8000-000000000001")) is None
    winner = service.store.insert(record("3f1c2d9e-0000-4000-8000-000000000002"))
    assert winner is not None and winner["_id"] == "3f1c2d9e-0000-4000-8000-000000000001"
    assert service.store.col.count_documents({}) == 1
