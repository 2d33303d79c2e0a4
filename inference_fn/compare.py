"""Compare Lambda (the inference image, its own command and queue): an SQS batch of comparison jobs in,
batchItemFailures out. Each message `{"papila_compare": version}` grades the confirmed cases held out from
that candidate's training with it and with the serving model (papila/usecases/compare.py) and stores the
result beside the version in the registry. It needs the model runtime, hence the inference image."""

from __future__ import annotations

import tempfile
from pathlib import Path

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from papila import events
from papila.adapters.aws import ImageBucket
from papila.adapters.mongo import ScreeningStore
from papila.adapters.registry import ModelRegistry
from papila.config import BAKED_MODEL, Settings
from papila.model.serving import runtime
from papila.usecases.compare import Comparison, model_loader

events.configure_logging()
SETTINGS = Settings.from_env()
BUCKET = ImageBucket(SETTINGS.uploads_bucket)
REGISTRY = ModelRegistry(BUCKET, SETTINGS.model_parameter)
COMPARISON = Comparison(
    ScreeningStore.connect(SETTINGS.mongodb_uri, SETTINGS.mongodb_db),
    BUCKET,
    REGISTRY,
    model_loader(REGISTRY, lambda path: (runtime.load(path), runtime.card_beside(path)), SETTINGS.model_path,
                 Path(tempfile.gettempdir()) / "papila-models", BAKED_MODEL),
)
PROCESSOR = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> None:
    events.compare_record(COMPARISON, record, SETTINGS.max_receive_count)


def handler(event: dict, context: object) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=PROCESSOR, context=context)
