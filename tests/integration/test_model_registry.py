"""The model registry on the local cloud, as an operator uses it: `papila model register --promote` puts a
trained version under models/<version>/ and points the SSM parameter at it; within the pointer's check
interval the next screening is graded by that version (its result says so) and GET /api/model reports it;
`papila model promote baked` rolls back, and the next screening is graded by the image's own model again.
No image is rebuilt and no runner restarted."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from infra.localcloud import MODEL_CHECK_S
from tests.integration.cloudclient import ApiClient, papila_model

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = ROOT / "weights"


def test_a_promoted_version_grades_the_next_screening_and_rolls_back(
        cloud: Any, api_client: ApiClient, fundus_image_bytes: bytes, tmp_path: Path) -> None:
    baked = json.loads((WEIGHTS / "model.json").read_text())["model_version"]
    release = tmp_path / "it-v2"
    shutil.copytree(WEIGHTS, release, ignore=shutil.ignore_patterns("*.npz"))
    card = json.loads((release / "model.json").read_text())
    (release / "model.json").write_text(json.dumps({**card, "model_version": "it-v2"}))

    assert papila_model(cloud, "register", str(release), "--promote") == {"registered": "it-v2", "previous": "baked"}
    try:
        time.sleep(MODEL_CHECK_S + 1)  # every warm worker looks at the pointer again on its next batch
        record = api_client.screen_presigned(fundus_image_bytes, "left_eye.jpg", "image/jpeg")
        assert record["status"] == "done", record
        assert record["result"]["model_version"] == "it-v2"
        served = api_client.http.get(api_client.url("/api/model"), timeout=10).json()
        assert served["model_version"] == "it-v2" and served["serving"] == "registry"
    finally:
        assert papila_model(cloud, "promote", "baked")["previous"] == "it-v2"
        time.sleep(MODEL_CHECK_S + 1)
    record = api_client.screen_presigned(fundus_image_bytes, "left_eye.jpg", "image/jpeg")
    assert record["result"]["model_version"] == baked
    assert papila_model(cloud, "list")["serving"] == "baked"
