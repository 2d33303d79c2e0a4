"""Helpers of the admin tests: screenings in any state and age, straight into the store, with their S3
objects; the objects of a screening; the messages waiting in the inference queue."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

# ---------------------------------------------------------------- screenings


T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def put_screening(service, aws, images, *, created_at: datetime | None = None, status: str = "done",
                  label: str = "glaucoma", true_label: str | None = None, diagnosis_correct: bool | None = None,
                  model_version: str = "vgg19-test", with_original: bool = True, with_crop: bool = True,
                  metadata: dict[str, Any] | None = None) -> str:
    """A screening record straight into the store (any state, any age) with its S3 objects."""
    from papila.core import keys
    from papila.core.records import new_id, new_record

    sid = new_id()
    key = keys.original_key(sid, "jpg")
    record = new_record(screening_id=sid, filename="patient-name-left.jpg", content_type="image/jpeg",
                        original_key=key, status=status, crop=None,  # type: ignore[arg-type]
                        consent={"accepted": True, "at": T0, "version": "2026-11"}, size=1234)
    if created_at is not None:
        record["created_at"] = record["updated_at"] = created_at
    if status == "done":
        record["result"] = {"probability_glaucoma": 0.9 if label == "glaucoma" else 0.1, "label": label,
                            "threshold": 0.5, "model_version": model_version, "inference_ms": 12.0,
                            "crop": {"x": 1, "y": 2, "size": 200, "source": "auto"}}
    if true_label is not None or diagnosis_correct is not None or metadata:
        record["feedback"] = {"true_label": true_label, "diagnosis_correct": diagnosis_correct,
                              "metadata": metadata or {}, "given_at": record["created_at"]}
    service.store.insert(record)
    if with_original:
        aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=images.jpeg(320, 240), ContentType="image/jpeg")
    if status == "done" and with_crop:
        crop = images.encode(images.fundus(224, 224), "PNG")
        aws.s3.put_object(Bucket=aws.bucket, Key=keys.crop_key(sid), Body=crop, ContentType="image/png")
        aws.s3.put_object(Bucket=aws.bucket, Key=keys.heatmap_key(sid), Body=crop, ContentType="image/png")
    return sid


def objects_of(aws, screening_id: str) -> list[str]:
    from papila.core import keys

    found: list[str] = []
    for prefix in keys.screening_prefixes(screening_id):
        found += [o["Key"] for o in aws.s3.list_objects_v2(Bucket=aws.bucket, Prefix=prefix).get("Contents", [])]
    return found


def drain(aws, queue_url: str | None = None) -> list[dict[str, Any]]:
    """Every message waiting in a queue (default: the export queue), deleted, as the Lambda event records
    they become."""
    url = queue_url or aws.export_queue_url
    out: list[dict[str, Any]] = []
    while True:
        got = aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                      AttributeNames=["All"]).get("Messages", [])
        if not got:
            return out
        for m in got:
            out.append({"body": m["Body"], "attributes": m.get("Attributes", {})})
            aws.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def bodies(records: list[dict[str, Any]]) -> list[Any]:
    return [json.loads(r["body"]) for r in records]
