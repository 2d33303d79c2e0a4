"""End-to-end: the built SPA, driven in Debian's Chromium, against the running API.

Needs the fixtures of tests/conftest.py: ``spa_url`` (the built SPA, e.g. http://127.0.0.1:8080),
``api_url`` (the API, e.g. http://127.0.0.1:8000), ``fundus_png_path`` (a generated fundus-like
photo) and ``blank_png_path`` (a flat grey image the pipeline rejects). Screenshots of each step go
to ``.run/e2e/`` (or ``$PAPILA_E2E_ARTIFACTS``) with the browser console of each page.
"""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright import (
    sync_api,  # installed by requirements.txt: fail loudly if it is missing
)

from tests.e2e.browser import ARTIFACTS, DESKTOP

pytestmark = pytest.mark.e2e

expect = sync_api.expect

# Upload, queue and inference on a 2-core machine: usually 5-20 s, with room for a cold start.
RESULT_TIMEOUT_MS = 180_000
PHONE = {"width": 390, "height": 844}


def get_json(url: str, headers: dict[str, str] | None = None) -> dict:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=15) as response:
        return json.loads(response.read().decode("utf-8"))


@pytest.fixture
def open_spa(browser, spa_url, api_url, request):
    """Opens the SPA in a fresh browser context (no stored language, no consent) at a window size."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    opened = []

    def _open(viewport: dict = DESKTOP):
        context = browser.new_context(locale="en-US", viewport=viewport)
        page = context.new_page()
        page.set_default_timeout(20_000)
        console: list[str] = []
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
        # Point the SPA at this run's API whatever config.json the build carries.
        page.route(
            re.compile(r".*/config\.json(\?.*)?$"),
            lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps({"apiBaseUrl": api_url})),
        )
        page.goto(f"{spa_url.rstrip('/')}/#/")
        opened.append((context, console))
        return page

    yield _open
    for index, (context, console) in enumerate(opened):
        (ARTIFACTS / f"{request.node.name}-console-{index}.log").write_text("\n".join(console), encoding="utf-8")
        context.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def accept_consent(page, name: str) -> None:
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    # Nothing to upload to until the consent is accepted.
    expect(page.get_by_test_id("upload-step")).to_have_count(0)
    shot(page, f"{name}-01-consent")
    page.get_by_test_id("consent-accept").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_test_id("upload-step")).to_be_visible()


def choose_photo(page, path) -> None:
    page.get_by_test_id("file-input").set_input_files(str(path))
    crop_step = page.get_by_test_id("crop-step")
    expect(crop_step).to_be_visible()
    # The box appears once the locator has answered (or failed over to a centred box).
    expect(crop_step).to_have_attribute("data-crop-origin", re.compile(r"^(locator|centre)$"), timeout=30_000)
    expect(page.locator(".ReactCrop__crop-selection")).to_be_visible()


def screening_id_of(page) -> str:
    holder = page.locator("[data-screening-id]")
    expect(holder).to_have_count(1)
    screening_id = holder.get_attribute("data-screening-id")
    assert screening_id and re.fullmatch(r"[0-9a-f-]{36}", screening_id), screening_id
    return screening_id


def test_screen_a_fundus_photo_and_save_feedback(open_spa, api_url, fundus_png_path):
    name = "flow"
    page = open_spa(DESKTOP)
    accept_consent(page, name)
    shot(page, f"{name}-02-upload")

    choose_photo(page, fundus_png_path)
    shot(page, f"{name}-03-crop")

    page.get_by_test_id("submit-crop").click()
    shot(page, f"{name}-04-progress")

    result = page.get_by_test_id("result-view")
    expect(result).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    expect(page.get_by_test_id("probability-gauge")).to_be_visible()
    percent_shown = int(page.get_by_role("meter").get_attribute("aria-valuenow"))
    assert 0 <= percent_shown <= 100
    label = page.get_by_test_id("result-label")
    expect(label).to_have_attribute("data-label", re.compile(r"^(glaucoma|normal)$"))
    expect(label).not_to_be_empty()
    # The crop the model saw is served by the API and actually loads.
    page.wait_for_function(
        "el => el.complete && el.naturalWidth > 0", arg=page.get_by_test_id("result-crop").element_handle(), timeout=20_000
    )
    screening_id = screening_id_of(page)
    shot(page, f"{name}-05-result")

    page.locator("#fb-correct-yes").check()
    page.locator("#fb-age").fill("63")
    page.get_by_test_id("feedback-submit").click()
    expect(page.get_by_test_id("feedback-saved")).to_be_visible()
    shot(page, f"{name}-06-feedback-saved")

    # The page kept the screening's secret (the tab's session storage) and sent it with the feedback;
    # without it the API shows the result but not the clinical feedback.
    secret = page.evaluate("(id) => sessionStorage.getItem('papila.secret.' + id)", screening_id)
    assert secret
    url = f"{api_url.rstrip('/')}/api/screenings/{screening_id}"
    assert "feedback" not in get_json(url)
    stored = get_json(url, {"X-Screening-Secret": secret})
    assert stored["status"] == "done"
    assert stored["feedback"]["diagnosis_correct"] is True
    assert stored["feedback"]["metadata"]["age"] == 63
    # What the page showed is what the API holds.
    assert stored["result"]["label"] == label.get_attribute("data-label")
    assert round(stored["result"]["probability_glaucoma"] * 100) == percent_shown


def test_a_blank_image_is_rejected_with_the_api_message(open_spa, api_url, blank_png_path):
    name = "rejected"
    page = open_spa(DESKTOP)
    accept_consent(page, name)
    choose_photo(page, blank_png_path)
    page.get_by_test_id("submit-auto").click()

    error_view = page.get_by_test_id("error-view")
    expect(error_view).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    expect(error_view).to_have_attribute("data-kind", "rejected")
    message = page.get_by_test_id("error-message").inner_text().strip()
    shot(page, f"{name}-01-rejected")

    stored = get_json(f"{api_url.rstrip('/')}/api/screenings/{screening_id_of(page)}")
    assert stored["status"] == "rejected"
    assert message == stored["error"]["message"].strip()

    page.get_by_test_id("try-again").click()
    expect(page.get_by_test_id("upload-step")).to_be_visible()


def _drag_crop_by(page, fraction_x: float, fraction_y: float) -> tuple[float, float]:
    """Drags the crop box by fractions of the photo's displayed size; returns the screen move."""
    selection = page.locator(".ReactCrop__crop-selection")
    selection.scroll_into_view_if_needed()
    box = selection.bounding_box()
    image = page.get_by_test_id("crop-image").bounding_box()
    assert box and image
    dx, dy = round(fraction_x * image["width"]), round(fraction_y * image["height"])
    start_x, start_y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(start_x, start_y)
    page.mouse.down()
    page.mouse.move(start_x + dx, start_y + dy, steps=8)
    page.mouse.up()
    return dx, dy


def test_crop_arrives_in_photo_pixels_at_two_window_sizes(open_spa, fundus_png_path):
    sent_crops = {}
    for size_name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page = open_spa(viewport)
        accept_consent(page, f"crop-{size_name}")
        choose_photo(page, fundus_png_path)
        crop_step = page.get_by_test_id("crop-step")
        start = {key: int(crop_step.get_attribute(f"data-crop-{key}")) for key in ("x", "y", "size")}
        natural_width = page.get_by_test_id("crop-image").evaluate("img => img.naturalWidth")
        natural_height = page.get_by_test_id("crop-image").evaluate("img => img.naturalHeight")

        # Move towards the middle of the photo, so the box has room, by 6% of the photo.
        direction_x = 1 if start["x"] + start["size"] / 2 < natural_width / 2 else -1
        direction_y = 1 if start["y"] + start["size"] / 2 < natural_height / 2 else -1
        image_box = page.get_by_test_id("crop-image").bounding_box()
        dx, dy = _drag_crop_by(page, 0.06 * direction_x, 0.06 * direction_y)
        # The test's own conversion, independent of the app's: screen move x photo pixels per screen pixel.
        scale = natural_width / image_box["width"]
        expected = {"x": start["x"] + dx * scale, "y": start["y"] + dy * scale, "size": start["size"]}
        shot(page, f"crop-{size_name}-02-moved")

        with page.expect_request(lambda r: r.method == "POST" and r.url.rstrip("/").endswith("/api/screenings")) as request_info:
            page.get_by_test_id("submit-crop").click()
        sent = json.loads(request_info.value.post_data)
        assert sent["consent"] is True
        crop = sent["crop"]
        # One screen pixel is `scale` photo pixels: allow for the mouse landing on whole pixels.
        tolerance = 2 * scale + 1
        assert abs(crop["x"] - expected["x"]) <= tolerance, (size_name, crop, expected)
        assert abs(crop["y"] - expected["y"]) <= tolerance, (size_name, crop, expected)
        assert abs(crop["size"] - expected["size"]) <= 1, (size_name, crop, expected)
        assert 0 <= crop["x"] <= natural_width - crop["size"] and 0 <= crop["y"] <= natural_height - crop["size"]
        sent_crops[size_name] = (start, crop, tolerance)

    # Same photo, same proposal, same intended move: the same box in photo pixels on both screens.
    phone_start, phone_crop, phone_tolerance = sent_crops["phone"]
    desktop_start, desktop_crop, _ = sent_crops["desktop"]
    assert phone_start == desktop_start
    for key in ("x", "y"):
        assert abs(phone_crop[key] - desktop_crop[key]) <= phone_tolerance + 2, (phone_crop, desktop_crop)
