"""The contract's screening routes through chalice.test.Client (moto S3/SQS, in-process SecantusDB)."""

from __future__ import annotations

import io
import uuid
from unittest import mock

import pytest
import requests
from papila.core import imaging, keys
from papila.core.records import Status
from PIL import Image

UNKNOWN = str(uuid.uuid4())


def inline_body(images, *, filename="left_eye.png", content_type="image/png", data=None, **extra):
    data = images.png() if data is None else data
    return {"filename": filename, "content_type": content_type, "image_base64": images.b64(data), "consent": True,
            **extra}


def presigned_body(**extra):
    return {"filename": "left_eye.jpg", "content_type": "image/jpeg", "size": 2483112, "consent": True, **extra}


def assert_error(response, status, code):
    assert response.status_code == status, response.body
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json_body
    assert set(body) >= {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def stored_keys(aws):
    return [o["Key"] for o in aws.s3.list_objects_v2(Bucket=aws.bucket).get("Contents", [])]


# ---------------------------------------------------------------- POST /api/screenings


def test_inline_upload_is_stored_and_queued(api, images, aws, service):
    r = api.post("/api/screenings", inline_body(images, crop={"x": 300, "y": 140, "size": 200}))
    assert r.status_code == 202
    body = r.json_body
    sid = body["id"]
    assert uuid.UUID(sid).version == 4
    assert body["status"] == "queued"
    assert body["filename"] == "left_eye.png"
    assert body["created_at"].endswith("Z") and body["updated_at"].endswith("Z")
    assert body["links"] == {"self": f"/api/screenings/{sid}", "crop": f"/api/screenings/{sid}/crop",
                             "heatmap": f"/api/screenings/{sid}/heatmap", "report": f"/api/screenings/{sid}/report"}
    assert r.headers["Location"] == f"/api/screenings/{sid}"
    assert "original_key" not in body and "_id" not in body and "history" not in body
    assert "result" not in body and "error" not in body

    record = service.store.get(sid)
    assert record["status"] == "queued"
    assert record["crop_request"] == {"x": 300, "y": 140, "size": 200}
    assert record["consent"]["accepted"] is True and record["consent"]["version"] == "2026-11"
    assert record["image"] == {"width": 640, "height": 480}
    assert record["original_key"] == keys.original_key(sid, "png")
    obj = aws.s3.get_object(Bucket=aws.bucket, Key=record["original_key"])
    assert obj["ContentType"] == "image/png"
    stored = obj["Body"].read()
    assert Image.open(io.BytesIO(stored)).size == (640, 480)
    # The API never sends to the queue itself: the S3 event does that.
    assert "Messages" not in aws.sqs.receive_message(QueueUrl=aws.queue_url, WaitTimeSeconds=0)


def test_inline_jpeg_has_exif_stripped_and_orientation_applied(api, images, aws, service):
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x010E] = "Patient Jane Doe 1961-02-03"  # ImageDescription
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    original = images.encode(images.fundus(640, 480), "JPEG", quality=92, exif=exif.tobytes())
    assert imaging.has_metadata(original) and b"Jane Doe" in original

    r = api.post("/api/screenings", inline_body(images, filename="EYE.JPG", content_type="image/jpeg", data=original))
    assert r.status_code == 202, r.body
    record = service.store.get(r.json_body["id"])
    assert record["original_key"].endswith("/original.jpg")
    stored = aws.s3.get_object(Bucket=aws.bucket, Key=record["original_key"])["Body"].read()
    assert b"Jane Doe" not in stored and b"SecretCam" not in stored
    assert not imaging.has_metadata(stored)
    with Image.open(io.BytesIO(stored)) as im:
        assert im.format == "JPEG"
        assert im.size == (480, 640)  # the EXIF rotation is baked into the pixels
        assert not im.getexif()
    assert record["image"] == {"width": 480, "height": 640}


def test_inline_data_url_and_tiff_accepted(api, images, aws):
    tiff = images.encode(images.fundus(320, 240), "TIFF")
    body = inline_body(images, filename="eye.TIFF", content_type="image/tiff", data=tiff)
    body["image_base64"] = "data:image/tiff;base64," + body["image_base64"]
    r = api.post("/api/screenings", body)
    assert r.status_code == 202, r.body
    assert any(k.endswith("/original.tiff") for k in stored_keys(aws))


def test_presigned_upload_answers_a_bound_post_form(api, aws, service):
    r = api.post("/api/screenings", presigned_body(crop={"x": 0, "y": 0, "size": 64}))
    assert r.status_code == 201, r.body
    body = r.json_body
    sid = body["id"]
    assert body["status"] == "awaiting_upload"
    upload = body["upload"]
    assert upload["expires_in"] == 900
    assert upload["fields"]["key"] == keys.original_key(sid, "jpg")
    assert upload["fields"]["Content-Type"] == "image/jpeg"
    assert "policy" in {k.lower() for k in upload["fields"]}
    record = service.store.get(sid)
    assert record["status"] == "awaiting_upload" and record["size"] == 2483112
    assert record["crop_request"] == {"x": 0, "y": 0, "size": 64}
    assert stored_keys(aws) == []  # nothing stored until the client posts the file

    # The form really works against (mocked) S3 and lands the object under the screening's key.
    jpeg = Image.new("RGB", (64, 64), (120, 60, 20))
    buf = io.BytesIO()
    jpeg.save(buf, "JPEG")
    posted = requests.post(upload["url"], data=upload["fields"], files={"file": ("x.jpg", buf.getvalue())}, timeout=10)
    assert posted.status_code in (200, 201, 204), posted.text
    assert stored_keys(aws) == [keys.original_key(sid, "jpg")]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"filename": "eye.gif", "content_type": "image/gif"}, "filename"),
        ({"filename": "eye.exe"}, "filename"),
        ({"filename": "noextension"}, "filename"),
        ({"content_type": "image/png"}, "body"),  # disagrees with .jpg
        ({"content_type": "text/plain"}, "content_type"),
        ({"size": 20 * 1024 * 1024 + 1}, "size"),
        ({"size": 0}, "size"),
        ({"size": "12"}, "size"),
        ({"size": None}, "body"),  # presigned mode needs the size
        ({"crop": {"x": 1, "y": 1, "size": 31}}, "crop.size"),
        ({"crop": {"x": 1, "y": 1}}, "crop.size"),
        ({"crop": {"x": 1.5, "y": 1, "size": 100}}, "crop.x"),
        ({"crop": {"x": "1", "y": 1, "size": 100}}, "crop.x"),
        ({"crop": {"x": 10**9, "y": 1, "size": 100}}, "crop.x"),
        ({"crop": {"x": 1, "y": 1, "size": 100, "z": 3}}, "crop.z"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_create_validation_errors(api, aws, service, change, field):
    r = api.post("/api/screenings", {**presigned_body(), **change})
    err = assert_error(r, 400, "invalid_request")
    assert field in [d["field"] for d in err["details"]]
    assert field.split(".")[0] in err["message"] or field == "body"
    assert service.store.col.count_documents({}) == 0


def test_validation_message_never_echoes_input(api, aws):
    r = api.post("/api/screenings", presigned_body(filename="Jane_Doe_1961.gif", content_type="image/gif"))
    assert r.status_code == 400
    assert b"Jane_Doe" not in r.body


@pytest.mark.parametrize("consent", [None, False, "true", 1, "yes"])
def test_consent_must_be_exactly_true(api, aws, service, consent):
    body = presigned_body()
    if consent is None:
        del body["consent"]
    else:
        body["consent"] = consent
    assert_error(api.post("/api/screenings", body), 400, "consent_required")
    assert service.store.col.count_documents({}) == 0


@pytest.mark.parametrize(
    ("raw", "code"),
    [(b"", "invalid_json"), (b"{not json", "invalid_json"), (b"[1, 2]", "invalid_json"), (b'"text"', "invalid_json")],
)
def test_bad_json_bodies(api, aws, raw, code):
    assert_error(api.post("/api/screenings", raw=raw), 400, code)


def test_wrong_request_content_type_is_a_contract_415(api, aws):
    r = api.post("/api/screenings", raw=b"filename=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(r, 415, "unsupported_media_type")


def test_inline_bad_base64(api, images, aws, service):
    body = inline_body(images)
    body["image_base64"] = "this is *not* base64!"
    assert_error(api.post("/api/screenings", body), 400, "invalid_base64")
    body["image_base64"] = ""
    assert_error(api.post("/api/screenings", body), 400, "invalid_base64")
    assert service.store.col.count_documents({}) == 0 and stored_keys(aws) == []


def test_inline_not_an_image(api, images, aws, service):
    body = inline_body(images, data=b"%PDF-1.7 definitely not a photo" * 10)
    assert_error(api.post("/api/screenings", body), 415, "unsupported_format")
    assert service.store.col.count_documents({}) == 0


def test_inline_bytes_must_match_content_type(api, images, aws, service):
    body = inline_body(images, filename="eye.jpg", content_type="image/jpeg", data=images.png())
    err = assert_error(api.post("/api/screenings", body), 415, "content_type_mismatch")
    assert "image/png" in err["message"]
    assert service.store.col.count_documents({}) == 0


def test_inline_truncated_image_is_unreadable(api, images, aws, service):
    data = images.jpeg()[:400]
    assert_error(api.post("/api/screenings", inline_body(images, filename="e.jpg", content_type="image/jpeg",
                                                          data=data)), 400, "unreadable_image")
    assert service.store.col.count_documents({}) == 0


def test_inline_too_small_image(api, images, aws):
    assert_error(api.post("/api/screenings", inline_body(images, data=images.png(40, 40))), 400, "image_too_small")


def test_inline_over_7_mib_is_413(api, images, aws, service):
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (7 * 1024 * 1024)
    assert_error(api.post("/api/screenings", inline_body(images, data=big)), 413, "image_too_large")
    assert service.store.col.count_documents({}) == 0


def test_inline_crop_entirely_outside_the_image(api, images, aws, service):
    for crop in ({"x": 640, "y": 0, "size": 100}, {"x": -100, "y": 10, "size": 100}, {"x": 0, "y": 480, "size": 64}):
        assert_error(api.post("/api/screenings", inline_body(images, crop=crop)), 400, "invalid_crop")
    # Partly outside is fine: the worker clamps/pads.
    assert api.post("/api/screenings", inline_body(images, crop={"x": -50, "y": 400, "size": 120})).status_code == 202
    assert service.store.col.count_documents({}) == 1


def test_presigned_crop_outside_is_accepted_size_unknown(api, aws):
    assert api.post("/api/screenings", presigned_body(crop={"x": 40000, "y": 40000, "size": 64})).status_code == 201


def test_nothing_half_stored_when_s3_put_fails(api, images, aws, service):
    with mock.patch.object(type(service.bucket), "put", side_effect=RuntimeError("S3 is down")):
        r = api.post("/api/screenings", inline_body(images))
    err = assert_error(r, 500, "internal_error")
    assert "S3" not in err["message"]
    assert service.store.col.count_documents({}) == 0
    assert stored_keys(aws) == []


def test_unreachable_dependency_is_503(api, images, aws, service):
    from botocore.exceptions import EndpointConnectionError

    with mock.patch.object(type(service.bucket), "put", side_effect=EndpointConnectionError(endpoint_url="http://x")):
        r = api.post("/api/screenings", inline_body(images))
    assert_error(r, 503, "service_unavailable")
    assert service.store.col.count_documents({}) == 0


# ---------------------------------------------------------------- GET /api/screenings/{id}


def test_poll_through_the_states(api, images, aws, worker, service):
    sid = api.post("/api/screenings", inline_body(images)).json_body["id"]
    assert api.get(f"/api/screenings/{sid}").json_body["status"] == "queued"
    service.store.move(sid, Status.PROCESSING)
    assert api.get(f"/api/screenings/{sid}").json_body["status"] == "processing"
    service.store.move(sid, Status.QUEUED)
    stored = {**worker.result, "cdr": {"vertical": 0.61}, "later": "a field no response model declares"}
    worker.finish(sid, stored)
    r = api.get(f"/api/screenings/{sid}")
    assert r.status_code == 200
    body = r.json_body
    assert body["status"] == "done"
    assert body["result"] == stored  # passed through as the worker stored it (further fields may appear)
    assert "error" not in body and body["consent"] is True
    assert "attempt" not in body and "content_type" not in body


def test_rejected_screening_carries_its_error(api, images, aws, worker):
    sid = api.post("/api/screenings", inline_body(images)).json_body["id"]
    worker.reject(sid)
    body = api.get(f"/api/screenings/{sid}").json_body
    assert body["status"] == "rejected"
    assert body["error"] == {"code": "not_fundus", "message": "This is not a fundus photo."}
    assert "result" not in body


@pytest.mark.parametrize("suffix", ["", "/crop", "/heatmap"])
def test_unknown_and_malformed_ids(api, aws, suffix):
    assert_error(api.get(f"/api/screenings/{UNKNOWN}{suffix}"), 404, "not_found")
    assert_error(api.get(f"/api/screenings/not-a-uuid{suffix}"), 400, "invalid_id")
    assert_error(api.get(f"/api/screenings/{UNKNOWN.upper()}{suffix}"), 400, "invalid_id")


# ---------------------------------------------------------------- crop and heat map


def test_crop_and_heatmap_redirect_to_presigned_png(api, images, aws, worker):
    sid = api.post("/api/screenings", inline_body(images)).json_body["id"]
    for what in ("crop", "heatmap"):
        assert_error(api.get(f"/api/screenings/{sid}/{what}"), 409, "not_ready")
    worker.finish(sid)
    for what, key in (("crop", keys.crop_key(sid)), ("heatmap", keys.heatmap_key(sid))):
        r = api.get(f"/api/screenings/{sid}/{what}")
        assert r.status_code == 303
        location = r.headers["Location"]
        assert key in location and "X-Amz-Signature=" in location
        assert r.json_body["url"] == location
        fetched = requests.get(location, timeout=10)  # moto serves the presigned GET
        assert fetched.status_code == 200
        assert Image.open(io.BytesIO(fetched.content)).format == "PNG"


def test_heatmap_missing_is_404(api, images, aws, worker):
    sid = api.post("/api/screenings", inline_body(images)).json_body["id"]
    worker.finish(sid, heatmap=False)
    assert api.get(f"/api/screenings/{sid}/crop").status_code == 303
    assert_error(api.get(f"/api/screenings/{sid}/heatmap"), 404, "not_found")


def test_crop_of_rejected_screening_is_409(api, images, aws, worker):
    sid = api.post("/api/screenings", inline_body(images)).json_body["id"]
    worker.reject(sid)
    err = assert_error(api.get(f"/api/screenings/{sid}/crop"), 409, "not_ready")
    assert "rejected" in err["message"]


# ---------------------------------------------------------------- feedback


FEEDBACK = {
    "diagnosis_correct": True,
    "true_label": "glaucoma",
    "metadata": {"age": 63, "sex": "female", "eye": "left", "iop_mmhg": 24, "cdr": 0.7, "family_history": True,
                 "camera": "Topcon NW400", "notes": "free text"},
}


def test_feedback_given_and_replaced(api, images, aws, worker, service):
    sid = api.post("/api/screenings", inline_body(images)).json_body["id"]
    assert_error(api.put(f"/api/screenings/{sid}/feedback", FEEDBACK), 409, "not_ready")
    worker.finish(sid)
    r = api.put(f"/api/screenings/{sid}/feedback", FEEDBACK)
    assert r.status_code == 200, r.body
    feedback = r.json_body["feedback"]
    assert feedback["diagnosis_correct"] is True and feedback["true_label"] == "glaucoma"
    assert feedback["metadata"] == {**FEEDBACK["metadata"], "iop_mmhg": 24.0}
    assert feedback["given_at"].endswith("Z")
    assert r.json_body["status"] == "done" and r.json_body["result"]["label"] == "glaucoma"

    r = api.put(f"/api/screenings/{sid}/feedback", {"diagnosis_correct": None, "true_label": "unknown"})
    assert r.status_code == 200
    assert r.json_body["feedback"]["diagnosis_correct"] is None
    assert r.json_body["feedback"]["metadata"] == {}
    assert service.store.get(sid)["feedback"]["true_label"] == "unknown"
    assert api.get(f"/api/screenings/{sid}").json_body["feedback"]["true_label"] == "unknown"


@pytest.mark.parametrize(
    ("feedback", "field"),
    [
        ({"metadata": {"age": 121}}, "metadata.age"),
        ({"metadata": {"age": -1}}, "metadata.age"),
        ({"metadata": {"age": "63"}}, "metadata.age"),
        ({"metadata": {"sex": "f"}}, "metadata.sex"),
        ({"metadata": {"eye": "both"}}, "metadata.eye"),
        ({"metadata": {"iop_mmhg": 81}}, "metadata.iop_mmhg"),
        ({"metadata": {"cdr": 1.2}}, "metadata.cdr"),
        ({"metadata": {"family_history": "yes"}}, "metadata.family_history"),
        ({"metadata": {"camera": "x" * 101}}, "metadata.camera"),
        ({"metadata": {"notes": "x" * 2001}}, "metadata.notes"),
        ({"metadata": {"blood_type": "A+"}}, "metadata.blood_type"),
        ({"diagnosis_correct": "yes"}, "diagnosis_correct"),
        ({"true_label": "maybe"}, "true_label"),
        ({"rating": 5}, "rating"),
    ],
)
def test_feedback_validation(api, images, aws, worker, service, feedback, field):
    sid = api.post("/api/screenings", inline_body(images)).json_body["id"]
    worker.finish(sid)
    err = assert_error(api.put(f"/api/screenings/{sid}/feedback", feedback), 400, "invalid_request")
    assert [d["field"] for d in err["details"]] == [field]
    assert field in err["message"]
    assert "feedback" not in service.store.get(sid)


def test_feedback_limits_are_inclusive(api, images, aws, worker):
    sid = api.post("/api/screenings", inline_body(images)).json_body["id"]
    worker.finish(sid)
    meta = {"age": 120, "iop_mmhg": 80, "cdr": 1, "camera": "x" * 100, "notes": "n" * 2000, "sex": "other",
            "eye": "right", "family_history": False}
    r = api.put(f"/api/screenings/{sid}/feedback", {"diagnosis_correct": False, "true_label": "suspect",
                                                    "metadata": meta})
    assert r.status_code == 200, r.body
    assert r.json_body["feedback"]["metadata"]["notes"] == "n" * 2000


def test_feedback_unknown_and_malformed_id(api, aws):
    assert_error(api.put(f"/api/screenings/{UNKNOWN}/feedback", FEEDBACK), 404, "not_found")
    assert_error(api.put("/api/screenings/123/feedback", FEEDBACK), 400, "invalid_id")


# ---------------------------------------------------------------- rerun


def test_rerun_requeues_with_new_crop_and_keeps_history(api, images, aws, worker, service):
    sid = api.post("/api/screenings", inline_body(images)).json_body["id"]
    record = service.store.get(sid)
    before = aws.s3.head_object(Bucket=aws.bucket, Key=record["original_key"])
    assert_error(api.post(f"/api/screenings/{sid}/rerun", {"crop": None}), 409, "not_ready")  # still queued
    worker.finish(sid)

    r = api.post(f"/api/screenings/{sid}/rerun", {"crop": {"x": 100, "y": 50, "size": 300}})
    assert r.status_code == 202, r.body
    assert r.json_body["id"] == sid and r.json_body["status"] == "queued"
    assert "result" not in r.json_body
    record = service.store.get(sid)
    assert record["status"] == "queued"
    assert record["crop_request"] == {"x": 100, "y": 50, "size": 300}
    assert "result" not in record and record["attempt"] == 0
    assert len(record["history"]) == 1
    assert record["history"][0]["result"] == worker.result
    assert record["history"][0]["status"] == "done"
    # The original was copied onto itself: a fresh ObjectCreated event, same bytes and type.
    after = aws.s3.head_object(Bucket=aws.bucket, Key=record["original_key"])
    assert after["ContentType"] == "image/png" and after["ContentLength"] == before["ContentLength"]
    assert after["LastModified"] >= before["LastModified"]

    # A second rerun before the first finished is refused; after it finished, auto-locate is allowed.
    assert_error(api.post(f"/api/screenings/{sid}/rerun", {}), 409, "not_ready")
    worker.finish(sid)
    r = api.post(f"/api/screenings/{sid}/rerun", raw=b"")
    assert r.status_code == 202
    record = service.store.get(sid)
    assert record["crop_request"] is None and len(record["history"]) == 2


def test_rerun_touch_is_a_real_copy(aws, service):
    service.bucket.put("uploads/x/original.png", b"abc", "image/png")
    with mock.patch.object(service.bucket.client, "copy_object", wraps=service.bucket.client.copy_object) as copy:
        service.bucket.touch("uploads/x/original.png")
    kwargs = copy.call_args.kwargs
    assert kwargs["MetadataDirective"] == "REPLACE" and kwargs["ContentType"] == "image/png"
    assert kwargs["CopySource"] == {"Bucket": aws.bucket, "Key": "uploads/x/original.png"}
    assert service.bucket.get("uploads/x/original.png") == b"abc"


def test_rerun_from_rejected_and_validation(api, images, aws, worker, service):
    sid = api.post("/api/screenings", inline_body(images)).json_body["id"]
    worker.reject(sid)
    err = assert_error(api.post(f"/api/screenings/{sid}/rerun", {"crop": {"x": 1, "y": 1, "size": 10}}), 400,
                       "invalid_request")
    assert err["details"][0]["field"] == "crop.size"
    assert_error(api.post(f"/api/screenings/{sid}/rerun", {"crop": {"x": 700, "y": 1, "size": 100}}), 400,
                 "invalid_crop")  # the image size is known from the inline upload
    r = api.post(f"/api/screenings/{sid}/rerun", {"crop": {"x": 10, "y": 10, "size": 300}})
    assert r.status_code == 202
    assert service.store.get(sid)["history"][0]["error"]["code"] == "not_fundus"
    assert "error" not in service.store.get(sid)


def test_rerun_unknown_malformed_and_never_uploaded(api, aws, service):
    assert_error(api.post(f"/api/screenings/{UNKNOWN}/rerun", {}), 404, "not_found")
    assert_error(api.post("/api/screenings/zzz/rerun", {}), 400, "invalid_id")
    sid = api.post("/api/screenings", presigned_body()).json_body["id"]
    service.store.move(sid, Status.FAILED, set_fields={"error": {"code": "upload_expired", "message": "x"}})
    assert_error(api.post(f"/api/screenings/{sid}/rerun", {}), 409, "no_image")
    assert service.store.get(sid)["status"] == "failed"


def test_rerun_failing_to_touch_marks_failed_not_stuck(api, images, aws, worker, service):
    sid = api.post("/api/screenings", inline_body(images)).json_body["id"]
    worker.finish(sid)
    with mock.patch.object(type(service.bucket), "touch", side_effect=RuntimeError("copy failed")):
        assert_error(api.post(f"/api/screenings/{sid}/rerun", {}), 500, "internal_error")
    record = service.store.get(sid)
    assert record["status"] == "failed" and record["error"]["code"] == "rerun_failed"
    # ... and from failed it can be rerun again.
    assert api.post(f"/api/screenings/{sid}/rerun", {}).status_code == 202


# ---------------------------------------------------------------- the events that drive the worker


def test_each_upload_path_and_rerun_emit_exactly_one_object_created_event(api, images, aws, worker, service, events):
    sid = api.post("/api/screenings", inline_body(images)).json_body["id"]
    original = service.store.get(sid)["original_key"]
    assert events.drain() == [("ObjectCreated:Put", original)]

    worker.finish(sid)  # derived images under results/ never trigger the pipeline
    assert events.drain() == []

    assert api.post(f"/api/screenings/{sid}/rerun", {"crop": {"x": 10, "y": 10, "size": 200}}).status_code == 202
    assert events.drain() == [("ObjectCreated:Copy", original)]

    body = api.post("/api/screenings", presigned_body()).json_body
    assert events.drain() == []  # nothing until the client uploads
    upload = body["upload"]
    posted = requests.post(upload["url"], data=upload["fields"], files={"file": ("x.jpg", images.jpeg())}, timeout=10)
    assert posted.status_code in (200, 201, 204)
    assert [key for _, key in events.drain()] == [keys.original_key(body["id"], "jpg")]
