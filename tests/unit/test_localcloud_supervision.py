"""The local cloud's supervision (infra/localcloud.py), without a cloud: the back-off between restarts,
which dead service is started again and when, and SecantusDB started so that an acknowledged write
survives kill -9 (a real `secantusd-py`, killed)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.localcloud import Backoff, LocalCloud, Settings

ROOT = Path(__file__).resolve().parents[2]


def test_backoff_doubles_from_one_second_to_a_cap_of_thirty() -> None:
    backoff = Backoff()
    assert [backoff.next_delay(uptime=0.5) for _ in range(8)] == [1, 2, 4, 8, 16, 30, 30, 30]


def test_backoff_starts_again_at_one_second_after_a_minute_of_good_health() -> None:
    backoff = Backoff()
    for _ in range(4):
        backoff.next_delay(uptime=2)
    assert backoff.next_delay(uptime=59) == 16
    assert backoff.next_delay(uptime=60) == 1
    assert backoff.next_delay(uptime=3) == 2
    assert backoff.next_delay(uptime=None) == 4  # a start that failed outright counts as a short run


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[LocalCloud]:
    cloud = LocalCloud(Settings(run_dir=tmp_path / "run", state_dir=tmp_path / "state"))
    started: list[str] = []

    def restart(name: str) -> None:  # stands in for the real start of each service
        started.append(name)
        cloud._procs.pop(name, None)
        cloud._spawn(name, ["sleep", "60"], {"PATH": os.environ["PATH"]})

    cloud._restart = restart  # type: ignore[method-assign]
    cloud.started_again = started  # type: ignore[attr-defined]
    try:
        yield cloud
    finally:
        for proc in cloud._procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _kill(cloud: LocalCloud, name: str) -> None:
    proc = cloud._procs[name]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_a_dead_service_is_started_again_after_its_back_off_and_the_others_are_left_alone(
        cloud: LocalCloud) -> None:
    env = {"PATH": os.environ["PATH"]}
    runner_pid = cloud._spawn("runner", ["sleep", "60"], env)
    api_pid = cloud._spawn("api", ["sleep", "60"], env)
    t0 = time.monotonic()
    assert cloud.watch_once(t0) == []

    _kill(cloud, "runner")
    assert cloud.watch_once(t0) == []  # seen dead: logged, due in 1 s
    assert cloud.watch_once(t0 + 0.9) == []
    assert cloud.watch_once(t0 + 1.0) == ["runner"]
    assert cloud.started_again == ["runner"]  # type: ignore[attr-defined]
    assert cloud.alive("runner") and cloud._procs["runner"].pid != runner_pid
    assert cloud._procs["api"].pid == api_pid and cloud.alive("api")
    assert "supervisor: runner exited unexpectedly (code -9)" in (cloud.run_dir / "runner.log").read_text()

    # Dying again at once: the wait doubles.
    _kill(cloud, "runner")
    t1 = time.monotonic()
    assert cloud.watch_once(t1) == []
    assert cloud.watch_once(t1 + 1.5) == []
    assert cloud.watch_once(t1 + 2.0) == ["runner"]
    assert cloud.restarts == {"runner": 2}


def test_a_failed_start_is_tried_again_with_a_longer_wait(cloud: LocalCloud) -> None:
    cloud._spawn("mongo", ["sleep", "60"], {"PATH": os.environ["PATH"]})
    attempts: list[float] = []

    def failing(name: str) -> None:
        attempts.append(time.monotonic())
        raise OSError("port in use")

    good = cloud._restart
    cloud._restart = failing  # type: ignore[method-assign]
    _kill(cloud, "mongo")
    t0 = time.monotonic()
    cloud.watch_once(t0)
    assert cloud.watch_once(t0 + 1) == [] and len(attempts) == 1
    assert cloud.watch_once(t0 + 1) == []  # failed: due again after 2 s
    assert cloud.watch_once(t0 + 2.9) == [] and len(attempts) == 1
    cloud._restart = good  # type: ignore[method-assign]
    assert cloud.watch_once(t0 + 3.0) == ["mongo"]
    assert cloud.alive("mongo")


def test_a_stopped_service_is_not_started_again(cloud: LocalCloud) -> None:
    cloud._spawn("spa", ["sleep", "60"], {"PATH": os.environ["PATH"]})
    proc = cloud._procs["spa"]
    cloud._stop("spa", timeout=1)  # `sleep` is not the SPA's command line: _stop leaves the process alone
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert cloud.watch_once(time.monotonic() + 100) == []
    assert cloud.started_again == []  # type: ignore[attr-defined]


def _mongo_argv(tmp_path: Path, port: int, **settings: object) -> list[str]:
    """The command line the local cloud starts SecantusDB with."""
    cloud = LocalCloud(Settings(run_dir=tmp_path / "run", state_dir=tmp_path / "state", mongo_port=port,
                                **settings))  # type: ignore[arg-type]
    seen: list[list[str]] = []
    cloud._spawn = lambda name, argv, env, cwd=ROOT: seen.append(argv) or 0  # type: ignore[method-assign]
    cloud._start_mongo()
    return seen[0]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _started(argv: list[str], port: int) -> subprocess.Popen[bytes]:
    import pymongo

    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            with pymongo.MongoClient(port=port, serverSelectionTimeoutMS=500) as client:
                client.admin.command("ping")
            return proc
        except pymongo.errors.PyMongoError:
            assert proc.poll() is None and time.monotonic() < deadline, "secantusd-py did not start"
            time.sleep(0.1)


def test_secantusdb_as_started_keeps_every_acknowledged_write_through_kill_9(tmp_path: Path) -> None:
    """Without --sync-on-commit SecantusDB loses the last acknowledged writes (here 10 to 20 of 200:
    their journal records were still in the process's buffer); with it, none."""
    import pymongo

    port = _free_port()
    argv = _mongo_argv(tmp_path, port)
    assert "--sync-on-commit" in argv
    proc = _started(argv, port)
    try:
        with pymongo.MongoClient(port=port) as client:
            col = client.papila.screenings
            for i in range(200):
                col.insert_one({"_id": f"s{i}", "status": "awaiting_upload"})
                if i % 2:
                    col.update_one({"_id": f"s{i}"}, {"$set": {"status": "queued"}})
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc = _started(argv, port)
        with pymongo.MongoClient(port=port) as client:
            col = client.papila.screenings
            assert col.count_documents({}) == 200
            assert col.count_documents({"status": "queued"}) == 100
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
