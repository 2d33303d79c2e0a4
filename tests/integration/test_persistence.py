"""`make down && make up` keeps what was collected: records (SecantusDB on disk), their images (the
bucket mirrored to the state folder) and work still queued (waiting messages saved and sent again);
a record whose image was lost is erased rather than left pointing at nothing.

Runs its own persistent cloud on other ports (TEST_PERSIST_BASE_PORT, default 8200/8280/27217/4766)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.localcloud import LocalCloud, Settings
from tests.fundus import encode, make_fundus
from tests.integration.cloudclient import ApiClient

pytestmark = pytest.mark.timeout(600)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    base = int(os.environ.get("TEST_PERSIST_BASE_PORT", "8200"))
    return Settings.from_env(
        api_port=base, spa_port=base + 80, mongo_port=27017 + base - 8000, localstack_port=4566 + base - 8000,
        cognito_port=5001 + base - 8000,
        state_dir=tmp_path / "state", run_dir=ROOT / ".run" / "test-persist", mongo_db="papila_persist",
        persist=True, spa=False,
    )


def _inline(api: ApiClient, seed: int) -> dict[str, Any]:
    r = api.create(filename="eye.jpg", content_type="image/jpeg", data=encode(make_fundus(900, 760, seed=seed)),
                   inline=True)
    assert r.status_code == 202, r.text
    return r.json()


def test_screenings_survive_down_and_up(settings: Settings) -> None:
    cloud = LocalCloud(settings)
    cloud.start()
    try:
        api = ApiClient(settings.api_url)
        kept = api.wait(_inline(api, 1)["id"])
        lost = api.wait(_inline(api, 2)["id"])
        assert kept["status"] == lost["status"] == "done"
        awaiting = api.create(filename="later.jpg", content_type="image/jpeg", data=b"x" * 10).json()
        # Work still queued at `make down`: the runner stops first, the message waits in the queue.
        cloud._stop("runner")
        queued = _inline(api, 3)
    finally:
        cloud.stop()

    # A crash between two mirrors loses images: simulate it for one screening.
    mirror = settings.state_dir / "s3" / "objects"
    assert (mirror / "uploads" / kept["id"]).is_dir()
    for path in (mirror / "uploads" / lost["id"]).iterdir():
        path.unlink()

    cloud = LocalCloud(settings)
    cloud.start()
    try:
        api = ApiClient(settings.api_url)
        again = api.get(kept["id"])
        assert again["status"] == "done" and again["result"] == kept["result"]
        r = requests.get(api.url(f"/api/screenings/{kept['id']}/crop"), timeout=10)
        assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"
        assert api.http.get(api.url(f"/api/screenings/{lost['id']}"), timeout=10).status_code == 404
        assert api.get(awaiting["id"])["status"] == "awaiting_upload"
        assert api.wait(queued["id"])["status"] == "done"
    finally:
        cloud.stop()
