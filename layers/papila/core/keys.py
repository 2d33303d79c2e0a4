"""S3 key layout. Uploads land under `uploads/` (the prefix the S3 -> SQS notification watches);
derived images under `results/`, so writing them never triggers the pipeline again."""

from __future__ import annotations

import re

EXTENSIONS = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".tif": "image/tiff", ".tiff": "image/tiff"}
UPLOADS_PREFIX = "uploads/"
_ORIGINAL = re.compile(r"^uploads/([0-9a-f-]{36})/original\.(jpg|jpeg|png|tif|tiff)$")


def original_key(screening_id: str, extension: str) -> str:
    return f"{UPLOADS_PREFIX}{screening_id}/original.{extension.lower().lstrip('.')}"


def crop_key(screening_id: str) -> str:
    return f"results/{screening_id}/crop.png"


def heatmap_key(screening_id: str) -> str:
    return f"results/{screening_id}/heatmap.png"


def screening_prefixes(screening_id: str) -> tuple[str, ...]:
    """Every prefix holding objects of one screening (for erasure)."""
    return (f"{UPLOADS_PREFIX}{screening_id}/", f"{RESULTS_PREFIX}{screening_id}/")


RESULTS_PREFIX = "results/"
_ANY_OF_SCREENING = re.compile(r"^(?:uploads|results)/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/")


def owner_of(key: str) -> str | None:
    """The screening any `uploads/<id>/...` or `results/<id>/...` object belongs to."""
    match = _ANY_OF_SCREENING.match(key)
    return match.group(1) if match else None


def screening_id_from_key(key: str) -> str | None:
    """The screening id of an original upload key, or None for any other key."""
    match = _ORIGINAL.match(key)
    return match.group(1) if match else None
