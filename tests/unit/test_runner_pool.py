"""The local runner plays the event source's concurrency: min(MaximumConcurrency, cores) worker processes,
each polling and invoking on its own. Real runner processes against moto's SQS server (no local cloud),
with a small handler defined here that logs each invocation's pid and times."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra import cfn
from infra.lambda_runner import concurrency, function_spec

ROOT = Path(__file__).resolve().parents[2]
HANDLER = "tests.unit.test_runner_pool.slow_handler"
LOG_VAR = "RUNNER_POOL_LOG"


# ---------------------------------------------------------------------- the handler the workers import
def slow_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Each record's body: {"sleep": s, "fail": bool, "crash": bool}. Appends one JSON line per record."""
    failures = []
    for record in event["Records"]:
        body = json.loads(record["body"])
        start = time.time()
        _note({"id": record["messageId"], "pid": os.getpid(), "start": start,
               "remaining_ms": context.get_remaining_time_in_millis(), "batch": len(event["Records"])})
        if body.get("crash"):
            os._exit(3)  # the container dies mid-invocation
        time.sleep(float(body.get("sleep", 0)))
        _note({"id": record["messageId"], "pid": os.getpid(), "end": time.time()})
        if body.get("fail"):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def _note(entry: dict[str, Any]) -> None:
    with open(os.environ[LOG_VAR], "a") as f:  # one write per line (O_APPEND): safe across processes
        f.write(json.dumps(entry) + "\n")


# ---------------------------------------------------------------------- fixtures
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def sqs_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(sqs_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=sqs_endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", PYTHONUNBUFFERED="1", **{LOG_VAR: str(tmp_path / "calls.jsonl")})
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_SQS"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(name, env[name])
    return env


class RunnerProc:
    def __init__(self, env: dict[str, str], tmp_path: Path, name: str, workers: int = 2) -> None:
        self.sqs = boto3.client("sqs")
        self.url = self.sqs.create_queue(QueueName=f"pool-{name}-{os.getpid()}",
                                         Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
        self.calls = Path(env[LOG_VAR])
        self.ready = tmp_path / f"{name}.ready"
        self.log = tmp_path / f"{name}.log"
        argv = [sys.executable, "-m", "infra.lambda_runner", "--queue-url", self.url, "--handler", HANDLER,
                "--concurrency", str(workers), "--poll-wait", "1", "--ready-file", str(self.ready)]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        wait_for(f"the runner ready ({self.log})", self.ready.exists, 120, self)

    def send(self, **body: Any) -> str:
        return str(self.sqs.send_message(QueueUrl=self.url, MessageBody=json.dumps(body))["MessageId"])

    def entries(self) -> list[dict[str, Any]]:
        if not self.calls.exists():
            return []
        return [json.loads(line) for line in self.calls.read_text().splitlines() if line.strip()]

    def call(self, message_id: str) -> dict[str, Any]:
        """The start and end (when ended) of a message's last invocation."""
        out: dict[str, Any] = {}
        for e in self.entries():
            if e["id"] == message_id:
                out = {**e} if "start" in e else {**out, **e}
        return out

    def queue_counts(self) -> tuple[int, int]:
        a = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])

    def worker_pids(self) -> set[int]:
        return {e["pid"] for e in self.entries()}

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.sqs.delete_queue(QueueUrl=self.url)


def wait_for(what: str, check: Callable[[], Any], timeout: float, runner: RunnerProc | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if runner is not None and runner.proc.poll() is not None and not check():
            pytest.fail(f"the runner exited ({runner.proc.returncode}) waiting for {what}:\n"
                        f"{runner.log.read_text()[-3000:]}")
        assert time.monotonic() < deadline, f"{what} not within {timeout:.0f} s" + (
            f":\n{runner.log.read_text()[-3000:]}" if runner is not None else "")
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead too
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def runner(aws_env: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RunnerProc]:
    r = RunnerProc(aws_env, tmp_path, request.node.name[:40].replace("[", "-").strip("]"))
    try:
        yield r
    finally:
        r.close()


# ---------------------------------------------------------------------- tests
def test_workers_are_min_of_maximum_concurrency_and_cores() -> None:
    template = cfn.load_template(cfn.TEMPLATE)
    spec = function_spec(template, "InferenceFunction")
    event = template["Resources"]["InferenceFunction"]["Properties"]["Events"]["Uploads"]["Properties"]
    assert spec.max_concurrency == event["ScalingConfig"]["MaximumConcurrency"] == 10
    assert concurrency(spec, available=2) == 2
    assert concurrency(spec, available=64) == 10
    assert concurrency(spec, requested=3, available=2) == 3  # --concurrency replaces the cores ...
    assert concurrency(spec, requested=50, available=2) == 10  # ... never passes MaximumConcurrency
    del event["ScalingConfig"]
    assert function_spec(template, "InferenceFunction").max_concurrency is None
    assert concurrency(function_spec(template, "InferenceFunction"), available=4) == 4


def test_two_workers_invoke_two_batches_at_once(runner: RunnerProc) -> None:
    """The second message arrives while the first one's invocation is running: with two workers it
    starts before the first ends, in another process. A runner that works one batch at a time fails."""
    first = runner.send(sleep=3)
    wait_for("the first invocation", lambda: "start" in runner.call(first), 20, runner)
    second = runner.send(sleep=0.2)
    wait_for("both invocations ended", lambda: "end" in runner.call(first) and "end" in runner.call(second),
             30, runner)
    a, b = runner.call(first), runner.call(second)
    assert b["start"] < a["end"], f"the second batch waited for the first: {a} {b}"
    assert a["pid"] != b["pid"], (a, b)
    assert a["batch"] == b["batch"] == 1
    # Each invocation's own deadline (the function's timeout from the template), fresh per invocation.
    timeout_ms = function_spec(cfn.load_template(cfn.TEMPLATE), "InferenceFunction").timeout_s * 1000
    assert 0 < a["remaining_ms"] <= timeout_ms and 0 < b["remaining_ms"] <= timeout_ms
    wait_for("both deleted", lambda: runner.queue_counts() == (0, 0), 10, runner)


def test_failures_stay_on_the_queue_and_sigterm_finishes_the_batch_in_hand(runner: RunnerProc) -> None:
    failing = runner.send(fail=True)
    wait_for("the failing invocation", lambda: "end" in runner.call(failing), 20, runner)
    in_hand = runner.send(sleep=2)
    wait_for("the slow invocation", lambda: "start" in runner.call(in_hand), 20, runner)
    pids = runner.worker_pids()
    os.killpg(runner.proc.pid, signal.SIGTERM)  # what the local cloud's stop sends
    assert runner.proc.wait(20) == 0, runner.log.read_text()[-3000:]
    assert "end" in runner.call(in_hand)  # finished, not cut
    # The failure reappears after the visibility timeout; the finished one was deleted.
    assert runner.queue_counts() == (0, 1)
    assert not runner.ready.exists()
    wait_for("the workers gone", lambda: not any(_alive(p) for p in pids), 10)


def test_a_worker_that_dies_takes_the_runner_down(runner: RunnerProc) -> None:
    crash = runner.send(crash=True)
    wait_for("the runner's exit", lambda: runner.proc.poll() is not None, 30, runner)
    assert runner.proc.returncode == 1, runner.log.read_text()[-3000:]
    assert "start" in runner.call(crash)
    assert "exited with code 3: stopping the runner" in runner.log.read_text()
    assert not runner.ready.exists()


def test_a_runner_killed_outright_takes_its_workers_with_it(runner: RunnerProc) -> None:
    ids = [runner.send(sleep=0.1), runner.send(sleep=0.1), runner.send(sleep=0.1)]
    wait_for("three invocations", lambda: all("end" in runner.call(i) for i in ids), 20, runner)
    pids = set(runner.worker_pids())
    # The two workers (and multiprocessing's resource tracker, which leaves when they do).
    children = {int(p) for p in Path(f"/proc/{runner.proc.pid}/task/{runner.proc.pid}/children").read_text().split()}
    assert len(pids) == 2 and pids <= children, (pids, children)
    os.kill(runner.proc.pid, signal.SIGKILL)  # only the runner, as the resilience tests do
    runner.proc.wait(10)
    wait_for("the workers gone", lambda: not any(_alive(p) for p in children), 10)
