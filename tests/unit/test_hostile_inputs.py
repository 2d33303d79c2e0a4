"""The bad-input corpus: what a hostile or careless client sends, through the API as the unit suite
drives it (chalice.test.Client, moto S3, in-process SecantusDB).

Every case must get a 4xx (never a 5xx) in the contract's error shape
(`{"error": {"code": "<snake_case>", "message": "<sentence>"}}`, JSON), and must store nothing: the S3
keys, the document count of every collection and the screenings themselves are the same after the
request as before it. Most cases also pin the status and code they get.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from bench.api_memory import jpeg, jpeg_header, png, tiff_header, ztxt_bomb
from tests.fundus import encode, make_fundus

LONG_ID = "a" * 100_000
UNKNOWN = str(uuid.uuid4())
NUM = "__number__"  # replaced by a literal number the json module would never write (1e999, 5000 digits)


@functools.cache
def b64(name: str) -> str:
    """Hostile photos, base64, made once per session."""
    makers: dict[str, Callable[[], bytes]] = {
        "fundus_png": lambda: encode(make_fundus(640, 480, seed=1), "PNG"),
        "bomb_png_9990": lambda: png(9990, 9990),
        "header_png_100000": lambda: png(100_000, 100_000, rows=4),
        "header_png_65535": lambda: png(65_535, 65_535, rows=4),
        "png_60000x10": lambda: png(60_000, 10),
        "header_jpeg_65500": lambda: jpeg_header(65_500, 65_500),
        "header_jpeg_30000": lambda: jpeg_header(30_000, 30_000),
        "header_tiff_100000": lambda: tiff_header(100_000, 100_000),
        "jpeg_progressive_444_7000": lambda: jpeg(7000, 7000, progressive=True, subsampling=0, quality=30),
        "truncated_png": lambda: png(4000, 3000, truncate=2000),
        "truncated_jpeg": lambda: jpeg(2000, 1500)[:3000],
        "ztxt_bomb": lambda: ztxt_bomb(16),  # Pillow's text limit is 1 MB; 512 MB (bench) is slower to make
        "gif": lambda: encode(make_fundus(200, 200, seed=1), "GIF"),
        "bmp": lambda: encode(make_fundus(200, 200, seed=1), "BMP"),
        "pdf": lambda: b"%PDF-1.7 not a photo at all " * 20,
        "flat_png": lambda: png(640, 480),  # all black: the locator finds no candidate at all
        "tiny_png": lambda: encode(make_fundus(40, 40, seed=1), "PNG"),
    }
    return base64.b64encode(makers[name]()).decode("ascii")


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    body: Any = None  # JSON (NaN and Infinity as json.dumps writes them); "{done}"-style ids are filled in
    raw: bytes | Callable[[], bytes] | None = None
    number: str | None = None  # the literal that replaces "__number__" in the JSON
    headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    code: str | None = None
    # X-Screening-Secret: OWN = the secret of the screening the case aims at (a careless owner);
    # None = no header (a stranger who knows the id); "{name}" = that screening's; else sent as is.
    secret: str | None = "own"


def create(**fields: Any) -> dict[str, Any]:
    return {"filename": "left_eye.png", "content_type": "image/png", "size": 1000, "consent": True, **fields}


def inline(photo: str, filename: str = "left_eye.png", content_type: str = "image/png") -> Callable[[], bytes]:
    return lambda: json.dumps({"filename": filename, "content_type": content_type, "consent": True,
                               "image_base64": b64(photo)}).encode()


def seed(photo: str = "fundus_png", **fields: Any) -> Callable[[], bytes]:
    def make() -> bytes:
        body = {"cropData": {"x": 10, "y": 10, "width": 100, "height": 100}, "imageName": "eye.png",
                "imageWidth": 640, "imageHeight": 480, "b64Image": b64(photo)}
        for key, value in fields.items():
            if key.startswith("crop_"):
                body["cropData"][key[5:]] = value
            else:
                body[key] = value
        return json.dumps(body).encode()

    return make


def seed_number(field_name: str, literal: str) -> Callable[[], bytes]:
    return lambda: seed(**{field_name: NUM})().replace(f'"{NUM}"'.encode(), literal.encode())


def locate(photo: str, **fields: Any) -> Callable[[], bytes]:
    return lambda: json.dumps({"image_base64": b64(photo), **fields}).encode()


def nested(levels: int, leaf: str = "1") -> bytes:
    return (b'{"a":' * levels) + leaf.encode() + (b"}" * levels)


DEEP_ARRAY = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = nested(100_000)
S = "/api/screenings"
FEEDBACK = "/api/screenings/{done}/feedback"
RERUN = "/api/screenings/{done}/rerun"
BAD_JSON = (400, "invalid_json")
INVALID = (400, "invalid_request")
TOO_LARGE = (413, "image_too_large")
UNREADABLE = (400, "unreadable_image")
BAD_ID = (400, "invalid_id")
NO_SECRET = (401, "secret_required")
WRONG_SECRET = (403, "secret_invalid")


def case(name: str, method: str, path: str, expect: tuple[int, str] | None = None, **kw: Any) -> Case:
    status, code = expect if expect else (None, None)
    return Case(name, method, path, status=status, code=code, **kw)


def meta(**metadata: Any) -> dict[str, Any]:
    return {"diagnosis_correct": True, "true_label": "glaucoma", "metadata": metadata}


CASES: list[Case] = [
    # ---- POST /api/screenings: JSON that is not a body
    case("create-deep-array-100000", "POST", S, BAD_JSON, raw=DEEP_ARRAY),
    case("create-deep-object-100000", "POST", S, BAD_JSON, raw=DEEP_OBJECT),
    case("create-deep-1000-in-crop", "POST", S, BAD_JSON, raw=lambda: json.dumps(create()).encode()[:-1]
         + b', "crop": ' + nested(1000) + b"}"),
    case("create-depth-17", "POST", S, BAD_JSON, raw=nested(17)),
    case("create-nan-size", "POST", S, BAD_JSON, body=create(size=float("nan"))),
    case("create-infinity-size", "POST", S, BAD_JSON, body=create(size=float("inf"))),
    case("create-minus-infinity-crop", "POST", S, BAD_JSON, body=create(crop={"x": float("-inf"), "y": 0,
                                                                               "size": 64})),
    case("create-1e999-size", "POST", S, BAD_JSON, body=create(size=NUM), number="1e999"),
    case("create-minus-1e999-crop-y", "POST", S, BAD_JSON, body=create(crop={"x": 0, "y": NUM, "size": 64}),
         number="-1e999"),
    case("create-1e400-crop-size", "POST", S, BAD_JSON, body=create(crop={"x": 0, "y": 0, "size": NUM}),
         number="1e400"),
    case("create-5000-digit-int", "POST", S, BAD_JSON, body=create(size=NUM), number="9" * 5000),
    case("create-400-digit-int", "POST", S, INVALID, body=create(size=NUM), number="9" * 400),
    case("create-empty-body", "POST", S, BAD_JSON, raw=b""),
    case("create-whitespace-body", "POST", S, BAD_JSON, raw=b"  \n\t "),
    case("create-null", "POST", S, BAD_JSON, raw=b"null"),
    case("create-array", "POST", S, BAD_JSON, raw=b"[]"),
    case("create-number", "POST", S, BAD_JSON, raw=b"42"),
    case("create-bare-nan", "POST", S, BAD_JSON, raw=b"NaN"),
    case("create-truncated-json", "POST", S, BAD_JSON, raw=b'{"filename": "a.png", "con'),
    case("create-invalid-utf8", "POST", S, BAD_JSON, raw=b'{"filename": "\xff\xfe.png"}'),
    case("create-lone-surrogate-filename", "POST", S, BAD_JSON, raw=json.dumps(create(filename="\ud800.png")).encode()),
    case("create-lone-surrogate-key", "POST", S, BAD_JSON, raw=b'{"\\udfff": 1, "consent": true}'),
    # ---- POST /api/screenings: fields
    case("create-nul-in-filename", "POST", S, INVALID, body=create(filename="a\u0000.png")),
    case("create-consent-string", "POST", S, (400, "consent_required"), body=create(consent="true")),
    case("create-consent-missing", "POST", S, (400, "consent_required"),
         body={"filename": "a.png", "content_type": "image/png", "size": 10}),
    case("create-consent-false", "POST", S, (400, "consent_required"), body=create(consent=False)),
    case("create-filename-10000", "POST", S, INVALID, body=create(filename="a" * 10_000 + ".png")),
    case("create-filename-no-extension", "POST", S, INVALID, body=create(filename="photo")),
    case("create-filename-exe", "POST", S, INVALID, body=create(filename="photo.png.exe")),
    case("create-content-type-html", "POST", S, INVALID, body=create(content_type="text/html")),
    case("create-content-type-disagrees", "POST", S, INVALID, body=create(content_type="image/jpeg")),
    case("create-unknown-field", "POST", S, INVALID, body=create(admin=True)),
    case("create-100000-char-field-name", "POST", S, INVALID, body=create(**{"x" * 100_000: 1})),
    case("create-10000-unknown-fields", "POST", S, INVALID, body=create(**{f"f{i}": i for i in range(10_000)})),
    case("create-crop-no-size", "POST", S, INVALID, body=create(crop={"x": 1, "y": 1})),
    case("create-crop-size-0", "POST", S, INVALID, body=create(crop={"x": 1, "y": 1, "size": 0})),
    case("create-crop-x-string", "POST", S, INVALID, body=create(crop={"x": "1", "y": 1, "size": 64})),
    case("create-crop-x-bool", "POST", S, INVALID, body=create(crop={"x": True, "y": 1, "size": 64})),
    case("create-crop-x-1e12", "POST", S, INVALID, body=create(crop={"x": 10**12, "y": 1, "size": 64})),
    case("create-crop-list", "POST", S, INVALID, body=create(crop=[1, 2, 3])),
    case("create-size-0", "POST", S, INVALID, body=create(size=0)),
    case("create-size-negative", "POST", S, INVALID, body=create(size=-5)),
    case("create-size-21-mib", "POST", S, INVALID, body=create(size=21 * 1024 * 1024)),
    case("create-size-float", "POST", S, INVALID, body=create(size=1.5)),
    case("create-size-string", "POST", S, INVALID, body=create(size="1000")),
    case("create-presigned-without-size", "POST", S, INVALID,
         body={"filename": "a.png", "content_type": "image/png", "consent": True}),
    case("create-image-base64-number", "POST", S, INVALID, body=create(image_base64=12345)),
    case("create-image-base64-nan", "POST", S, BAD_JSON, body=create(image_base64=float("nan"))),
    case("create-image-not-base64", "POST", S, (400, "invalid_base64"), body=create(image_base64="*not base64*")),
    case("create-image-empty", "POST", S, (400, "invalid_base64"), body=create(image_base64="")),
    case("create-data-url-without-base64", "POST", S, (400, "invalid_base64"),
         body=create(image_base64="data:image/png,AAAA")),
    case("create-image-22-mb", "POST", S, TOO_LARGE,
         raw=lambda: json.dumps(create(image_base64=base64.b64encode(b"\0" * 22_000_000).decode())).encode()),
    # ---- POST /api/screenings: hostile photos
    case("create-bomb-png-9990x9990", "POST", S, TOO_LARGE, raw=inline("bomb_png_9990")),
    case("create-header-png-100000x100000", "POST", S, TOO_LARGE, raw=inline("header_png_100000")),
    case("create-png-60000x10", "POST", S, TOO_LARGE, raw=inline("png_60000x10")),
    case("create-header-jpeg-65500x65500", "POST", S, TOO_LARGE,
         raw=inline("header_jpeg_65500", "eye.jpg", "image/jpeg")),
    case("create-header-tiff-100000x100000", "POST", S, TOO_LARGE,
         raw=inline("header_tiff_100000", "eye.tif", "image/tiff")),
    case("create-progressive-444-jpeg-49mp", "POST", S, TOO_LARGE,
         raw=inline("jpeg_progressive_444_7000", "eye.jpg", "image/jpeg")),
    case("create-truncated-png", "POST", S, UNREADABLE, raw=inline("truncated_png")),
    case("create-truncated-jpeg", "POST", S, UNREADABLE, raw=inline("truncated_jpeg", "eye.jpg", "image/jpeg")),
    case("create-ztxt-bomb", "POST", S, UNREADABLE, raw=inline("ztxt_bomb")),
    case("create-gif", "POST", S, (415, "unsupported_format"), raw=inline("gif")),
    case("create-bmp", "POST", S, (415, "unsupported_format"), raw=inline("bmp")),
    case("create-pdf", "POST", S, (415, "unsupported_format"), raw=inline("pdf")),
    case("create-too-small", "POST", S, (400, "image_too_small"), raw=inline("tiny_png")),
    case("create-png-declared-jpeg", "POST", S, (415, "content_type_mismatch"),
         raw=inline("fundus_png", "eye.jpg", "image/jpeg")),
    case("create-crop-outside", "POST", S, (400, "invalid_crop"),
         raw=lambda: json.dumps({**create(image_base64=b64("fundus_png")),
                                 "crop": {"x": 5000, "y": 0, "size": 64}}).encode()),
    case("create-text-plain", "POST", S, (415, "unsupported_media_type"), body=create(),
         headers={"Content-Type": "text/plain"}),
    case("create-form-encoded", "POST", S, (415, "unsupported_media_type"), raw=b"filename=a.png",
         headers={"Content-Type": "application/x-www-form-urlencoded"}),
    # ---- ids in paths
    case("get-100000-char-id", "GET", f"{S}/{LONG_ID}", BAD_ID),
    case("crop-100000-char-id", "GET", f"{S}/{LONG_ID}/crop", BAD_ID),
    case("heatmap-100000-char-id", "GET", f"{S}/{LONG_ID}/heatmap", BAD_ID),
    case("report-100000-char-id", "GET", f"{S}/{LONG_ID}/report", BAD_ID),
    case("get-not-a-uuid", "GET", f"{S}/not-a-uuid", BAD_ID),
    case("get-uuid-braces", "GET", f"{S}/{{{UNKNOWN}}}", BAD_ID),
    case("get-uuid-upper", "GET", f"{S}/{UNKNOWN.upper()}", BAD_ID),
    case("get-uuid-v1", "GET", f"{S}/{uuid.uuid1()}", BAD_ID),
    case("get-unicode-id", "GET", f"{S}/{'%C3%A9' * 36}"),
    case("get-unknown-id", "GET", f"{S}/{UNKNOWN}", (404, "not_found")),
    case("diagnosis-100000-char-id", "GET", f"/api/getDiagnosis/{LONG_ID}", BAD_ID),
    case("download-100000-char-id", "GET", f"/api/download/{LONG_ID}", BAD_ID),
    case("diagnosis-garbage-id", "GET", "/api/getDiagnosis/..%2F..%2Fetc", BAD_ID),
    # ---- PUT /api/screenings/{id}/feedback
    case("feedback-nan-iop", "PUT", FEEDBACK, BAD_JSON, body=meta(iop_mmhg=float("nan"))),
    case("feedback-infinity-cdr", "PUT", FEEDBACK, BAD_JSON, body=meta(cdr=float("inf"))),
    case("feedback-1e999-age", "PUT", FEEDBACK, BAD_JSON, body=meta(age=NUM), number="1e999"),
    case("feedback-minus-1e999-iop", "PUT", FEEDBACK, BAD_JSON, body=meta(iop_mmhg=NUM), number="-1e999"),
    case("feedback-age-1000", "PUT", FEEDBACK, INVALID, body=meta(age=1000)),
    case("feedback-age-negative", "PUT", FEEDBACK, INVALID, body=meta(age=-1)),
    case("feedback-age-float", "PUT", FEEDBACK, INVALID, body=meta(age=63.5)),
    case("feedback-cdr-1.5", "PUT", FEEDBACK, INVALID, body=meta(cdr=1.5)),
    case("feedback-iop-81", "PUT", FEEDBACK, INVALID, body=meta(iop_mmhg=81)),
    case("feedback-sex-enum", "PUT", FEEDBACK, INVALID, body=meta(sex="x")),
    case("feedback-eye-enum", "PUT", FEEDBACK, INVALID, body=meta(eye="up")),
    case("feedback-notes-2001", "PUT", FEEDBACK, INVALID, body=meta(notes="n" * 2001)),
    case("feedback-camera-101", "PUT", FEEDBACK, INVALID, body=meta(camera="c" * 101)),
    case("feedback-unknown-metadata", "PUT", FEEDBACK, INVALID, body=meta(name="Jane Doe")),
    case("feedback-subject-id-space", "PUT", FEEDBACK, INVALID, body=meta(subject_id="Jane Doe")),
    case("feedback-subject-id-65", "PUT", FEEDBACK, INVALID, body=meta(subject_id="s" * 65)),
    case("feedback-true-label-enum", "PUT", FEEDBACK, INVALID,
         body={"diagnosis_correct": True, "true_label": "maybe"}),
    case("feedback-diagnosis-correct-string", "PUT", FEEDBACK, INVALID, body={"diagnosis_correct": "yes"}),
    case("feedback-metadata-list", "PUT", FEEDBACK, INVALID, body={"metadata": [1, 2]}),
    case("feedback-notes-object", "PUT", FEEDBACK, INVALID, body=meta(notes={"a": 1})),
    case("feedback-lone-surrogate-notes", "PUT", FEEDBACK, BAD_JSON, raw=json.dumps(meta(notes="\udc80")).encode()),
    case("feedback-deep", "PUT", FEEDBACK, BAD_JSON, raw=DEEP_OBJECT),
    case("feedback-empty", "PUT", FEEDBACK, BAD_JSON, raw=b""),
    case("feedback-not-done", "PUT", "/api/screenings/{waiting}/feedback", (409, "not_ready"), body=meta(age=60)),
    case("feedback-100000-char-id", "PUT", f"{S}/{LONG_ID}/feedback", BAD_ID, body=meta(age=60)),
    # ---- POST /api/screenings/{id}/rerun
    case("rerun-nan-x", "POST", RERUN, BAD_JSON, body={"crop": {"x": float("nan"), "y": 0, "size": 64}}),
    case("rerun-1e999-size", "POST", RERUN, BAD_JSON, body={"crop": {"x": 0, "y": 0, "size": NUM}}, number="1e999"),
    case("rerun-crop-outside", "POST", RERUN, (400, "invalid_crop"), body={"crop": {"x": 9000, "y": 0, "size": 64}}),
    case("rerun-unknown-field", "POST", RERUN, INVALID, body={"crop": None, "model": "other"}),
    case("rerun-not-finished", "POST", "/api/screenings/{waiting}/rerun", (409, "not_ready"), body={}),
    case("rerun-100000-char-id", "POST", f"{S}/{LONG_ID}/rerun", BAD_ID, body={}),
    case("rerun-deep", "POST", RERUN, BAD_JSON, raw=DEEP_ARRAY),
    case("rerun-list", "POST", RERUN, BAD_JSON, raw=b"[]"),
    # ---- POST /api/locate
    case("locate-bomb-png-9990x9990", "POST", "/api/locate", TOO_LARGE, raw=locate("bomb_png_9990")),
    case("locate-header-jpeg-30000", "POST", "/api/locate", TOO_LARGE, raw=locate("header_jpeg_30000")),
    case("locate-truncated-png", "POST", "/api/locate", UNREADABLE, raw=locate("truncated_png")),
    case("locate-not-an-image", "POST", "/api/locate", (415, "unsupported_format"), raw=locate("pdf")),
    case("locate-nan-width", "POST", "/api/locate", BAD_JSON, body={"image_base64": "AAAA", "width": float("nan"),
                                                                     "height": 10}),
    case("locate-1e999-height", "POST", "/api/locate", BAD_JSON, body={"image_base64": "AAAA", "width": 10,
                                                                        "height": NUM}, number="1e999"),
    case("locate-width-only", "POST", "/api/locate", INVALID, raw=locate("fundus_png", width=640)),
    case("locate-width-0", "POST", "/api/locate", INVALID, raw=locate("fundus_png", width=0, height=10)),
    case("locate-deep", "POST", "/api/locate", BAD_JSON, raw=DEEP_OBJECT),
    case("locate-no-image", "POST", "/api/locate", INVALID, body={"width": 10, "height": 10}),
    case("locate-flat-picture", "POST", "/api/locate", (422, "disc_not_found"), raw=locate("flat_png")),
    # ---- POST /api/process (the 2020 client)
    case("process-nan-crop-x", "POST", "/api/process", BAD_JSON, raw=seed_number("crop_x", "NaN")),
    case("process-infinity-crop-y", "POST", "/api/process", BAD_JSON, raw=seed_number("crop_y", "Infinity")),
    case("process-1e999-crop-width", "POST", "/api/process", BAD_JSON, raw=seed_number("crop_width", "1e999")),
    case("process-minus-1e999-crop-height", "POST", "/api/process", BAD_JSON,
         raw=seed_number("crop_height", "-1e999")),
    case("process-nan-image-width", "POST", "/api/process", BAD_JSON, raw=seed_number("imageWidth", "NaN")),
    case("process-tiny-image-width", "POST", "/api/process", INVALID, raw=seed(imageWidth=1e-300)),
    case("process-image-width-0", "POST", "/api/process", INVALID, raw=seed(imageWidth=0)),
    case("process-image-height-negative", "POST", "/api/process", INVALID, raw=seed(imageHeight=-1)),
    case("process-crop-x-1e308", "POST", "/api/process", INVALID, raw=seed(crop_x=1e308)),
    case("process-crop-width-1e308-percent", "POST", "/api/process", INVALID,
         raw=seed(crop_width=1e308, crop_unit="%")),
    case("process-crop-x-400-digits", "POST", "/api/process", INVALID, raw=seed_number("crop_x", "9" * 400)),
    case("process-crop-list", "POST", "/api/process", INVALID, raw=seed(cropData=[1, 2])),
    case("process-unit-100", "POST", "/api/process", INVALID, raw=seed(crop_unit="u" * 100)),
    case("process-gif-name", "POST", "/api/process", (406, "unsupported_format"), raw=seed(imageName="eye.gif")),
    case("process-name-10000", "POST", "/api/process", INVALID, raw=seed(imageName="a" * 10_000 + ".png")),
    case("process-bomb-png-9990x9990", "POST", "/api/process", TOO_LARGE, raw=seed("bomb_png_9990")),
    case("process-header-png-65535", "POST", "/api/process", TOO_LARGE, raw=seed("header_png_65535")),
    case("process-truncated-png", "POST", "/api/process", UNREADABLE, raw=seed("truncated_png")),
    case("process-empty-image", "POST", "/api/process", (400, "invalid_base64"), raw=seed(b64Image="")),
    case("process-crop-outside", "POST", "/api/process", (400, "invalid_crop"),
         raw=seed(crop_x=10_000, crop_y=10_000)),
    case("process-deep", "POST", "/api/process", BAD_JSON, raw=DEEP_ARRAY),
    case("process-text-plain-deep", "POST", "/api/process", BAD_JSON, raw=DEEP_OBJECT,
         headers={"Content-Type": "text/plain;charset=UTF-8"}),
    case("process-text-plain-nan", "POST", "/api/process", BAD_JSON, raw=seed_number("crop_x", "NaN"),
         headers={"Content-Type": "text/plain;charset=UTF-8"}),
    # ---- POST /api/metadata (the 2020 client)
    case("metadata-100000-char-uuid", "POST", "/api/metadata", BAD_ID, body={"uuid": LONG_ID, "age": 60}),
    case("metadata-no-uuid", "POST", "/api/metadata", BAD_ID, body={"age": 60}),
    case("metadata-uuid-number", "POST", "/api/metadata", BAD_ID, body={"uuid": 7, "age": 60}),
    case("metadata-nan-age", "POST", "/api/metadata", BAD_JSON, body={"uuid": "{done}", "age": float("nan")}),
    case("metadata-1e999-iop", "POST", "/api/metadata", BAD_JSON, body={"uuid": "{done}", "iop_mmhg": NUM},
         number="1e999"),
    case("metadata-unknown-uuid", "POST", "/api/metadata", (404, "not_found"), body={"uuid": UNKNOWN, "age": 60}),
    case("metadata-deep", "POST", "/api/metadata", BAD_JSON, raw=DEEP_OBJECT),
    case("metadata-lone-surrogate", "POST", "/api/metadata", BAD_JSON,
         raw=b'{"uuid": "{done}", "notes": "\\ud800"}'),
    case("metadata-unknown-field", "POST", "/api/metadata", INVALID, body={"uuid": "{done}", "password": "x"}),
    case("metadata-age-string", "POST", "/api/metadata", INVALID, body={"uuid": "{done}", "age": "60"}),
    # ---- a stranger who knows the id: no secret, a made-up one, another screening's
    case("feedback-no-secret", "PUT", FEEDBACK, NO_SECRET, body=meta(age=60), secret=None),
    case("feedback-made-up-secret", "PUT", FEEDBACK, WRONG_SECRET, body=meta(age=60), secret="A" * 43),
    case("feedback-other-screenings-secret", "PUT", FEEDBACK, WRONG_SECRET, body=meta(age=60), secret="{waiting}"),
    case("feedback-10000-char-secret", "PUT", FEEDBACK, WRONG_SECRET, body=meta(age=60), secret="s" * 10_000),
    case("feedback-no-secret-invalid-body", "PUT", FEEDBACK, NO_SECRET, body=meta(age=1000), secret=None),
    case("rerun-no-secret", "POST", RERUN, NO_SECRET, body={}, secret=None),
    case("rerun-made-up-secret", "POST", RERUN, WRONG_SECRET, body={}, secret="A" * 43),
    case("get-made-up-secret", "GET", "/api/screenings/{done}", WRONG_SECRET, secret="A" * 43),
    case("report-made-up-secret", "GET", "/api/screenings/{done}/report", WRONG_SECRET, secret="A" * 43),
    case("metadata-no-secret", "POST", "/api/metadata", NO_SECRET, body={"uuid": "{waiting}", "age": 60},
         secret=None),
    case("metadata-made-up-secret-in-body", "POST", "/api/metadata", WRONG_SECRET,
         body={"uuid": "{waiting}", "secret": "A" * 43, "age": 60}, secret=None),
    case("metadata-other-screenings-secret", "POST", "/api/metadata", WRONG_SECRET,
         body={"uuid": "{waiting}", "age": 60}, secret="{done}"),
    # ---- Idempotency-Key that is not a key
    case("create-idempotency-key-256", "POST", S, (400, "invalid_idempotency_key"), body=create(),
         headers={"Idempotency-Key": "k" * 256}),
    case("create-idempotency-key-space", "POST", S, (400, "invalid_idempotency_key"), body=create(),
         headers={"Idempotency-Key": "two words"}),
    # ---- methods and the admin API without a token
    case("delete-screenings", "DELETE", S, (405, "method_not_allowed")),
    case("put-screening", "PUT", "/api/screenings/{done}", (405, "method_not_allowed"), body={}),
    case("admin-export-deep-no-token", "POST", "/api/admin/exports", (401, "unauthorized"), raw=DEEP_OBJECT),
    case("admin-list-cursor-no-token", "GET", "/api/admin/screenings?cursor=" + "W" * 5000, (401, "unauthorized")),
    case("admin-garbage-token", "GET", "/api/admin/stats", (401, "unauthorized"),
         headers={"Authorization": "Bearer " + "x" * 10_000}),
    case("admin-delete-100000-char-id-no-token", "DELETE", f"/api/admin/screenings/{LONG_ID}", (401, "unauthorized")),
]

SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


def test_the_corpus_is_large_and_named_uniquely():
    assert len(CASES) >= 100
    assert len({c.name for c in CASES}) == len(CASES)


BUCKET = "papila-hostile-uploads"
RESULT = {"probability_glaucoma": 0.5, "label": "normal", "threshold": 0.6, "referral": "None needed.",
          "model_version": "vgg19-test", "crop": {"x": 300, "y": 140, "size": 200, "source": "auto"},
          "inference_ms": 20.0}


@pytest.fixture(scope="module")
def stack(mongo_uri, chalice_app, tmp_path_factory):
    """conftest's `aws` + `service` + `api`, once for the whole corpus (moto's set-up is most of a case's
    time), with admin sign-in configured (no token is ever valid here) and two screenings to aim at:
    `done` (inline upload, finished, with crop and heat map in S3) and `waiting` (awaiting its upload)."""
    import boto3
    from chalice.test import Client
    from moto import mock_aws
    from papila.adapters import aws as storage
    from papila.api import auth
    from papila.api import screenings as svc
    from papila.core import keys
    from papila.core.records import Status

    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS", "AWS_PROFILE"):
            mp.delenv(name, raising=False)
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                            "MONGODB_URI": mongo_uri, "MONGODB_DB": "papila_hostile", "UPLOADS_BUCKET": BUCKET,
                            "COGNITO_USER_POOL_ID": "us-east-1_hostile", "COGNITO_APP_CLIENT_ID": "hostile"}.items():
            mp.setenv(name, value)
        storage._s3.cache_clear()
        storage._sqs.cache_clear()
        auth.reset()
        svc.reset()
        try:
            with mock_aws():
                s3 = boto3.client("s3")
                s3.create_bucket(Bucket=BUCKET)
                mp.setenv("INFERENCE_QUEUE_URL", boto3.client("sqs").create_queue(QueueName="hostile")["QueueUrl"])
                current = svc.service()
                for name in current.store.col.database.list_collection_names():
                    current.store.col.database[name].delete_many({})
                with Client(chalice_app, project_dir=str(tmp_path_factory.mktemp("hostile"))) as client:
                    http = client.http
                    r = http.request("POST", S, headers=JSON, body=json.dumps(
                        {"filename": "eye.png", "content_type": "image/png", "consent": True,
                         "image_base64": b64("fundus_png")}).encode())
                    assert r.status_code == 202, r.body
                    done = json.loads(r.body)["id"]
                    assert current.store.move(done, Status.PROCESSING) is not None
                    assert current.store.move(done, Status.DONE, set_fields={"result": dict(RESULT)}) is not None
                    for key in (keys.crop_key(done), keys.heatmap_key(done)):
                        s3.put_object(Bucket=BUCKET, Key=key, Body=base64.b64decode(b64("fundus_png")))
                    secrets = {"done": json.loads(r.body)["secret"]}
                    r = http.request("POST", S, headers=JSON, body=json.dumps(create()).encode())
                    assert r.status_code == 201, r.body
                    ids = {"done": done, "waiting": json.loads(r.body)["id"]}
                    secrets["waiting"] = json.loads(r.body)["secret"]
                    yield SimpleNamespace(http=http, s3=s3, service=current, ids=ids, secrets=secrets)
        finally:
            storage._s3.cache_clear()
            storage._sqs.cache_clear()
            auth.reset()
            svc.reset()


JSON = {"Content-Type": "application/json"}


def snapshot(stack: Any) -> tuple[list[str], dict[str, int], list[dict[str, Any]]]:
    """S3 keys, the document count of every collection, and every screening as stored."""
    keys = sorted(o["Key"] for o in stack.s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))
    db = stack.service.store.col.database
    counts = {name: db[name].count_documents({}) for name in sorted(db.list_collection_names())}
    return keys, counts, list(stack.service.store.col.find({}, sort=[("_id", 1)]))


def body_of(c: Case, ids: dict[str, str]) -> bytes:
    if c.raw is not None:
        data = c.raw() if callable(c.raw) else c.raw
    elif c.body is None:
        return b""
    else:
        data = json.dumps(c.body).encode()
    if c.number is not None:
        data = data.replace(f'"{NUM}"'.encode(), c.number.encode())
    for name, sid in ids.items():
        data = data.replace(f"{{{name}}}".encode(), sid.encode())
    return data


def secret_of(c: Case, stack: Any) -> str | None:
    if c.secret is None:
        return None
    placeholders = {f"{{{name}}}": name for name in stack.ids}
    if c.secret in placeholders:
        return stack.secrets[placeholders[c.secret]]
    if c.secret != "own":
        return c.secret
    text = c.path + (json.dumps(c.body) if c.body is not None else "")
    aimed = [name for placeholder, name in placeholders.items() if placeholder in text]
    return stack.secrets[aimed[0]] if aimed else None


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.name)
def test_hostile_input_is_a_clean_4xx_and_stores_nothing(c, stack):
    path = c.path
    for name, sid in stack.ids.items():
        path = path.replace(f"{{{name}}}", sid)

    headers = {**JSON, **c.headers}
    secret = secret_of(c, stack)
    if secret is not None:
        headers["X-Screening-Secret"] = secret

    before = snapshot(stack)
    r = stack.http.request(c.method, path, headers=headers, body=body_of(c, stack.ids))
    after = snapshot(stack)

    assert 400 <= r.status_code < 500, (r.status_code, r.body[:300])
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    answer = json.loads(r.body)
    assert set(answer) == {"error"}, answer
    error = answer["error"]
    assert set(error) <= {"code", "message", "details"} and {"code", "message"} <= set(error), error
    assert SNAKE.match(error["code"]), error
    assert isinstance(error["message"], str) and 0 < len(error["message"]) <= 600, error["message"][:300]
    if c.status is not None:
        assert (r.status_code, error["code"]) == (c.status, c.code), error
    assert after == before, "the request stored or changed something"
