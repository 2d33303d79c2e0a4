"""The local stand-in for Lambda's SQS event source mapping (LocalStack's community Lambda needs Docker).

It long-polls the real inference queue, builds the event Lambda would send (batch size and batching
window from template.yaml's SQS event), calls the handler the container image runs (the Dockerfile's
CMD, e.g. `handler.handler` from inference_fn/), deletes the messages that succeeded and leaves the
`batchItemFailures` to reappear after the visibility timeout, so SQS's own redrive moves a poison
message to the DLQ. It never calls pipeline code itself.

    python -m infra.lambda_runner [--queue-url URL] [--function InferenceFunction]

The environment is the function's (UPLOADS_BUCKET, MONGODB_URI, ... plus AWS_ENDPOINT_URL); the
runner's own SQS client reads AWS_ENDPOINT_URL like every boto3 client.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import re
import signal
import sys
import time
import traceback
import uuid
from base64 import b64encode
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

from infra import cfn

ROOT = cfn.ROOT
# The attributes Lambda copies into each record (when SQS has them).
LAMBDA_ATTRIBUTES = (
    "ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader", "SequenceNumber", "MessageGroupId", "MessageDeduplicationId", "DeadLetterQueueSourceArn",
)
MAX_PAYLOAD = 6 * 1024 * 1024  # Lambda's synchronous invocation payload limit


def _log(message: str) -> None:
    print(f"[runner] {message}", flush=True)


# ---------------------------------------------------------------------- the function's definition
@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler: str                # "module.function", relative to the code folder
    code_dir: Path              # where the handler module lives (inference_fn/)
    timeout_s: int
    memory_mb: int
    batch_size: int
    batching_window_s: float
    report_batch_item_failures: bool


def _resolve(value: Any, template: dict[str, Any], parameters: dict[str, str] | None = None) -> Any:
    """A property value with `Ref` to a parameter replaced by the value the stack was deployed with
    (`parameters`), else the parameter's default."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        if parameters and value["Ref"] in parameters:
            return parameters[value["Ref"]]
        param = template.get("Parameters", {}).get(value["Ref"])
        if param is not None:
            return param.get("Default")
    return value


def function_spec(template: dict[str, Any], logical_id: str, root: Path = ROOT,
                  parameters: dict[str, str] | None = None) -> FunctionSpec:
    resource = template["Resources"][logical_id]
    props = resource.get("Properties", {})
    glob = template.get("Globals", {}).get("Function", {})

    def prop(name: str, default: Any) -> Any:
        return _resolve(props.get(name, glob.get(name, default)), template, parameters)

    sqs_events = [e["Properties"] for e in props.get("Events", {}).values() if e.get("Type") == "SQS"]
    if not sqs_events:
        raise SystemExit(f"{logical_id} has no SQS event in template.yaml")
    event = sqs_events[0]
    if props.get("PackageType") == "Image":
        meta = resource.get("Metadata", {})
        dockerfile = root / meta.get("DockerContext", ".") / meta.get("Dockerfile", "Dockerfile")
        command = (props.get("ImageConfig") or {}).get("Command")
        handler = command[0] if command else _dockerfile_cmd(dockerfile)
        code_dir = dockerfile.parent
    else:
        handler = prop("Handler", "")
        code_dir = root / str(prop("CodeUri", "."))
    return FunctionSpec(
        logical_id=logical_id,
        handler=handler,
        code_dir=code_dir,
        timeout_s=int(prop("Timeout", 3)),
        memory_mb=int(prop("MemorySize", 128)),
        batch_size=int(_resolve(event.get("BatchSize", 10), template, parameters)),
        batching_window_s=float(_resolve(event.get("MaximumBatchingWindowInSeconds", 0), template, parameters)),
        report_batch_item_failures="ReportBatchItemFailures" in (event.get("FunctionResponseTypes") or []),
    )


def _dockerfile_cmd(dockerfile: Path) -> str:
    """The handler named by the image's CMD (`CMD ["handler.handler"]`); the Lambda base image's
    entry point takes it as its first argument."""
    try:
        text = dockerfile.read_text()
    except OSError:
        return "handler.handler"
    cmds = re.findall(r"^\s*CMD\s+(.+)$", text, flags=re.MULTILINE | re.IGNORECASE)
    if not cmds:
        return "handler.handler"
    raw = cmds[-1].strip()
    try:
        parsed = json.loads(raw)
        return str(parsed[0] if isinstance(parsed, list) else parsed)
    except json.JSONDecodeError:
        return raw.split()[0].strip("\"'")


def load_handler(spec: FunctionSpec) -> Callable[[dict[str, Any], Any], Any]:
    """Import the handler as the image does: the code folder first on sys.path (the image's
    /var/task), then layers/ (the shared package copied into the image)."""
    module_name, _, func_name = spec.handler.rpartition(".")
    for path in (ROOT / "layers", spec.code_dir):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    file = spec.code_dir / (module_name.replace(".", "/") + ".py")
    module: ModuleType
    if file.exists():
        mod_spec = importlib.util.spec_from_file_location(module_name, file)
        assert mod_spec and mod_spec.loader
        module = importlib.util.module_from_spec(mod_spec)
        sys.modules[module_name] = module
        mod_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_name)
    return getattr(module, func_name)


# ---------------------------------------------------------------------- the invocation
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    def __init__(self, spec: FunctionSpec, function_name: str, region: str, account: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
        self.memory_limit_in_mb = spec.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + spec.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _message_attributes(attrs: dict[str, Any]) -> dict[str, Any]:
    """SQS API shape -> the Lambda event's lower-camel shape (binary values base64)."""
    out: dict[str, Any] = {}
    for name, value in attrs.items():
        binary = value.get("BinaryValue")
        out[name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": b64encode(binary).decode() if isinstance(binary, bytes | bytearray) else binary,
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": [b64encode(b).decode() for b in value.get("BinaryListValues", [])],
            "dataType": value.get("DataType"),
        }
        if out[name]["stringValue"] is None:
            del out[name]["stringValue"]
        if out[name]["binaryValue"] is None:
            del out[name]["binaryValue"]
    return out


def build_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {k: m["Attributes"][k] for k in LAMBDA_ATTRIBUTES if k in m.get("Attributes", {})},
                "messageAttributes": _message_attributes(m.get("MessageAttributes", {})),
                "md5OfBody": m.get("MD5OfBody") or hashlib.md5(m["Body"].encode()).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def failed_ids(result: Any, message_ids: list[str], report_batch_item_failures: bool) -> set[str]:
    """Which messages Lambda would leave on the queue, given the handler's return value.

    With ReportBatchItemFailures: none for a null/empty response or an empty list; those listed; the
    whole batch if the response is malformed or names an id that is not in the batch."""
    if not report_batch_item_failures or result is None:
        return set()
    if not isinstance(result, dict):
        _log(f"handler returned {type(result).__name__}, not a batch response: the whole batch fails")
        return set(message_ids)
    failures = result.get("batchItemFailures")
    if not failures:
        return set()
    if not isinstance(failures, list):
        return set(message_ids)
    out: set[str] = set()
    for item in failures:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not ident or ident not in message_ids:
            _log(f"handler returned an invalid batchItemFailures entry {item!r}: the whole batch fails")
            return set(message_ids)
        out.add(ident)
    return out


# ---------------------------------------------------------------------- the poller
class Runner:
    def __init__(self, spec: FunctionSpec, handler: Callable[..., Any], queue_url: str,
                 function_name: str, poll_wait_s: int = 2) -> None:
        self.spec = spec
        self.handler = handler
        self.queue_url = queue_url
        self.function_name = function_name
        self.poll_wait_s = poll_wait_s
        self.sqs = boto3.client("sqs")
        self.region = self.sqs.meta.region_name
        self.queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.account = self.queue_arn.split(":")[4]
        self.stopping = False

    def receive_batch(self) -> list[dict[str, Any]]:
        """Up to BatchSize messages: the first receive long-polls; with a batching window, more are
        gathered until the batch is full, the window ends or the payload would pass 6 MB."""
        batch: list[dict[str, Any]] = []
        size = 0
        deadline: float | None = None
        while len(batch) < self.spec.batch_size and not self.stopping:
            if deadline is None:
                wait = self.poll_wait_s
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                wait = max(0, min(20, int(remaining)))
            got = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.spec.batch_size - len(batch)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            for message in got:
                size += len(message["Body"].encode())
                batch.append(message)
            if deadline is None:
                if not batch:
                    return []
                if self.spec.batching_window_s <= 0:
                    break
                deadline = time.monotonic() + self.spec.batching_window_s
            if size >= MAX_PAYLOAD:
                break
        return batch

    def invoke(self, messages: list[dict[str, Any]]) -> set[str]:
        event = build_event(messages, self.queue_arn, self.region)
        ids = [m["MessageId"] for m in messages]
        context = LambdaContext(self.spec, self.function_name, self.region, self.account)
        started = time.monotonic()
        try:
            result = self.handler(event, context)
            failed = failed_ids(result, ids, self.spec.report_batch_item_failures)
        except Exception:  # noqa: BLE001 - a function error: Lambda retries the whole batch
            _log("handler raised; the whole batch will be retried:\n" + traceback.format_exc())
            failed = set(ids)
        elapsed = time.monotonic() - started
        if elapsed > self.spec.timeout_s:
            _log(f"the batch took {elapsed:.1f} s, past the function timeout of {self.spec.timeout_s} s "
                 "(Lambda would have failed it)")
        _log(f"batch of {len(ids)}: {len(ids) - len(failed)} ok, {len(failed)} failed, {elapsed * 1000:.0f} ms")
        return failed

    def delete(self, messages: list[dict[str, Any]]) -> None:
        for i in range(0, len(messages), 10):
            chunk = messages[i:i + 10]
            resp = self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(chunk)],
            )
            for failure in resp.get("Failed", []):
                _log(f"delete failed: {failure.get('Code')} {failure.get('Message')}")

    def run(self, ready_file: Path | None = None) -> None:
        _log(f"polling {self.queue_arn} for {self.spec.logical_id} ({self.spec.handler}; batch "
             f"{self.spec.batch_size}, window {self.spec.batching_window_s:g} s, timeout {self.spec.timeout_s} s)")
        if ready_file is not None:
            ready_file.write_text(str(os.getpid()))
        while not self.stopping:
            try:
                messages = self.receive_batch()
            except Exception as exc:  # noqa: BLE001 - queue briefly unreachable: keep polling, like Lambda
                _log(f"receive failed: {type(exc).__name__}: {exc}")
                time.sleep(1)
                continue
            if not messages:
                continue
            failed = self.invoke(messages)
            self.delete([m for m in messages if m["MessageId"] not in failed])
        _log("stopped")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queue-url", default=os.environ.get("INFERENCE_QUEUE_URL"))
    parser.add_argument("--template", type=Path, default=cfn.TEMPLATE)
    parser.add_argument("--function", default="InferenceFunction", help="logical id in the template")
    parser.add_argument("--handler", help="module.function, overriding the image's CMD")
    parser.add_argument("--poll-wait", type=int, default=2, help="long-poll seconds (bounds the stop delay)")
    parser.add_argument("--ready-file", type=Path)
    parser.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE",
                        help="a stack parameter as deployed (like sam local's --parameter-overrides), e.g. "
                             "InferenceTimeout=5: the function's timeout, batch size ... follow it")
    args = parser.parse_args()
    if not args.queue_url:
        parser.error("--queue-url or INFERENCE_QUEUE_URL is required")
    parameters = dict(p.split("=", 1) for p in args.parameter if "=" in p)

    template = cfn.load_template(args.template)
    spec = function_spec(template, args.function, parameters=parameters)
    if args.handler:
        spec = FunctionSpec(**{**spec.__dict__, "handler": args.handler})
    t0 = time.monotonic()
    handler = load_handler(spec)  # model and clients load here, once, as in a Lambda cold start
    _log(f"handler {spec.handler} from {spec.code_dir} loaded in {time.monotonic() - t0:.1f} s")
    runner = Runner(spec, handler, args.queue_url, f"papila-{args.function}", args.poll_wait)

    def on_signal(signum: int, _frame: Any) -> None:
        # Finish the batch in hand (its messages are deleted or left as Lambda would), then exit.
        runner.stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        runner.run(args.ready_file)
    finally:
        if args.ready_file is not None:
            args.ready_file.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
