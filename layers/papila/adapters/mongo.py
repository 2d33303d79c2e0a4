"""MongoDB adapter: screening records and dataset exports. Every state move is one conditional
`find_one_and_update` whose filter holds the allowed source states (`records.FROM_STATES`), so repeats
change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from pymongo import ASCENDING, DESCENDING, MongoClient, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from papila.core.exports import CONFIRMED_LABELS, ExportStatus
from papila.core.records import FROM_STATES, Status, new_id, now

# The fields the model's monitoring reads of a screening (ScreeningStore.monitored).
MONITORED_FIELDS = {"_id": 1, "created_at": 1, "status": 1, "result.probability_glaucoma": 1, "result.threshold": 1,
                    "result.label": 1, "result.model_version": 1, "feedback.true_label": 1,
                    "feedback.metadata.camera": 1, "error.code": 1}


@cache
def _client(uri: str) -> MongoClient:
    # One client per container/process: pymongo pools connections itself.
    return MongoClient(uri, serverSelectionTimeoutMS=3000, connectTimeoutMS=3000, tz_aware=True)


def database(uri: str, name: str) -> Database:
    """The container's database handle (its other collections: exports, audit)."""
    return _client(uri)[name]


def _in_flight(status: Status, at: datetime) -> dict[str, Any]:
    query: dict[str, Any] = {"status": str(status)}
    if status == Status.PROCESSING:  # never while an attempt's lease still runs
        query["$or"] = [{"lease_until": {"$exists": False}}, {"lease_until": {"$lt": at}}]
    return query


class ScreeningStore:
    def __init__(self, collection: Collection) -> None:
        self.col = collection

    @classmethod
    def connect(cls, uri: str, db: str) -> ScreeningStore:
        store = cls(database(uri, db)["screenings"])
        store.ensure_indexes()
        return store

    def ensure_indexes(self) -> None:
        self.col.create_index([("created_at", DESCENDING)], name="created_at_desc")
        self.col.create_index([("status", 1), ("created_at", DESCENDING)], name="status_created")
        # The admin list's order (newest first, the id breaking ties) is what its cursor pages along.
        self.col.create_index([("created_at", DESCENDING), ("_id", DESCENDING)], name="created_at_id_desc")
        # A clinician's own screenings, newest first (GET /api/me/screenings); anonymous ones carry no owner.
        self.col.create_index([("owner", 1), ("created_at", DESCENDING)], name="owner_created",
                              partialFilterExpression={"owner": {"$exists": True}})
        # One screening per Idempotency-Key: a retried create finds it, two racing creates cannot both insert.
        self.col.create_index([("idempotency.key_hash", 1)], name="idempotency_key", unique=True,
                              partialFilterExpression={"idempotency.key_hash": {"$exists": True}})

    def ping(self) -> None:
        self.col.database.command("ping")

    def insert(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """Insert; None when inserted, or the screening that already holds the record's idempotency key
        (a retried create racing the first one)."""
        try:
            self.col.insert_one(record)
        except DuplicateKeyError:
            key_hash = (record.get("idempotency") or {}).get("key_hash")
            existing = self.by_idempotency_key(key_hash) if key_hash else None
            if existing is None:  # the duplicate was the _id itself
                raise
            return existing
        return None

    def get(self, screening_id: str) -> dict[str, Any] | None:
        return self.col.find_one({"_id": screening_id})

    def existing(self, screening_ids: list[str]) -> set[str]:
        """Which of these screenings have a record."""
        return {doc["_id"] for doc in self.col.find({"_id": {"$in": screening_ids}}, {"_id": 1})}

    def by_idempotency_key(self, key_hash: str) -> dict[str, Any] | None:
        return self.col.find_one({"idempotency.key_hash": key_hash})

    def replace_secret(self, screening_id: str, old_hash: str | None, new_hash: str) -> dict[str, Any] | None:
        """A replayed create hands out a fresh secret (the first answer may never have arrived); only
        if nobody rotated it meanwhile."""
        return self.col.find_one_and_update(
            {"_id": screening_id, "secret_hash": old_hash},
            {"$set": {"secret_hash": new_hash}},
            return_document=ReturnDocument.AFTER,
        )

    def move(
        self,
        screening_id: str,
        target: Status,
        *,
        set_fields: dict[str, Any] | None = None,
        unset: tuple[str, ...] = (),
        push: dict[str, Any] | None = None,
        inc: dict[str, int] | None = None,
        where: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Move to `target` if the record is in an allowed source state; the new record, or None."""
        query = {"_id": screening_id, "status": {"$in": [str(s) for s in FROM_STATES[target]]}, **(where or {})}
        update: dict[str, Any] = {"$set": {"status": str(target), "updated_at": now(), **(set_fields or {})}}
        if unset:
            update["$unset"] = dict.fromkeys(unset, "")
        if push:
            update["$push"] = push
        if inc:
            update["$inc"] = inc
        return self.col.find_one_and_update(query, update, return_document=ReturnDocument.AFTER)

    def claim(self, screening_id: str, original_key: str, lease_seconds: int) -> dict[str, Any] | None:
        """queued/awaiting_upload -> processing, or take over a processing lease that ran out (a killed
        attempt). One conditional update: two deliveries of one event cannot both win."""
        t = now()
        query = {
            "_id": screening_id,
            "original_key": original_key,
            "$or": [
                {"status": {"$in": [str(s) for s in FROM_STATES[Status.PROCESSING]]}},
                {"status": str(Status.PROCESSING), "lease_until": {"$lt": t}},
            ],
        }
        update = {
            "$set": {"status": str(Status.PROCESSING), "updated_at": t,
                     "lease_until": t + timedelta(seconds=lease_seconds)},
            "$inc": {"attempt": 1},
        }
        return self.col.find_one_and_update(query, update, return_document=ReturnDocument.AFTER)

    def set_owner(self, screening_id: str, owner: str) -> dict[str, Any] | None:
        """An anonymous screening claimed by an account (its `sub`); None if it has an owner already."""
        return self.col.find_one_and_update(
            {"_id": screening_id, "owner": {"$exists": False}},
            {"$set": {"owner": owner, "updated_at": now()}},
            return_document=ReturnDocument.AFTER,
        )

    def set_feedback(self, screening_id: str, feedback: dict[str, Any]) -> dict[str, Any] | None:
        """Store (or replace) feedback; only a finished screening takes it."""
        return self.col.find_one_and_update(
            {"_id": screening_id, "status": str(Status.DONE)},
            {"$set": {"feedback": feedback, "updated_at": now()}},
            return_document=ReturnDocument.AFTER,
        )

    def stuck(self, status: Status, before: datetime, at: datetime, limit: int) -> list[dict[str, Any]]:
        """Records (id, `updated_at`) in `status` unchanged since before `before`; a processing one only once
        its attempt's lease has run out at `at`."""
        query = {**_in_flight(status, at), "updated_at": {"$lt": before}}
        return list(self.col.find(query, {"_id": 1, "updated_at": 1}).limit(limit))

    def end_stuck(self, record: dict[str, Any], status: Status, at: datetime,
                  error: dict[str, Any]) -> dict[str, Any] | None:
        """One `stuck` record to `failed` with `error`, only if it did not change since it was found."""
        return self.move(record["_id"], Status.FAILED, unset=("lease_until",), set_fields={"error": error},
                         where={**_in_flight(status, at), "updated_at": record["updated_at"]})

    def page(self, filters: dict[str, Any], after: tuple[datetime, str] | None, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` records, newest first (the id breaking ties), after the cursor (created_at, id).
        `filters`: owner (an account's sub: its screenings only), status, label (the model's), true_label,
        feedback ("given"/"missing"), from, to."""
        query: dict[str, Any] = {}
        if filters.get("owner"):
            query["owner"] = filters["owner"]
        if filters.get("status"):
            query["status"] = filters["status"]
        if filters.get("label"):
            query["result.label"] = filters["label"]
        if filters.get("true_label"):
            query["feedback.true_label"] = filters["true_label"]
        if filters.get("feedback"):
            query["feedback"] = {"$exists": filters["feedback"] == "given"}
        created: dict[str, Any] = {}
        if filters.get("from"):
            created["$gte"] = filters["from"]
        if filters.get("to"):
            created["$lte"] = filters["to"]
        if created:
            query["created_at"] = created
        if after is not None:
            at, last_id = after
            newer = {"$or": [{"created_at": {"$lt": at}}, {"created_at": at, "_id": {"$lt": last_id}}]}
            query = {"$and": [query, newer]} if query else newer
        return list(self.col.find(query).sort([("created_at", DESCENDING), ("_id", DESCENDING)]).limit(limit))

    def tallies(self) -> list[tuple[dict[str, Any], int]]:
        """How many records share each (status `s`, model label `l`, model version `v`, true label `t`,
        diagnosis_correct `d`, feedback given `f`): counts, no record read."""
        groups = self.col.aggregate([{"$group": {"_id": {
            "s": "$status", "l": "$result.label", "v": "$result.model_version",
            "t": "$feedback.true_label", "d": "$feedback.diagnosis_correct",
            "f": {"$cond": [{"$ifNull": ["$feedback", False]}, True, False]},
        }, "n": {"$sum": 1}}}])
        return [(group["_id"], int(group["n"])) for group in groups]

    def confirmed(self, filters: dict[str, Any], snapshot_at: datetime,
                  after: list[Any] | None = None) -> Iterator[dict[str, Any]]:
        """The screenings an export takes (`selection`), oldest first, after the cursor [created_at, id]."""
        query = selection(filters, snapshot_at)
        if after:
            query = {"$and": [query, _after_cursor(after)]}
        found = self.col.find(query).sort([("created_at", ASCENDING), ("_id", ASCENDING)]).batch_size(100)
        try:
            yield from found
        finally:
            found.close()

    def unlabelled_before(self, cutoff: datetime, screening_id: str | None = None) -> list[str]:
        """Ids of screenings created before `cutoff` with no confirmed label (`$nin` also matches no
        feedback); with `screening_id`, that one only if it still is."""
        query: dict[str, Any] = {"created_at": {"$lt": cutoff}, "feedback.true_label": {"$nin": list(CONFIRMED_LABELS)}}
        if screening_id is not None:
            query["_id"] = screening_id
        return [doc["_id"] for doc in self.col.find(query, {"_id": 1})]

    def unconfirmed(self, limit: int) -> list[dict[str, Any]]:
        """Done screenings without a confirmed label (glaucoma/normal), newest first, at most `limit`."""
        query = {"status": str(Status.DONE), "feedback.true_label": {"$nin": list(CONFIRMED_LABELS)}}
        return list(self.col.find(query, {"_id": 1, "created_at": 1, "result": 1, "feedback": 1})
                    .sort([("created_at", DESCENDING), ("_id", DESCENDING)]).limit(limit))

    def monitored(self, start: datetime | None, end: datetime | None, limit: int) -> list[dict[str, Any]]:
        """What the model's monitoring reads (papila.core.monitoring), created in [start, end]: the done
        screenings with a confirmed label and the rejected ones, each kind newest first and at most `limit`
        of it, with only the fields it needs. Both queries are on status and created_at (`status_created`)."""
        created: dict[str, Any] = {}
        if start is not None:
            created["$gte"] = start
        if end is not None:
            created["$lte"] = end
        when = {"created_at": created} if created else {}
        confirmed = {"status": str(Status.DONE), "feedback.true_label": {"$in": list(CONFIRMED_LABELS)}, **when}
        rejected = {"status": str(Status.REJECTED), **when}
        order = [("created_at", DESCENDING), ("_id", DESCENDING)]
        out: list[dict[str, Any]] = []
        for query in (confirmed, rejected):
            out += self.col.find(query, MONITORED_FIELDS).sort(order).limit(limit)
        return out

    def set_review(self, screening_id: str, true_label: str, reviewer: dict[str, str]) -> dict[str, Any] | None:
        """An expert's label on a done screening: `feedback.true_label` (what exports and training take)
        and `review` (who, when, the label it replaced). One conditional update on the record as read: the
        record after, None if it is not done or changed meanwhile."""
        record = self.get(screening_id)
        if record is None or record.get("status") != Status.DONE:
            return None
        t = now()
        feedback = dict(record.get("feedback") or {})
        review = {"by": reviewer, "at": t, "true_label": true_label, "replaced": feedback.get("true_label")}
        feedback.update(true_label=true_label, given_at=feedback.get("given_at") or t)
        return self.col.find_one_and_update(
            {"_id": screening_id, "status": str(Status.DONE), "updated_at": record.get("updated_at")},
            {"$set": {"feedback": feedback, "review": review, "updated_at": t}},
            return_document=ReturnDocument.AFTER,
        )

    def note_original(self, screening_id: str, fields: dict[str, Any]) -> None:
        """What the worker learned about the stored original (its identity, a refused replacement):
        facts about the object, whatever the status."""
        self.col.update_one({"_id": screening_id}, {"$set": fields})

    def set_metadata(self, screening_id: str, metadata: dict[str, Any]) -> dict[str, Any] | None:
        """Seed route: metadata may arrive before the result."""
        return self.col.find_one_and_update(
            {"_id": screening_id},
            {"$set": {"feedback.metadata": metadata, "feedback.given_at": now(), "updated_at": now()}},
            return_document=ReturnDocument.AFTER,
        )

    def delete(self, screening_id: str) -> bool:
        return self.col.delete_one({"_id": screening_id}).deleted_count == 1


# ---------------------------------------------------------------- dataset exports


class Exports:
    """The `exports` collection (one record per export) and `export_items` (the entries of its parts).
    Every state move is one conditional update: of two copies of one step, only one may save a part."""

    def __init__(self, db: Database) -> None:
        self.col = db["exports"]
        self.items = db["export_items"]

    @classmethod
    def connect(cls, uri: str, db: str) -> Exports:
        exports = cls(database(uri, db))
        exports.ensure_indexes()
        return exports

    def ensure_indexes(self) -> None:
        self.col.create_index([("created_at", -1)], name="created_at_desc")
        self.items.create_index([("export_id", ASCENDING), ("seq", ASCENDING)], name="export_seq")

    def create(self, filters: dict[str, Any], actor: dict[str, str]) -> dict[str, Any]:
        t = now()
        record = {
            "_id": new_id(), "status": str(ExportStatus.QUEUED), "created_at": t, "updated_at": t,
            "filters": filters, "requested_by": actor, "key": None,
            "counts": {"screenings": 0, "glaucoma": 0, "normal": 0},
        }
        self.col.insert_one(record)
        return record

    def get(self, export_id: str) -> dict[str, Any] | None:
        return self.col.find_one({"_id": export_id})

    def stalled(self, before: datetime, limit: int) -> list[dict[str, Any]]:
        """Exports still queued or running whose last progress is older than `before`."""
        return list(self.col.find({"status": {"$in": [str(ExportStatus.QUEUED), str(ExportStatus.RUNNING)]},
                                   "updated_at": {"$lt": before}}, {"_id": 1, "updated_at": 1}).limit(limit))

    def fail(self, export_id: str, code: str, message: str, *,
             unchanged_since: datetime | None = None) -> dict[str, Any] | None:
        """End a queued or running export `failed` (`unchanged_since`: only if no step saved since)."""
        where: dict[str, Any] = {"_id": export_id,
                                 "status": {"$in": [str(ExportStatus.QUEUED), str(ExportStatus.RUNNING)]}}
        if unchanged_since is not None:
            where["updated_at"] = unchanged_since
        record = self.col.find_one_and_update(
            where,
            {"$set": {"status": str(ExportStatus.FAILED), "updated_at": now(),
                      "error": {"code": code, "message": message}}},
            return_document=ReturnDocument.AFTER,
        )
        if record is not None:
            self.items.delete_many({"export_id": export_id})
        return record

    def start(self, export_id: str, key: str, progress: dict[str, Any], counts: dict[str, int]) -> dict[str, Any] | None:
        """queued -> running with its upload's progress; None if another copy started it first."""
        return self.col.find_one_and_update(
            {"_id": export_id, "status": str(ExportStatus.QUEUED)},
            {"$set": {"status": str(ExportStatus.RUNNING), "updated_at": now(), "key": key,
                      "progress": progress, "counts": counts}},
            return_document=ReturnDocument.AFTER,
        )

    def save_items(self, export_id: str, part_number: int, etag: str, items: list[dict[str, Any]]) -> None:
        """The entries a part holds (the closing step assembles the zip's directory from them)."""
        for item in items:
            doc = {**item, "export_id": export_id, "part": part_number, "etag": etag}
            self.items.replace_one({"_id": f"{export_id}:{item['seq']}"}, doc, upsert=True)

    def saved_items(self, export_id: str) -> list[dict[str, Any]]:
        return list(self.items.find({"export_id": export_id}).sort("seq", ASCENDING))

    def save_progress(self, export_id: str, part_number: int, progress: dict[str, Any],
                      counts: dict[str, int]) -> dict[str, Any] | None:
        """Part `part_number` written: the new progress, if no other step saved this part first."""
        return self.col.find_one_and_update(
            {"_id": export_id, "status": str(ExportStatus.RUNNING), "progress.next_part": part_number},
            {"$set": {"updated_at": now(), "counts": counts, "progress": progress}},
            return_document=ReturnDocument.AFTER,
        )

    def mark_done(self, export_id: str, part_number: int, size: int, counts: dict[str, int]) -> dict[str, Any] | None:
        """running -> done after its last part (`part_number`), if no other step did it first."""
        done = self.col.find_one_and_update(
            {"_id": export_id, "status": str(ExportStatus.RUNNING), "progress.next_part": part_number},
            {"$set": {"status": str(ExportStatus.DONE), "updated_at": now(), "finished_at": now(),
                      "counts": counts, "size": size},
             "$unset": {"progress": ""}},
            return_document=ReturnDocument.AFTER,
        )
        self.items.delete_many({"export_id": export_id})
        return done

    def older_than(self, cutoff: datetime) -> list[dict[str, Any]]:
        """Exports created before `cutoff` not yet expired (id, status, an unfinished upload's id)."""
        return list(self.col.find({"created_at": {"$lt": cutoff}, "status": {"$ne": str(ExportStatus.EXPIRED)}},
                                  {"_id": 1, "status": 1, "progress.upload_id": 1}))

    def expire(self, export_id: str) -> None:
        self.col.update_one({"_id": export_id}, {"$set": {"status": str(ExportStatus.EXPIRED), "updated_at": now()},
                                                "$unset": {"progress": ""}})


def selection(filters: dict[str, Any], snapshot_at: datetime) -> dict[str, Any]:
    """The screenings an export takes: done, with a confirmed label, created up to the request. `owner`:
    that account's only; `include_unconfirmed` (a clinician's own export): every status and label too."""
    created: dict[str, Any] = {"$lte": snapshot_at}
    if filters.get("from"):
        created["$gte"] = filters["from"]
    if filters.get("to"):
        created["$lte"] = min(filters["to"], snapshot_at)
    query: dict[str, Any] = {"created_at": created}
    if filters.get("owner"):
        query["owner"] = filters["owner"]
    true_label = filters.get("true_label")
    if not filters.get("include_unconfirmed"):
        query["status"] = "done"
        query["feedback.true_label"] = true_label if true_label in CONFIRMED_LABELS else {"$in": list(CONFIRMED_LABELS)}
    elif true_label:
        query["feedback.true_label"] = true_label
    if filters.get("label"):
        query["result.label"] = filters["label"]
    if filters.get("model_version"):
        query["result.model_version"] = filters["model_version"]
    if filters.get("reviewed"):  # only labels an expert confirmed (the review queue)
        query["review"] = {"$exists": True}
    return query


def _after_cursor(cursor: list[Any] | None) -> dict[str, Any]:
    if not cursor:
        return {}
    at, last_id = cursor
    return {"$or": [{"created_at": {"$gt": at}}, {"created_at": at, "_id": {"$gt": last_id}}]}
