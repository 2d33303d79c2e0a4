"""End-to-end: the admin panel of a reviewer (issue 15), in Debian's Chromium against the local cloud.

A fresh clinician of the local pool (moto's server) is made a reviewer by the admin through the API
(PUT /api/admin/users/{username}/reviewer), then signs in to the admin panel at `#/admin` (the screenings'
address): only the Review queue tab shows, a label is recorded as an admin records one, and the SPA asks
nothing of the admin routes a reviewer may not use.
"""

from __future__ import annotations

import re
import urllib.parse
import uuid

import pytest
import requests
from playwright.sync_api import expect

from infra import cognito as local_cognito
from tests.e2e.test_admin import shot
from tests.e2e.test_admin_models import confirmed_screening, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

PASSWORD = "Reviewer-Pass-2026"
# The admin routes other than the review queue's (whose PUT is /api/admin/screenings/{id}/review).
ADMIN_ONLY = re.compile(r"/api/admin/(screenings(\?|/[^/?]+$)|stats|exports|models|monitoring|users)")


@pytest.fixture
def reviewer(cloud, api_url) -> dict[str, str]:
    """A new clinician of the local pool, put in `reviewers` by the admin through the API: its credentials."""
    pool = cloud.handle.admin_pool
    assert pool is not None, "the local cloud made no admin pool"
    username = f"e2e-reviewer-{uuid.uuid4().hex[:8]}@example.org"
    idp = local_cognito.client(pool.endpoint, pool.region)
    local_cognito.ensure_user(idp, pool.pool_id, username, PASSWORD, (local_cognito.CLINICIAN_GROUP,))
    admin = local_cognito.sign_in(pool.endpoint, pool.client_id, pool.username, pool.password, pool.region)
    answer = requests.put(f"{api_url.rstrip('/')}/api/admin/users/{urllib.parse.quote(username, safe='')}/reviewer",
                          headers={"Authorization": f"Bearer {admin['IdToken']}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert local_cognito.REVIEWER_GROUP in answer.json()["groups"]
    return {"username": username, "password": PASSWORD}


def test_a_reviewer_sees_and_uses_only_the_review_queue(admin_page, api_url, reviewer):
    unlabelled = confirmed_screening(api_url.rstrip("/"), 601, None)
    page = admin_page
    asked: list[str] = []
    page.on("request", lambda request: asked.append(f"{request.method} {request.url}"))
    sign_in(page, reviewer)

    expect(page.get_by_test_id("admin-reviewer-note")).to_be_visible()
    tabs = page.get_by_test_id("admin-tabs").get_by_role("tab")
    expect(tabs).to_have_count(1)
    expect(page.get_by_test_id("admin-tab-review")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_test_id("admin-tab-screenings")).to_have_count(0)
    item = page.locator(f'[data-testid="review-item"][data-screening-id="{unlabelled}"]')
    expect(item).to_be_visible()
    shot(page, "reviewer-01-queue")

    with page.expect_response(lambda r: r.request.method == "PUT" and unlabelled in r.url) as reviewed:
        item.get_by_test_id("review-glaucoma").click()
    assert reviewed.value.status == 200, reviewed.value.text()
    expect(item).to_have_attribute("data-reviewed", "true")
    expect(page.get_by_test_id("admin-forbidden")).to_have_count(0)
    shot(page, "reviewer-02-labelled")

    assert not [call for call in asked if ADMIN_ONLY.search(call)], asked
