"""The bounded sweep: no screening stays in `awaiting_upload`, `queued` or `processing` past a bound.

Every in-flight state has an upper bound on its life, derived from the same timing as the worker's lease
(papila.config): a message lives at most `max_receive_count` receives, each `visibility_timeout` apart
and each at most `function_timeout` long, before SQS moves it to the dead-letter queue; an upload form
lives `presign_expires`. A record still in such a state past that bound (plus a grace for queue backlog)
will never be moved by anyone else, so it is moved to `failed` here with the reason, as one conditional
update that also checks the record did not change meanwhile. Repeats change nothing.

Dataset exports are bounded the same way: one still `queued` or `running` whose last saved step is older
than its step messages' life on the export queue (papila.usecases.export's timing) ends `failed` (`export_stalled`).

It also cleans orphaned objects: anything under `uploads/<id>/` or `results/<id>/` older than the longest
bound whose screening has no record (a create whose record write failed after its upload form was used,
a record erased while a late upload arrived) is deleted, so no photo outlives its record.

Run by template.yaml's SweepFunction on a schedule (sweep_fn/sweep.py) and, the same code, periodically
by the local cloud (infra/localcloud.py). It talks to the ports ScreeningRecords and ObjectStore (any object
with `listing` and `delete`): no AWS client here."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from papila import config
from papila.adapters.mongo import Exports, ScreeningStore
from papila.core import keys
from papila.core.ports import ObjectStore, ScreeningRecords
from papila.core.records import Status, now
from papila.usecases.export import FUNCTION_TIMEOUT_S, QUEUE_VISIBILITY_S

log = logging.getLogger("papila.usecases.sweeper")

DEFAULT_GRACE_S = 600  # queue backlog and clock skew on top of the message's own life
DEFAULT_LIMIT = 500  # records moved per state and run; the next run takes the rest

REASONS: dict[Status, dict[str, str]] = {
    Status.AWAITING_UPLOAD: {
        "code": "upload_not_received",
        "message": "No photo arrived before the upload form expired; start a new screening.",
    },
    Status.QUEUED: {
        "code": "processing_not_started",
        "message": "The photo was not processed in time; please upload it again.",
    },
    Status.PROCESSING: {
        "code": "processing_stalled",
        "message": "The photo could not be processed in time after several attempts; please upload it again.",
    },
}


@dataclass(frozen=True)
class Bounds:
    """How long a record may stay in each in-flight state (since its last change, `updated_at`)."""

    awaiting_upload: timedelta
    queued: timedelta
    processing: timedelta

    @classmethod
    def from_timing(cls, *, function_timeout: int, visibility_timeout: int, max_receive_count: int,
                    presign_expires: int, grace_s: int = DEFAULT_GRACE_S) -> Bounds:
        lease = config.lease_seconds(function_timeout)
        message_life = max_receive_count * (max(visibility_timeout, lease) + function_timeout) + grace_s
        return cls(
            # the form may be used up to its last second; the upload's message then has its own life
            awaiting_upload=timedelta(seconds=presign_expires + message_life),
            queued=timedelta(seconds=message_life),
            processing=timedelta(seconds=message_life),
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Bounds:
        env = os.environ if env is None else env
        settings = config.Settings.from_env(env)
        timeout = settings.function_timeout or 900  # Lambda's longest, when not told
        return cls.from_timing(
            function_timeout=timeout,
            visibility_timeout=int(env.get("QUEUE_VISIBILITY_TIMEOUT") or config.visibility_timeout(timeout)),
            max_receive_count=settings.max_receive_count,
            presign_expires=settings.presign_expires,
            grace_s=int(env.get("SWEEP_GRACE_S") or DEFAULT_GRACE_S),
        )

    def of(self, status: Status) -> timedelta:
        return {Status.AWAITING_UPLOAD: self.awaiting_upload, Status.QUEUED: self.queued,
                Status.PROCESSING: self.processing}[status]


def sweep(store: ScreeningRecords, bounds: Bounds, *, at: datetime | None = None,
          limit: int = DEFAULT_LIMIT) -> dict[str, int]:
    """Move every record past its state's bound to `failed` with the reason; how many, per state."""
    t = at or now()
    moved: dict[str, int] = {}
    for status, reason in REASONS.items():
        count = 0
        for doc in store.stuck(status, t - bounds.of(status), t, limit):
            done = store.end_stuck(doc, status, t, {**reason, "stuck_in": str(status), "swept_at": t})
            if done is not None:
                count += 1
                log.warning("screening %s: %s past its bound; marked failed (%s)", doc["_id"], status, reason["code"])
        moved[str(status)] = count
    return moved


def sweep_orphans(store: ScreeningRecords, objects: ObjectStore, bounds: Bounds, *, at: datetime | None = None,
                  limit: int = DEFAULT_LIMIT) -> int:
    """Delete objects of screenings that have no record, once older than the longest bound (a record is
    always written before its upload form is handed out, so a younger object may still be expected).
    At most `limit` objects a run; how many were deleted."""
    cutoff = (at or now()) - max(bounds.awaiting_upload, bounds.queued, bounds.processing)
    old: dict[str, list[str]] = {}
    for prefix in (keys.UPLOADS_PREFIX, keys.RESULTS_PREFIX):
        for key, modified in objects.listing(prefix):
            owner = keys.owner_of(key)
            if owner is not None and modified < cutoff:
                old.setdefault(owner, []).append(key)
    deleted = 0
    owners = list(old)
    for start in range(0, len(owners), 500):
        batch = owners[start:start + 500]
        for owner in set(batch) - store.existing(batch):
            for key in old[owner]:
                if deleted >= limit:
                    return deleted
                objects.delete(key)
                deleted += 1
                log.warning("orphaned object of screening %s deleted (no record)", owner)
    return deleted


def export_bound(max_receive_count: int, grace_s: int = DEFAULT_GRACE_S) -> timedelta:
    """How long an export may go without a saved step: its step message's whole life on the export queue."""
    return timedelta(seconds=max_receive_count * (QUEUE_VISIBILITY_S + FUNCTION_TIMEOUT_S) + grace_s)


def sweep_exports(exports: Exports, bound: timedelta, *, at: datetime | None = None, limit: int = DEFAULT_LIMIT) -> int:
    """End exports stalled past `bound` `failed` (their step message was lost or dead-lettered); how many."""
    moved = 0
    for doc in exports.stalled((at or now()) - bound, limit):
        if exports.fail(doc["_id"], "export_stalled", "The export stopped making progress; start a new one.",
                        unchanged_since=doc["updated_at"]) is not None:
            moved += 1
            log.warning("export %s stalled; marked failed", doc["_id"])
    return moved


def sweep_from_env(env: Mapping[str, str] | None = None, objects: ObjectStore | None = None) -> dict[str, int]:
    """Both sweeps, configured from the environment; `objects`: the uploads bucket (default: the
    container's S3 client on UPLOADS_BUCKET)."""
    from papila.adapters.aws import ImageBucket  # the adapter, chosen here at the edge

    settings = config.Settings.from_env(env)
    store = ScreeningStore.connect(settings.mongodb_uri, settings.mongodb_db)
    bounds = Bounds.from_env(env)
    moved = sweep(store, bounds)
    grace = int((env if env is not None else os.environ).get("SWEEP_GRACE_S") or DEFAULT_GRACE_S)
    exports = Exports.connect(settings.mongodb_uri, settings.mongodb_db)
    moved["exports"] = sweep_exports(exports, export_bound(settings.max_receive_count, grace))
    moved["orphaned_objects"] = sweep_orphans(store, objects or ImageBucket(settings.uploads_bucket), bounds)
    return moved
