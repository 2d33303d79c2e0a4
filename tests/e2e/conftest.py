"""Fixtures of the browser tests: Debian's Chromium, and fresh contexts at a route of the SPA."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.e2e.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, DESKTOP


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser, spa_url, request):
    """Opens the built SPA at a hash route in a fresh browser context (no stored session), with each page's
    console saved afterwards."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    opened = []

    def _open(route: str):
        context = browser.new_context(locale="en-US", viewport=DESKTOP)
        page = context.new_page()
        page.set_default_timeout(20_000)
        console: list[str] = []
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
        page.goto(f"{spa_url.rstrip('/')}/{route}")
        opened.append((context, console))
        return page

    yield _open
    for index, (context, console) in enumerate(opened):
        suffix = f"-{index}" if index else ""
        (ARTIFACTS / f"{request.node.name}-console{suffix}.log").write_text("\n".join(console), encoding="utf-8")
        context.close()


@pytest.fixture
def admin_page(open_page):
    """The admin panel (`#/admin`), signed out."""
    return open_page("#/admin")
