"""Dataset export: the confirmed-label screenings as a zip in S3 (`exports/<id>.zip`), in the layout
`papila train` and `papila evaluate` read:

    glaucoma/<screening-id>.png            the 224-ready crops the model saw
    normal/<screening-id>.png
    originals/<label>/<screening-id>.<ext> the (metadata-free) original photos
    labels.csv                             file,label,screening_id,model_version,subject_id,camera
    metadata.jsonl                         one line per screening: label, feedback, model result

The label is the confirmed feedback only (`feedback.true_label` glaucoma or normal); suspect, unknown
or no feedback is left out. Photos are named by screening id: no file names, and of the feedback
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

import binascii
import csv
import io
import json
import logging
import os
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError
from pymongo import ASCENDING, ReturnDocument
from pymongo.database import Database

from papila.adapters.aws import ImageBucket, WorkQueue
from papila.core import keys
from papila.core.records import is_valid_id, new_id, now

log = logging.getLogger("papila.usecases.export")

CONFIRMED_LABELS = ("glaucoma", "normal")
LABEL_DIRS = ("glaucoma/", "normal/")
EXPORTS_PREFIX = "exports/"
MIB = 1024 * 1024
S3_MIN_PART = 5 * MIB
DEFAULT_PART_MB = 16
DEFAULT_STEP_SECONDS = 20.0
# The export function's timing (template.yaml: ExportFunction's Timeout, ExportQueue's VisibilityTimeout;
# tests/integration/test_template.py keeps them equal): what bounds a step's message's life.
FUNCTION_TIMEOUT_S = 60
QUEUE_VISIBILITY_S = 360
MESSAGE_KEY = "papila_export"
# Feedback metadata fields an export carries: the contract's metadata less free text.
EXPORTED_METADATA = ("subject_id", "age", "sex", "eye", "iop_mmhg", "cdr", "family_history", "camera")
LABELS_COLUMNS = ("file", "label", "screening_id", "model_version", "subject_id", "camera")
RESULT_FIELDS = ("probability_glaucoma", "label", "threshold", "model_version", "crop", "inference_ms")


class ExportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"


class ExportConflict(RuntimeError):
    """Two steps of one export wrote different parts: the zip cannot be trusted."""


def export_key(export_id: str) -> str:
    return f"{EXPORTS_PREFIX}{export_id}.zip"


def step_message(export_id: str) -> str:
    return json.dumps({MESSAGE_KEY: export_id})


# ---------------------------------------------------------------- the zip format (stored entries)

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_EOCD = struct.Struct("<IHHHHIIH")
_EOCD64 = struct.Struct("<IQHHIIQQQQ")
_LOCATOR64 = struct.Struct("<IIQI")
U32 = 0xFFFFFFFF
U16 = 0xFFFF
ZIP64_LIMIT = U32  # offsets/sizes at or above this need ZIP64 fields (lowered by a test to exercise them)
_MADE_BY = (3 << 8) | 45  # Unix, spec 4.5
_FILE_ATTR = 0o100644 << 16
_DIR_ATTR = (0o040755 << 16) | 0x10


@dataclass(frozen=True)
class Entry:
    name: str
    crc: int
    size: int
    offset: int

    def as_list(self) -> list[Any]:
        return [self.name, self.crc, self.size, self.offset]

    @classmethod
    def from_list(cls, value: list[Any]) -> Entry:
        return cls(str(value[0]), int(value[1]), int(value[2]), int(value[3]))


def dos_datetime(t: datetime) -> tuple[int, int]:
    t = max(t, datetime(1980, 1, 1, tzinfo=t.tzinfo))
    return (t.hour << 11) | (t.minute << 5) | (t.second // 2), ((t.year - 1980) << 9) | (t.month << 5) | t.day


def write_entry(out: bytearray, name: str, data: bytes, base: int, dos: tuple[int, int]) -> Entry:
    """Append a stored entry (header + bytes) to `out`, which starts at zip offset `base`."""
    if len(data) >= U32:  # entries are single photos (20 MiB at most); sizes never need ZIP64
        raise ValueError(f"{name} is too large for a stored zip entry")
    encoded = name.encode("utf-8")
    crc = binascii.crc32(data) & U32
    offset = base + len(out)
    out += _LOCAL.pack(0x04034B50, 20, 0x800, 0, dos[0], dos[1], crc, len(data), len(data), len(encoded), 0)
    out += encoded
    out += data
    return Entry(name, crc, len(data), offset)


def central_directory(entries: list[Entry], start: int, dos: tuple[int, int]) -> bytes:
    """The central directory (written at zip offset `start`) and the end records, ZIP64 where needed."""
    out = bytearray()
    for e in entries:
        encoded = e.name.encode("utf-8")
        extra = b""
        offset = e.offset
        if offset >= ZIP64_LIMIT:
            extra = struct.pack("<HHQ", 0x0001, 8, offset)
            offset = U32
        attr = _DIR_ATTR if e.name.endswith("/") else _FILE_ATTR
        out += _CENTRAL.pack(0x02014B50, _MADE_BY, 45 if extra else 20, 0x800, 0, dos[0], dos[1], e.crc, e.size,
                             e.size, len(encoded), len(extra), 0, 0, 0, attr, offset)
        out += encoded + extra
    size, count = len(out), len(entries)
    if count >= U16 or size >= ZIP64_LIMIT or start >= ZIP64_LIMIT:
        eocd64_at = start + size
        out += _EOCD64.pack(0x06064B50, _EOCD64.size - 12, _MADE_BY, 45, 0, 0, count, count, size, start)
        out += _LOCATOR64.pack(0x07064B50, 0, eocd64_at, 1)
    out += _EOCD.pack(0x06054B50, 0, 0, min(count, U16), min(count, U16), min(size, U32), min(start, U32), 0)
    return bytes(out)


# ---------------------------------------------------------------- records


class Exports:
    """The `exports` collection (one record per export) and `export_items` (the entries of its parts)."""

    def __init__(self, db: Database) -> None:
        self.col = db["exports"]
        self.items = db["export_items"]

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


def selection(filters: dict[str, Any], snapshot_at: datetime) -> dict[str, Any]:
    """The screenings an export takes: done, with a confirmed label, created up to the request."""
    created: dict[str, Any] = {"$lte": snapshot_at}
    if filters.get("from"):
        created["$gte"] = filters["from"]
    if filters.get("to"):
        created["$lte"] = min(filters["to"], snapshot_at)
    query: dict[str, Any] = {"status": "done", "created_at": created}
    true_label = filters.get("true_label")
    query["feedback.true_label"] = true_label if true_label in CONFIRMED_LABELS else {"$in": list(CONFIRMED_LABELS)}
    if filters.get("label"):
        query["result.label"] = filters["label"]
    if filters.get("model_version"):
        query["result.model_version"] = filters["model_version"]
    return query


def _after(cursor: list[Any] | None) -> dict[str, Any]:
    if not cursor:
        return {}
    at, last_id = cursor
    return {"$or": [{"created_at": {"$gt": at}}, {"created_at": at, "_id": {"$gt": last_id}}]}


def metadata_line(record: dict[str, Any], label: str, files: dict[str, str]) -> dict[str, Any]:
    """One metadata.jsonl object: ids, labels, feedback and model result; no file names, no notes."""
    from papila.core.records import jsonable

    feedback = record.get("feedback") or {}
    result = record.get("result") or {}
    meta = feedback.get("metadata") or {}
    return jsonable({
        "id": record["_id"],
        "label": label,
        "created_at": record.get("created_at"),
        "model_version": result.get("model_version"),
        "result": {k: result[k] for k in RESULT_FIELDS if k in result},
        "feedback": {
            "diagnosis_correct": feedback.get("diagnosis_correct"),
            "true_label": feedback.get("true_label"),
            "given_at": feedback.get("given_at"),
            "metadata": {k: meta[k] for k in EXPORTED_METADATA if k in meta},
        },
        "files": files,
    })


# ---------------------------------------------------------------- the builder


class ExportBuilder:
    def __init__(
        self,
        exports: Exports,
        screenings: Any,  # the `screenings` pymongo collection
        bucket: ImageBucket,
        *,
        kick: Callable[[str], None],
        part_bytes: int = DEFAULT_PART_MB * MIB,
        step_seconds: float = DEFAULT_STEP_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.exports, self.screenings, self.bucket = exports, screenings, bucket
        self.kick, self.part_bytes, self.step_seconds, self.clock = kick, part_bytes, step_seconds, clock

    @property
    def s3(self) -> Any:
        return self.bucket.client

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
        upload = self.s3.create_multipart_upload(Bucket=self.bucket.bucket, Key=export_key(export_id),
                                                 ContentType="application/zip")
        progress = {"upload_id": upload["UploadId"], "next_part": 1, "parts": [], "offset": 0, "seq": 0,
                    "cursor": None}
        started = self.exports.col.find_one_and_update(
            {"_id": export_id, "status": str(ExportStatus.QUEUED)},
            {"$set": {"status": str(ExportStatus.RUNNING), "updated_at": now(), "key": export_key(export_id),
                      "progress": progress,
                      "counts": {"screenings": 0, "glaucoma": 0, "normal": 0, "originals": 0,
                                 "missing_crop": 0, "missing_original": 0}}},
            return_document=ReturnDocument.AFTER,
        )
        if started is None:  # another copy of the message started it first
            self._abort(export_key(export_id), upload["UploadId"])
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
        for screening in self._screenings(record, cursor):
            cursor = [screening["created_at"], screening["_id"]]
            item = self._add(screening, buf, base, dos, counts)
            if item is not None:
                item["seq"] = seq
                seq += 1
                items.append(item)
            if len(buf) >= self.part_bytes:
                exhausted = False
                break
        if exhausted:
            buf += self._closing(record, items, base + len(buf), dos)
        if exhausted and self._get_size(record["key"]) == base + len(buf):
            # A step completed the upload but died before saving `done`: only the save is left.
            return self._mark_done(record, base + len(buf), counts)
        etag = self.s3.upload_part(Bucket=self.bucket.bucket, Key=record["key"], UploadId=progress["upload_id"],
                                   PartNumber=part_number, Body=bytes(buf))["ETag"]
        parts = [*progress["parts"], {"PartNumber": part_number, "ETag": etag}]
        if exhausted:
            return self._finish(record, parts, base + len(buf), counts)
        for item in items:
            doc = {**item, "export_id": export_id, "part": part_number, "etag": etag}
            self.exports.items.replace_one({"_id": f"{export_id}:{item['seq']}"}, doc, upsert=True)
        saved = self.exports.col.find_one_and_update(
            {"_id": export_id, "status": str(ExportStatus.RUNNING), "progress.next_part": part_number},
            {"$set": {"updated_at": now(), "counts": counts,
                      "progress": {**progress, "next_part": part_number + 1, "parts": parts,
                                   "offset": base + len(buf), "seq": seq, "cursor": cursor}}},
            return_document=ReturnDocument.AFTER,
        )
        if saved is None:
            log.info("export %s part %d was saved by another step; this copy stops", export_id, part_number)
        return saved

    def _screenings(self, record: dict[str, Any], cursor: list[Any] | None) -> Iterator[dict[str, Any]]:
        query = selection(record.get("filters") or {}, record["created_at"])
        after = _after(cursor)
        if after:
            query = {"$and": [query, after]}
        found = self.screenings.find(query).sort([("created_at", ASCENDING), ("_id", ASCENDING)]).batch_size(100)
        try:
            yield from found
        finally:
            found.close()

    def _add(self, screening: dict[str, Any], buf: bytearray, base: int, dos: tuple[int, int],
             counts: dict[str, int]) -> dict[str, Any] | None:
        sid = screening["_id"]
        label = screening["feedback"]["true_label"]
        crop = self._get(keys.crop_key(sid))
        if crop is None:
            counts["missing_crop"] = counts.get("missing_crop", 0) + 1
            return None
        crop_name = f"{label}/{sid}.png"
        entries = [write_entry(buf, crop_name, crop, base, dos)]
        files = {"crop": crop_name}
        original_key = screening.get("original_key") or ""
        original = self._get(original_key) if original_key else None
        if original is not None:
            ext = original_key.rsplit(".", 1)[-1].lower()
            files["original"] = f"originals/{label}/{sid}.{ext}"
            entries.append(write_entry(buf, files["original"], original, base, dos))
            counts["originals"] = counts.get("originals", 0) + 1
        else:
            counts["missing_original"] = counts.get("missing_original", 0) + 1
        counts["screenings"] += 1
        counts[label] += 1
        model_version = (screening.get("result") or {}).get("model_version") or ""
        meta = screening["feedback"].get("metadata") or {}
        return {
            "entries": [e.as_list() for e in entries],
            "row": [crop_name, label, sid, model_version, _text(meta.get("subject_id")), _text(meta.get("camera"))],
            "meta": metadata_line(screening, label, files),
        }

    def _get(self, key: str) -> bytes | None:
        try:
            return self.bucket.get(key)
        except ClientError as exc:
            if _code(exc) in MISSING:
                return None
            raise

    def _get_size(self, key: str) -> int | None:
        try:
            return int(self.s3.head_object(Bucket=self.bucket.bucket, Key=key)["ContentLength"])
        except ClientError as exc:
            if _code(exc) in MISSING:
                return None
            raise

    def _closing(self, record: dict[str, Any], current: list[dict[str, Any]], at: int, dos: tuple[int, int]) -> bytes:
        """labels.csv, metadata.jsonl and the central directory over every part's entries."""
        items = [*self._saved_items(record), *current]
        labels = io.StringIO()
        writer = csv.writer(labels, lineterminator="\n")
        writer.writerow(LABELS_COLUMNS)
        meta = io.StringIO()
        entries = [Entry(name, 0, 0, offset) for name, offset in _directory_offsets()]
        for item in items:
            entries += [Entry.from_list(e) for e in item["entries"]]
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
        for item in self.exports.items.find({"export_id": record["_id"]}).sort("seq", ASCENDING):
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
        self.s3.complete_multipart_upload(Bucket=self.bucket.bucket, Key=record["key"],
                                          UploadId=record["progress"]["upload_id"], MultipartUpload={"Parts": parts})
        return self._mark_done(record, size, counts)

    def _mark_done(self, record: dict[str, Any], size: int, counts: dict[str, int]) -> dict[str, Any] | None:
        export_id = record["_id"]
        done = self.exports.col.find_one_and_update(
            {"_id": export_id, "status": str(ExportStatus.RUNNING),
             "progress.next_part": record["progress"]["next_part"]},
            {"$set": {"status": str(ExportStatus.DONE), "updated_at": now(), "finished_at": now(),
                      "counts": counts, "size": size},
             "$unset": {"progress": ""}},
            return_document=ReturnDocument.AFTER,
        )
        self.exports.items.delete_many({"export_id": export_id})
        if done is not None:
            log.info("export %s done: %d screenings, %d bytes", export_id, counts["screenings"], size)
        return done

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self.s3.abort_multipart_upload(Bucket=self.bucket.bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:  # the bucket's lifecycle rule removes it within a day anyway
            log.warning("could not abort an export upload: %s", _code(exc))

    def fail(self, export_id: str, code: str, message: str) -> None:
        record = self.exports.get(export_id)
        failed = self.exports.fail(export_id, code, message)
        upload_id = ((record or {}).get("progress") or {}).get("upload_id")
        if failed is not None and upload_id:
            self._abort(export_key(export_id), upload_id)


MISSING = ("NoSuchKey", "404", "NotFound")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _directory_offsets() -> list[tuple[str, int]]:
    """Where the first part's directory entries sit (it starts at offset 0)."""
    out, at = [], 0
    for name in LABEL_DIRS:
        out.append((name, at))
        at += _LOCAL.size + len(name)
    return out


# ---------------------------------------------------------------- message entry point (the export function)


def send_step(queue_url: str, export_id: str) -> None:
    WorkQueue(queue_url).send(step_message(export_id))


def builder_from_env(db: Database, bucket: ImageBucket, queue_url: str | None = None) -> ExportBuilder:
    url = queue_url if queue_url is not None else os.environ.get("EXPORT_QUEUE_URL", "")
    part_mb = max(int(os.environ.get("EXPORT_PART_MB", DEFAULT_PART_MB)), S3_MIN_PART // MIB)
    return ExportBuilder(
        Exports(db), db["screenings"], bucket,
        kick=lambda export_id: send_step(url, export_id),
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
