"""Fixtures of the admin tests: a REAL Cognito pool on moto's server (a subprocess on a free port, set up
by infra/cognito.py as `make up` does) and the API configured to trust it.

A test module loads them with `pytest_plugins = ["tests.unit.admin_fixtures"]`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from infra import cognito as local_cognito

MOTO_SERVER = Path(sys.executable).with_name("moto_server")
ADMIN = "admin@example.org"
VIEWER = "viewer@example.org"
PASSWORD = "Correct-Horse-42"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto_server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("moto_server did not start")


@pytest.fixture(scope="session")
def cognito() -> Any:
    """moto's server with the admin pool (admin in `admins`, a viewer outside it) and a second pool whose
    admin's tokens are genuine but for another issuer; tokens fetched once (they last an hour)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen([str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{endpoint}/moto-api/", proc)
        pool = local_cognito.ensure_admin(endpoint, username=ADMIN, password=PASSWORD)
        again = local_cognito.ensure_admin(endpoint, username=ADMIN, password=PASSWORD)  # idempotent
        assert (again.pool_id, again.client_id) == (pool.pool_id, pool.client_id)
        idp = local_cognito.client(endpoint)
        local_cognito.ensure_user(idp, pool.pool_id, VIEWER, PASSWORD)
        other_pool, other_client = local_cognito.ensure_pool(idp, "another-pool", "another-client")
        local_cognito.ensure_user(idp, other_pool, ADMIN, PASSWORD, ("admins",))

        def tokens(user: str, client_id: str = pool.client_id) -> dict[str, str]:
            return local_cognito.sign_in(endpoint, client_id, user, PASSWORD)

        yield SimpleNamespace(
            pool=pool, endpoint=endpoint,
            admin=tokens(ADMIN), viewer=tokens(VIEWER), other_pool_admin=tokens(ADMIN, other_client),
        )
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def admin_env(cognito, monkeypatch):
    """The API's COGNITO_* settings for the pool (as infra/localcloud.py passes them)."""
    from papila.adapters import cognito as directory
    from papila.api import admin, auth, users

    def reset() -> None:
        auth.reset()
        admin.reset()
        users.reset()
        directory._client.cache_clear()  # its endpoint: AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER of pool.env()

    for name, value in cognito.pool.env().items():
        monkeypatch.setenv(name, value)
    reset()
    yield cognito
    reset()


@pytest.fixture
def admin_api(api, service, admin_env):
    """The chalice test client with the admin's bearer token at hand; audit and export collections empty."""
    db = service.store.col.database
    for name in ("audit", "exports", "export_items"):
        db[name].delete_many({})
    bearer = {"Authorization": f"Bearer {admin_env.admin['AccessToken']}"}
    return SimpleNamespace(api=api, headers=bearer, db=db, cognito=admin_env)
