"""Retention: the purge (`papila purge` and the scheduled purge_fn, one code path) erases old screenings
without a confirmed label, and nothing else; it sweeps record-less objects and expires old exports;
every erasure is audited."""

from __future__ import annotations

import importlib.util
import json
from datetime import timedelta
from pathlib import Path

import pytest
from papila.adapters.audit import AuditLog
from papila.adapters.mongo import Exports
from papila.core.records import now
from papila.usecases import retention

from tests.unit.admin_support import objects_of, put_screening

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def put(service, aws, images):
    def make(age_days: float, **kw):
        return put_screening(service, aws, images, created_at=now() - timedelta(days=age_days), **kw)

    return make


def _exports(service) -> Exports:
    return Exports(service.store.col.database)


@pytest.fixture
def audit(service):
    log = AuditLog(service.store.col.database["audit"])
    log.col.delete_many({})
    service.store.col.database["exports"].delete_many({})
    return log


@pytest.fixture
def population(put):
    return {
        "old_none": put(400),
        "old_suspect": put(400, true_label="suspect"),
        "old_unknown": put(400, true_label="unknown"),
        "old_judged_only": put(400, diagnosis_correct=True),
        "old_rejected": put(400, status="rejected"),
        "old_glaucoma": put(400, true_label="glaucoma"),
        "old_normal": put(400, true_label="normal", diagnosis_correct=False),
        "young_none": put(30),
        "young_suspect": put(364, true_label="suspect"),
    }


PURGED = {"old_none", "old_suspect", "old_unknown", "old_judged_only", "old_rejected"}


def test_purge_erases_old_unlabelled_screenings_only(service, aws, audit, population):
    summary = retention.purge(service.store, service.bucket, audit, _exports(service), retention_days=365)
    assert summary["screenings"] == len(PURGED)
    for name, sid in population.items():
        gone = name in PURGED
        assert (service.store.get(sid) is None) == gone, name
        assert (objects_of(aws, sid) == []) == gone, name
    entries = list(audit.col.find({}, {"_id": 0}))
    assert {e["screening_id"] for e in entries} == {population[n] for n in PURGED}
    assert all(e["action"] == "purge" and e["actor"] == {"system": "retention"} for e in entries)
    assert all(e["details"]["reason"] == "retention" for e in entries)


def test_a_dry_run_erases_nothing(service, aws, audit, population):
    summary = retention.purge(service.store, service.bucket, audit, _exports(service), retention_days=365, dry_run=True)
    assert summary["screenings"] == len(PURGED) and summary["dry_run"] is True
    assert all(service.store.get(sid) is not None for sid in population.values())
    assert audit.col.count_documents({}) == 0


def test_a_shorter_retention_takes_more(service, audit, population):
    retention.purge(service.store, service.bucket, audit, _exports(service), retention_days=20)
    assert service.store.get(population["young_none"]) is None
    assert service.store.get(population["old_glaucoma"]) is not None


def test_objects_left_without_a_record_are_swept_after_a_grace_day(service, aws, audit, put):
    kept = put(1, true_label="glaucoma")
    stray = "0b7f3a52-8f6f-4e57-9c55-2f4a1f0e9d11"
    aws.s3.put_object(Bucket=aws.bucket, Key=f"uploads/{stray}/original.jpg", Body=b"late upload")
    aws.s3.put_object(Bucket=aws.bucket, Key=f"results/{stray}/crop.png", Body=b"late result")
    assert retention.purge(service.store, service.bucket, audit, _exports(service), retention_days=365)["orphan_objects"] == 0
    later = now() + timedelta(days=2)  # the stray objects are now older than the grace day
    summary = retention.purge(service.store, service.bucket, audit, _exports(service), retention_days=365, at=later)
    assert summary["orphan_objects"] == 2
    assert objects_of(aws, stray) == [] and len(objects_of(aws, kept)) == 3
    assert audit.col.find_one({"screening_id": stray})["details"] == {"reason": "orphan_objects", "objects": 2}


def test_old_exports_expire(service, aws, audit):
    exports = service.store.col.database["exports"]
    old, fresh = "5c1c7b8e-2d1e-4c8a-9f3a-0a1b2c3d4e5f", "6d2d8c9f-3e2f-4d9b-8a4b-1b2c3d4e5f60"
    for export_id, age in ((old, 8), (fresh, 1)):
        exports.insert_one({"_id": export_id, "status": "done", "created_at": now() - timedelta(days=age)})
        aws.s3.put_object(Bucket=aws.bucket, Key=f"exports/{export_id}.zip", Body=b"PK")
    summary = retention.purge(service.store, service.bucket, audit, _exports(service), retention_days=365, export_retention_days=7)
    assert summary["exports"] == 1
    assert exports.find_one({"_id": old})["status"] == "expired"
    assert exports.find_one({"_id": fresh})["status"] == "done"
    listed = {o["Key"] for o in aws.s3.list_objects_v2(Bucket=aws.bucket, Prefix="exports/").get("Contents", [])}
    assert listed == {f"exports/{fresh}.zip"}
    assert audit.col.find_one({"export_id": old})["action"] == "purge"


def test_papila_purge_command(service, aws, audit, population, monkeypatch, capsys):
    from papila.cli import main as papila

    monkeypatch.setenv("RETENTION_DAYS", "365")
    capsys.readouterr()
    assert papila(["purge", "--dry-run", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["screenings"] == len(PURGED)
    assert papila(["purge", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["screenings"] == len(PURGED) and out["retention_days"] == 365
    assert service.store.get(population["old_none"]) is None
    assert service.store.get(population["young_none"]) is not None


def test_the_scheduled_function_runs_the_same_purge(service, aws, audit, population, monkeypatch):
    monkeypatch.setenv("RETENTION_DAYS", "365")
    spec = importlib.util.spec_from_file_location("purge_fn_handler", ROOT / "purge_fn" / "purge.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    summary = module.handler({"source": "aws.events", "detail-type": "Scheduled Event"}, None)
    assert summary["screenings"] == len(PURGED)
    assert all(service.store.get(population[n]) is None for n in PURGED)


def test_retention_must_be_positive(service, audit, monkeypatch):
    with pytest.raises(ValueError):
        retention.purge(service.store, service.bucket, audit, _exports(service), retention_days=0)
    monkeypatch.setenv("RETENTION_DAYS", "0")
    with pytest.raises(ValueError):
        retention.RetentionSettings.from_env()


def test_consent_is_stored_with_every_screening(api, images, service):
    """Data governance: the consent given travels with the record (the admin detail view shows it)."""
    r = api.post("/api/screenings", {"filename": "eye.png", "content_type": "image/png",
                                     "image_base64": images.b64(images.png()), "consent": True})
    consent = service.store.get(r.json_body["id"])["consent"]
    assert consent["accepted"] is True and consent["version"] and consent["at"]
