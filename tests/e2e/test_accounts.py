"""End-to-end: a clinician's account (issue 15), in Debian's Chromium against the local cloud's Cognito pool
(moto's server, which sends no mail and takes any verification code).

Sign up with a new e-mail, verify with a code, sign in, screen a photo, find it under "My screenings"
(and nobody without the account's token can read it), then delete it: the record is gone.
"""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import ARTIFACTS
from tests.e2e.test_admin import request_json
from tests.e2e.test_spa import (
    RESULT_TIMEOUT_MS,
    accept_consent,
    choose_photo,
    screening_id_of,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

PASSWORD = "Clinician-Pass-2026"


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"account-{name}.png"), full_page=True)


def test_sign_up_verify_sign_in_screen_see_it_and_delete_it(open_page, api_url, fundus_png_path, mongo):
    page = open_page("#/signup")
    email = f"e2e-{uuid.uuid4().hex[:10]}@example.org"
    signup = page.get_by_test_id("account-signup")
    signup.get_by_label("Email", exact=True).fill(email)
    signup.get_by_label("Password", exact=True).fill(PASSWORD)
    shot(page, "01-sign-up")
    page.get_by_test_id("account-signup-submit").click()

    verify = page.get_by_test_id("account-verify")
    expect(verify).to_be_visible()
    verify.get_by_label("Verification code", exact=True).fill("123456")  # locally any code confirms
    page.get_by_test_id("account-verify-submit").click()

    signin = page.get_by_test_id("account-signin")
    expect(signin).to_be_visible()
    expect(signin.get_by_label("Email", exact=True)).to_have_value(email)
    signin.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_test_id("account-signin-submit").click()
    expect(page.get_by_test_id("account-signed-in")).to_contain_text(email)
    assert page.evaluate("() => Object.keys(localStorage).filter(k => k.includes('account')).length") == 0
    shot(page, "02-signed-in")

    # A screening started while signed in belongs to the account.
    page.goto(page.url.split("#")[0] + "#/")
    accept_consent(page, "account")
    choose_photo(page, fundus_png_path)
    page.get_by_test_id("submit-crop").click()
    expect(page.get_by_test_id("result-view")).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    screening_id = screening_id_of(page)
    shot(page, "03-result")
    record = mongo["screenings"].find_one({"_id": screening_id})
    assert record["owner"] and email not in str(record), "the record keeps the account's sub, never its e-mail"

    api = api_url.rstrip("/")
    status, body = request_json("GET", f"{api}/api/screenings/{screening_id}")
    assert status == 404, (status, body)  # the id alone does not read an account's screening

    page.get_by_test_id("nav-my-screenings").click()
    row = page.locator(f'[data-testid="my-row"][data-screening-id="{screening_id}"]')
    expect(row).to_be_visible()
    expect(row).to_have_attribute("data-status", "done")
    shot(page, "04-my-screenings")

    row.get_by_test_id("my-delete").click()
    page.get_by_test_id("my-delete-dialog").get_by_role("button", name="Delete for good").click()
    expect(row).to_have_count(0)
    assert mongo["screenings"].find_one({"_id": screening_id}) is None
    shot(page, "05-deleted")

    page.get_by_test_id("account-signout").click()
    expect(page.get_by_test_id("account-signed-in")).to_have_count(0)
    assert page.evaluate("() => Object.keys(sessionStorage).filter(k => k.includes('account')).length") == 0
