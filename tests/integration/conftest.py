"""Fixtures of the integration suite (the cloud itself is tests/conftest.py's `cloud`)."""

from __future__ import annotations

import pytest

from tests.integration.cloudclient import ApiClient


@pytest.fixture(scope="session")
def api_client(api_url: str) -> ApiClient:
    return ApiClient(api_url)
