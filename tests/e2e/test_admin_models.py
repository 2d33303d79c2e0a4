"""End-to-end: the data loop from the admin panel (issue 14), in Debian's Chromium against the local cloud.

Through the API: two photos are screened and their labels confirmed (the held-out cases), and a candidate is
registered with `papila model register` (the installed weights under another version). In the browser the
admin signs in, opens Models, compares the candidate with the serving model (the compare function grades
the confirmed cases with both), promotes it (the API's model pointer names it) and rolls back; the
Monitoring and Review queue tabs show their content. The pointer is put back whatever happens.
"""

from __future__ import annotations

import base64
import json
import shutil
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.test_admin import RESULT_TIMEOUT_S, request_json, shot
from tests.fundus import encode, make_fundus
from tests.integration.cloudclient import papila_model

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
CANDIDATE = "e2e-candidate"
COMPARE_TIMEOUT_MS = 240_000
CAMERA = "E2E camera"


def confirmed_screening(api: str, seed: int, label: str | None) -> str:
    """A screening made through the API, finished, and (given a label) its label confirmed with its secret."""
    data = encode(make_fundus(900, 760, seed=seed), "JPEG")
    status, created = request_json("POST", f"{api}/api/screenings", {
        "filename": f"e2e-{seed}.jpg", "content_type": "image/jpeg", "size": len(data),
        "image_base64": base64.b64encode(data).decode("ascii"), "consent": True})
    assert status in (201, 202), created
    deadline = time.monotonic() + RESULT_TIMEOUT_S
    while time.monotonic() < deadline:
        screening = request_json("GET", f"{api}/api/screenings/{created['id']}")[1]
        if screening["status"] in ("done", "rejected", "failed"):
            break
        time.sleep(1)
    assert screening["status"] == "done", screening
    if label is not None:
        body = json.dumps({"true_label": label, "metadata": {"subject_id": f"e2e-{seed}", "camera": CAMERA}})
        put = urllib.request.Request(f"{api}/api/screenings/{created['id']}/feedback", data=body.encode(), method="PUT",
                                     headers={"Content-Type": "application/json",
                                              "X-Screening-Secret": created["secret"]})
        with urllib.request.urlopen(put, timeout=30) as answer:
            assert answer.status == 200
    return created["id"]


@pytest.fixture
def candidate(cloud, tmp_path):
    release = tmp_path / CANDIDATE
    shutil.copytree(ROOT / "weights", release, ignore=shutil.ignore_patterns("*.npz", ".train"))
    card = json.loads((release / "model.json").read_text())
    (release / "model.json").write_text(json.dumps({**card, "model_version": CANDIDATE}))
    assert papila_model(cloud, "register", str(release))["registered"] == CANDIDATE
    before = papila_model(cloud, "list")["serving"]
    yield CANDIDATE
    papila_model(cloud, "promote", before)


def sign_in(page, credentials: dict[str, str]) -> None:
    page.get_by_label("Username", exact=True).fill(credentials["username"])
    page.get_by_label("Password", exact=True).fill(credentials["password"])
    page.get_by_test_id("admin-signin-submit").click()
    expect(page.get_by_test_id("admin-signed-in")).to_contain_text(credentials["username"])


def test_compare_promote_and_roll_back_from_the_panel(admin_page, api_url, admin_credentials, candidate):
    api = api_url.rstrip("/")
    for seed, label in ((501, "glaucoma"), (502, "normal")):
        confirmed_screening(api, seed, label)
    unlabelled = confirmed_screening(api, 503, None)
    served_before = request_json("GET", f"{api}/api/model")[1]["model_version"]
    page = admin_page
    sign_in(page, admin_credentials)

    page.get_by_test_id("admin-tab-models").click()
    serving = page.get_by_test_id("serving-version")
    expect(serving).to_be_visible()
    was_serving = serving.get_attribute("data-version")
    row = page.locator(f'[data-testid="model-row"][data-version="{candidate}"]')
    expect(row).to_have_attribute("data-serving", "false")

    row.get_by_test_id("model-compare").click()
    comparison = page.get_by_test_id("admin-comparison")
    expect(comparison).to_have_attribute("data-status", "done", timeout=COMPARE_TIMEOUT_MS)
    expect(page.get_by_test_id("admin-comparison-table")).to_be_visible()
    # both models graded the same held-out cases: one overall row each, and the camera of this test
    expect(page.locator('[data-testid="comparison-row"][data-scope="overall"]')).to_have_count(2)
    expect(page.locator(f'[data-testid="comparison-row"][data-scope="{CAMERA}"]')).to_have_count(2)
    shot(page, "models-01-compared")

    row.get_by_test_id("model-promote").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Yes, promote it").click()
    expect(serving).to_have_attribute("data-version", candidate)
    expect(page.get_by_test_id("admin-models-notice")).to_contain_text(candidate)
    expect(row).to_have_attribute("data-serving", "true")
    model = request_json("GET", f"{api}/api/model")[1]
    assert model["model_version"] == candidate and model["serving"] == "registry", model
    shot(page, "models-02-promoted")

    page.get_by_test_id("admin-models-rollback").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Yes, roll back").click()
    expect(serving).to_have_attribute("data-version", was_serving)
    expect(row).to_have_attribute("data-serving", "false")
    assert request_json("GET", f"{api}/api/model")[1]["model_version"] == served_before
    shot(page, "models-03-rolled-back")

    page.get_by_test_id("admin-tab-monitoring").click()
    expect(page.locator(f'[data-testid="monitoring-version-row"][data-camera="{CAMERA}"]').first).to_be_visible()
    shot(page, "models-04-monitoring")

    # the review queue: the unconfirmed screening, labelled by the expert
    page.get_by_test_id("admin-tab-review").click()
    item = page.locator(f'[data-testid="review-item"][data-screening-id="{unlabelled}"]')
    expect(item).to_be_visible()
    with page.expect_response(lambda r: r.request.method == "PUT" and unlabelled in r.url) as reviewed:
        item.get_by_test_id("review-normal").click()
    assert reviewed.value.status == 200, reviewed.value.text()
    expect(item).to_have_attribute("data-reviewed", "true")
    shot(page, "models-05-reviewed")
