"""The inference function's work for one SQS record carrying S3 ObjectCreated events (adapter: S3 +
MongoDB around the AWS-free pipeline). Raising means "retry this message"; SQS redrive does the rest."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import unquote_plus

from papila import export, imaging, keys, pipeline, quality
from papila.records import Status
from papila.storage import ImageBucket
from papila.store import ScreeningStore

log = logging.getLogger("papila.worker")


class ScreeningBusy(RuntimeError):
    """Another attempt holds the screening's lease; retry the message later."""


class Worker:
    def __init__(self, store: ScreeningStore, bucket: ImageBucket, model: pipeline.Model, card: dict[str, Any],
                 *, max_receive_count: int = 3, lease_seconds: int = 60) -> None:
        self.store, self.bucket, self.model, self.card = store, bucket, model, card
        self.max_receive_count, self.lease_seconds = max_receive_count, lease_seconds

    def handle_sqs_record(self, record: dict[str, Any]) -> None:
        body = json.loads(record["body"])
        if body.get("Event") == "s3:TestEvent":  # sent once when the notification is attached
            return
        receive_count = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        final_attempt = receive_count >= self.max_receive_count
        if export.is_step_message(body):  # {"papila_export": id}: a dataset-export step, sent by the admin API
            builder = export.builder_from_env(self.store.col.database, self.bucket)
            export.handle_message(body, builder, final_attempt=final_attempt)
            return
        for event in body.get("Records", []):
            if not str(event.get("eventName", "")).startswith("ObjectCreated"):
                continue
            # AWS URL-encodes keys in events (spaces as '+'); moto and LocalStack differ: always unquote.
            self.process(unquote_plus(event["s3"]["object"]["key"]), final_attempt=final_attempt)

    def process(self, key: str, *, final_attempt: bool = False) -> Status | None:
        screening_id = keys.screening_id_from_key(key)
        if screening_id is None:
            log.info("skipped object outside the uploads layout")
            return None
        record = self.store.claim(screening_id, key, self.lease_seconds)
        if record is None:
            current = self.store.get(screening_id)
            if current is not None and current["status"] == Status.PROCESSING:
                raise ScreeningBusy(screening_id)
            log.info("skipped screening %s: %s", screening_id, current["status"] if current else "no record")
            return None
        try:
            return self._run(screening_id, key, record)
        except Exception as exc:
            log.warning("screening %s attempt %s failed: %s", screening_id, record.get("attempt"), type(exc).__name__)
            if final_attempt:
                self.store.move(screening_id, Status.FAILED, unset=("lease_until",), set_fields={"error": {
                    "code": "processing_failed",
                    "message": "The photo could not be processed after several attempts; please upload it again.",
                }})
            else:
                self.store.move(screening_id, Status.QUEUED, unset=("lease_until",))
            raise

    def _run(self, screening_id: str, key: str, record: dict[str, Any]) -> Status:
        data = self.bucket.get(key)
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
        self._strip_original(key, data, record["content_type"])
        return Status.DONE

    def _strip_original(self, key: str, data: bytes, content_type: str) -> None:
        """A presigned upload arrives as the client sent it: replace it by a metadata-free copy. The
        copy's own ObjectCreated event finds the screening done and changes nothing."""
        if imaging.has_metadata(data):
            self.bucket.put(key, imaging.encode(imaging.decode(data), content_type), content_type)
