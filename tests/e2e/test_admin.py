"""End-to-end: the admin panel (`#/admin`) of the built SPA, in Debian's Chromium, against the local cloud
with its Cognito user pool (moto's server).

Needs the fixtures of tests/conftest.py: ``spa_url`` (the built SPA, whose ``/config.json`` must carry
``apiBaseUrl``, ``cognitoEndpoint`` and ``cognitoClientId``), ``api_url``, ``fundus_png_path``,
``admin_credentials`` (``{"username", "password"}`` of a user in the pool's ``admins`` group) and
``cognito_endpoint`` (the pool's endpoint URL). Screenshots of each step go to ``.run/e2e/`` (or
``$PAPILA_E2E_ARTIFACTS``) with the browser console.

The flow: one screening is made and finished through the API; the admin signs in (after one wrong
password), filters by status "done", opens it, deletes it with confirmation; the API then has no such
screening.
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import ARTIFACTS

pytestmark = pytest.mark.e2e

# Queue and inference on a 2-core machine: usually 5-20 s, with room for a cold start.
RESULT_TIMEOUT_S = 180


def request_json(method: str, url: str, body: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode("utf-8")
            return response.status, (json.loads(text) if text else {})
    except urllib.error.HTTPError as error:
        text = error.read().decode("utf-8", "replace")
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, {"raw": text}


def finished_screening(api_url: str, photo: Path) -> str:
    """Makes a screening through the API (inline upload, disc found automatically) and waits until done."""
    api = api_url.rstrip("/")
    data = photo.read_bytes()
    status, created = request_json(
        "POST",
        f"{api}/api/screenings",
        {
            "filename": photo.name,
            "content_type": "image/png",
            "size": len(data),
            "image_base64": base64.b64encode(data).decode("ascii"),
            "consent": True,
        },
    )
    assert status in (201, 202), (status, created)
    screening_id = created["id"]
    deadline = time.monotonic() + RESULT_TIMEOUT_S
    screening = created
    while time.monotonic() < deadline:
        status, screening = request_json("GET", f"{api}/api/screenings/{screening_id}")
        assert status == 200, (status, screening)
        if screening["status"] in ("done", "rejected", "failed"):
            break
        time.sleep(1)
    assert screening["status"] == "done", screening
    return screening_id


def spa_config(spa_url: str) -> dict:
    with urllib.request.urlopen(f"{spa_url.rstrip('/')}/config.json", timeout=15) as response:
        return json.loads(response.read().decode("utf-8"))


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"admin-{name}.png"), full_page=True)


def wait_image_loaded(page, test_id: str) -> None:
    page.wait_for_function(
        "el => el.complete && el.naturalWidth > 0", arg=page.get_by_test_id(test_id).element_handle(), timeout=20_000
    )


def test_sign_in_filter_open_and_delete(
    admin_page, spa_url, api_url, fundus_png_path, admin_credentials, cognito_endpoint
):
    # The SPA is pointed at this run's API and Cognito pool by the config.json it is served with.
    config = spa_config(spa_url)
    assert config.get("apiBaseUrl", "").rstrip("/") == api_url.rstrip("/"), config
    assert config.get("cognitoClientId"), f"config.json has no cognitoClientId: {config}"
    assert config.get("cognitoEndpoint", "").rstrip("/") == cognito_endpoint.rstrip("/"), config

    api = api_url.rstrip("/")
    screening_id = finished_screening(api_url, fundus_png_path)
    page = admin_page

    # Sign in: a wrong password first is refused with Cognito's answer, then the right one.
    expect(page.get_by_test_id("admin-signin")).to_be_visible()
    shot(page, "01-sign-in")
    page.get_by_label("Username", exact=True).fill(admin_credentials["username"])
    page.get_by_label("Password", exact=True).fill(admin_credentials["password"] + "-wrong")
    page.get_by_test_id("admin-signin-submit").click()
    expect(page.get_by_test_id("admin-signin-error")).to_have_text("Incorrect username or password.")
    page.get_by_label("Password", exact=True).fill(admin_credentials["password"])
    page.get_by_test_id("admin-signin-submit").click()
    expect(page.get_by_test_id("admin-signed-in")).to_contain_text(admin_credentials["username"])
    expect(page.get_by_test_id("admin-table")).to_be_visible()
    expect(page.get_by_test_id("admin-stats").locator("dd").first).to_be_visible()
    # The token stays in this tab's sessionStorage, never in localStorage.
    assert page.evaluate("() => Object.keys(localStorage).filter(k => k.includes('admin')).length") == 0
    assert page.evaluate("() => sessionStorage.getItem('papila.admin.session') !== null")
    shot(page, "02-list")

    # Filter by status "done": the request carries it, and every row shown is done, newest first.
    page.get_by_label("Status", exact=True).select_option("done")
    with page.expect_response(
        lambda r: "/api/admin/screenings?" in r.url and "status=done" in r.url and r.request.method == "GET"
    ) as listed:
        page.get_by_test_id("admin-filters-apply").click()
    assert listed.value.status == 200, listed.value.text()
    row = page.locator(f'[data-testid="admin-row"][data-screening-id="{screening_id}"]')
    expect(row).to_be_visible()
    # The response can land before React re-renders the table: wait for the filtered rows.
    page.wait_for_function(
        "() => { const rows = [...document.querySelectorAll('[data-testid=\"admin-row\"]')];"
        " return rows.length > 0 && rows.every(r => r.dataset.status === 'done'); }",
        timeout=15_000,
    )
    rows = page.get_by_test_id("admin-row")
    statuses = rows.evaluate_all("rows => rows.map(r => r.dataset.status)")
    assert statuses and set(statuses) == {"done"}, statuses
    created = [c for c in rows.evaluate_all("rows => rows.map(r => r.dataset.createdAt)") if c]
    assert created == sorted(created, reverse=True), created
    shot(page, "03-filtered")

    # Open it: the original photo (presigned URL), the crop and the heat map load.
    row.get_by_role("link").click()
    detail = page.get_by_test_id("admin-detail")
    expect(detail).to_have_attribute("data-screening-id", screening_id)
    expect(page).to_have_url(re.compile(rf"#/admin/screenings/{screening_id}$"))
    expect(page.get_by_test_id("admin-detail-status")).to_have_text("Done")
    expect(page.get_by_test_id("admin-detail-label")).to_have_text(re.compile(r"^(Glaucoma|Normal)$"))
    for image in ("admin-original", "admin-crop", "admin-heatmap"):
        wait_image_loaded(page, image)
    shot(page, "04-detail")

    # Delete: nothing happens on Cancel; "Delete for good" erases it and goes back to the list.
    page.get_by_test_id("admin-delete").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_be_visible()
    shot(page, "05-confirm")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    assert request_json("GET", f"{api}/api/screenings/{screening_id}")[0] == 200

    page.get_by_test_id("admin-delete").click()
    with page.expect_response(lambda r: r.request.method == "DELETE" and screening_id in r.url) as deleted:
        page.get_by_role("alertdialog").get_by_role("button", name="Delete for good").click()
    assert deleted.value.status == 204, deleted.value.text()
    expect(page.get_by_test_id("admin-notice")).to_contain_text(screening_id)
    expect(page).to_have_url(re.compile(r"#/admin$"))
    expect(page.get_by_test_id("admin-table").or_(page.get_by_text("No screenings match these filters."))).to_be_visible()
    expect(row).to_have_count(0)
    shot(page, "06-deleted")

    # Through the API: the screening is gone.
    status, body = request_json("GET", f"{api}/api/screenings/{screening_id}")
    assert status == 404, (status, body)
