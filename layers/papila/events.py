"""Lambda's SQS records read with Powertools' typed data classes (adapter): what each function's handler
hands its use case. Inference: the keys of the objects an S3 notification says were created, to the
worker. Exports: one export step. Comparisons: the candidate to compare. The receive count says whether this is the message's last attempt
(the redrive policy's maxReceiveCount), on which a use case ends its work `failed` with the reason."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from papila.usecases import export

if TYPE_CHECKING:  # the export function's image has no imaging libraries: these are the inference image's
    from papila.usecases.compare import Comparison
    from papila.usecases.inference import Worker

log = logging.getLogger("papila.events")


def configure_logging() -> None:
    """A function's logging at its cold start: LOG_LEVEL (default INFO), without the AWS clients' endpoint
    chatter."""
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"))
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def is_final_attempt(record: SQSRecord, max_receive_count: int) -> bool:
    return int(record.attributes.approximate_receive_count) >= max_receive_count


def created_object_keys(record: SQSRecord) -> list[str]:
    """The keys of the objects created, from an S3 notification carried by SQS. A body that is not JSON
    raises (the message is retried, then dead-lettered); S3's test event and other messages carry none."""
    body = record.json_body
    if not isinstance(body, dict) or "Records" not in body:  # s3:TestEvent, sent once when attached
        log.info("skipped a message that is not an S3 event notification")
        return []
    # AWS URL-encodes keys in events (spaces as '+'); moto and LocalStack differ: always unquote.
    return [unquote_plus(event.s3.get_object.key) for event in S3Event(body).records
            if event.event_name.startswith("ObjectCreated")]


def screen_record(worker: Worker, record: SQSRecord) -> None:
    """The inference function's work for one record: each created photo through the worker."""
    final_attempt = is_final_attempt(record, worker.max_receive_count)
    for key in created_object_keys(record):
        worker.process(key, final_attempt=final_attempt)


def export_record(builder: export.ExportBuilder, record: SQSRecord, max_receive_count: int) -> None:
    """The export function's work for one record: one step of the export it names."""
    body = record.json_body
    if not isinstance(body, dict):
        log.warning("skipped a malformed export message")
        return
    export.handle_message(body, builder, final_attempt=is_final_attempt(record, max_receive_count))


def compare_record(comparison: Comparison, record: SQSRecord, max_receive_count: int) -> None:
    """The compare function's work for one record: the comparison it names."""
    comparison.handle(record.json_body, final_attempt=is_final_attempt(record, max_receive_count))
