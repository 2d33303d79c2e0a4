"""The audit log: who did what to which screening or export, and when (MongoDB collection `audit`).

One document per admin read, original download (a presigned URL handed out), deletion, export and
purge, and per clinician's own deletion, claim and export: `{at, actor: {sub, username} | {sub, via} |
{system}, action, screening_id | export_id, details}` (`via`: a clinician's right, "owner" or "secret"). Entries
carry ids, counts and filters only, never image data, file names or personal metadata. An entry
that cannot be written fails the request (fail closed: nothing is shown unaudited).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pymongo import DESCENDING
from pymongo.collection import Collection

from papila.adapters.mongo import database
from papila.core.records import now


class Action(StrEnum):
    READ = "read"
    DOWNLOAD = "download"
    DELETE = "delete"
    EXPORT = "export"
    PURGE = "purge"
    REVIEW = "review"  # an expert confirmed a label in the review queue
    PROMOTE = "promote"  # a model version made to serve
    ROLLBACK = "rollback"  # the serving model put back to the one before
    COMPARE = "compare"  # a comparison of a candidate with the serving model asked for
    GRANT = "grant"  # a user put in a role's group (reviewers) by an admin: details {group, user: {sub, username}}
    REVOKE = "revoke"  # a user taken out of a role's group by an admin (the canonical user name, never an e-mail)
    CLAIM = "claim"  # an anonymous screening taken into a clinician's account (its secret proved it)


SYSTEM_RETENTION = {"system": "retention"}


class AuditLog:
    def __init__(self, collection: Collection) -> None:
        self.col = collection

    @classmethod
    def connect(cls, uri: str, db: str) -> AuditLog:
        log = cls(database(uri, db)["audit"])
        log.ensure_indexes()
        return log

    def ensure_indexes(self) -> None:
        self.col.create_index([("at", DESCENDING)], name="at_desc")
        self.col.create_index([("screening_id", 1), ("at", DESCENDING)], name="screening_at")

    def record(
        self,
        actor: dict[str, str],
        action: Action,
        *,
        screening_id: str | None = None,
        export_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        entry: dict[str, Any] = {"at": now(), "actor": dict(actor), "action": str(action)}
        if screening_id is not None:
            entry["screening_id"] = screening_id
        if export_id is not None:
            entry["export_id"] = export_id
        if details:
            entry["details"] = details
        self.col.insert_one(entry)

    def for_screening(self, screening_id: str) -> list[dict[str, Any]]:
        return list(self.col.find({"screening_id": screening_id}, {"_id": 0}).sort("at", DESCENDING))
