"""The HTTP API's use cases. Framework-free: each returns a `Reply` that `api_app/app.py` turns into
a Chalice response, and raises `ApiError` / pydantic's `ValidationError` for the client's mistakes.

One `ScreeningService` per container (`service()`), built lazily from the environment; `reset()`
drops it (tests, or a changed environment)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
from typing import Any

from PIL import Image

from papila.adapters.aws import ImageBucket, WorkQueue
from papila.adapters.mongo import ScreeningStore
from papila.api.auth import Principal
from papila.api.errors import ApiError
from papila.api.reply import Reply
from papila.api.requests import (
    CONSENT_VERSION,
    MAX_INLINE_BYTES,
    MIN_CROP,
    CreateScreening,
    CropIn,
    Feedback,
    FeedbackMetadata,
    LocateRequest,
    Rerun,
    SeedCropData,
    SeedProcess,
    extension_of,
    parse_object,
)
from papila.api.responses import (
    CreatedScreening,
    Health,
    Located,
    NewScreening,
    present,
    screening_fields,
)
from papila.api.stores import require_id
from papila.config import PerContainer, Settings
from papila.core import imaging, keys
from papila.core.access import Access, Refusal, decide
from papila.core.imaging import Crop, ImageError
from papila.core.records import (
    TERMINAL,
    Status,
    jsonable,
    new_id,
    new_record,
    new_secret,
    now,
    secret_matches,
)

log = logging.getLogger("papila.api")

JSON = "application/json; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
PDF = "application/pdf"
# The file extension an inline image is stored under, by its real content type (seed route).
STORED_EXTENSION = {"image/jpeg": "jpg", "image/png": "png", "image/tiff": "tif"}
# /api/locate works on a copy this long (the locator itself looks at 512 px): a big photo is shrunk
# first, so the full-size pixels are not held twice (the API's memory: under 512 MB).
LOCATE_MAX_SIDE = 2048
# What a client may send as an Idempotency-Key: a UUID, or any token of visible ASCII.
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


# ---------------------------------------------------------------- pure helpers


def decode_base64(text: str, limit: int = MAX_INLINE_BYTES, *, what: str = "image_base64") -> bytes:
    """Base64 (or a `data:...;base64,` URL) to bytes; 400 if not base64, 413 if over `limit`."""
    if text.startswith("data:"):
        header, sep, text = text.partition(",")
        if not sep or ";base64" not in header:
            raise ApiError(400, "invalid_base64", f"{what} must be base64 (a data URL must say ;base64).")
    text = "".join(text.split())
    if len(text) > (limit // 3 + 1) * 4 + 4:
        raise ApiError(413, "image_too_large", f"The photo is over {limit // (1024 * 1024)} MiB; use a presigned upload.")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "invalid_base64", f"{what} is not valid base64.") from None
    if not data:
        raise ApiError(400, "invalid_base64", f"{what} is empty.")
    if len(data) > limit:
        raise ApiError(413, "image_too_large", f"The photo is over {limit // (1024 * 1024)} MiB; use a presigned upload.")
    return data


def load_image(data: bytes, declared: str | None = None) -> tuple[Image.Image, str]:
    """Decode checked bytes: (RGB image with EXIF orientation applied, the real content type)."""
    real = imaging.sniff_content_type(data)
    if real is None:
        raise ApiError(415, "unsupported_format", "The file is not a JPEG, PNG or TIFF image.")
    if declared is not None and real != declared:
        raise ApiError(
            415, "content_type_mismatch", f"The file is {real} but content_type says {declared}; send the right type."
        )
    return imaging.decode(data, max_bytes=imaging.API_DECODE_BYTES), real


def check_overlap(crop: CropIn | Crop, width: int, height: int) -> None:
    """The square must overlap the image (the worker clamps the rest)."""
    if crop.x >= width or crop.y >= height or crop.x + crop.size <= 0 or crop.y + crop.size <= 0:
        raise ApiError(
            400, "invalid_crop", f"The crop square lies entirely outside the {width}x{height} photo."
        )


def scale_crop(crop: Crop, from_size: tuple[int, int], to_size: tuple[int, int]) -> Crop:
    """A square found on a (possibly downscaled) image, in the pixels of the original size."""
    sx, sy = to_size[0] / from_size[0], to_size[1] / from_size[1]
    return Crop(round(crop.x * sx), round(crop.y * sy), round(crop.size * max(sx, sy)))


def seed_crop(
    data: SeedCropData | None, displayed: tuple[float | None, float | None], original: tuple[int, int]
) -> Crop | None:
    """The 2020 client's crop (displayed pixels, or percent with unit "%") as a square in original
    pixels: the side is the rectangle's longer side, centred on the rectangle's centre (for the
    square crops that client makes, that is just its x, y and width scaled). None: no crop drawn."""
    if data is None or data.width <= 0 or data.height <= 0:
        return None
    width, height = original
    if data.unit == "%":
        sx, sy = width / 100, height / 100
    else:
        sx = width / displayed[0] if displayed[0] else 1.0
        sy = height / displayed[1] if displayed[1] else 1.0
    w, h = data.width * sx, data.height * sy
    side = max(w, h, MIN_CROP)
    cx, cy = data.x * sx + w / 2, data.y * sy + h / 2
    return Crop(round(cx - side / 2), round(cy - side / 2), round(side))


def _not_ready(record: dict[str, Any], what: str) -> ApiError:
    status = record["status"]
    if status in TERMINAL:
        reason = f"the screening ended {status}"
    else:
        reason = f"the screening is still {status.replace('_', ' ')}"
    return ApiError(409, "not_ready", f"No {what} yet: {reason}.")


REFUSED: dict[Refusal, tuple[int, str, str]] = {
    Refusal.HIDDEN: (404, "not_found", "No screening has this id."),  # the unknown id's answer, word for word
    Refusal.SECRET_REQUIRED: (401, "secret_required", (
        "Send this screening's secret (the X-Screening-Secret header returned when it was created) to change it or "
        "to read its feedback.")),
    Refusal.SECRET_INVALID: (403, "secret_invalid", "That secret does not belong to this screening."),
    Refusal.OWNER_ONLY: (403, "forbidden", "This screening belongs to an account: sign in to that account to delete it."),
}


def refused(refusal: Refusal) -> ApiError:
    return ApiError(*REFUSED[refusal])


def access_of(record: dict[str, Any], secret: str | None, who: Principal | None) -> Access:
    """What this caller may do with the screening (papila.core.access): its owner, the caller's token,
    and whether the secret given (if any) is the screening's."""
    given = secret_matches(record, secret) if secret else None
    return decide(record.get("owner"), who.sub if who else None, given)


def _authorize(record: dict[str, Any], secret: str | None, who: Principal | None = None) -> None:
    """Writing into a screening takes its secret, or its owner's token: knowing the id (it travels in
    links and logs) is not enough; an owned screening is not found by anyone else."""
    refusal = access_of(record, secret, who).write
    if refusal is not None:
        raise refused(refusal)


def _may_see(record: dict[str, Any], secret: str | None, who: Principal | None) -> None:
    """Reading the result (the crop, the heat map, the seed client's reads): by id alone, unless owned."""
    refusal = access_of(record, secret, who).result
    if refusal is not None:
        raise refused(refusal)


def _may_read_feedback(record: dict[str, Any], secret: str | None, who: Principal | None = None) -> bool:
    """Whether the screening is read with its feedback (its secret or its owner's token); without either,
    it is read without, if at all; a wrong secret is refused, not ignored."""
    access = access_of(record, secret, who)
    if access.result is not None:
        raise refused(access.result)
    if secret and access.feedback is not None:
        raise refused(access.feedback)
    return access.may_read_feedback


def _idempotency(key: str | None, body: dict[str, Any], status: int) -> dict[str, Any] | None:
    """What the record keeps of an Idempotency-Key: hashes only (the key is the client's), and the
    request it came with, so the same key with another body is refused rather than replayed."""
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise ApiError(400, "invalid_idempotency_key", "The Idempotency-Key header must be 1-255 visible ASCII "
                       "characters (a UUID is best).")
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return {
        "key_hash": hashlib.sha256(key.encode("ascii")).hexdigest(),
        "request_hash": hashlib.sha256(canonical.encode("ascii")).hexdigest(),
        "status": status,
    }


def _consent_given(body: dict[str, Any]) -> None:
    if body.get("consent") is not True:
        raise ApiError(
            400, "consent_required", "Accept the research-use consent (send \"consent\": true) to screen a photo."
        )


# ---------------------------------------------------------------- the use cases


class ScreeningService:
    def __init__(
        self,
        settings: Settings,
        *,
        store: ScreeningStore | None = None,
        bucket: ImageBucket | None = None,
        queue: WorkQueue | None = None,
    ) -> None:
        self.settings = settings
        self._store = store
        self.bucket = bucket or ImageBucket(settings.uploads_bucket)
        self.queue = queue or WorkQueue(settings.inference_queue_url)

    @property
    def store(self) -> ScreeningStore:
        # Connected on first use and kept; a failed connection is retried on the next request.
        if self._store is None:
            self._store = ScreeningStore.connect(self.settings.mongodb_uri, self.settings.mongodb_db)
        return self._store

    def _record(self, screening_id: str) -> dict[str, Any]:
        sid = require_id(screening_id)  # before the database is touched
        record = self.store.get(sid)
        if record is None:
            raise ApiError(404, "not_found", "No screening has this id.")
        return record

    # --- POST /api/screenings

    def create_screening(self, raw: bytes | None, idempotency_key: str | None = None,
                         who: Principal | None = None) -> Reply:
        """`who`: the signed-in caller, whose screening it becomes (`owner`: the token's sub)."""
        owner = who.sub if who else None
        body = parse_object(raw)
        _consent_given(body)
        req = CreateScreening.model_validate(body)
        inline = req.image_base64 is not None
        idempotency = _idempotency(idempotency_key, body, 202 if inline else 201)
        if idempotency is not None:
            existing = self.store.by_idempotency_key(idempotency["key_hash"])
            if existing is not None:
                return self._replay(existing, idempotency, owner)
        secret, digest = new_secret()
        consent = {"accepted": True, "at": now(), "version": CONSENT_VERSION}
        crop = req.crop.model_dump() if req.crop else None
        sid = new_id()
        if inline:
            data = decode_base64(req.image_base64)
            image, content_type = load_image(data, req.content_type)
            if req.crop:
                check_overlap(req.crop, *image.size)
            record = new_record(
                screening_id=sid, filename=req.filename, content_type=content_type,
                original_key=keys.original_key(sid, req.extension), status=Status.QUEUED, crop=crop,
                consent=consent, secret_digest=digest, owner=owner,
            )
            existing = self._store_inline(record, data, image, idempotency)
        else:
            record = new_record(
                screening_id=sid, filename=req.filename, content_type=req.content_type,
                original_key=keys.original_key(sid, req.extension), status=Status.AWAITING_UPLOAD, crop=crop,
                consent=consent, size=req.size, secret_digest=digest, owner=owner,
            )
            if idempotency is not None:
                record["idempotency"] = idempotency
            existing = self.store.insert(record)
        if existing is not None:  # a retry with the same key won the race
            return self._replay(existing, idempotency or {}, owner)
        return self._created(record, secret)

    def _created(self, record: dict[str, Any], secret: str, *, replayed: bool = False) -> Reply:
        """201 with the upload form (presigned mode) or 202 (inline); the secret is in this answer only."""
        sid = record["_id"]
        fields = {**screening_fields(record), "secret": secret}
        headers = {"Location": f"/api/screenings/{sid}"}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        status = (record.get("idempotency") or {}).get("status") or (201 if record["status"] == Status.AWAITING_UPLOAD
                                                                     else 202)
        if record["status"] == Status.AWAITING_UPLOAD:
            expires = self.settings.presign_expires
            post = self.bucket.presigned_post(record["original_key"], record["content_type"], expires, record["size"])
            upload = {"url": post["url"], "fields": post["fields"], "expires_in": expires}
            return Reply(status, CreatedScreening.body(**fields, upload=upload), headers)
        return Reply(status, NewScreening.body(**fields), headers)

    def _replay(self, existing: dict[str, Any], idempotency: dict[str, Any], owner: str | None = None) -> Reply:
        """A retried create: the same screening, with a fresh secret (the first answer, and the secret
        in it, may never have reached the client; an earlier secret stops working). Only for the same
        caller: the key sent by another account (or without the token) is another request."""
        if (existing.get("idempotency") or {}).get("request_hash") != idempotency.get("request_hash") \
                or existing.get("owner") != owner:
            raise ApiError(422, "idempotency_key_reused", "This Idempotency-Key was used for a different request; "
                           "send a new key for a new screening.")
        secret, digest = new_secret()
        record = self.store.replace_secret(existing["_id"], existing.get("secret_hash"), digest)
        if record is None:
            raise ApiError(409, "conflict", "The screening changed meanwhile; send the request again.")
        return self._created(record, secret, replayed=True)

    def _store_inline(
        self, record: dict[str, Any], data: bytes, image: Image.Image, idempotency: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Record first, then the metadata-free image; nothing half-stored if the put fails. The
        S3 ObjectCreated event then drives processing. Returns the screening that already holds the
        idempotency key instead, if a retry got there first (nothing is stored then)."""
        # pixels only (EXIF, ICC, XMP, text chunks gone): losslessly, or re-encoded upright when turned
        clean = imaging.clean_original(data, image, record["content_type"])
        record["size"] = len(clean)
        record["image"] = {"width": image.width, "height": image.height}
        if idempotency is not None:
            record["idempotency"] = idempotency
        existing = self.store.insert(record)
        if existing is not None:
            return existing
        sid = record["_id"]
        try:
            self.bucket.put(record["original_key"], clean, record["content_type"])
        except Exception:
            try:
                self.store.delete(sid)
            except Exception as exc:  # noqa: BLE001 - report the put failure, log this one
                log.error("could not remove record after failed put: %s screening_id=%s", type(exc).__name__, sid)
            raise
        return None

    # --- GET /api/screenings/{id}

    def get_screening(self, screening_id: str, secret: str | None = None, who: Principal | None = None) -> Reply:
        record = self._record(screening_id)
        return Reply(200, present(record, with_feedback=_may_read_feedback(record, secret, who)))

    # --- GET /api/screenings/{id}/crop and /heatmap

    def crop_image(self, screening_id: str, secret: str | None = None, who: Principal | None = None) -> Reply:
        return self._result_image(screening_id, keys.crop_key(screening_id), "crop", secret, who)

    def heatmap_image(self, screening_id: str, secret: str | None = None, who: Principal | None = None) -> Reply:
        return self._result_image(screening_id, keys.heatmap_key(screening_id), "heat map", secret, who)

    def _result_image(self, screening_id: str, key: str, what: str, secret: str | None,
                      who: Principal | None) -> Reply:
        record = self._record(screening_id)
        _may_see(record, secret, who)
        if record["status"] != Status.DONE:
            raise _not_ready(record, what)
        result = record.get("result") or {}
        if result.get("heatmap") is False or not self.bucket.exists(key):
            raise ApiError(404, "not_found", f"This screening has no {what} image.")
        url = self.bucket.presigned_get(key)
        return Reply(303, {"url": url}, {"Location": url, "Cache-Control": "private, max-age=60"})

    # --- GET /api/screenings/{id}/report

    def report(self, screening_id: str, secret: str | None = None, who: Principal | None = None) -> Reply:
        from papila.adapters import pdf_report  # fpdf2: loaded on first use

        record = self._record(screening_id)
        if not _may_read_feedback(record, secret, who):
            record = {k: v for k, v in record.items() if k != "feedback"}
        if record["status"] != Status.DONE:
            raise _not_ready(record, "report")
        images = pdf_report.gather_images(self.bucket, record)
        pdf = pdf_report.build_report(record, images, pdf_report.installed_card())
        return Reply(200, pdf, {
            "Content-Type": PDF,
            "Content-Disposition": f'inline; filename="papila-report-{record["_id"]}.pdf"',
            "Cache-Control": "private, no-store",
        })

    # --- PUT /api/screenings/{id}/feedback

    def put_feedback(self, screening_id: str, raw: bytes | None, secret: str | None = None,
                     who: Principal | None = None) -> Reply:
        _authorize(self._record(screening_id), secret, who)
        req = Feedback.model_validate(parse_object(raw))
        feedback = {
            "diagnosis_correct": req.diagnosis_correct,
            "true_label": req.true_label,
            "metadata": req.metadata.model_dump(exclude_none=True) if req.metadata else {},
            "given_at": now(),
        }
        record = self.store.set_feedback(screening_id, feedback)
        if record is None:
            raise _not_ready(self._record(screening_id), "feedback")
        return Reply(200, present(record))

    # --- POST /api/screenings/{id}/rerun

    def rerun(self, screening_id: str, raw: bytes | None, secret: str | None = None,
              who: Principal | None = None) -> Reply:
        record = self._record(screening_id)
        _authorize(record, secret, who)
        req = Rerun.model_validate(parse_object(raw, allow_empty=True))
        if record["status"] not in TERMINAL:
            raise ApiError(409, "not_ready", f"The screening is still {record['status']}; rerun it once it has finished.")
        image = record.get("image") or {}
        if req.crop and image.get("width") and image.get("height"):
            check_overlap(req.crop, image["width"], image["height"])
        if not self.bucket.exists(record["original_key"]):
            raise ApiError(409, "no_image", "This screening's photo was never uploaded; start a new screening.")
        previous = {
            "status": record["status"],
            "result": record.get("result"),
            "error": record.get("error"),
            "crop": record.get("crop_request"),
            "at": now(),
        }
        moved = self.store.move(
            screening_id,
            Status.QUEUED,
            set_fields={"crop_request": req.crop.model_dump() if req.crop else None, "attempt": 0},
            unset=("result", "error"),
            push={"history": previous},
            # Only from a finished state, and only if nobody changed it since we read it.
            where={"status": {"$in": [str(s) for s in TERMINAL]}, "updated_at": record["updated_at"]},
        )
        if moved is None:
            raise ApiError(409, "conflict", "The screening changed meanwhile; fetch it and try again.")
        try:
            self.bucket.touch(record["original_key"])  # re-emits the ObjectCreated event
        except Exception:
            self.store.move(
                screening_id, Status.FAILED,
                set_fields={"error": {"code": "rerun_failed", "message": "The rerun could not be started; try again."}},
                where={"status": str(Status.QUEUED)},
            )
            raise
        return Reply(202, present(moved))

    # --- POST /api/locate

    def locate(self, raw: bytes | None) -> Reply:
        req = LocateRequest.model_validate(parse_object(raw))
        image, _ = load_image(decode_base64(req.image_base64))
        original = (req.width, req.height) if req.width and req.height else image.size
        if max(image.size) > LOCATE_MAX_SIDE:  # the full-size photo goes: locate would copy it again
            image, _ = imaging.downscale(image, LOCATE_MAX_SIDE)
        from papila.core.locate import locate  # numpy work: imported on first use

        try:
            found = locate(image)
        except ImageError as exc:
            raise ApiError(422, exc.code, exc.message) from None
        crop = found.crop
        if original != image.size:
            crop = scale_crop(crop, image.size, original)
        return Reply(200, Located.body(crop=crop.as_dict(), confidence=round(float(found.confidence), 4)))

    # --- service routes

    def health(self) -> Reply:
        checks: dict[str, str] = {}
        for name, probe in (("mongo", lambda: self.store.ping()), ("s3", self.bucket.ping), ("queue", self.queue.ping)):
            try:
                probe()
                checks[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - any failure is "error"; details stay in the log
                log.error("health check %s failed: %s", name, type(exc).__name__)
                checks[name] = "error"
        failed = [name for name, state in checks.items() if state != "ok"]
        if not failed:
            return Reply(200, Health.body(status="ok", checks=checks))
        error = {"code": "unhealthy", "message": f"Unavailable: {', '.join(failed)}."}
        return Reply(503, Health.body(status="error", checks=checks, error=error), {"Retry-After": "5"})

    def model(self) -> Reply:
        """The serving model's card summary: the version the registry's pointer names, else the installed one."""
        from papila.model.serving.card import model_summary

        registered = self._registered_card()
        try:
            summary = model_summary(registered)
        except FileNotFoundError:
            raise ApiError(503, "model_unavailable", "No trained model is installed yet.") from None
        return Reply(200, jsonable({**summary, "serving": "registry" if registered else "baked"}))

    def model_plot(self, name: str) -> Reply:
        """A plot of the serving model's card: the registered version's (from models/<version>/), else the
        installed one's. Only the names its card lists (papila.api.modelfiles)."""
        from papila.api import modelfiles

        registered = self._registered_card()
        if registered is None:
            return Reply(200, *modelfiles.plot_png(name))
        from papila.adapters.registry import MODELS_PREFIX

        key = f"{MODELS_PREFIX}{registered['model_version']}/{modelfiles.listed_name(name, registered)}"
        return Reply(200, *modelfiles.png_reply(self.bucket.get_if_exists(key)))

    def _registered_card(self) -> dict[str, Any] | None:
        """The card of the version the pointer names (None: the baked model serves, or no pointer)."""
        if not self.settings.model_parameter:
            return None
        from papila.adapters.registry import BAKED, ModelRegistry

        registry = ModelRegistry(self.bucket, self.settings.model_parameter)
        try:
            version = registry.current()
            return None if version == BAKED else registry.card(version)
        except Exception as exc:  # noqa: BLE001 - the pointer unreadable: report the installed model
            log.warning("model pointer unreadable: %s", type(exc).__name__)
            return None

    def openapi(self) -> Reply:
        from papila.api.openapi import document

        return Reply(200, document())

    # --- seed-compatible routes (the 2020 client)

    def seed_process(self, raw: bytes | None, who: Principal | None = None) -> Reply:
        req = SeedProcess.model_validate(parse_object(raw))
        if extension_of(req.imageName) not in keys.EXTENSIONS:
            raise ApiError(406, "unsupported_format", "Upload a .jpg, .jpeg, .png, .tif or .tiff photo.")
        data = decode_base64(req.b64Image, what="b64Image")
        image, content_type = load_image(data)
        crop = seed_crop(req.cropData, (req.imageWidth, req.imageHeight), image.size)
        if crop is not None:
            check_overlap(crop, *image.size)
        # The seed client had no consent step: using it counts as the consent that client implied
        # (research use of the uploaded photo), recorded as coming from the seed client.
        consent = {"accepted": True, "at": now(), "via": "seed-client"}
        name = req.imageName.replace("\\", "/").rsplit("/", 1)[-1]
        secret, digest = new_secret()
        sid = new_id()
        record = new_record(
            screening_id=sid, filename=name, content_type=content_type,
            original_key=keys.original_key(sid, STORED_EXTENSION[content_type]), status=Status.QUEUED,
            crop=crop.as_dict() if crop else None, consent=consent, secret_digest=digest,
            owner=who.sub if who else None,
        )
        self._store_inline(record, data, image)
        # The 2020 client reads only the id; the secret rides in a header it may keep for /api/metadata.
        return Reply(200, sid, {"Content-Type": TEXT, "X-Screening-Secret": secret})

    def seed_diagnosis(self, screening_id: str, secret: str | None = None, who: Principal | None = None) -> Reply:
        record = self._record(screening_id)
        _may_see(record, secret, who)
        if record["status"] == Status.DONE:
            return Reply(200, {"diagnosisResult": (record.get("result") or {}).get("probability_glaucoma")})
        if record["status"] in TERMINAL:
            error = record.get("error") or {}
            raise ApiError(422, str(error.get("code") or record["status"]),
                           str(error.get("message") or "The photo could not be screened."))
        return Reply(200, "", {"Content-Type": TEXT})  # not yet: the seed client polls again

    def seed_download(self, screening_id: str, secret: str | None = None, who: Principal | None = None) -> Reply:
        record = self._record(screening_id)
        _may_see(record, secret, who)
        if record["status"] != Status.DONE:
            raise _not_ready(record, "crop")
        key = keys.crop_key(screening_id)
        if not self.bucket.exists(key):
            raise ApiError(404, "not_found", "This screening has no crop image.")
        return Reply(200, base64.b64encode(self.bucket.get(key)).decode("ascii"), {"Content-Type": TEXT})

    def seed_metadata(self, raw: bytes | None, secret: str | None = None, who: Principal | None = None) -> Reply:
        body = parse_object(raw)
        screening_id = body.pop("uuid", None)
        body_secret = body.pop("secret", None)  # the header, or "secret" beside "uuid" in the body
        if not isinstance(screening_id, str):
            raise ApiError(400, "invalid_id", "Send the screening id as \"uuid\".")
        _authorize(self._record(screening_id), secret or (body_secret if isinstance(body_secret, str) else None), who)
        metadata = FeedbackMetadata.model_validate(body).model_dump(exclude_none=True)
        record = self.store.set_metadata(screening_id, metadata)
        if record is None:
            raise ApiError(404, "not_found", "No screening has this id.")
        return Reply(200, {"uuid": screening_id, "metadata": metadata})


# The container's one service, built on first use from the environment.
service: PerContainer[ScreeningService] = PerContainer(lambda: ScreeningService(Settings.from_env()))
reset = service.reset
