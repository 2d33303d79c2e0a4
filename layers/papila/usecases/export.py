"""Dataset export, the use case: the confirmed-label screenings as a zip in S3 (`exports/<id>.zip`), in
the layout of papila.core.exports, which `papila train` and `papila evaluate` read:

    glaucoma/<screening-id>.png            the 224-ready crops the model saw
    normal/<screening-id>.png
    originals/<label>/<screening-id>.<ext> the (metadata-free) original photos
    labels.csv                             file,label,screening_id,model_version,subject_id,camera
    metadata.jsonl                         one line per screening: label, feedback, model result

The label is the confirmed feedback only (`feedback.true_label` glaucoma or normal); suspect, unknown
or no feedback is left out. A clinician's own export (POST /api/me/exports: filters `owner` and
`include_unconfirmed`) takes every screening of theirs instead: the rest under `unconfirmed/`, each with
its metadata.jsonl line (papila.core.exports). Photos are named by screening id: no file names, and of the feedback
metadata the free-text `notes` is left out (it may name a person).

labels.csv has one row per exported crop; `file` is the crop's path inside the export. `subject_id`
(the feedback's pseudonymous person id: both eyes and repeat photos of one person share it) lets a
trainer group its folds by person, and `camera` (as the feedback gave it) is the domain for per-domain
metrics; either is an empty string when the feedback did not give it. A trainer that reads only the
`glaucoma/` and `normal/` folders ignores the csv.

How it runs, asynchronously and in bounded steps, on its own queue and function (template.yaml:
ExportQueue, ExportFunction; export_fn/exports.py), never in the inference function. The API records
the export (`queued`) and sends `{"papila_export": "<id>"}` to the export queue (EXPORT_QUEUE_URL); the
export function hands each such message here, in AWS and under the local Lambda runner alike. A step
appends screenings, oldest first, to an S3 multipart upload, one part (>= 5 MiB, S3's minimum) at a
time, and saves its progress in the export record after each part with a conditional update; when
its time budget (EXPORT_STEP_SECONDS) is spent it sends the next message and returns. So an export of
any size fits any function timeout, a killed step is redone from the last saved part when SQS
redelivers its message, and of two copies of one message only one may save a part. The zip is
written by hand (stored entries, ZIP64 when large) because its central directory is assembled from
the entries of all steps, kept in `export_items`, when the last part is written.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Protocol

from papila.core import keys
from papila.core.exports import (
    LABEL_DIRS,
    LABELS_COLUMNS,
    UNCONFIRMED,
    Entry,
    ExportConflict,
    ExportStatus,
    central_directory,
    confirmed_label,
    directory_offsets,
    dos_datetime,
    export_key,
    metadata_line,
    write_entry,
)
from papila.core.ports import WorkQueue
from papila.core.records import is_valid_id

log = logging.getLogger("papila.usecases.export")

MIB = 1024 * 1024
S3_MIN_PART = 5 * MIB
DEFAULT_PART_MB = 16
DEFAULT_STEP_SECONDS = 20.0
# The export function's timing (template.yaml: ExportFunction's Timeout, ExportQueue's VisibilityTimeout;
# tests/integration/test_template.py keeps them equal): what bounds a step's message's life.
FUNCTION_TIMEOUT_S = 60
QUEUE_VISIBILITY_S = 360
MESSAGE_KEY = "papila_export"


def step_message(export_id: str) -> str:
    return json.dumps({MESSAGE_KEY: export_id})


# ---------------------------------------------------------------- the ports a build talks to


class ExportRecords(Protocol):
    """The exports' records and the entries of their saved parts (papila.adapters.mongo.Exports)."""

    def get(self, export_id: str) -> dict[str, Any] | None: ...

    def start(self, export_id: str, key: str, progress: dict[str, Any], counts: dict[str, int]) -> dict[str, Any] | None: ...

    def save_items(self, export_id: str, part_number: int, etag: str, items: list[dict[str, Any]]) -> None: ...

    def saved_items(self, export_id: str) -> list[dict[str, Any]]: ...

    def save_progress(self, export_id: str, part_number: int, progress: dict[str, Any],
                      counts: dict[str, int]) -> dict[str, Any] | None: ...

    def mark_done(self, export_id: str, part_number: int, size: int, counts: dict[str, int]) -> dict[str, Any] | None: ...

    def fail(self, export_id: str, code: str, message: str) -> dict[str, Any] | None: ...


class ConfirmedScreenings(Protocol):
    def confirmed(self, filters: dict[str, Any], snapshot_at: datetime,
                  after: list[Any] | None = None) -> Iterator[dict[str, Any]]: ...


class ExportBucket(Protocol):
    """The objects an export reads and the zip it writes in parts (papila.adapters.aws.ImageBucket)."""

    def get_if_exists(self, key: str) -> bytes | None: ...

    def size(self, key: str) -> int | None: ...

    def start_upload(self, key: str, content_type: str) -> str: ...

    def upload_part(self, key: str, upload_id: str, number: int, body: bytes) -> str: ...

    def complete_upload(self, key: str, upload_id: str, parts: list[dict[str, Any]]) -> None: ...

    def abort_upload(self, key: str, upload_id: str) -> bool: ...


# ---------------------------------------------------------------- the builder


class ExportBuilder:
    def __init__(
        self,
        exports: ExportRecords,
        screenings: ConfirmedScreenings,
        bucket: ExportBucket,
        *,
        kick: Callable[[str], None],
        part_bytes: int = DEFAULT_PART_MB * MIB,
        step_seconds: float = DEFAULT_STEP_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.exports, self.screenings, self.bucket = exports, screenings, bucket
        self.kick, self.part_bytes, self.step_seconds, self.clock = kick, part_bytes, step_seconds, clock

    def step(self, export_id: str) -> str:
        """Advance an export by parts until done or the time budget is spent; its status after."""
        started = self.clock()
        record = self._start(export_id)
        while record is not None and record["status"] == ExportStatus.RUNNING:
            record = self._part(record)  # at least one part per step: every step makes progress
            if record is not None and record["status"] == ExportStatus.RUNNING \
                    and self.clock() - started > self.step_seconds:
                self.kick(export_id)  # the rest in the next step, under a fresh function timeout
                return str(ExportStatus.RUNNING)
        return str(record["status"]) if record else "superseded"

    def _start(self, export_id: str) -> dict[str, Any] | None:
        record = self.exports.get(export_id)
        if record is None or record["status"] != ExportStatus.QUEUED:
            return record
        upload_id = self.bucket.start_upload(export_key(export_id), "application/zip")
        progress = {"upload_id": upload_id, "next_part": 1, "parts": [], "offset": 0, "seq": 0, "cursor": None}
        counts = {"screenings": 0, "glaucoma": 0, "normal": 0, "originals": 0, "missing_crop": 0, "missing_original": 0}
        if (record.get("filters") or {}).get("include_unconfirmed"):
            counts[UNCONFIRMED] = 0
        started = self.exports.start(export_id, export_key(export_id), progress, counts)
        if started is None:  # another copy of the message started it first
            self._abort(export_key(export_id), upload_id)
            return self.exports.get(export_id)
        log.info("export %s started", export_id)
        return started

    def _part(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """Write the next part; the record after it (None: another step saved this part first)."""
        export_id, progress = record["_id"], record["progress"]
        part_number, base = progress["next_part"], progress["offset"]
        dos = dos_datetime(record["created_at"])
        counts = dict(record["counts"])
        buf = bytearray()
        items: list[dict[str, Any]] = []
        seq, cursor = progress["seq"], progress["cursor"]
        if part_number == 1:
            # Directory entries first, so both label folders exist even when one class is empty.
            for name in LABEL_DIRS:
                write_entry(buf, name, b"", base, dos)
        exhausted = True
        filters = record.get("filters") or {}
        for screening in self.screenings.confirmed(filters, record["created_at"], cursor):
            cursor = [screening["created_at"], screening["_id"]]
            item = self._add(screening, buf, base, dos, counts, unconfirmed=bool(filters.get("include_unconfirmed")))
            if item is not None:
                item["seq"] = seq
                seq += 1
                items.append(item)
            if len(buf) >= self.part_bytes:
                exhausted = False
                break
        if exhausted:
            buf += self._closing(record, items, base + len(buf), dos)
        if exhausted and self.bucket.size(record["key"]) == base + len(buf):
            # A step completed the upload but died before saving `done`: only the save is left.
            return self._mark_done(record, base + len(buf), counts)
        etag = self.bucket.upload_part(record["key"], progress["upload_id"], part_number, bytes(buf))
        parts = [*progress["parts"], {"PartNumber": part_number, "ETag": etag}]
        if exhausted:
            return self._finish(record, parts, base + len(buf), counts)
        self.exports.save_items(export_id, part_number, etag, items)
        saved = self.exports.save_progress(export_id, part_number, {
            **progress, "next_part": part_number + 1, "parts": parts, "offset": base + len(buf), "seq": seq,
            "cursor": cursor}, counts)
        if saved is None:
            log.info("export %s part %d was saved by another step; this copy stops", export_id, part_number)
        return saved

    def _add(self, screening: dict[str, Any], buf: bytearray, base: int, dos: tuple[int, int],
             counts: dict[str, int], *, unconfirmed: bool = False) -> dict[str, Any] | None:
        """A screening's files into the part; what the closing step needs of it (None: left out, no crop).
        `unconfirmed` (a clinician's own export): one without a confirmed label goes under `unconfirmed/`,
        and one without a crop is kept (its original and metadata line) rather than left out."""
        sid = screening["_id"]
        label = confirmed_label(screening)
        folder = label or UNCONFIRMED
        crop = self.bucket.get_if_exists(keys.crop_key(sid))
        if crop is None:
            counts["missing_crop"] = counts.get("missing_crop", 0) + 1
            if not unconfirmed:
                return None
        entries, files = [], {}
        if crop is not None:
            files["crop"] = f"{folder}/{sid}.png"
            entries.append(write_entry(buf, files["crop"], crop, base, dos))
        original_key = screening.get("original_key") or ""
        original = self.bucket.get_if_exists(original_key) if original_key else None
        if original is not None:
            ext = original_key.rsplit(".", 1)[-1].lower()
            files["original"] = f"originals/{folder}/{sid}.{ext}"
            entries.append(write_entry(buf, files["original"], original, base, dos))
            counts["originals"] = counts.get("originals", 0) + 1
        else:
            counts["missing_original"] = counts.get("missing_original", 0) + 1
        counts["screenings"] += 1
        counts[folder] = counts.get(folder, 0) + 1
        model_version = (screening.get("result") or {}).get("model_version") or ""
        meta = (screening.get("feedback") or {}).get("metadata") or {}
        row = None
        if label is not None and crop is not None:  # labels.csv: the confirmed crops (a training file)
            row = [files["crop"], label, sid, model_version, _text(meta.get("subject_id")), _text(meta.get("camera"))]
        return {"entries": [e.as_list() for e in entries], "row": row, "meta": metadata_line(screening, label, files)}

    def _closing(self, record: dict[str, Any], current: list[dict[str, Any]], at: int, dos: tuple[int, int]) -> bytes:
        """labels.csv, metadata.jsonl and the central directory over every part's entries."""
        items = [*self._saved_items(record), *current]
        labels = io.StringIO()
        writer = csv.writer(labels, lineterminator="\n")
        writer.writerow(LABELS_COLUMNS)
        meta = io.StringIO()
        entries = [Entry(name, 0, 0, offset) for name, offset in directory_offsets()]
        for item in items:
            entries += [Entry.from_list(e) for e in item["entries"]]
            if item.get("row"):  # none: an unconfirmed screening of a clinician's own export
                row = list(item["row"])  # a part saved by an older step may carry fewer columns
                writer.writerow(row + [""] * (len(LABELS_COLUMNS) - len(row)))
            meta.write(json.dumps(item["meta"], separators=(",", ":")) + "\n")
        tail = bytearray()
        entries.append(write_entry(tail, "labels.csv", labels.getvalue().encode(), at, dos))
        entries.append(write_entry(tail, "metadata.jsonl", meta.getvalue().encode(), at, dos))
        return bytes(tail) + central_directory(entries, at + len(tail), dos)

    def _saved_items(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        progress = record["progress"]
        etags = {p["PartNumber"]: p["ETag"] for p in progress["parts"]}
        items = []
        for item in self.exports.saved_items(record["_id"]):
            if item["seq"] >= progress["seq"]:
                continue  # left by a step whose part was not saved
            if etags.get(item["part"]) != item["etag"]:
                raise ExportConflict(record["_id"])
            items.append(item)
        if len(items) != progress["seq"] or any(item["seq"] != n for n, item in enumerate(items)):
            raise ExportConflict(record["_id"])
        return items

    def _finish(self, record: dict[str, Any], parts: list[dict[str, Any]], size: int,
                counts: dict[str, int]) -> dict[str, Any] | None:
        self.bucket.complete_upload(record["key"], record["progress"]["upload_id"], parts)
        return self._mark_done(record, size, counts)

    def _mark_done(self, record: dict[str, Any], size: int, counts: dict[str, int]) -> dict[str, Any] | None:
        export_id = record["_id"]
        done = self.exports.mark_done(export_id, record["progress"]["next_part"], size, counts)
        if done is not None:
            log.info("export %s done: %d screenings, %d bytes", export_id, counts["screenings"], size)
        return done

    def _abort(self, key: str, upload_id: str) -> None:
        if not self.bucket.abort_upload(key, upload_id):  # the bucket's lifecycle rule removes it within a day
            log.warning("could not abort an export upload")

    def fail(self, export_id: str, code: str, message: str) -> None:
        record = self.exports.get(export_id)
        failed = self.exports.fail(export_id, code, message)
        upload_id = ((record or {}).get("progress") or {}).get("upload_id")
        if failed is not None and upload_id:
            self._abort(export_key(export_id), upload_id)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


# ---------------------------------------------------------------- message entry point (the export function)


def send_step(queue: WorkQueue, export_id: str) -> None:
    queue.send(step_message(export_id))


def builder_from_env(exports: ExportRecords, screenings: ConfirmedScreenings, bucket: ExportBucket,
                     queue: WorkQueue) -> ExportBuilder:
    """The export function's builder (its adapters made at the edge), with the step budget and part size
    from the environment."""
    part_mb = max(int(os.environ.get("EXPORT_PART_MB", DEFAULT_PART_MB)), S3_MIN_PART // MIB)
    return ExportBuilder(
        exports, screenings, bucket,
        kick=lambda export_id: send_step(queue, export_id),
        part_bytes=part_mb * MIB,
        step_seconds=float(os.environ.get("EXPORT_STEP_SECONDS", DEFAULT_STEP_SECONDS)),
    )


def handle_message(body: dict[str, Any], builder: ExportBuilder, *, final_attempt: bool = False) -> None:
    """One `{"papila_export": id}` message. Raising means "retry"; the final attempt marks it failed."""
    export_id = body.get(MESSAGE_KEY)
    if not isinstance(export_id, str) or not is_valid_id(export_id):
        log.warning("skipped a malformed export message")
        return
    try:
        status = builder.step(export_id)
    except ExportConflict:
        log.error("export %s: two steps wrote different parts; marked failed", export_id)
        builder.fail(export_id, "export_conflict", "The export changed while it was built; start a new one.")
        return
    except Exception as exc:
        log.warning("export %s step failed: %s", export_id, type(exc).__name__)
        if final_attempt:
            builder.fail(export_id, "export_failed", "The export could not be built; start a new one.")
        raise
    log.info("export %s step ended %s", export_id, status)
