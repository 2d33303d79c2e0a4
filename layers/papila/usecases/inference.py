"""The inference use case: one uploaded photo, from its S3 key to a terminal record (S3 + MongoDB around the
AWS-free pipeline). The handler (inference_fn/handler.py) reads the SQS records with Powertools' data classes
(papila.events) and hands each created key here. Raising means "retry this message"; SQS redrive
does the rest."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from papila.core import imaging, keys, pipeline, quality
from papila.core.ports import ObjectStore, ScreeningRecords
from papila.core.records import TERMINAL, Status, now

log = logging.getLogger("papila.usecases.inference")


class ScreeningBusy(RuntimeError):
    """Another attempt holds the screening's lease; retry the message later."""


class Worker:
    def __init__(self, store: ScreeningRecords, bucket: ObjectStore, model: pipeline.Model, card: dict[str, Any],
                 *, max_receive_count: int = 3, lease_seconds: int = 60) -> None:
        self.store, self.bucket, self.model, self.card = store, bucket, model, card
        self.max_receive_count, self.lease_seconds = max_receive_count, lease_seconds

    def process(self, key: str, *, final_attempt: bool = False) -> Status | None:
        screening_id = keys.screening_id_from_key(key)
        if screening_id is None:
            log.info("skipped object outside the uploads layout")
            return None
        current = self.store.get(screening_id)
        if current is not None and current.get("original_key") == key and not self._same_original(key, current):
            return None
        if (current is not None and current["status"] in (Status.AWAITING_UPLOAD, Status.QUEUED)
                and self.bucket.etag(key) is None):  # an event that outlived its object uses up no attempt
            log.info("skipped screening %s: no object under the event's key", screening_id)
            return None
        record = self.store.claim(screening_id, key, self.lease_seconds)
        if record is None:
            current = self.store.get(screening_id)
            if current is not None and current["status"] == Status.PROCESSING:
                if final_attempt:  # no receive follows: a lease still held must not leave it processing for good
                    return self._fail_held(screening_id)
                raise ScreeningBusy(screening_id)
            log.info("skipped screening %s: %s", screening_id, current["status"] if current else "no record")
            return None
        try:
            return self._run(screening_id, key, record)
        except Exception as exc:
            log.warning("screening %s attempt %s failed: %s", screening_id, record.get("attempt"), type(exc).__name__)
            # Only this attempt's own record: had the result been stored before the error (a lost reply),
            # moving it back would screen the photo twice.
            mine = {"status": str(Status.PROCESSING), "attempt": record.get("attempt")}
            if final_attempt:
                self.store.move(screening_id, Status.FAILED, unset=("lease_until",), set_fields={"error": {
                    "code": "processing_failed",
                    "message": "The photo could not be processed after several attempts; please upload it again.",
                }}, where=mine)
            else:
                self.store.move(screening_id, Status.QUEUED, unset=("lease_until",), where=mine)
            raise

    def _fail_held(self, screening_id: str) -> Status | None:
        """The message's last receive met a live lease (an attempt that overran, or a lease left by one the
        function's timeout cut short, as seen from a duplicate event): end the screening `failed` with the
        reason, so it is visible and can be rerun, and let the message go (the record says it all)."""
        moved = self.store.move(screening_id, Status.FAILED, unset=("lease_until",), set_fields={"error": {
            "code": "processing_stalled",
            "message": "The photo could not be processed in time after several attempts; please upload it again.",
        }}, where={"status": str(Status.PROCESSING)})
        log.warning("screening %s: final receive met a live lease; marked failed", screening_id)
        return Status.FAILED if moved is not None else None

    def _run(self, screening_id: str, key: str, record: dict[str, Any]) -> Status:
        data = self._clean_original(screening_id, key, record)
        if data is None:
            return Status.FAILED
        with quality.recording() as assessed:
            outcome = pipeline.screen_image(data, record.get("crop_request"), self.model, self.card)
        if isinstance(outcome, pipeline.Rejected):
            error: dict[str, Any] = {"code": outcome.code, "message": outcome.message}
            scores = quality.merged_scores(assessed)
            if scores:  # the quality gate's scores behind the decision (admins see why; never in the public view)
                error["quality_scores"] = scores
            self.store.move(screening_id, Status.REJECTED, unset=("lease_until",), set_fields={"error": error})
            log.info("screening %s rejected: %s", screening_id, outcome.code)
            return Status.REJECTED
        self.bucket.put(keys.crop_key(screening_id), outcome.crop_png, "image/png")
        self.bucket.put(keys.heatmap_key(screening_id), outcome.heatmap_png, "image/png")
        self.store.move(screening_id, Status.DONE, unset=("lease_until",),
                        set_fields={"result": outcome.result, "model_version": outcome.result["model_version"]})
        log.info("screening %s done in %.1f ms", screening_id, outcome.result["inference_ms"])
        return Status.DONE

    # ------------------------------------------------------------ the original: clean, and uploaded once

    def _clean_original(self, screening_id: str, key: str, record: dict[str, Any]) -> bytes | None:
        """The original's bytes, metadata-free in S3 before any check can refuse them.

        At first processing the object is rewritten without metadata (imaging.strip_metadata) or, if it
        cannot be taken apart, deleted (what we cannot clean, we do not keep; the pipeline then refuses
        the bytes in hand), and the stored object's identity (ETag, SHA-256, size) is recorded. Later
        attempts and reruns must find those very bytes: anything else was put there by a second upload
        with the same presigned form (None: refused, the screening failed)."""
        data, etag, user_metadata = self.bucket.get_with_etag(key)
        known = record.get("original_object")
        if known is not None:
            if _sha256(data) == known.get("sha256"):
                return data
            self._refuse_replacement(screening_id, key, fail_from=Status.PROCESSING)  # this attempt's own claim
            return None
        try:
            clean: bytes | None = imaging.strip_metadata(data)
        except imaging.ImageError:
            clean = None
        identity: dict[str, Any]
        if clean is None:
            self.bucket.delete(key)
            identity = {"etag": None, "sha256": None, "size": 0, "removed": "metadata could not be removed"}
            log.info("screening %s: original deleted, its metadata could not be removed", screening_id)
        else:
            if clean is not data or user_metadata:  # its own ObjectCreated event finds these very bytes
                etag = self.bucket.put(key, clean, record["content_type"])
            identity = {"etag": etag, "sha256": _sha256(clean), "size": len(clean)}
        self.store.note_original(screening_id, {"original_object": identity})
        return data if clean is None else clean

    def _same_original(self, key: str, record: dict[str, Any]) -> bool:
        """False if the event's object replaced the one recorded at first processing (and has been
        refused); True to go on as usual. A record not processed yet has nothing to compare; one that
        ended without being processed (never under this worker) gets its object stripped in place."""
        known = record.get("original_object")
        status = Status(record["status"])
        if known is None:
            if status in TERMINAL:
                self._strip_in_place(key, record["content_type"])
            return True
        etag = self.bucket.etag(key)
        if etag is None or etag == known.get("etag"):
            return True
        if known.get("sha256") and _sha256(self.bucket.get(key)) == known["sha256"]:
            return True  # the same bytes under another ETag (a copy onto itself under SSE-KMS)
        self._refuse_replacement(record["_id"], key, fail_from=Status.QUEUED if status == Status.QUEUED else None)
        return False

    def _refuse_replacement(self, screening_id: str, key: str, *, fail_from: Status | None) -> None:
        """A second upload with the same presigned form (valid for its whole lifetime) overwrote the
        screened photo. It is never screened and never kept: the object is deleted (S3 has already
        lost the first photo) and the record says when. A screening about to be screened again (a
        rerun, a retried attempt: `fail_from`) fails with `upload_replaced`; a finished one, or one an
        attempt is screening from the first photo's bytes, keeps its status and result (a rerun then
        answers 409 no_image). See the contract, POST /api/screenings."""
        self.bucket.delete(key)
        self.store.note_original(screening_id, {"original_replaced_at": now()})
        if fail_from is not None:
            self.store.move(screening_id, Status.FAILED, unset=("lease_until",), set_fields={"error": {
                "code": "upload_replaced",
                "message": "The photo was uploaded a second time with the same upload form, which takes one "
                           "photo; start a new screening.",
            }}, where={"status": str(fail_from)})
        log.warning("screening %s: a second upload with the same form was refused and deleted", screening_id)

    def _strip_in_place(self, key: str, content_type: str) -> None:
        data = self.bucket.get_if_exists(key)
        if data is None:
            return
        try:
            clean = imaging.strip_metadata(data)
        except imaging.ImageError:
            self.bucket.delete(key)
            return
        if clean is not data:
            self.bucket.put(key, clean, content_type)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
