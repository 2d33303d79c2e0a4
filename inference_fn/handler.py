"""Inference Lambda (container image): SQS batch of S3 ObjectCreated events in, batchItemFailures out.
It only screens: dataset exports have their own queue and function (export_fn/).

The model and the clients load once per container, at import, outside the handler."""

from __future__ import annotations

import tempfile
from pathlib import Path

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from papila import config, events
from papila.adapters.aws import ImageBucket
from papila.adapters.mongo import ScreeningStore
from papila.adapters.registry import ModelRegistry
from papila.config import Settings
from papila.model.serving import card as model_card
from papila.model.serving import runtime
from papila.usecases.inference import Worker
from papila.usecases.model_version import ModelSwitch

events.configure_logging()
SETTINGS = Settings.from_env()
MODEL = runtime.load(SETTINGS.model_path)
WORKER = Worker(
    ScreeningStore.connect(SETTINGS.mongodb_uri, SETTINGS.mongodb_db),
    ImageBucket(SETTINGS.uploads_bucket),
    MODEL,
    model_card.load_card(SETTINGS.model_path),
    # The redrive policy's maxReceiveCount (MAX_RECEIVE_COUNT): its last receive ends the screening.
    max_receive_count=SETTINGS.max_receive_count,
    lease_seconds=config.lease_seconds(SETTINGS.function_timeout or 900),  # set again per invocation
)
# The registry's pointer says which version grades (papila.usecases.model_version); without one, the baked model.
SWITCH = ModelSwitch(
    ModelRegistry(ImageBucket(SETTINGS.uploads_bucket), SETTINGS.model_parameter),
    lambda path: (runtime.load(path), runtime.card_beside(path)),
    SETTINGS.model_path, Path(tempfile.gettempdir()) / "papila-models",
    check_seconds=SETTINGS.model_check_seconds,
) if SETTINGS.model_parameter else None
# Report failures per message even when the whole batch fails, so SQS retries only those.
PROCESSOR = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> None:
    events.screen_record(WORKER, record)


def lease_seconds(context: object) -> int:
    """The lease for this invocation's attempts, from the function timeout (FUNCTION_TIMEOUT, the
    template's InferenceTimeout) or, without it, from the time Lambda gives this invocation."""
    if SETTINGS.function_timeout:
        return config.lease_seconds(SETTINGS.function_timeout)
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if remaining_ms is not None:
        return config.lease_seconds(remaining_ms() / 1000)
    return WORKER.lease_seconds


def handler(event: dict, context: object) -> dict:
    if SWITCH is not None:
        SWITCH.refresh(WORKER)
    WORKER.lease_seconds = lease_seconds(context)
    return process_partial_response(event=event, record_handler=record_handler, processor=PROCESSOR, context=context)
