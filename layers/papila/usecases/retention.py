"""Data governance: erasure of one screening, and the retention purge.

Erasure removes every S3 object under the screening's prefixes (`keys.screening_prefixes`) and its
record. The purge (daily, by `purge_fn/` in AWS and `papila purge` locally; the same code) erases
screenings older than RETENTION_DAYS (default 365) that carry no confirmed label
(`feedback.true_label` glaucoma or normal): unlabelled photos are kept no longer than needed, labelled
ones are the research dataset the consent was given for. It also sweeps objects left without a record
(an upload that arrived after its screening was erased) and expires dataset exports older than
EXPORT_RETENTION_DAYS (default 7), since an export copies photos that may since have been erased.
Every purged screening and export gets an audit entry.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from papila.adapters.audit import SYSTEM_RETENTION, Action, AuditLog
from papila.adapters.aws import ImageBucket
from papila.adapters.mongo import Exports, ScreeningStore
from papila.core import keys
from papila.core.exports import export_key
from papila.core.records import now

log = logging.getLogger("papila.usecases.retention")

DEFAULT_RETENTION_DAYS = 365
DEFAULT_EXPORT_RETENTION_DAYS = 7
# Objects without a record are swept only once older than this: a presigned upload may still be on its
# way to a record that exists (uploads are accepted for 15 minutes).
ORPHAN_GRACE = timedelta(days=1)


def erase_screening(store: ScreeningStore, bucket: ImageBucket, screening_id: str) -> tuple[bool, int]:
    """Erase a screening's objects and record: (record existed, objects deleted).

    Objects go first, so a failure leaves a record to retry the erasure with; they are swept again
    after the record is gone, in case the worker wrote a result in between."""
    deleted = sum(bucket.delete_prefix(prefix) for prefix in keys.screening_prefixes(screening_id))
    existed = store.delete(screening_id)
    deleted += sum(bucket.delete_prefix(prefix) for prefix in keys.screening_prefixes(screening_id))
    return existed, deleted


@dataclass(frozen=True)
class RetentionSettings:
    retention_days: int = DEFAULT_RETENTION_DAYS
    export_retention_days: int = DEFAULT_EXPORT_RETENTION_DAYS

    @classmethod
    def from_env(cls) -> RetentionSettings:
        days = int(os.environ.get("RETENTION_DAYS", DEFAULT_RETENTION_DAYS))
        export_days = int(os.environ.get("EXPORT_RETENTION_DAYS", DEFAULT_EXPORT_RETENTION_DAYS))
        if days < 1 or export_days < 1:
            raise ValueError("RETENTION_DAYS and EXPORT_RETENTION_DAYS must be at least 1")
        return cls(days, export_days)


def purge(
    store: ScreeningStore,
    bucket: ImageBucket,
    audit: AuditLog,
    exports: Exports,
    *,
    retention_days: int,
    export_retention_days: int = DEFAULT_EXPORT_RETENTION_DAYS,
    at: datetime | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Erase what retention says must go; a summary of counts (no ids: it is printed and logged)."""
    if retention_days < 1:
        raise ValueError("retention_days must be at least 1")
    at = at or now()
    cutoff = at - timedelta(days=retention_days)
    ids = store.unlabelled_before(cutoff)
    summary: dict[str, Any] = {"retention_days": retention_days, "cutoff": cutoff.isoformat(), "dry_run": dry_run,
                               "screenings": len(ids), "objects": 0, "orphan_objects": 0, "exports": 0}
    if dry_run:
        return summary
    for screening_id in ids:
        # Re-check at erasure time: feedback may have arrived since the query.
        if not store.unlabelled_before(cutoff, screening_id):
            summary["screenings"] -= 1
            continue
        _, deleted = erase_screening(store, bucket, screening_id)
        summary["objects"] += deleted
        audit.record(SYSTEM_RETENTION, Action.PURGE, screening_id=screening_id,
                     details={"reason": "retention", "retention_days": retention_days, "objects": deleted})
    summary["orphan_objects"] = sweep_orphans(store, bucket, audit, at=at)
    summary["exports"] = expire_exports(exports, bucket, audit, days=export_retention_days, at=at)
    log.info("purge: %s", summary)
    return summary


def sweep_orphans(store: ScreeningStore, bucket: ImageBucket, audit: AuditLog, *, at: datetime) -> int:
    """Delete screening objects older than ORPHAN_GRACE whose record no longer exists."""
    by_id: dict[str, list[str]] = {}
    for prefix in (keys.UPLOADS_PREFIX, keys.RESULTS_PREFIX):
        for key, modified in bucket.listing(prefix):
            owner = keys.owner_of(key)
            if owner is not None and modified < at - ORPHAN_GRACE:
                by_id.setdefault(owner, []).append(key)
    ids = list(by_id)
    existing: set[str] = set()
    for i in range(0, len(ids), 500):
        existing |= store.existing(ids[i:i + 500])
    deleted = 0
    for screening_id in set(ids) - existing:
        bucket.delete_many(by_id[screening_id])
        deleted += len(by_id[screening_id])
        audit.record(SYSTEM_RETENTION, Action.PURGE, screening_id=screening_id,
                     details={"reason": "orphan_objects", "objects": len(by_id[screening_id])})
    return deleted


def expire_exports(exports: Exports, bucket: ImageBucket, audit: AuditLog, *, days: int, at: datetime) -> int:
    """Delete export zips older than `days`; their records stay, marked `expired`."""
    cutoff = at - timedelta(days=days)
    expired = 0
    for doc in exports.older_than(cutoff):
        upload_id = (doc.get("progress") or {}).get("upload_id")
        if upload_id:  # a stalled export: its parts go too
            bucket.abort_upload(export_key(doc["_id"]), upload_id)
        bucket.delete(export_key(doc["_id"]))
        exports.expire(doc["_id"])
        audit.record(SYSTEM_RETENTION, Action.PURGE, export_id=doc["_id"],
                     details={"reason": "export_retention", "export_retention_days": days})
        expired += 1
    return expired


def purge_from_env(*, retention_days: int | None = None, dry_run: bool = False) -> dict[str, Any]:
    """The purge with the deployment's settings (the scheduled function and `papila purge`)."""
    from papila.config import Settings

    settings = Settings.from_env()
    retention = RetentionSettings.from_env()
    store = ScreeningStore.connect(settings.mongodb_uri, settings.mongodb_db)
    audit = AuditLog.connect(settings.mongodb_uri, settings.mongodb_db)
    exports = Exports.connect(settings.mongodb_uri, settings.mongodb_db)
    return purge(store, ImageBucket(settings.uploads_bucket), audit, exports,
                 retention_days=retention_days or retention.retention_days,
                 export_retention_days=retention.export_retention_days, dry_run=dry_run)
