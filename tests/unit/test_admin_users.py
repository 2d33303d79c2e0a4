"""Granting reviewers (issue 15): PUT and DELETE /api/admin/users/{username}/reviewer put a user in or take
them out of the pool's `reviewers` group, on moto's real Cognito (the API reaches it through boto3's
AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER, as under `make up`); admins only; audited by the canonical user
name and sub, never the e-mail address; unknown users 404, malformed names 400."""

from __future__ import annotations

import json
import uuid

import pytest

from infra import cognito as local_cognito

pytest_plugins = ["tests.unit.admin_fixtures"]

PASSWORD = "Clinician-Password-42"


def _path(username: str) -> str:
    return f"/api/admin/users/{username}/reviewer"


def _delete(admin_api, path: str, headers=None):
    return admin_api.api.request("DELETE", path, headers=admin_api.headers if headers is None else headers)


def _put(admin_api, path: str, headers=None):
    return admin_api.api.put(path, headers=admin_api.headers if headers is None else headers)


@pytest.fixture
def clinician(admin_api):
    """A fresh confirmed clinician of the admin pool: (e-mail, canonical user name, sub)."""
    cog = admin_api.cognito
    email = f"dr-{uuid.uuid4().hex[:8]}@example.org"
    local_cognito.ensure_user(local_cognito.client(cog.endpoint), cog.pool.pool_id, email, PASSWORD, ("clinicians",))
    user = local_cognito.client(cog.endpoint).admin_get_user(UserPoolId=cog.pool.pool_id, Username=email)
    sub = next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")
    return email, user["Username"], sub


def _groups(admin_api, email: str) -> list[str]:
    cog = admin_api.cognito
    return local_cognito.groups_of(cog.endpoint, cog.pool.pool_id, email)


def test_an_admin_grants_and_revokes_the_reviewer_role(admin_api, clinician):
    email, username, _ = clinician
    r = _put(admin_api, _path(email))
    assert r.status_code == 200, r.body
    assert r.json_body == {"username": email, "groups": ["clinicians", "reviewers"]}
    assert _groups(admin_api, email) == ["clinicians", "reviewers"]
    # The new role reaches the user's next token.
    token = local_cognito.sign_in(admin_api.cognito.endpoint, admin_api.cognito.pool.client_id, email, PASSWORD)
    import jwt

    assert "reviewers" in jwt.decode(token["AccessToken"], options={"verify_signature": False})["cognito:groups"]

    again = _put(admin_api, _path(email))  # granting twice changes nothing
    assert again.status_code == 200 and again.json_body["groups"] == ["clinicians", "reviewers"]

    r = _delete(admin_api, _path(email))
    assert r.status_code == 200, r.body
    assert r.json_body == {"username": email, "groups": ["clinicians"]}
    assert _groups(admin_api, email) == ["clinicians"]
    assert _delete(admin_api, _path(email)).json_body["groups"] == ["clinicians"]  # revoking a non-reviewer

    # Percent-encoded, as the SPA's encodeURIComponent sends it (chalice local does not decode path parameters).
    encoded = email.replace("@", "%40")
    assert _put(admin_api, _path(encoded)).json_body == {"username": email, "groups": ["clinicians", "reviewers"]}
    assert _delete(admin_api, _path(encoded)).json_body == {"username": email, "groups": ["clinicians"]}

    # By the canonical user name too (Cognito's admin API takes either).
    assert _put(admin_api, _path(username)).json_body == {"username": username, "groups": ["clinicians", "reviewers"]}
    assert _delete(admin_api, _path(username)).status_code == 200


def test_every_change_is_audited_without_the_email(admin_api, clinician):
    email, username, sub = clinician
    admin_email = admin_api.cognito.pool.username  # it must not be in an entry either
    assert _put(admin_api, _path(email)).status_code == 200
    assert _delete(admin_api, _path(email)).status_code == 200
    entries = list(admin_api.db["audit"].find({"action": {"$in": ["grant", "revoke"]}}, {"_id": 0}).sort("at", 1))
    assert [e["action"] for e in entries] == ["grant", "revoke"]
    for entry in entries:
        assert entry["details"] == {"group": "reviewers", "user": {"sub": sub, "username": username}}
        assert set(entry["actor"]) == {"sub", "username"}
        text = json.dumps(entry, default=str)
        assert email not in text and admin_email not in text


def test_only_admins_may_grant(admin_api, clinician):
    email, _, _ = clinician
    cog = admin_api.cognito
    r = _put(admin_api, _path(email), headers={})
    assert r.status_code == 401 and r.json_body["error"]["code"] == "unauthorized"
    viewer = {"Authorization": f"Bearer {cog.viewer['AccessToken']}"}
    r = _put(admin_api, _path(email), headers=viewer)
    assert r.status_code == 403 and r.json_body["error"]["code"] == "forbidden"
    assert _delete(admin_api, _path(email), headers=viewer).status_code == 403
    other = {"Authorization": f"Bearer {cog.other_pool_admin['AccessToken']}"}
    assert _put(admin_api, _path(email), headers=other).status_code == 401  # an admin of another pool
    assert _groups(admin_api, email) == ["clinicians"]
    assert admin_api.db["audit"].count_documents({"action": {"$in": ["grant", "revoke"]}}) == 0


def test_an_unknown_user_is_404(admin_api):
    for send in (_put, _delete):
        r = send(admin_api, _path("nobody-here@example.org"))
        assert r.status_code == 404, r.body
        assert r.json_body["error"]["code"] == "not_found"
    assert admin_api.db["audit"].count_documents({}) == 0


@pytest.mark.parametrize("name", ["a" * 129, "tab%09name", "space%20name", "nul%00", "bad%FFutf8", "%20"])
def test_a_malformed_user_name_is_400(admin_api, name):
    r = _put(admin_api, _path(name))
    assert r.status_code == 400, r.body
    assert r.json_body["error"]["code"] == "invalid_username"


def test_a_grant_that_cannot_be_audited_changes_nothing(admin_api, clinician, monkeypatch):
    from papila.adapters.audit import AuditLog

    email, _, _ = clinician

    def broken(*_args, **_kwargs):
        raise RuntimeError("the audit log is down")

    monkeypatch.setattr(AuditLog, "record", broken)
    r = _put(admin_api, _path(email))
    assert r.status_code == 500 and r.json_body["error"]["code"] == "internal_error"
    assert _groups(admin_api, email) == ["clinicians"]


def test_the_service_names_the_pool_it_was_given(admin_api, monkeypatch):
    from papila.api import users
    from papila.api.errors import ApiError

    monkeypatch.delenv("COGNITO_USER_POOL_ID")
    users.reset()
    with pytest.raises(ApiError) as raised:
        _ = users.service().directory
    assert raised.value.status == 503
