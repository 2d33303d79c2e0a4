"""The ports: what the use cases need from the outside world, as small Protocols. The adapters
(papila.adapters: MongoDB, S3, SQS) implement them; tests may hand in anything that fits."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from papila.core.records import Status


class ScreeningRecords(Protocol):
    """The screenings' records; every state move is one conditional update (repeats change nothing)."""

    def get(self, screening_id: str) -> dict[str, Any] | None: ...

    def existing(self, screening_ids: list[str]) -> set[str]: ...

    def claim(self, screening_id: str, original_key: str, lease_seconds: int) -> dict[str, Any] | None: ...

    def move(self, screening_id: str, target: Status, *, unset: tuple[str, ...] = (),
             set_fields: dict[str, Any] | None = None, where: dict[str, Any] | None = None) -> dict[str, Any] | None: ...

    def note_original(self, screening_id: str, fields: dict[str, Any]) -> None: ...

    def stuck(self, status: Status, before: datetime, at: datetime, limit: int) -> list[dict[str, Any]]: ...

    def end_stuck(self, record: dict[str, Any], status: Status, at: datetime,
                  error: dict[str, Any]) -> dict[str, Any] | None: ...


class ObjectStore(Protocol):
    """The photos and what is derived from them, by key."""

    def get(self, key: str) -> bytes: ...

    def get_if_exists(self, key: str) -> bytes | None: ...

    def get_with_etag(self, key: str) -> tuple[bytes, str, dict[str, str]]: ...

    def etag(self, key: str) -> str | None: ...

    def put(self, key: str, body: bytes, content_type: str) -> str: ...

    def delete(self, key: str) -> None: ...

    def listing(self, prefix: str) -> Iterable[tuple[str, datetime]]: ...


class WorkQueue(Protocol):
    """A queue of work for a function (the inference queue, the export queue)."""

    def send(self, body: str) -> None: ...

    def ping(self) -> None: ...
