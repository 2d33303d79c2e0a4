"""The local stand-in for Lambda's SQS event source mapping (LocalStack's community Lambda needs Docker).

It long-polls the real inference queue, builds the event Lambda would send (batch size and batching
window from template.yaml's SQS event), calls the handler the container image runs (the Dockerfile's
CMD, e.g. `handler.handler` from inference_fn/), deletes the messages that succeeded and leaves the
`batchItemFailures` to reappear after the visibility timeout, so SQS's own redrive moves a poison
message to the DLQ. It never calls pipeline code itself.

Concurrency as the event source's: min(the event's `ScalingConfig.MaximumConcurrency`, the cores) worker
processes, each a warm container: it imports the handler once (its cold start), then long-polls,
invokes and deletes on its own, as Lambda's pollers do. The runner process only starts them, writes the
ready file once all have loaded, forwards SIGTERM/SIGINT (each finishes the batch in hand) and watches
them: a worker that dies on its own takes the runner down (the others finish their batch first; exit
code 1), and the local cloud's supervisor starts it again. A runner killed outright takes its workers
with it (PR_SET_PDEATHSIG).

    python -m infra.lambda_runner [--queue-url URL] [--function InferenceFunction] [--concurrency N]

(`PAPILA_RUNNER_CONCURRENCY=N` in the environment does what --concurrency does: `bench/e2e.py --start
--concurrency 1` compares with one batch at a time.)

The environment is the function's (UPLOADS_BUCKET, MONGODB_URI, ... plus AWS_ENDPOINT_URL); the
runner's own SQS client reads AWS_ENDPOINT_URL like every boto3 client.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import hashlib
import importlib.util
import json
import multiprocessing
import multiprocessing.connection
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


_PREFIX = "[runner]"  # "[runner w2]" in a worker process


def _log(message: str) -> None:
    print(f"{_PREFIX} {message}", flush=True)


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
    max_concurrency: int | None = None  # the event's ScalingConfig.MaximumConcurrency (None: not set)


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
        max_concurrency=_max_concurrency(event, template, parameters),
    )


def _max_concurrency(event: dict[str, Any], template: dict[str, Any],
                     parameters: dict[str, str] | None) -> int | None:
    scaling = _resolve(event.get("ScalingConfig"), template, parameters) or {}
    value = _resolve(scaling.get("MaximumConcurrency"), template, parameters) if isinstance(scaling, dict) else None
    return int(value) if value not in (None, "") else None


def cores() -> int:
    """The cores this process may run on (its CPU affinity; os.cpu_count() where that is unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def concurrency(spec: FunctionSpec, requested: int | None = None, available: int | None = None) -> int:
    """How many invocations run at once: min(MaximumConcurrency, cores) by default; `requested` (the
    --concurrency flag) replaces the cores but never passes MaximumConcurrency, as Lambda never does."""
    wanted = requested if requested else (available or cores())
    if spec.max_concurrency:
        wanted = min(wanted, spec.max_concurrency)
    return max(1, wanted)


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

    def __init__(self, spec: FunctionSpec, function_name: str, region: str, account: str,
                 log_stream_name: str | None = None) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
        self.memory_limit_in_mb = spec.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        # One stream per container (worker), as in CloudWatch.
        self.log_stream_name = log_stream_name or f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
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
    """One poller and its warm container: receive a batch, invoke, delete; one batch at a time."""

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
        self.log_stream_name = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        self.stopping = False
        self.parent_pid: int | None = None  # a worker stops when the runner that started it is gone

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
        # A context per invocation: its own request id and deadline (get_remaining_time_in_millis).
        context = LambdaContext(self.spec, self.function_name, self.region, self.account, self.log_stream_name)
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

    def orphaned(self) -> bool:
        return self.parent_pid is not None and os.getppid() != self.parent_pid

    def run(self) -> None:
        _log(f"polling {self.queue_arn} for {self.spec.logical_id} ({self.spec.handler}; batch "
             f"{self.spec.batch_size}, window {self.spec.batching_window_s:g} s, timeout {self.spec.timeout_s} s)")
        while not self.stopping:
            if self.orphaned():
                _log("the runner is gone; stopping")
                break
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


# ---------------------------------------------------------------------- the pool of warm containers
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when the process that started it dies (a runner killed with -9
    leaves no worker polling behind it; the supervisor starts a fresh runner)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # elsewhere: Runner.orphaned() notices between batches


def _rss_mb(pid: int | str = "self") -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _worker_main(index: int, spec: FunctionSpec, queue_url: str, function_name: str, poll_wait_s: int,
                 parent_pid: int, ready: Any) -> None:
    """One warm container: cold start (import the handler once), then poll until told to stop."""
    global _PREFIX
    _PREFIX = f"[runner w{index}]"
    _die_with_parent()
    stop = {"now": False}
    runner: Runner | None = None

    def on_signal(signum: int, _frame: Any) -> None:
        # Finish the batch in hand (its messages are deleted or left as Lambda would), then exit.
        stop["now"] = True
        if runner is not None:
            runner.stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if os.getppid() != parent_pid:
        return
    t0 = time.monotonic()
    handler = load_handler(spec)  # model and clients load here, once, as in a Lambda cold start
    runner = Runner(spec, handler, queue_url, function_name, poll_wait_s)
    runner.parent_pid = parent_pid
    runner.stopping = stop["now"]
    load_s = time.monotonic() - t0
    rss = _rss_mb()
    _log(f"pid {os.getpid()}: handler {spec.handler} from {spec.code_dir} loaded in {load_s:.1f} s, "
         f"RSS {rss or 0:.0f} MB")
    ready.send({"index": index, "pid": os.getpid(), "load_s": round(load_s, 2), "rss_mb": rss})
    ready.close()
    runner.run()


class Pool:
    """The runner process: starts `n` workers (spawned: each imports the handler itself), waits until all
    have loaded, then watches them until a stop signal or a worker's own death."""

    def __init__(self, spec: FunctionSpec, queue_url: str, function_name: str, n: int, poll_wait_s: int = 2) -> None:
        self.spec = spec
        self.queue_url = queue_url
        self.function_name = function_name
        self.n = n
        self.poll_wait_s = poll_wait_s
        self.ctx = multiprocessing.get_context("spawn")
        self.workers: list[multiprocessing.process.BaseProcess] = []
        self.stopping = False
        self.crashed: str | None = None

    def stop(self) -> None:
        """Ask every live worker to finish its batch and exit (SIGTERM, as `make down` sends the group)."""
        self.stopping = True
        for w in self.workers:
            if w.pid is not None and w.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w.pid, signal.SIGTERM)

    def start(self, ready_timeout: float = 300) -> list[dict[str, Any]]:
        """Start the workers; returns what each reported once loaded (pid, load time, RSS), or [] when a
        worker died first or a stop came meanwhile (the others are then stopped)."""
        pipes = []
        for index in range(1, self.n + 1):
            receive, send = self.ctx.Pipe(duplex=False)
            w = self.ctx.Process(
                target=_worker_main, name=f"runner-w{index}", daemon=False,
                args=(index, self.spec, self.queue_url, self.function_name, self.poll_wait_s, os.getpid(), send),
            )
            w.start()
            send.close()
            self.workers.append(w)
            pipes.append(receive)
        loaded: dict[int, dict[str, Any]] = {}
        deadline = time.monotonic() + ready_timeout
        waiting = {p: w for p, w in zip(pipes, self.workers, strict=True)}
        while waiting and not self.stopping and time.monotonic() < deadline:
            for conn in multiprocessing.connection.wait(list(waiting), timeout=1):
                w = waiting.pop(conn)  # type: ignore[call-overload]
                try:
                    info = conn.recv()
                    loaded[info["index"]] = info
                except EOFError:  # it died before it had loaded
                    w.join(5)
                    if not self.stopping:  # not a SIGTERM that came before its own handler was in place
                        self.crashed = f"worker {w.name} (pid {w.pid}) exited while loading (code {w.exitcode})"
                    self.stop()
                    return []
        if waiting:
            if not self.stopping:
                self.crashed = f"{len(waiting)} worker(s) not loaded in {ready_timeout:.0f} s"
            self.stop()
            return []
        return [loaded[i] for i in sorted(loaded)]

    def watch(self) -> None:
        """Until every worker has exited: a worker that exits while the runner is not stopping takes the
        runner down (the others finish their batch), for the supervisor to start it again."""
        exited: set[int] = set()
        while True:
            for i, w in enumerate(self.workers):
                # Seen and handled in one place: an exit noticed here is never filtered out unhandled.
                if i not in exited and w.exitcode is not None:
                    exited.add(i)
                    if not self.stopping:
                        self.crashed = f"worker {w.name} (pid {w.pid}) exited with code {w.exitcode}"
                        _log(f"{self.crashed}: stopping the runner (the supervisor starts it again)")
                        self.stop()
            live = [w for i, w in enumerate(self.workers) if i not in exited]
            if not live:
                return
            multiprocessing.connection.wait([w.sentinel for w in live], timeout=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queue-url", default=os.environ.get("INFERENCE_QUEUE_URL"))
    parser.add_argument("--template", type=Path, default=cfn.TEMPLATE)
    parser.add_argument("--function", default="InferenceFunction", help="logical id in the template")
    parser.add_argument("--handler", help="module.function, overriding the image's CMD")
    parser.add_argument("--poll-wait", type=int, default=2, help="long-poll seconds (bounds the stop delay)")
    parser.add_argument("--concurrency", type=int, default=int(os.environ.get("PAPILA_RUNNER_CONCURRENCY") or 0),
                        help="worker processes instead of the cores (never more than MaximumConcurrency); "
                             "default PAPILA_RUNNER_CONCURRENCY, else the cores")
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
    n = concurrency(spec, args.concurrency)
    _log(f"{spec.logical_id}: {n} worker process(es) = min(MaximumConcurrency {spec.max_concurrency or 'unset'}, "
         f"{'--concurrency ' + str(args.concurrency) if args.concurrency else str(cores()) + ' cores'})")
    pool = Pool(spec, args.queue_url, f"papila-{args.function}", n, args.poll_wait)

    def on_signal(signum: int, _frame: Any) -> None:
        pool.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    t0 = time.monotonic()
    try:
        loaded = pool.start()
        if loaded:
            rss = ", ".join(f"w{i['index']} {i['rss_mb'] or 0:.0f} MB" for i in loaded)
            _log(f"{len(loaded)} worker(s) loaded in {time.monotonic() - t0:.1f} s (RSS {rss}); polling")
            if args.ready_file is not None:
                args.ready_file.write_text(str(os.getpid()))
        elif pool.crashed:
            _log(pool.crashed)
        pool.watch()
    finally:
        if args.ready_file is not None:
            args.ready_file.unlink(missing_ok=True)
    _log("stopped" if not pool.crashed else f"stopped: {pool.crashed}")
    if pool.crashed:
        sys.exit(1)


if __name__ == "__main__":
    main()
