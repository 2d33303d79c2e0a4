"""Root fixtures: generated photos for every suite, and the isolated local cloud for the integration and
end-to-end suites.

The cloud (LocalStack, SecantusDB, template.yaml deployed, the Lambda runner, `chalice local`, the SPA)
starts once per session, lazily, the first time a test asks for `cloud` (or `api_url`, `spa_url`,
`mongo` ...), on its own ports and in a temporary data folder, so unit tests never wait for it and a
user's `make up` is never touched. Ports: TEST_API_PORT (8100), TEST_SPA_PORT (8180), TEST_MONGO_PORT
(27117), TEST_LOCALSTACK_PORT (4666), TEST_COGNITO_PORT (5101); logs in .run/test/*.log.

Tests under tests/integration and tests/e2e are marked `integration` / `e2e` automatically.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `from tests.fundus import ...`, `from infra.localcloud import ...`
    sys.path.insert(0, str(ROOT))

from tests.fundus import encode, make_blank, make_fundus


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "integration: needs the local cloud (started by the `cloud` fixture)")
    config.addinivalue_line("markers", "e2e: drives the SPA in headless Chromium against the local cloud")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "integration" in parts:
            item.add_marker(pytest.mark.integration)
        elif "e2e" in parts:
            item.add_marker(pytest.mark.e2e)


# ---------------------------------------------------------------------- photos
@pytest.fixture(scope="session")
def fundus_image() -> Any:
    """A 1200 x 1000 fundus-like PIL image (disc right of centre)."""
    return make_fundus(1200, 1000, seed=7)


@pytest.fixture(scope="session")
def fundus_image_bytes(fundus_image: Any) -> bytes:
    """The fundus-like photo as JPEG bytes."""
    return encode(fundus_image, "JPEG")


@pytest.fixture(scope="session")
def fundus_jpeg_path(tmp_path_factory: pytest.TempPathFactory, fundus_image_bytes: bytes) -> Path:
    path = tmp_path_factory.mktemp("photos") / "fundus.jpg"
    path.write_bytes(fundus_image_bytes)
    return path


@pytest.fixture(scope="session")
def fundus_png_path(tmp_path_factory: pytest.TempPathFactory, fundus_image: Any) -> Path:
    path = tmp_path_factory.mktemp("photos") / "fundus.png"
    path.write_bytes(encode(fundus_image, "PNG"))
    return path


@pytest.fixture(scope="session")
def blank_png_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A flat grey 800 x 600 PNG: the quality gate rejects it."""
    path = tmp_path_factory.mktemp("photos") / "blank.png"
    path.write_bytes(encode(make_blank(800, 600), "PNG"))
    return path


# ---------------------------------------------------------------------- the isolated local cloud
@dataclass(frozen=True)
class Cloud:
    """What a test needs to reach the running local cloud."""

    bucket: str
    queue_url: str
    dlq_url: str
    endpoint: str  # LocalStack's edge URL
    api_url: str
    mongo_uri: str
    mongo_db: str
    env: dict[str, str]  # the functions' environment (as in .run/test/env)
    handle: Any  # the infra.localcloud.LocalCloud, for start_spa() and logs

    def client(self, service: str) -> Any:
        return self.handle.client(service)


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    from infra.localcloud import LocalCloud, Settings

    env = os.environ
    settings = Settings.from_env(
        api_port=int(env.get("TEST_API_PORT", 8100)),
        spa_port=int(env.get("TEST_SPA_PORT", 8180)),
        mongo_port=int(env.get("TEST_MONGO_PORT", 27117)),
        localstack_port=int(env.get("TEST_LOCALSTACK_PORT", 4666)),
        cognito_port=int(env.get("TEST_COGNITO_PORT", 5101)),
        state_dir=tmp_path_factory.mktemp("cloud-state"),
        run_dir=ROOT / ".run" / "test",
        stack_name="papila",
        mongo_db="papila_it",
        persist=False,
        spa=False,  # started by `spa_url`, so only browser tests pay for the SPA build
    )
    handle = LocalCloud(settings)
    outputs = handle.start()
    try:
        yield Cloud(
            bucket=outputs.bucket,
            queue_url=outputs.queue_url,
            dlq_url=outputs.dlq_url,
            endpoint=settings.endpoint,
            api_url=settings.api_url,
            mongo_uri=settings.mongo_uri,
            mongo_db=settings.mongo_db,
            env=handle.service_env(),
            handle=handle,
        )
    finally:
        handle.stop(save=False)


@pytest.fixture(scope="session")
def api_url(cloud: Cloud) -> str:
    return cloud.api_url


@pytest.fixture(scope="session")
def spa_url(cloud: Cloud) -> str:
    """The built SPA, served with /config.json pointing at `api_url`."""
    url = cloud.handle.start_spa()
    if url is None:
        pytest.skip("no SPA yet (frontend/package.json missing)")
    return url


@pytest.fixture(scope="session")
def mongo(cloud: Cloud) -> Iterator[Any]:
    """The cloud's MongoDB database (pymongo)."""
    import pymongo

    client = pymongo.MongoClient(cloud.mongo_uri, serverSelectionTimeoutMS=5000, tz_aware=True)
    try:
        yield client[cloud.mongo_db]
    finally:
        client.close()


@pytest.fixture(scope="session")
def cloud_s3(cloud: Cloud) -> Any:
    return cloud.client("s3")


@pytest.fixture(scope="session")
def cloud_sqs(cloud: Cloud) -> Any:
    return cloud.client("sqs")


@pytest.fixture(scope="session")
def admin_credentials(cloud: Cloud) -> dict[str, str]:
    """The admin user that the local cloud creates in its Cognito pool (moto's server)."""
    pool = cloud.handle.admin_pool
    assert pool is not None, "the local cloud made no admin pool"
    return {"username": pool.username, "password": pool.password}


@pytest.fixture(scope="session")
def cognito_endpoint(cloud: Cloud) -> str:
    pool = cloud.handle.admin_pool
    assert pool is not None, "the local cloud made no admin pool"
    return pool.endpoint
