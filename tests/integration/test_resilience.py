"""One dead process does not stop the local cloud: the supervisor (`LocalCloud.supervise`, what `make up`
runs) starts it again with back-off while the rest keeps serving, and the database keeps every write it
acknowledged through a kill -9.

Runs its own cloud on other ports (TEST_RESILIENCE_BASE_PORT, default 8300/8380/27317/4866/5301), with
the supervisor in a thread, so killing its processes never touches the session's `cloud`."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import pytest
import requests

from infra.localcloud import LocalCloud
from tests.fundus import encode, make_fundus
from tests.integration.cloudclient import ApiClient, supervised_cloud

# Each test's own work stays well under 2 minutes; the first also pays for the cloud's start.
pytestmark = pytest.mark.timeout(420)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def supervised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    base = int(os.environ.get("TEST_RESILIENCE_BASE_PORT", "8300"))
    with supervised_cloud(base, tmp_path_factory.mktemp("resilience-state"), ROOT / ".run" / "test-resilience",
                          "papila_resilience") as cloud:
        yield cloud


@pytest.fixture
def api(supervised: LocalCloud) -> ApiClient:
    return ApiClient(supervised.settings.api_url)


def _wait_for(what: str, check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):  # not back yet: refused, reset, 503 ...
            if check():
                return
        assert time.monotonic() < deadline, f"{what} not within {timeout:.0f} s"
        time.sleep(0.25)


def _kill9(cloud: LocalCloud, name: str) -> int:
    pid = cloud._procs[name].pid
    os.kill(pid, signal.SIGKILL)
    return pid


def _started_again(cloud: LocalCloud, name: str, old_pid: int, timeout: float = 60) -> None:
    def back() -> bool:
        proc = cloud._procs.get(name)
        return proc is not None and proc.pid != old_pid and proc.poll() is None

    _wait_for(f"{name} started again by the supervisor", back, timeout)


class HealthWatch(threading.Thread):
    """Polls GET /api/health until stopped, keeping every answer."""

    def __init__(self, api_url: str) -> None:
        super().__init__(daemon=True)
        self.url = f"{api_url}/api/health"
        self.answers: list[int | str] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                self.answers.append(requests.get(self.url, timeout=10).status_code)
            except requests.RequestException as exc:
                self.answers.append(type(exc).__name__)
            time.sleep(0.2)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        self.join(timeout=15)


def test_a_killed_runner_is_started_again_and_the_api_keeps_answering(supervised: LocalCloud,
                                                                      api: ApiClient) -> None:
    cloud = supervised
    ready = cloud.run_dir / "runner.ready"
    with HealthWatch(cloud.settings.api_url) as health:
        old = _kill9(cloud, "runner")
        _started_again(cloud, "runner", old)
        _wait_for("the new runner polling", lambda: ready.exists() and int(ready.read_text()) != old, 90)
        # An upload made after the runner died is processed by the new one.
        r = api.create(filename="eye.jpg", content_type="image/jpeg",
                       data=encode(make_fundus(900, 760, seed=11)), inline=True)
        assert r.status_code == 202, r.text
        record = api.wait(r.json()["id"], timeout=90)
    assert record["status"] == "done", record
    assert len(health.answers) >= 5 and set(health.answers) == {200}, health.answers
    assert cloud.restarts.get("runner") == 1
    assert "supervisor: runner exited unexpectedly (code -9)" in (cloud.run_dir / "runner.log").read_text()


def test_acknowledged_screenings_survive_kill_9_of_the_database(supervised: LocalCloud, api: ApiClient) -> None:
    """Creates keep coming from a few clients; the database is killed the moment the 48th is acknowledged
    (others are in flight). Every screening whose create answered 201, before or after, is there once
    the supervisor has started the database again. Without SecantusDB's --sync-on-commit the last
    acknowledged writes are often lost (seen: 2 of 48 on `make up`, 3 or 4 of 51 here)."""
    import pymongo

    cloud = supervised
    data = encode(make_fundus(600, 500, seed=12))
    acknowledged: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()
    old_pid = cloud._procs["mongo"].pid

    def client() -> None:
        session = ApiClient(api.base)
        for _ in range(24):
            try:
                r = session.create(filename="eye.jpg", content_type="image/jpeg", data=data)
            except requests.RequestException:
                continue
            if r.status_code == 201:
                with lock:
                    acknowledged.append(r.json()["id"])
                    if len(acknowledged) >= 48 and not enough.is_set():
                        os.kill(old_pid, signal.SIGKILL)  # at once after the 48th acknowledgement
                        enough.set()
            if enough.is_set():
                return

    clients = [threading.Thread(target=client) for _ in range(4)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(timeout=120)
    assert enough.is_set(), f"only {len(acknowledged)} creates acknowledged"
    _started_again(cloud, "mongo", old_pid)

    def count() -> int:
        with pymongo.MongoClient(cloud.settings.mongo_uri, serverSelectionTimeoutMS=2000) as client:
            col = client[cloud.settings.mongo_db]["screenings"]
            return col.count_documents({"_id": {"$in": acknowledged}})

    found = -1

    def counted() -> bool:
        nonlocal found
        found = count()
        return True

    _wait_for("the restarted database answering", counted, 60)
    assert found == len(acknowledged), f"{len(acknowledged) - found} of {len(acknowledged)} acknowledged lost"
    # The API reconnects by itself and serves them.
    _wait_for("the API healthy again", lambda: requests.get(f"{api.base}/api/health", timeout=10).ok, 60)
    assert api.get(acknowledged[-1])["status"] == "awaiting_upload"
    assert cloud.restarts.get("mongo") == 1


def test_a_killed_localstack_is_started_again_with_the_stack_deployed(supervised: LocalCloud,
                                                                      api: ApiClient) -> None:
    """LocalStack keeps S3 and SQS in memory: the supervisor deploys the template again and starts the
    runner and the API on the new stack, so new screenings are processed again."""
    cloud = supervised
    old_api, old_runner = cloud._procs["api"].pid, cloud._procs["runner"].pid
    old = _kill9(cloud, "localstack")
    _started_again(cloud, "localstack", old)
    # The API and the runner start again once the template is deployed onto the new LocalStack.
    _started_again(cloud, "api", old_api, timeout=150)
    _started_again(cloud, "runner", old_runner, timeout=30)
    ready = cloud.run_dir / "runner.ready"
    _wait_for("the API healthy on the new stack",
              lambda: requests.get(f"{api.base}/api/health", timeout=10).status_code == 200, 90)
    _wait_for("the runner polling the new queue", lambda: ready.exists() and int(ready.read_text()) != old_runner, 90)
    assert f"UPLOADS_BUCKET={cloud.outputs.bucket}" in cloud.env_file.read_text()  # type: ignore[union-attr]
    r = api.create(filename="eye.jpg", content_type="image/jpeg", data=encode(make_fundus(900, 760, seed=13)),
                   inline=True)
    assert r.status_code == 202, r.text
    assert api.wait(r.json()["id"], timeout=90)["status"] == "done"


def test_a_killed_cognito_is_started_again_and_admins_sign_in_to_the_new_pool(supervised: LocalCloud,
                                                                               api: ApiClient) -> None:
    """moto keeps the pool in memory: the supervisor makes it again and starts the API with its ids."""
    from infra import cognito

    cloud = supervised
    old_api = cloud._procs["api"].pid
    old = _kill9(cloud, "cognito")
    _started_again(cloud, "cognito", old)
    _started_again(cloud, "api", old_api, timeout=90)
    _wait_for("the API healthy again", lambda: requests.get(f"{api.base}/api/health", timeout=10).ok, 90)
    pool = cloud.admin_pool
    assert pool is not None and f"COGNITO_USER_POOL_ID={pool.pool_id}" in cloud.env_file.read_text()
    token = cognito.sign_in(pool.endpoint, pool.client_id, pool.username, pool.password, pool.region)["AccessToken"]
    r = requests.get(f"{api.base}/api/admin/screenings", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 200, r.text
