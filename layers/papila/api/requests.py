"""Request models (pydantic v2) and the parsing of request bodies (the responses: `papila.api.responses`).

Request models of the contract's own routes are strict (a number is not a string, `true` is not
`"true"`) and reject unknown fields, so a typo is an error rather than a silently ignored field.
The seed-compatible models are lenient: the 2020 client sends what it sends.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from papila.api.errors import ApiError
from papila.core.keys import EXTENSIONS

MIB = 1024 * 1024
MAX_UPLOAD_BYTES = 20 * MIB  # presigned uploads (the POST policy's content-length-range)
MAX_INLINE_BYTES = 7 * MIB  # inline uploads and /api/locate, decoded
COORD_LIMIT = 50_000  # no fundus camera makes a side this long (imaging caps images at 50 MP)
MIN_CROP = 32
MAX_JSON_DEPTH = 16  # our deepest body is 3 levels (feedback -> metadata -> field); 16 is plenty
CONSENT_VERSION = "2026-11"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CropIn(Strict):
    """A square in ORIGINAL image pixels: top-left corner and side."""

    x: Annotated[int, Field(ge=-COORD_LIMIT, le=COORD_LIMIT, description="left edge, original pixels")]
    y: Annotated[int, Field(ge=-COORD_LIMIT, le=COORD_LIMIT, description="top edge, original pixels")]
    size: Annotated[int, Field(ge=MIN_CROP, le=COORD_LIMIT, description="side of the square, original pixels")]


def extension_of(filename: str) -> str:
    return PurePosixPath(filename).suffix.lower()


class CreateScreening(Strict):
    filename: Annotated[str, Field(min_length=1, max_length=255, examples=["left_eye.jpg"])]
    content_type: Annotated[str, Field(examples=["image/jpeg"])]
    size: Annotated[int | None, Field(ge=1, le=MAX_UPLOAD_BYTES, description="bytes; required in presigned mode")] = None
    image_base64: Annotated[
        str | None, Field(description="inline mode: the photo, base64 (max 7 MiB decoded)")
    ] = None
    crop: CropIn | None = None
    consent: Annotated[Literal[True], Field(description="the research-use consent was accepted")]

    @field_validator("filename")
    @classmethod
    def _filename(cls, value: str) -> str:
        name = value.replace("\\", "/").rsplit("/", 1)[-1].strip()  # browsers may send C:\fakepath\x.jpg
        if not name or any(ord(ch) < 32 for ch in name):
            raise ValueError("must be a plain file name")
        if extension_of(name) not in EXTENSIONS:
            raise ValueError("must end in .jpg, .jpeg, .png, .tif or .tiff")
        return name

    @field_validator("content_type")
    @classmethod
    def _content_type(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in set(EXTENSIONS.values()):
            raise ValueError("must be image/jpeg, image/png or image/tiff")
        return value

    @model_validator(mode="after")
    def _agree(self) -> CreateScreening:
        expected = EXTENSIONS[extension_of(self.filename)]
        if self.content_type != expected:
            raise ValueError(f"content_type {self.content_type} does not agree with the file name; expected {expected}")
        if self.image_base64 is None and self.size is None:
            raise ValueError("size is required when uploading by presigned POST (no image_base64)")
        return self

    @property
    def extension(self) -> str:
        return extension_of(self.filename)


SUBJECT_ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"


def _subject_id(value: str) -> str:
    if not re.fullmatch(SUBJECT_ID_PATTERN, value):
        raise ValueError("must be 1-64 letters, digits, dots, underscores or hyphens (a pseudonym, not a name)")
    return value


def _camera(value: str | None) -> str | None:
    if value is None:
        return None
    return " ".join(value.split()) or None


# The pattern is checked by the validator (for a message a person can act on) and shown in the schema.
SubjectId = Annotated[str, Field(min_length=1, max_length=64, json_schema_extra={"pattern": SUBJECT_ID_PATTERN}),
                      AfterValidator(_subject_id)]


class FeedbackMetadata(Strict):
    subject_id: Annotated[SubjectId | None, Field(
        examples=["hygd-17"],
        description="pseudonymous id of the person (never a name): both eyes and repeat photos of one person "
                    "share it, so training folds can be grouped by person; 1-64 of A-Z a-z 0-9 . _ -",
    )] = None
    age: Annotated[int | None, Field(ge=0, le=120)] = None
    sex: Literal["female", "male", "other"] | None = None
    eye: Literal["left", "right"] | None = None
    iop_mmhg: Annotated[float | None, Field(ge=0, le=80)] = None
    cdr: Annotated[float | None, Field(ge=0, le=1)] = None
    family_history: bool | None = None
    camera: Annotated[str | None, Field(max_length=100, description="the camera's make and model; spaces are "
                                       "collapsed, so \"Topcon \" and \"Topcon\" are one camera in monitoring"),
                      AfterValidator(_camera)] = None
    notes: Annotated[str | None, Field(max_length=2000)] = None


# The labels, once: the model's result, and what a feedback may confirm.
ModelLabel = Literal["glaucoma", "normal"]
TrueLabel = Literal["glaucoma", "normal", "suspect", "unknown"]


class Feedback(Strict):
    diagnosis_correct: Annotated[bool | None, Field(description="null: don't know")] = None
    true_label: TrueLabel | None = None
    metadata: FeedbackMetadata | None = None


class Rerun(Strict):
    crop: Annotated[CropIn | None, Field(description="null or absent: locate the disc automatically")] = None


class LocateRequest(Strict):
    image_base64: str
    width: Annotated[int | None, Field(ge=1, le=COORD_LIMIT, description="original width, if the image was downscaled")] = None
    height: Annotated[int | None, Field(ge=1, le=COORD_LIMIT, description="original height, if downscaled")] = None

    @model_validator(mode="after")
    def _both(self) -> LocateRequest:
        if (self.width is None) != (self.height is None):
            raise ValueError("give both width and height, or neither")
        return self


# Seed-route numbers are lenient about type (the 2020 client sends floats) but bounded, so no arithmetic
# on them can overflow (a crop of 1e308 scaled up is inf, and round(inf) raises).
SeedCoord = Annotated[float, Field(ge=-COORD_LIMIT, le=COORD_LIMIT, allow_inf_nan=False)]
SeedSide = Annotated[float | None, Field(ge=1, le=COORD_LIMIT, allow_inf_nan=False)]


class SeedCropData(BaseModel):
    """react-image-crop's crop: x, y, width, height in displayed pixels (or percent with unit "%")."""

    model_config = ConfigDict(extra="ignore")
    x: SeedCoord = 0
    y: SeedCoord = 0
    width: SeedCoord = 0
    height: SeedCoord = 0
    unit: Annotated[str | None, Field(max_length=8)] = None


class SeedProcess(BaseModel):
    """POST /api/process: camelCase because these are the 2020 client's field names."""

    model_config = ConfigDict(extra="ignore")
    cropData: SeedCropData | None = None
    imageName: Annotated[str, Field(min_length=1, max_length=255)]
    imageWidth: Annotated[SeedSide, Field(description="displayed width, px")] = None
    imageHeight: Annotated[SeedSide, Field(description="displayed height, px")] = None
    b64Image: str


REQUEST_MODELS: tuple[type[BaseModel], ...] = (CreateScreening, Feedback, Rerun, LocateRequest, SeedProcess)


class _NonFinite(ValueError):
    """NaN, Infinity or a number beyond a double's range (1e999) in a request body."""


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NonFinite(text)
    return value


def _reject_constant(name: str) -> Any:
    raise _NonFinite(name)  # json's NaN, Infinity and -Infinity extensions: not JSON (RFC 8259)


_SURROGATE = re.compile("[\ud800-\udfff]")  # "\ud800" escapes parse, but are no text (nor storable)
TOO_DEEP = f"The request body nests too deeply; at most {MAX_JSON_DEPTH} levels are allowed."


def json_problem(value: Any, limit: int = MAX_JSON_DEPTH) -> str | None:
    """Why a parsed body is refused (nesting deeper than `limit`, a lone surrogate in a string), or None."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return "The request body has text that is not valid Unicode (a lone surrogate); send UTF-8 text."
        elif isinstance(item, dict | list):
            if depth > limit:
                return TOO_DEEP
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                item = item.values()
            stack.extend((child, depth + 1) for child in item)
    return None


def parse_json(raw: bytes | str) -> Any:
    """A request body as JSON: finite numbers, nesting at most MAX_JSON_DEPTH, valid Unicode; ApiError 400
    `invalid_json` otherwise (never a RecursionError, NaN or inf further on)."""
    try:
        value = json.loads(raw, parse_float=_finite_float, parse_constant=_reject_constant)
    except _NonFinite:
        raise ApiError(400, "invalid_json",
                       "The request body has a number that is not finite (NaN, Infinity or out of range); "
                       "send finite numbers only.") from None
    except RecursionError:
        raise ApiError(400, "invalid_json", TOO_DEEP) from None
    except (ValueError, UnicodeDecodeError):  # includes ints of over 4300 digits
        raise ApiError(400, "invalid_json", "The request body is not valid JSON.") from None
    problem = json_problem(value)
    if problem:
        raise ApiError(400, "invalid_json", problem)
    return value


def parse_object(raw: bytes | str | None, *, allow_empty: bool = False) -> dict[str, Any]:
    """The request body as a JSON object (see `parse_json`); ApiError 400 otherwise."""
    if raw is None or (isinstance(raw, bytes | str) and not raw.strip()):
        if allow_empty:
            return {}
        raise ApiError(400, "invalid_json", "The request needs a JSON object body.")
    value = parse_json(raw)
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_json", "The request body must be a JSON object.")
    return value

