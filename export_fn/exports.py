"""Export Lambda (zip package + the papila layer): an SQS batch of dataset-export steps in,
batchItemFailures out. Each message `{"papila_export": id}` is one bounded step of that export
(papila/usecases/export.py), which queues the next step itself. The clients load once per container."""

from __future__ import annotations

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from papila import events
from papila.adapters.aws import ImageBucket, WorkQueue
from papila.adapters.mongo import Exports, ScreeningStore
from papila.config import Settings
from papila.usecases import export

events.configure_logging()
SETTINGS = Settings.from_env()
BUILDER = export.builder_from_env(
    Exports.connect(SETTINGS.mongodb_uri, SETTINGS.mongodb_db),
    ScreeningStore.connect(SETTINGS.mongodb_uri, SETTINGS.mongodb_db),
    ImageBucket(SETTINGS.uploads_bucket),
    WorkQueue(SETTINGS.export_queue_url),
)
# Report failures per message even when the whole batch fails, so SQS retries only those.
PROCESSOR = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> None:
    # The redrive policy's maxReceiveCount (MAX_RECEIVE_COUNT): its last receive ends the export `failed`.
    events.export_record(BUILDER, record, SETTINGS.max_receive_count)


def handler(event: dict, context: object) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=PROCESSOR, context=context)
