"""MongoDB adapter for screening records. Every state move is one conditional `find_one_and_update`
whose filter holds the allowed source states (`records.FROM_STATES`), so repeats change nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any

from pymongo import DESCENDING, MongoClient, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from papila.core.records import FROM_STATES, Status, now


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
