"""The bounded sweep (issue 12): nothing stays in `awaiting_upload`, `queued` or `processing` past a bound
derived from the inference timing; it ends `failed` with the reason. The same code runs as the
template's scheduled SweepFunction and in the local cloud."""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from pathlib import Path

from papila import config
from papila.adapters.mongo import Exports
from papila.core import keys, records
from papila.core.exports import ExportStatus
from papila.core.records import Status
from papila.usecases.sweeper import REASONS, Bounds, export_bound, sweep, sweep_exports

from infra import cfn

ROOT = Path(__file__).resolve().parents[2]
DB = "papila_sweep_unit"
BOUNDS = Bounds.from_timing(function_timeout=30, visibility_timeout=180, max_receive_count=3, presign_expires=900,
                            grace_s=600)


def _record(store, status: Status, age: timedelta, **fields) -> str:
    sid = records.new_id()
    rec = records.new_record(screening_id=sid, filename="eye.jpg", content_type="image/jpeg",
                             original_key=keys.original_key(sid, "jpg"), status=status, crop=None,
                             consent={"accepted": True})
    t = records.now() - age
    rec.update(created_at=t, updated_at=t, **fields)
    store.insert(rec)
    return sid


def test_bounds_derive_from_the_inference_timing():
    # a message lives 3 receives, each up to 180 s apart and 30 s long, plus the backlog grace
    assert BOUNDS.queued == BOUNDS.processing == timedelta(seconds=3 * (180 + 30) + 600)
    assert BOUNDS.awaiting_upload == timedelta(seconds=900) + BOUNDS.queued
    env = {"FUNCTION_TIMEOUT": "30", "QUEUE_VISIBILITY_TIMEOUT": "180", "MAX_RECEIVE_COUNT": "3",
           "PRESIGN_EXPIRES": "900"}
    assert Bounds.from_env(env) == BOUNDS
    # without a visibility timeout, the smallest that fits the function timeout
    assert Bounds.from_env({**env, "QUEUE_VISIBILITY_TIMEOUT": ""}) == BOUNDS
    assert config.lease_seconds(30) < BOUNDS.processing.total_seconds()


def test_records_past_their_bound_end_failed_with_the_reason(store):
    over, under = timedelta(seconds=1), timedelta(seconds=-60)
    stuck = {status: _record(store, status, BOUNDS.of(status) + over) for status in REASONS}
    crashed = _record(store, Status.PROCESSING, BOUNDS.processing + over,
                      lease_until=records.now() - timedelta(hours=1), attempt=1)
    fresh = {status: _record(store, status, BOUNDS.of(status) + under) for status in REASONS}
    live = _record(store, Status.PROCESSING, BOUNDS.processing + over, lease_until=records.now() + timedelta(minutes=5))
    finished = {status: _record(store, status, timedelta(days=30)) for status in (Status.DONE, Status.REJECTED)}

    assert sweep(store, BOUNDS) == {"awaiting_upload": 1, "queued": 1, "processing": 2}

    for status, sid in [*stuck.items(), (Status.PROCESSING, crashed)]:
        rec = store.get(sid)
        assert rec["status"] == "failed", status
        assert rec["error"]["code"] == REASONS[status]["code"] and rec["error"]["message"]
        assert rec["error"]["stuck_in"] == str(status) and "lease_until" not in rec
    for status, sid in fresh.items():
        assert store.get(sid)["status"] == str(status)
    assert store.get(live)["status"] == "processing"  # an attempt's lease still runs
    for status, sid in finished.items():
        assert store.get(sid)["status"] == str(status)
    assert sweep(store, BOUNDS) == {"awaiting_upload": 0, "queued": 0, "processing": 0}  # repeats change nothing


def test_a_late_message_for_a_swept_screening_changes_nothing(store, aws):
    from papila.adapters.aws import ImageBucket
    from papila.usecases.inference import Worker

    sid = _record(store, Status.QUEUED, BOUNDS.queued + timedelta(seconds=1))
    sweep(store, BOUNDS)
    swept = store.get(sid)
    worker = Worker(store, ImageBucket(aws.bucket), object(), {}, max_receive_count=3)
    assert worker.process(swept["original_key"]) is None
    assert store.get(sid) == swept


def test_the_scheduled_function_runs_the_sweep(store, mongo_uri, monkeypatch, aws):
    template = cfn.load_template()
    fn = template["Resources"]["SweepFunction"]
    props = fn["Properties"]
    assert fn["Condition"] == "WithFunctions"
    [event] = props["Events"].values()
    assert event["Type"] == "Schedule" and event["Properties"]["Schedule"].startswith("rate(")
    assert props["Environment"]["Variables"] == {"FUNCTION_TIMEOUT": {"Ref": "InferenceTimeout"},
                                                 "QUEUE_VISIBILITY_TIMEOUT": {"Ref": "QueueVisibilityTimeout"}}
    assert "S3CrudPolicy" in props["Policies"][0]  # it lists and deletes orphaned objects
    module_name, _, func = props["Handler"].rpartition(".")
    path = ROOT / props["CodeUri"] / f"{module_name}.py"
    spec = importlib.util.spec_from_file_location("papila_sweep_fn_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    for name, value in {"MONGODB_URI": mongo_uri, "MONGODB_DB": DB, "FUNCTION_TIMEOUT": "30",
                        "QUEUE_VISIBILITY_TIMEOUT": "180", "MAX_RECEIVE_COUNT": "3"}.items():
        monkeypatch.setenv(name, value)
    sid = _record(store, Status.QUEUED, BOUNDS.queued + timedelta(seconds=1))
    result = getattr(module, func)({"source": "aws.events", "detail-type": "Scheduled Event"}, None)
    assert result == {"moved": {"awaiting_upload": 0, "queued": 1, "processing": 0, "exports": 0,
                                "orphaned_objects": 0}}
    assert store.get(sid)["error"]["code"] == "processing_not_started"


def test_the_local_cloud_runs_the_same_sweep_on_its_own_timing(store, mongo_uri, monkeypatch, aws):
    import boto3

    from infra import localcloud

    monkeypatch.delenv("QUEUE_VISIBILITY_TIMEOUT", raising=False)
    monkeypatch.delenv("INFERENCE_TIMEOUT", raising=False)
    settings = localcloud.Settings.from_env(mongo_db=DB)
    cloud = localcloud.LocalCloud(settings, outputs=localcloud.Outputs(aws.bucket, "q", "d", "arn"))
    cloud._mongo_uri = mongo_uri
    monkeypatch.setattr(cloud, "client", lambda service: boto3.client(service))  # moto's, not LocalStack's
    local = Bounds.from_timing(function_timeout=settings.function_timeout,
                               visibility_timeout=settings.visibility_timeout,
                               max_receive_count=settings.max_receive_count,
                               presign_expires=config.Settings.from_env().presign_expires,
                               grace_s=localcloud.SWEEP_GRACE_S)
    assert local.processing < timedelta(minutes=5)  # minutes, not the AWS grace
    stuck = _record(store, Status.PROCESSING, local.processing + timedelta(seconds=1),
                    lease_until=records.now() - timedelta(minutes=1))
    young = _record(store, Status.PROCESSING, local.processing - timedelta(seconds=30),
                    lease_until=records.now() - timedelta(seconds=1))
    assert cloud.sweep() == {"awaiting_upload": 0, "queued": 0, "processing": 1, "exports": 0, "orphaned_objects": 0}
    assert store.get(stuck)["error"]["code"] == "processing_stalled"
    assert store.get(young)["status"] == "processing"


def test_orphaned_objects_go_once_older_than_the_longest_bound(store, bucket, aws):
    from papila.usecases.sweeper import sweep_orphans

    kept = _record(store, Status.DONE, timedelta(days=2))
    orphan, young_orphan = records.new_id(), records.new_id()
    for sid in (kept, orphan, young_orphan):
        bucket.put(keys.original_key(sid, "jpg"), b"x", "image/jpeg")
        bucket.put(keys.crop_key(sid), b"x", "image/png")
    bucket.put("exports/some-export/part-0001.zip", b"x", "application/zip")  # not a screening's: never touched
    later = records.now() + BOUNDS.awaiting_upload + timedelta(seconds=5)  # every object is old enough by then
    # the young orphan: written after the cut-off of a sweep run now
    assert sweep_orphans(store, bucket, BOUNDS) == 0

    assert sweep_orphans(store, bucket, BOUNDS, at=later, limit=3) == 3  # bounded per run
    assert sweep_orphans(store, bucket, BOUNDS, at=later) == 1
    left = sorted(key for key, _ in [*bucket.listing("uploads/"), *bucket.listing("results/"), *bucket.listing("exports/")])
    assert left == sorted([keys.original_key(kept, "jpg"), keys.crop_key(kept), "exports/some-export/part-0001.zip"])
    assert sweep_orphans(store, bucket, BOUNDS, at=later) == 0


def test_exports_stalled_past_their_bound_end_failed(store):
    """An export whose step message was lost (a LocalStack restart, the DLQ) would stay running forever."""
    exports = Exports(store.col.database)
    exports.col.delete_many({})
    bound = export_bound(max_receive_count=3, grace_s=600)
    assert bound == timedelta(seconds=3 * (360 + 60) + 600)  # the export queue's timing (template.yaml)
    ids = {}
    for name, status, age in (("stalled", ExportStatus.RUNNING, bound + timedelta(seconds=1)),
                              ("lost_before_start", ExportStatus.QUEUED, bound + timedelta(seconds=1)),
                              ("working", ExportStatus.RUNNING, bound - timedelta(seconds=60)),
                              ("finished", ExportStatus.DONE, bound * 3)):
        record = exports.create({}, {"sub": "admin"})
        t = records.now() - age
        exports.col.update_one({"_id": record["_id"]}, {"$set": {"status": str(status), "updated_at": t}})
        exports.items.insert_one({"export_id": record["_id"], "seq": 1})
        ids[name] = record["_id"]
    assert sweep_exports(exports, bound) == 2
    status = {name: exports.get(i)["status"] for name, i in ids.items()}
    assert status == {"stalled": "failed", "lost_before_start": "failed", "working": "running", "finished": "done"}
    assert exports.get(ids["stalled"])["error"]["code"] == "export_stalled"
    assert exports.items.count_documents({"export_id": ids["stalled"]}) == 0
    assert exports.items.count_documents({"export_id": ids["working"]}) == 1
    assert sweep_exports(exports, bound) == 0  # repeats change nothing
