"""The local Lambda runner's reading of Lambda's rules (no cloud needed): the event it builds and which
messages it leaves on the queue for a given handler response."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.lambda_runner import _dockerfile_cmd, build_event, failed_ids

IDS = ["m1", "m2", "m3"]


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "m2"}]}, {"m2"}),
        ({"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}]}, {"m1", "m3"}),
        # Malformed answers fail the whole batch, as Lambda does.
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, set(IDS)),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, set(IDS)),
        ({"batchItemFailures": [{"id": "m1"}]}, set(IDS)),
        ({"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]}, set(IDS)),
        ("oops", set(IDS)),
    ],
)
def test_report_batch_item_failures_semantics(result: object, expected: set[str]) -> None:
    assert failed_ids(result, IDS, report_batch_item_failures=True) == expected


def test_without_report_batch_item_failures_the_response_is_ignored() -> None:
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "m1"}]}, IDS, report_batch_item_failures=False) == set()


def test_event_has_lambdas_sqs_record_shape() -> None:
    message = {
        "MessageId": "m1",
        "ReceiptHandle": "rh",
        "Body": '{"Records": []}',
        "MD5OfBody": "abc",
        "Attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1", "SenderId": "s",
                       "ApproximateFirstReceiveTimestamp": "2", "SqsManagedSseEnabled": "true"},
        "MessageAttributes": {"trace": {"StringValue": "x", "DataType": "String"},
                              "blob": {"BinaryValue": b"\x00\x01", "DataType": "Binary"}},
    }
    [record] = build_event([message], "arn:aws:sqs:us-east-1:000000000000:q", "us-east-1")["Records"]
    assert record == {
        "messageId": "m1",
        "receiptHandle": "rh",
        "body": '{"Records": []}',
        "attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1", "SenderId": "s",
                       "ApproximateFirstReceiveTimestamp": "2"},
        "messageAttributes": {
            "trace": {"stringValue": "x", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
            "blob": {"binaryValue": "AAE=", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
        },
        "md5OfBody": "abc",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:q",
        "awsRegion": "us-east-1",
    }


@pytest.mark.parametrize(
    ("cmd", "handler"),
    [('CMD ["handler.handler"]', "handler.handler"), ("CMD app.main", "app.main"), ("", "handler.handler")],
)
def test_handler_comes_from_the_images_cmd(tmp_path: Path, cmd: str, handler: str) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM public.ecr.aws/lambda/python:3.11\n{cmd}\n")
    assert _dockerfile_cmd(dockerfile) == handler
