"""The inference worker against moto's S3 and an in-process SecantusDB: claims, results, rejections,
duplicates, retries, the final attempt and lease take-over."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import numpy as np
import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import ClientError
from papila.core import keys, records
from papila.core.records import Status
from papila.events import screen_record
from papila.model.serving.runtime import Prediction
from papila.usecases.inference import ScreeningBusy, Worker
from PIL import Image, ImageFilter

from tests.fundus import make_fundus

DB = "papila_worker_unit"  # this module's database (the `store` fixture empties it)

CARD = {"model_version": "unit-test-model", "threshold": 0.5}


class FixedModel:
    """Stands in for the network: the worker's logic, not the weights, is under test here."""

    input_size = 224

    def __init__(self, probability: float = 0.8) -> None:
        self.probability = probability
        self.calls = 0

    def predict(self, batch: np.ndarray) -> list[Prediction]:
        assert batch.shape[1:] == (224, 224, 3)
        self.calls += len(batch)
        cam = np.zeros((7, 7), np.float32)
        cam[3, 4] = 1.0
        return [Prediction(self.probability, cam) for _ in batch]


def _jpeg(image: Image.Image, exif: bool = True) -> bytes:
    buf = io.BytesIO()
    meta = Image.Exif()
    meta[0x010F] = "Topcon"
    image.save(buf, "JPEG", quality=92, **({"exif": meta} if exif else {}))
    return buf.getvalue()


def _screening(store, bucket, data: bytes, status=Status.QUEUED, crop=None) -> tuple[str, str]:
    sid = records.new_id()
    key = keys.original_key(sid, "jpg")
    store.insert(records.new_record(screening_id=sid, filename="eye.jpg", content_type="image/jpeg",
                                    original_key=key, status=status, crop=crop, consent={"accepted": True}))
    if data:
        bucket.put(key, data, "image/jpeg")
    return sid, key


def _sqs_record(key: str, receive_count: int = 1) -> dict:
    body = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": key}}}]}
    return {"messageId": "m1", "body": json.dumps(body), "attributes": {"ApproximateReceiveCount": str(receive_count)}}


def test_upload_event_produces_result_crop_heatmap_and_a_clean_original(store, bucket):
    model = FixedModel(0.8)
    worker = Worker(store, bucket, model, CARD)
    sid, key = _screening(store, bucket, _jpeg(make_fundus(1000, 800, (640, 400), seed=1)), Status.AWAITING_UPLOAD)

    screen_record(worker, SQSRecord(_sqs_record(key)))

    rec = store.get(sid)
    assert rec["status"] == "done" and model.calls == 1
    result = rec["result"]
    assert result["label"] == "glaucoma" and result["probability_glaucoma"] == pytest.approx(0.8)
    assert result["model_version"] == "unit-test-model" and result["crop"]["source"] == "auto"
    # the located crop holds the synthetic disc
    c = result["crop"]
    assert c["x"] < 640 < c["x"] + c["size"] and c["y"] < 400 < c["y"] + c["size"]
    crop = Image.open(io.BytesIO(bucket.get(keys.crop_key(sid))))
    assert crop.size == (224, 224)
    assert Image.open(io.BytesIO(bucket.get(keys.heatmap_key(sid)))).size == (224, 224)
    assert not Image.open(io.BytesIO(bucket.get(key))).getexif()  # metadata stripped in place


def test_user_crop_is_used_and_recorded(store, bucket):
    worker = Worker(store, bucket, FixedModel(0.2), CARD)
    sid, key = _screening(store, bucket, _jpeg(make_fundus(1000, 800, (640, 400), seed=2)),
                          crop={"x": 500, "y": 260, "size": 280})
    worker.process(key)
    result = store.get(sid)["result"]
    assert result["crop"] == {"x": 500, "y": 260, "size": 280, "source": "user",
                              "requested": {"x": 500, "y": 260, "size": 280}}
    assert result["label"] == "normal"


def test_repeated_event_changes_nothing(store, bucket):
    model = FixedModel()
    worker = Worker(store, bucket, model, CARD)
    sid, key = _screening(store, bucket, _jpeg(make_fundus(900, 700, (300, 350), seed=3), exif=False))
    screen_record(worker, SQSRecord(_sqs_record(key)))
    first = store.get(sid)
    screen_record(worker, SQSRecord(_sqs_record(key)))
    assert store.get(sid) == first and model.calls == 1


def test_unusable_photo_is_rejected_with_a_reason(store, bucket):
    worker = Worker(store, bucket, FixedModel(), CARD)
    sid, key = _screening(store, bucket, _jpeg(Image.new("RGB", (800, 600), (128, 128, 128))))
    assert worker.process(key) == Status.REJECTED
    rec = store.get(sid)
    assert rec["status"] == "rejected" and rec["error"]["code"] == "not_a_fundus_photo"
    assert rec["error"]["quality_scores"]["spread"] < 4  # the scores behind the refusal are kept
    assert "result" not in rec


def test_out_of_focus_photo_is_rejected_before_the_model(store, bucket):
    model = FixedModel()
    worker = Worker(store, bucket, model, CARD)
    defocused = make_fundus(1200, 1000, seed=8).filter(ImageFilter.GaussianBlur(10))  # ~7 % of the disc
    sid, key = _screening(store, bucket, _jpeg(defocused))
    assert worker.process(key) == Status.REJECTED
    rec = store.get(sid)
    assert rec["error"]["code"] == "too_blurred" and "focus" in rec["error"]["message"]
    assert {"luminance", "sharpness", "sharpness_min"} <= set(rec["error"]["quality_scores"])
    assert "result" not in rec and model.calls == 0


def test_failures_are_retried_then_marked_failed_on_the_final_attempt(store, bucket, monkeypatch):
    worker = Worker(store, bucket, FixedModel(), CARD, max_receive_count=3)
    sid, key = _screening(store, bucket, _jpeg(make_fundus(900, 700, (600, 350), seed=5)))

    def unreadable(key):  # the object is there, but every read of it fails
        raise ClientError({"Error": {"Code": "InternalError", "Message": "S3 is down"}}, "GetObject")

    monkeypatch.setattr(bucket, "get_with_etag", unreadable)
    for receive in (1, 2):
        with pytest.raises(ClientError):
            screen_record(worker, SQSRecord(_sqs_record(key, receive)))
        assert store.get(sid)["status"] == "queued"
    with pytest.raises(ClientError):
        screen_record(worker, SQSRecord(_sqs_record(key, 3)))
    rec = store.get(sid)
    assert rec["status"] == "failed" and rec["error"]["code"] == "processing_failed" and rec["attempt"] == 3


def test_live_lease_means_busy_and_an_expired_one_is_taken_over(store, bucket):
    worker = Worker(store, bucket, FixedModel(), CARD, lease_seconds=60)
    sid, key = _screening(store, bucket, _jpeg(make_fundus(900, 700, (600, 350), seed=4)))
    assert store.claim(sid, key, 60) is not None  # another attempt holds it
    with pytest.raises(ScreeningBusy):
        worker.process(key)
    store.col.update_one({"_id": sid}, {"$set": {"lease_until": records.now() - timedelta(seconds=1)}})
    assert worker.process(key) == Status.DONE


def test_test_events_other_keys_and_unknown_screenings_are_skipped(store, bucket):
    model = FixedModel()
    worker = Worker(store, bucket, model, CARD)
    screen_record(worker, SQSRecord({"body": json.dumps({"Event": "s3:TestEvent"}),
                                     "attributes": {"ApproximateReceiveCount": "1"}}))
    assert worker.process("results/x/crop.png") is None
    assert worker.process(keys.original_key(records.new_id(), "png")) is None
    assert model.calls == 0


def test_url_encoded_keys_are_unquoted(store, bucket):
    worker = Worker(store, bucket, FixedModel(), CARD)
    sid, key = _screening(store, bucket, _jpeg(make_fundus(900, 700, (600, 350), seed=5)))
    encoded = key.replace("/", "%2F")  # as some emulators send it
    screen_record(worker, SQSRecord(_sqs_record(encoded)))
    assert store.get(sid)["status"] == "done"


@pytest.mark.parametrize("receive_count", [1, 3])
def test_an_error_after_the_result_was_stored_does_not_screen_it_again(store, bucket, monkeypatch, receive_count):
    """The move to `done` reached the database but its reply was lost (an error after it): the retry path
    must not move the finished record back to `queued` (a second result) or to `failed`."""
    model = FixedModel()
    worker = Worker(store, bucket, model, CARD, max_receive_count=3)
    sid, key = _screening(store, bucket, _jpeg(make_fundus(1000, 800, (640, 400), seed=5)))
    finish = worker._run

    def stored_then_lost(*args, **kwargs):
        finish(*args, **kwargs)
        raise ConnectionError("the reply of the last write was lost")

    monkeypatch.setattr(worker, "_run", stored_then_lost)
    with pytest.raises(ConnectionError):
        screen_record(worker, SQSRecord(_sqs_record(key, receive_count)))
    rec = store.get(sid)
    assert rec["status"] == "done" and rec["result"] and "error" not in rec
    monkeypatch.setattr(worker, "_run", finish)
    screen_record(worker, SQSRecord(_sqs_record(key, receive_count)))  # the retried message changes nothing
    assert store.get(sid)["status"] == "done" and model.calls == 1


def test_an_event_whose_object_is_gone_leaves_the_screening_waiting_for_its_photo(store, bucket):
    model = FixedModel()
    worker = Worker(store, bucket, model, CARD)
    sid, key = _screening(store, bucket, b"", Status.AWAITING_UPLOAD)
    before = store.get(sid)
    for receive in (1, 2, 3):  # every receive, the final one too: no attempt is used up, nothing fails
        screen_record(worker, SQSRecord(_sqs_record(key, receive)))
    assert store.get(sid) == before and model.calls == 0
    bucket.put(key, _jpeg(make_fundus(1000, 800, (640, 400), seed=4)), "image/jpeg")  # the photo arrives
    screen_record(worker, SQSRecord(_sqs_record(key)))
    assert store.get(sid)["status"] == "done" and model.calls == 1
