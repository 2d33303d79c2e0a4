"""The screening record and its state machine (pure: no database, no AWS).

awaiting_upload -> queued -> processing -> done | rejected | failed
`processing` may go back to `queued` (a failed attempt that SQS will retry); `done`, `rejected` and
`failed` may go back to `queued` by a rerun with a new crop. Every move is applied by the store as
one conditional update whose filter is `FROM_STATES[target]`, so a repeated event changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    AWAITING_UPLOAD = "awaiting_upload"
    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"
    REJECTED = "rejected"
    FAILED = "failed"


TERMINAL = frozenset({Status.DONE, Status.REJECTED, Status.FAILED})

# target state -> the states it may be reached from
FROM_STATES: dict[Status, frozenset[Status]] = {
    Status.QUEUED: frozenset({Status.AWAITING_UPLOAD, Status.PROCESSING, *TERMINAL}),
    Status.PROCESSING: frozenset({Status.AWAITING_UPLOAD, Status.QUEUED}),
    Status.DONE: frozenset({Status.PROCESSING}),
    Status.REJECTED: frozenset({Status.PROCESSING}),
    Status.FAILED: frozenset({Status.AWAITING_UPLOAD, Status.QUEUED, Status.PROCESSING}),
}


def can_move(current: Status | str, target: Status | str) -> bool:
    return Status(current) in FROM_STATES[Status(target)]


def now() -> datetime:
    # Millisecond precision: what MongoDB stores.
    t = datetime.now(UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def iso(t: datetime | None) -> str | None:
    if t is None:
        return None
    if t.tzinfo is None:  # pymongo returns naive UTC datetimes
        t = t.replace(tzinfo=UTC)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def jsonable(value: Any) -> Any:
    """A stored value as plain JSON (datetimes as ISO-8601 Z)."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def new_id() -> str:
    return str(uuid.uuid4())


def is_valid_id(value: str) -> bool:
    try:
        return str(uuid.UUID(value, version=4)) == value
    except (ValueError, AttributeError, TypeError):
        return False


def new_secret() -> tuple[str, str]:
    """A screening's secret (returned once, at creation) and the hash the record keeps of it."""
    secret = secrets.token_urlsafe(32)
    return secret, secret_hash(secret)


def secret_hash(secret: str) -> str:
    # A 256-bit random token needs no slow hash: SHA-256 cannot be walked back to it.
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def secret_matches(record: dict[str, Any], secret: str) -> bool:
    """Whether `secret` is this screening's; a record made before secrets existed matches none."""
    stored = record.get("secret_hash")
    return isinstance(stored, str) and hmac.compare_digest(stored, secret_hash(secret))


def new_record(
    *,
    screening_id: str,
    filename: str,
    content_type: str,
    original_key: str,
    status: Status,
    crop: dict[str, int] | None,
    consent: dict[str, Any],
    size: int | None = None,
    secret_digest: str | None = None,
    owner: str | None = None,
) -> dict[str, Any]:
    """A fresh MongoDB document (the id is the document's `_id`). `owner`: the `sub` of the signed-in
    account that made it (never its e-mail or user name); absent for an anonymous screening."""
    t = now()
    record: dict[str, Any] = {
        "_id": screening_id,
        "secret_hash": secret_digest,
        "status": str(status),
        "created_at": t,
        "updated_at": t,
        "filename": filename,
        "content_type": content_type,
        "size": size,
        "original_key": original_key,
        "crop_request": crop,  # user crop in original pixels; None = locate automatically
        "consent": consent,
        "attempt": 0,
        "history": [],
    }
    if owner:
        record["owner"] = owner
    return record
