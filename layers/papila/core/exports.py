"""Dataset exports, the domain side: an export's states, where its zip lives, what it carries of a
screening and the zip format itself. The use case (papila.usecases.export) builds the zip in steps; the
zip is written by hand (stored entries, ZIP64 when large) because its central directory is assembled from
the entries of all steps. Layout, as `papila train` and `papila evaluate` read it:

    glaucoma/<screening-id>.png            the 224-ready crops the model saw
    normal/<screening-id>.png
    originals/<label>/<screening-id>.<ext> the (metadata-free) original photos
    labels.csv                             file,label,screening_id,model_version,subject_id,camera
    metadata.jsonl                         one line per screening: label, feedback, model result

A clinician's own export (filters `owner` and `include_unconfirmed`) holds every screening of theirs:
those without a confirmed label under `unconfirmed/` (and `originals/unconfirmed/`), with a line in
metadata.jsonl (label null) but no labels.csv row (the csv stays a training file); a screening without
a crop (not done) still has its line, and its original photo when one was stored.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from papila.core.records import jsonable

CONFIRMED_LABELS = ("glaucoma", "normal")
LABEL_DIRS = ("glaucoma/", "normal/")
UNCONFIRMED = "unconfirmed"  # a clinician's own export: the folder of screenings without a confirmed label
EXPORTS_PREFIX = "exports/"
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


def confirmed_label(record: dict[str, Any]) -> str | None:
    """A done screening's confirmed label (glaucoma or normal), else None."""
    label = (record.get("feedback") or {}).get("true_label")
    return label if record.get("status") == "done" and label in CONFIRMED_LABELS else None


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


def directory_offsets() -> list[tuple[str, int]]:
    """Where the first part's directory entries sit (it starts at offset 0)."""
    out, at = [], 0
    for name in LABEL_DIRS:
        out.append((name, at))
        at += _LOCAL.size + len(name)
    return out


def metadata_line(record: dict[str, Any], label: str, files: dict[str, str]) -> dict[str, Any]:
    """One metadata.jsonl object: ids, labels, feedback and model result; no file names, no notes."""
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
