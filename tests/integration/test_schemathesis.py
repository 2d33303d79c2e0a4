"""Schemathesis against `/api/openapi.json` on the running local cloud (the integration suite's own
`cloud`): every operation of the served document gets generated requests, valid and invalid, and none
may answer a server error (5xx).

The operations are collected from `papila.api.openapi.document()` (pytest collects before the cloud is up:
Schemathesis' lazy `from_fixture` loader does not work with pytest 9.2, whose nodes have no `_nodeid`),
and the first test checks that the running API serves exactly that document.

Bounded and deterministic for CI (about 1,700 requests, a minute or two): at most MAX_EXAMPLES
generated requests per operation (plus the document's examples and Schemathesis' coverage cases),
`derandomize`, no deadline. Admin operations are called with a fresh Cognito access token of the
cloud's admin (so their handlers run too), and once more without one, which must answer 401. The id
routes are called again with the id (and secret) of a done screening, so they get past their 404. Each
path is also sent the methods it does not document (a 405, never a 5xx).

The responses are also checked against the document (`response_schema_conformance`,
`status_code_conformance`, `content_type_conformance`). Those mismatches are written to
`.run/test/schemathesis-conformance.json` and reported as a warning; PAPILA_SCHEMATHESIS_STRICT=1 makes
them fail the test as server errors do.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

pytestmark = pytest.mark.timeout(900)

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = int(os.environ.get("PAPILA_SCHEMATHESIS_EXAMPLES", "25"))
SEED = 20261125
STRICT = os.environ.get("PAPILA_SCHEMATHESIS_STRICT") == "1"
REPORT = ROOT / ".run" / "test" / "schemathesis-conformance.json"
CONFORMANCE = [response_schema_conformance, status_code_conformance, content_type_conformance]
REQUEST_TIMEOUT = 60  # seconds; the 2-core CI machine also runs the whole local cloud

SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    print_blob=False,
)

# (operation, check title) -> the first failing request, as curl, with the check's message
_mismatches: dict[tuple[str, str], dict[str, str]] = {}
# operation -> requests sent, by status code (written to the report)
_sent: dict[str, dict[int, int]] = {}


@pytest.fixture(scope="session")
def admin_token(cloud: Any) -> str:
    from infra import cognito

    pool = cloud.handle.admin_pool
    assert pool is not None, "the local cloud made no admin pool"
    return cognito.sign_in(pool.endpoint, pool.client_id, pool.username, pool.password, pool.region)["AccessToken"]


def _schema() -> Any:
    from papila.api.openapi import document

    loaded = schemathesis.openapi.from_dict(document())
    loaded.config.update(request_timeout=REQUEST_TIMEOUT)
    loaded.config.generation.update(max_examples=MAX_EXAMPLES)
    loaded.config.seed = SEED
    return loaded


schema = _schema()


def test_the_running_api_serves_the_tested_document(api_url: str) -> None:
    from papila.api.openapi import document

    served = requests.get(f"{api_url}/api/openapi.json", timeout=REQUEST_TIMEOUT)
    assert served.status_code == 200, served.text[:300]
    assert served.json() == document(), "GET /api/openapi.json differs from papila.api.openapi.document()"


def _is_admin(case: Any) -> bool:
    return case.operation.path.startswith("/api/admin/")


def _curl(case: Any, api_url: str) -> str:
    """The request as curl (an admin operation's token as $ADMIN_TOKEN: `python -m infra.cognito token`)."""
    headers = {"Authorization": "Bearer $ADMIN_TOKEN"} if _is_admin(case) else None
    return case.as_curl_command(headers=headers, base_url=api_url)


def _record_conformance(case: Any, response: Any, api_url: str) -> None:
    for check in CONFORMANCE:
        try:
            case.validate_response(response, checks=[check])
        except (FailureGroup, AssertionError) as exc:  # keep the first request of each kind
            key = (case.operation.label, check.__name__)
            if key not in _mismatches:
                _mismatches[key] = {
                    "operation": case.operation.label,
                    "check": check.__name__,
                    "status": str(response.status_code),
                    "request": _curl(case, api_url),
                    "response": response.text[:500],
                    "message": str(exc)[:2000],
                }
            if STRICT:
                raise


@schema.parametrize()
@SETTINGS
def test_no_server_errors(case: Any, api_url: str, admin_token: str) -> None:
    if case.method.upper() != case.operation.method.upper():
        return  # Schemathesis' "unsupported method" cases: test_undocumented_methods_are_refused below
    headers = {"Authorization": f"Bearer {admin_token}"} if _is_admin(case) else None
    response = case.call(base_url=api_url, headers=headers, timeout=REQUEST_TIMEOUT)
    counts = _sent.setdefault(case.operation.label, {})
    counts[response.status_code] = counts.get(response.status_code, 0) + 1
    # A 5xx fails here; Hypothesis then shrinks the request and Schemathesis prints it as curl.
    case.validate_response(response, checks=[not_a_server_error], headers=headers)
    _record_conformance(case, response, api_url)


@schema.include(path_regex="^/api/admin/").parametrize()
@settings(SETTINGS, max_examples=5)
def test_admin_operations_refuse_anonymous_requests(case: Any, api_url: str) -> None:
    if case.method.upper() != case.operation.method.upper():
        return  # test_undocumented_methods_are_refused
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"} or None
    response = case.call(base_url=api_url, timeout=REQUEST_TIMEOUT)
    case.validate_response(response, checks=[not_a_server_error])
    # Chalice itself answers 415 for a body of a type the route does not take, before any view runs.
    assert response.status_code in (401, 415), (
        f"{response.status_code} {response.text[:300]}\n{case.as_curl_command(base_url=api_url)}")


@pytest.fixture(scope="module")
def done_screening(api_client: Any, fundus_image_bytes: bytes) -> tuple[str, dict[str, str]]:
    """One screening of a fundus-like photo, done, so the id routes answer past their 404; with the
    headers that carry its secret (where the create answer has one), so its writes get past their 401."""
    created = api_client.create(filename="eye.jpg", content_type="image/jpeg", data=fundus_image_bytes)
    assert created.status_code == 201, created.text
    body = created.json()
    up = api_client.upload(body["upload"], fundus_image_bytes, "eye.jpg", "image/jpeg")
    assert up.status_code in (200, 201, 204), up.text
    record = api_client.wait(body["id"])
    assert record["status"] == "done", record
    secret = body.get("secret") or created.headers.get("X-Screening-Secret")
    return record["id"], ({"X-Screening-Secret": secret} if secret else {})


# The id routes once more with the id of a done screening (the generated ids above are unknown, or
# malformed: the document's `format: uuid` admits any UUID version, the API only v4). Not DELETE: it
# would erase the record for the rest.
@schema.include(path_regex=r"\{id\}").exclude(method="DELETE").exclude(path_regex="^/api/admin/exports/").parametrize()
@settings(SETTINGS, max_examples=max(MAX_EXAMPLES // 2, 1))
def test_no_server_errors_on_a_done_screening(case: Any, api_url: str, admin_token: str,
                                              done_screening: tuple[str, dict[str, str]]) -> None:
    if case.method.upper() != case.operation.method.upper():
        return
    screening_id, secret_headers = done_screening
    case.path_parameters = {**(case.path_parameters or {}), "id": screening_id}
    headers = {"Authorization": f"Bearer {admin_token}"} if _is_admin(case) else secret_headers
    response = case.call(base_url=api_url, headers=headers, timeout=REQUEST_TIMEOUT)
    counts = _sent.setdefault(f"{case.operation.label} (done id)", {})
    counts[response.status_code] = counts.get(response.status_code, 0) + 1
    case.validate_response(response, checks=[not_a_server_error], headers=headers)
    _record_conformance(case, response, api_url)


UNDOCUMENTED = ("GET", "POST", "PUT", "PATCH", "DELETE", "TRACE")


def test_undocumented_methods_are_refused(api_url: str, admin_token: str) -> None:
    """Each path of the document called with each method it does not document: a 4xx (405), never 5xx."""
    paths = schema.raw_schema["paths"]
    served: list[str] = []
    for path, item in paths.items():
        url = api_url + path.replace("{id}", "e3e70682-c209-4cac-a29f-6fbed82c07cd").replace("{name}", "roc.png")
        for method in UNDOCUMENTED:
            if method.lower() in item:
                continue
            headers = {"Authorization": f"Bearer {admin_token}"} if path.startswith("/api/admin/") else {}
            response = requests.request(method, url, headers=headers, timeout=REQUEST_TIMEOUT)
            if response.status_code >= 500:
                served.append(f"curl -X {method} {url}  -> {response.status_code} {response.text[:120]}")
    assert not served, "server errors for undocumented methods:\n" + "\n".join(served)


def test_report_conformance_mismatches() -> None:
    """Runs after the tests above (file order): writes what they found and warns about it."""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    found = sorted(_mismatches.values(), key=lambda m: (m["operation"], m["check"]))
    sent = {op: dict(sorted(codes.items())) for op, codes in sorted(_sent.items())}
    REPORT.write_text(json.dumps({"requests": sent, "mismatches": found}, indent=2) + "\n")
    if found:
        lines = [f"{m['operation']}: {m['check']} (status {m['status']})" for m in found]
        warnings.warn(f"{len(found)} response(s) do not match /api/openapi.json (details in {REPORT}):\n"
                      + "\n".join(lines), stacklevel=1)
