"""What the admin and account services share: the screenings, the audit log and the exports of one database,
connected together on first use (a failure is retried on the next request), and the uploads bucket."""

from __future__ import annotations

from typing import Any

from papila.adapters.audit import AuditLog
from papila.adapters.aws import ImageBucket
from papila.adapters.mongo import Exports, ScreeningStore
from papila.api.errors import ApiError
from papila.config import Settings
from papila.core.records import is_valid_id


def require_id(value: str, what: str = "screening") -> str:
    if not is_valid_id(value):
        raise ApiError(400, "invalid_id", f"The {what} id is not a valid UUID.")
    return value


class Stores:
    def __init__(self, settings: Settings, *, store: ScreeningStore | None = None,
                 bucket: ImageBucket | None = None) -> None:
        self.settings = settings
        self._store = store
        self.bucket = bucket or ImageBucket(settings.uploads_bucket)

    @property
    def store(self) -> ScreeningStore:
        # Connected on first use, with the audit and export indexes.
        if self._store is None:
            s = self.settings
            store = ScreeningStore.connect(s.mongodb_uri, s.mongodb_db)
            self._audit = AuditLog.connect(s.mongodb_uri, s.mongodb_db)
            self._exports = Exports.connect(s.mongodb_uri, s.mongodb_db)
            self._store = store
        return self._store

    @property
    def audit(self) -> AuditLog:
        _ = self.store  # connected together
        return self._audit

    @property
    def exports(self) -> Exports:
        _ = self.store
        return self._exports

    def _record(self, screening_id: str) -> dict[str, Any]:
        record = self.store.get(require_id(screening_id))
        if record is None:
            raise ApiError(404, "not_found", "No screening has this id.")
        return record
