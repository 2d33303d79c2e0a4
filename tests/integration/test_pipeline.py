"""The whole pipeline on the isolated local cloud: API -> S3 (presigned POST or inline) -> S3 event ->
SQS -> the local Lambda runner -> the inference handler -> MongoDB/S3 -> API, with real parts only."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from tests.fundus import default_disc_xy, encode, make_fundus
from tests.integration.cloudclient import ApiClient, s3_event, wait_queue_drained

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def done_screening(api_client: ApiClient, fundus_image_bytes: bytes) -> dict[str, Any]:
    """One screening taken through the presigned path to `done` (shared by the read-only tests)."""
    record = api_client.screen_presigned(fundus_image_bytes, "left_eye.jpg", "image/jpeg")
    assert record["status"] == "done", record
    return record


def _png(response: requests.Response) -> Image.Image:
    assert response.status_code == 200, response.text[:300]
    assert response.content[:8] == b"\x89PNG\r\n\x1a\n"
    return Image.open(io.BytesIO(response.content))


def test_health_is_green(api_client: ApiClient) -> None:
    r = api_client.http.get(api_client.url("/api/health"), timeout=10)
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok", "checks": {"mongo": "ok", "s3": "ok", "queue": "ok"}}


def test_presigned_upload_reaches_done_with_a_full_result(api_client: ApiClient, fundus_image_bytes: bytes) -> None:
    r = api_client.create(filename="left_eye.jpg", content_type="image/jpeg", data=fundus_image_bytes)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["status"] == "awaiting_upload"
    assert set(created["upload"]) >= {"url", "fields", "expires_in"} and created["upload"]["expires_in"] == 900
    assert created["upload"]["fields"]["key"].startswith(f"uploads/{created['id']}/")

    started = time.monotonic()
    up = api_client.upload(created["upload"], fundus_image_bytes, "left_eye.jpg", "image/jpeg")
    assert up.status_code in (200, 201, 204), up.text
    record = api_client.wait(created["id"])
    elapsed = time.monotonic() - started
    assert record["status"] == "done", record
    result = record["result"]
    assert 0.0 <= result["probability_glaucoma"] <= 1.0
    assert result["label"] == ("glaucoma" if result["probability_glaucoma"] >= result["threshold"] else "normal")
    assert result["referral"] and result["model_version"] and result["inference_ms"] > 0
    # Located automatically, around the disc the generator drew.
    crop = result["crop"]
    assert crop["source"] == "auto"
    dx, dy = default_disc_xy(1200, 1000)
    assert crop["x"] < dx < crop["x"] + crop["size"] and crop["y"] < dy < crop["y"] + crop["size"]
    assert record["links"]["crop"] == f"/api/screenings/{record['id']}/crop"
    assert record["filename"] == "left_eye.jpg" and record["updated_at"] >= record["created_at"]
    print(f"presigned upload -> done in {elapsed:.2f} s")


def test_presigned_post_is_bound_to_its_content_type(api_client: ApiClient, fundus_image_bytes: bytes) -> None:
    created = api_client.create(filename="eye.jpg", content_type="image/jpeg", data=fundus_image_bytes).json()
    upload = {**created["upload"], "fields": {**created["upload"]["fields"], "Content-Type": "text/html"}}
    r = api_client.upload(upload, fundus_image_bytes, "eye.jpg", "text/html")
    assert r.status_code == 403, r.text
    assert api_client.get(created["id"])["status"] == "awaiting_upload"


def test_inline_png_upload_reaches_done(api_client: ApiClient, fundus_png_path: Path) -> None:
    data = fundus_png_path.read_bytes()
    r = api_client.create(filename="right eye.png", content_type="image/png", data=data, inline=True)
    assert r.status_code == 202, r.text
    created = r.json()
    assert created["status"] == "queued"
    record = api_client.wait(created["id"])
    assert record["status"] == "done", record
    assert record["result"]["crop"]["source"] == "auto"


def test_a_user_crop_is_used(api_client: ApiClient) -> None:
    photo = make_fundus(1000, 800, disc_xy=(300, 380), seed=11)
    crop = {"x": 180, "y": 260, "size": 240}
    r = api_client.create(filename="eye.jpg", content_type="image/jpeg", data=encode(photo), inline=True, crop=crop)
    assert r.status_code == 202, r.text
    record = api_client.wait(r.json()["id"])
    assert record["status"] == "done", record
    seen = record["result"]["crop"]
    assert seen["source"] == "user" and seen["requested"] == crop
    # The model saw a square of one anatomical scale around the disc found inside the user's square.
    assert seen["x"] < 300 < seen["x"] + seen["size"] and seen["y"] < 380 < seen["y"] + seen["size"]
    assert seen["size"] < crop["size"]


def test_a_grey_picture_is_rejected_with_a_reason(api_client: ApiClient, blank_png_path: Path) -> None:
    data = blank_png_path.read_bytes()
    r = api_client.create(filename="blank.png", content_type="image/png", data=data, inline=True)
    assert r.status_code == 202, r.text
    record = api_client.wait(r.json()["id"])
    assert record["status"] == "rejected", record
    assert record["error"]["code"] and record["error"]["message"].endswith(".")
    assert "result" not in record


def test_crop_and_heatmap_are_pngs_of_the_square_the_model_saw(api_client: ApiClient,
                                                                 done_screening: dict[str, Any]) -> None:
    for link in ("crop", "heatmap"):
        r = api_client.http.get(api_client.url(done_screening["links"][link]), allow_redirects=False, timeout=10)
        assert r.status_code in (200, 303), r.text
        if r.status_code == 303:
            r = requests.get(r.headers["Location"], timeout=10)  # the short-lived presigned S3 URL
        image = _png(r)
        assert image.width == image.height


def test_crop_before_done_is_409(api_client: ApiClient, fundus_image_bytes: bytes) -> None:
    created = api_client.create(filename="eye.jpg", content_type="image/jpeg", data=fundus_image_bytes).json()
    r = api_client.http.get(api_client.url(f"/api/screenings/{created['id']}/crop"), timeout=10)
    assert r.status_code == 409 and r.json()["error"]["code"]


def test_feedback_is_stored_and_read_back(api_client: ApiClient, done_screening: dict[str, Any]) -> None:
    sid = done_screening["id"]
    feedback = {"diagnosis_correct": False, "true_label": "suspect",
                "metadata": {"age": 63, "sex": "female", "eye": "left", "iop_mmhg": 24, "cdr": 0.7,
                             "family_history": True, "camera": "Topcon NW400", "notes": "plumbing test"}}
    r = api_client.feedback(sid, feedback)
    assert r.status_code == 200, r.text
    stored = api_client.get(sid)["feedback"]
    assert stored["diagnosis_correct"] is False and stored["true_label"] == "suspect"
    assert stored["metadata"] == feedback["metadata"]
    # Replaced, not merged.
    r = api_client.feedback(sid, {"diagnosis_correct": True, "true_label": "glaucoma"})
    assert r.status_code == 200, r.text
    stored = api_client.get(sid)["feedback"]
    assert stored["diagnosis_correct"] is True and not stored.get("metadata")


def test_feedback_before_done_is_409(api_client: ApiClient, fundus_image_bytes: bytes) -> None:
    created = api_client.create(filename="eye.jpg", content_type="image/jpeg", data=fundus_image_bytes).json()
    r = api_client.feedback(created["id"], {"diagnosis_correct": True, "true_label": "normal"})
    assert r.status_code == 409, r.text


def test_rerun_with_a_new_crop_gives_a_new_result_and_keeps_the_old_one(api_client: ApiClient, mongo: Any) -> None:
    photo = make_fundus(1000, 800, disc_xy=(700, 400), seed=12)
    r = api_client.create(filename="eye.jpg", content_type="image/jpeg", data=encode(photo), inline=True)
    first = api_client.wait(r.json()["id"])
    assert first["status"] == "done", first
    crop = {"x": 560, "y": 260, "size": 280}
    r = api_client.rerun(first["id"], {"crop": crop})
    assert r.status_code == 202, r.text
    second = api_client.wait(first["id"])
    assert second["status"] == "done", second
    assert second["result"]["crop"]["source"] == "user" and second["result"]["crop"]["requested"] == crop
    history = mongo.screenings.find_one({"_id": first["id"]})["history"]
    assert len(history) == 1 and history[0]["result"]["crop"]["source"] == "auto"


def test_seed_client_routes_still_work(api_client: ApiClient, fundus_image_bytes: bytes) -> None:
    """The 2020 client: POST /api/process with a displayed-size crop, then poll getDiagnosis."""
    body = {"cropData": {"x": 250, "y": 120, "width": 160, "height": 160}, "imageName": "eye.jpg",
            "imageWidth": 600, "imageHeight": 500,
            "b64Image": "data:image/jpeg;base64," + base64.b64encode(fundus_image_bytes).decode()}
    r = api_client.http.post(api_client.url("/api/process"), json=body, timeout=30)
    assert r.status_code in (200, 201, 202), r.text
    sid = r.text.strip().strip('"')
    deadline = time.monotonic() + 90
    while True:
        r = api_client.http.get(api_client.url(f"/api/getDiagnosis/{sid}"), timeout=10)
        assert r.status_code == 200, r.text
        if r.text.strip():
            assert 0.0 <= float(r.json()["diagnosisResult"]) <= 1.0
            break
        assert time.monotonic() < deadline, "no diagnosis in time"
        time.sleep(0.3)
    r = api_client.http.get(api_client.url(f"/api/download/{sid}"), timeout=10)
    assert r.status_code == 200
    assert base64.b64decode(r.text.strip().strip('"').split(",")[-1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_event_before_the_photo_uses_up_nothing_and_the_photo_is_then_screened(
        api_client: ApiClient, cloud: Any, cloud_sqs: Any, mongo: Any, fundus_image_bytes: bytes) -> None:
    """An S3 event for a key with no object yet (a stale or forged event) is consumed without claiming the
    screening: it stays `awaiting_upload` with no attempt used, nothing reaches the DLQ, and the photo
    uploaded afterwards with the same form is screened."""
    created = api_client.create(filename="eye.jpg", content_type="image/jpeg", data=fundus_image_bytes).json()
    key = created["upload"]["fields"]["key"]
    cloud_sqs.send_message(QueueUrl=cloud.queue_url, MessageBody=s3_event(cloud.bucket, key))
    wait_queue_drained(cloud_sqs, cloud.queue_url)

    record = mongo.screenings.find_one({"_id": created["id"]})
    assert record["status"] == "awaiting_upload" and not record.get("attempt"), record
    dlq = cloud_sqs.receive_message(QueueUrl=cloud.dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    assert not [m for m in dlq if key in m["Body"]]

    assert api_client.upload(created["upload"], fundus_image_bytes, "eye.jpg", "image/jpeg").status_code in (200, 204)
    done = api_client.wait(created["id"], {"failed", "done", "rejected"}, timeout=120)
    assert done["status"] == "done", done


def test_a_duplicate_s3_event_changes_nothing(api_client: ApiClient, cloud: Any, cloud_sqs: Any, mongo: Any,
                                              done_screening: dict[str, Any]) -> None:
    sid = done_screening["id"]
    before = mongo.screenings.find_one({"_id": sid})
    key = before["original_key"]
    body = s3_event(cloud.bucket, key)
    for _ in range(2):  # at-least-once delivery: the same event twice
        cloud_sqs.send_message(QueueUrl=cloud.queue_url, MessageBody=body)
    wait_queue_drained(cloud_sqs, cloud.queue_url)
    after = mongo.screenings.find_one({"_id": sid})
    assert after["status"] == "done"
    assert after["updated_at"] == before["updated_at"]
    assert after["result"] == before["result"]
    assert after.get("history", []) == before.get("history", [])
    assert mongo.screenings.count_documents({"_id": sid}) == 1
    # Nothing went to the DLQ for it either.
    messages = cloud_sqs.receive_message(QueueUrl=cloud.dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                         VisibilityTimeout=0).get("Messages", [])
    assert not [m for m in messages if key in m["Body"]]


def test_s3_allows_the_spas_presigned_post_by_cors(cloud: Any) -> None:
    origin = cloud.env["CORS_ALLOW_ORIGIN"]
    r = requests.options(f"{cloud.endpoint}/{cloud.bucket}", timeout=10, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert r.status_code == 200, r.text
    assert r.headers.get("Access-Control-Allow-Origin") in (origin, "*")
    r = requests.options(f"{cloud.endpoint}/{cloud.bucket}", timeout=10, headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert r.status_code == 403


def test_papila_screen_cli_through_the_api(api_url: str, fundus_jpeg_path: Path) -> None:
    papila = Path(sys.executable).with_name("papila")
    result = subprocess.run([str(papila), "screen", str(fundus_jpeg_path), "--api", api_url, "--json"],
                            capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.strip().splitlines()[0])
    assert out["status"] == "done" and 0.0 <= out["probability_glaucoma"] <= 1.0, out
