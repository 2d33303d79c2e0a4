"""Consistent timing of the inference function, its queue and the worker's processing lease (issue 12,
defect 1): the lease comes from the function timeout, the queue hides a message for at least 6x that
timeout, and the last receive of a message ends its screening `failed` whatever the lease says, so no
screening stays `processing` for good after a worker crash."""

from __future__ import annotations

import importlib.util
import json
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from papila import config
from papila.core import keys, records
from papila.core.records import Status
from papila.events import screen_record
from papila.usecases.inference import ScreeningBusy, Worker

from infra import cfn

DB = "papila_lease_unit"  # this module's database (the `store` fixture empties it)

ROOT = Path(__file__).resolve().parents[2]
CARD = {"model_version": "unit-test-model", "threshold": 0.5}


class NoModel:
    input_size = 224

    def predict(self, batch):  # pragma: no cover - never reached: these screenings are not screened
        raise AssertionError("the model must not run")


def _held_screening(store, lease_seconds: int) -> tuple[str, str]:
    """A screening another attempt holds: `processing` with a live lease (its runner was killed, or it
    overran), the photo's bytes in S3 never needed."""
    sid = records.new_id()
    key = keys.original_key(sid, "jpg")
    store.insert(records.new_record(screening_id=sid, filename="eye.jpg", content_type="image/jpeg",
                                    original_key=key, status=Status.QUEUED, crop=None, consent={"accepted": True}))
    assert store.claim(sid, key, lease_seconds) is not None
    return sid, key


def _sqs_record(key: str, receive_count: int) -> dict:
    body = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": key}}}]}
    return {"messageId": f"m-{key}", "receiptHandle": "r", "body": json.dumps(body), "eventSource": "aws:sqs",
            "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1", "SenderId": "s",
                           "ApproximateFirstReceiveTimestamp": "1"},
            "messageAttributes": {}, "md5OfBody": "x", "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:papila-inference"}


# ---------------------------------------------------------------------- the worker


def test_final_receive_meeting_a_live_lease_ends_the_screening_failed(store, bucket):
    worker = Worker(store, bucket, NoModel(), CARD, max_receive_count=3, lease_seconds=35)
    sid, key = _held_screening(store, 600)
    with pytest.raises(ScreeningBusy):  # a receive that is not the last leaves it for later
        screen_record(worker, SQSRecord(_sqs_record(key, 2)))
    assert store.get(sid)["status"] == "processing"

    screen_record(worker, SQSRecord(_sqs_record(key, 3)))  # the last receive: the message goes, the record says why

    rec = store.get(sid)
    assert rec["status"] == "failed" and rec["error"]["code"] == "processing_stalled" and rec["error"]["message"]
    assert "lease_until" not in rec
    screen_record(worker, SQSRecord(_sqs_record(key, 4)))  # a later delivery (DLQ redrive) changes nothing
    assert store.get(sid) == rec


def test_a_receive_after_a_crash_takes_the_lease_over(store, bucket):
    """With the timing derived from the timeout, a message whose attempt died comes back only after the
    attempt's lease ran out: the next receive takes the screening over (here: and fails it for good on
    the last receive, as the object is not there)."""
    timeout = 30
    lease, visibility = config.lease_seconds(timeout), config.visibility_timeout(timeout)
    assert timeout < lease < visibility
    worker = Worker(store, bucket, NoModel(), CARD, max_receive_count=2, lease_seconds=lease)
    sid, key = _held_screening(store, lease)
    # the message reappears `visibility` seconds after the crashed attempt claimed the screening
    store.col.update_one({"_id": sid}, {"$set": {"lease_until": records.now() - timedelta(seconds=visibility - lease)}})
    with pytest.raises(Exception) as raised:
        screen_record(worker, SQSRecord(_sqs_record(key, 2)))
    assert not isinstance(raised.value, ScreeningBusy)
    rec = store.get(sid)
    assert rec["status"] == "failed" and rec["attempt"] == 2 and rec["error"]["code"] == "processing_failed"


# ---------------------------------------------------------------------- the handler


def _load_handler(monkeypatch, mongo_uri, **env):
    from papila.model.serving import card, runtime

    monkeypatch.setattr(runtime, "load", lambda path: NoModel())
    monkeypatch.setattr(card, "load_card", lambda path: CARD)
    monkeypatch.setenv("MONGODB_URI", mongo_uri)
    monkeypatch.setenv("MONGODB_DB", DB)
    monkeypatch.delenv("FUNCTION_TIMEOUT", raising=False)
    monkeypatch.delenv("LEASE_SECONDS", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(ROOT / "inference_fn"))
    spec = importlib.util.spec_from_file_location("papila_inference_handler_under_test",
                                                  ROOT / "inference_fn" / "handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Context:
    function_name = "papila-InferenceFunction"
    memory_limit_in_mb = 3008
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:papila-InferenceFunction"
    aws_request_id = "req"

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def _test_event() -> dict:
    return {"Records": [{**_sqs_record("x", 1), "body": json.dumps({"Event": "s3:TestEvent"})}]}


def test_handler_derives_the_lease_from_the_function_timeout(aws, mongo_uri, monkeypatch):
    handler = _load_handler(monkeypatch, mongo_uri, FUNCTION_TIMEOUT="30")
    assert handler.handler(_test_event(), Context(remaining_ms=29_000)) == {"batchItemFailures": []}
    assert handler.WORKER.lease_seconds == config.lease_seconds(30) == 35


def test_handler_falls_back_to_the_time_lambda_gives_the_invocation(aws, mongo_uri, monkeypatch):
    handler = _load_handler(monkeypatch, mongo_uri)
    handler.handler(_test_event(), Context(remaining_ms=12_400))
    assert handler.WORKER.lease_seconds == config.lease_seconds(12.4) == 18


def test_handler_ends_a_held_screening_failed_on_the_redrive_policys_last_receive(aws, mongo_uri, monkeypatch, store):
    handler = _load_handler(monkeypatch, mongo_uri, FUNCTION_TIMEOUT="30", MAX_RECEIVE_COUNT="4")
    sid, key = _held_screening(store, 600)
    busy = handler.handler({"Records": [_sqs_record(key, 3)]}, Context(30_000))
    assert busy == {"batchItemFailures": [{"itemIdentifier": f"m-{key}"}]}  # 3 of 4: retried later
    assert store.get(sid)["status"] == "processing"
    assert handler.handler({"Records": [_sqs_record(key, 4)]}, Context(30_000)) == {"batchItemFailures": []}
    assert store.get(sid)["status"] == "failed"


# ---------------------------------------------------------------------- template and local cloud


def _default(template, value):
    if isinstance(value, dict) and "Ref" in value:
        return template["Parameters"][value["Ref"]]["Default"]
    return value


def test_template_timing_derives_from_the_function_timeout():
    template = cfn.load_template()
    resources = template["Resources"]
    fn = resources["InferenceFunction"]["Properties"]
    queue = resources["InferenceQueue"]["Properties"]
    timeout = int(_default(template, fn["Timeout"]))
    assert fn["Timeout"] == {"Ref": "InferenceTimeout"}
    assert fn["Environment"]["Variables"]["FUNCTION_TIMEOUT"] == {"Ref": "InferenceTimeout"}
    assert int(_default(template, queue["VisibilityTimeout"])) >= config.visibility_timeout(timeout)
    assert config.lease_seconds(timeout) < int(_default(template, queue["VisibilityTimeout"]))
    # the worker knows the redrive policy's maxReceiveCount
    assert queue["RedrivePolicy"]["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}
    assert template["Globals"]["Function"]["Environment"]["Variables"]["MAX_RECEIVE_COUNT"] == {"Ref": "MaxReceiveCount"}
    # the deployed values (infra/samconfig.toml) keep the ratio too
    sam = tomllib.loads((ROOT / "infra" / "samconfig.toml").read_text())
    overrides = dict(item.split("=", 1) for item in sam["default"]["deploy"]["parameters"]["parameter_overrides"])
    assert int(overrides["QueueVisibilityTimeout"]) >= config.visibility_timeout(int(overrides["InferenceTimeout"]))


def test_local_cloud_keeps_the_same_timing(monkeypatch):
    from infra.localcloud import LocalCloud, Outputs, Settings

    monkeypatch.delenv("QUEUE_VISIBILITY_TIMEOUT", raising=False)
    monkeypatch.delenv("INFERENCE_TIMEOUT", raising=False)
    settings = Settings.from_env()
    assert settings.visibility_timeout >= config.visibility_timeout(settings.function_timeout)
    # a shorter visibility asked for is raised to the floor
    assert Settings.from_env(visibility_timeout=8).visibility_timeout == config.visibility_timeout(
        settings.function_timeout)
    cloud = LocalCloud(settings, outputs=Outputs("b", "q", "d", "arn"))
    cloud._mongo_uri = "mongodb://127.0.0.1:1/"
    env = cloud.service_env()
    assert env["FUNCTION_TIMEOUT"] == str(settings.function_timeout)
    assert env["MAX_RECEIVE_COUNT"] == str(settings.max_receive_count)
