"""Admin sign-in: the API's token check against a REAL Cognito pool (moto's server in a subprocess):
missing, malformed, forged, expired, foreign and wrong-group tokens are refused in the contract's
error shape; the admins' access and ID tokens pass."""

from __future__ import annotations

import json
import re
import time
import urllib.request

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from papila.api import auth

pytest_plugins = ["tests.unit.admin_fixtures"]  # the `cognito` pool and `admin_api` fixtures

ROUTE = "/api/admin/stats"


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.body
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json_body
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _moto_private_key():
    """The pool's own signing key (moto signs every pool's tokens with it): a genuine signature."""
    from moto.utilities.utils import load_resource

    return jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(load_resource("cognitoidp/resources/jwks-private.json")))


def _get(admin_api, token: str | None = None, *, header: str | None = None):
    headers = {} if token is None and header is None else {"Authorization": header or f"Bearer {token}"}
    return admin_api.api.get(ROUTE, headers=headers)


def test_the_admins_access_token_passes(admin_api):
    r = _get(admin_api, admin_api.cognito.admin["AccessToken"])
    assert r.status_code == 200, r.body
    assert "by_status" in r.json_body


def test_the_admins_id_token_passes_too(admin_api):
    assert _get(admin_api, admin_api.cognito.admin["IdToken"]).status_code == 200


def test_no_token_is_401_with_a_bearer_challenge(admin_api):
    r = _get(admin_api)
    _error(r, 401, "unauthorized")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer ", "Bearer a b", "token-without-scheme",
                                    "Bearer not.a.jwt", "Bearer eyJhbGciOiJSUzI1NiJ9.e30", "Bearer " + "x" * 9000])
def test_malformed_headers_and_tokens_are_401(admin_api, header):
    _error(_get(admin_api, header=header), 401, "unauthorized")


def test_a_token_signed_by_another_key_is_401(admin_api):
    claims = _claims(admin_api.cognito.admin["AccessToken"])  # every claim right, only the signature wrong
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, forger, algorithm="RS256", headers={"kid": "dummy"})
    _error(_get(admin_api, forged), 401, "unauthorized")


def test_a_key_id_the_pool_does_not_have_is_401(admin_api):
    claims = _claims(admin_api.cognito.admin["AccessToken"])
    token = jwt.encode(claims, _moto_private_key(), algorithm="RS256", headers={"kid": "not-in-the-jwks"})
    _error(_get(admin_api, token), 401, "unauthorized")


def test_unsigned_and_hmac_tokens_are_401(admin_api):
    claims = _claims(admin_api.cognito.admin["AccessToken"])
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": "dummy"})
    _error(_get(admin_api, unsigned), 401, "unauthorized")
    # The classic confusion: HS256 keyed with the pool's public key material.
    with urllib.request.urlopen(admin_api.cognito.pool.jwks_url) as resp:
        modulus = json.load(resp)["keys"][0]["n"]  # public material an attacker has
    hmac = jwt.encode(claims, modulus, algorithm="HS256", headers={"kid": "dummy"})
    _error(_get(admin_api, hmac), 401, "unauthorized")


def test_an_expired_token_is_401(admin_api):
    now = int(time.time())
    claims = {**_claims(admin_api.cognito.admin["AccessToken"]), "iat": now - 7200, "auth_time": now - 7200,
              "exp": now - 3600}
    expired = jwt.encode(claims, _moto_private_key(), algorithm="RS256", headers={"kid": "dummy"})
    error = _error(_get(admin_api, expired), 401, "unauthorized")
    assert "expired" in error["message"]
    # The same claims with a live expiry pass: only the expiry made the difference.
    live = jwt.encode({**claims, "exp": now + 600}, _moto_private_key(), algorithm="RS256", headers={"kid": "dummy"})
    assert _get(admin_api, live).status_code == 200


def test_a_token_of_another_pool_is_401(admin_api):
    # Genuine (moto signs every pool with one key), an admin there, but another issuer and client.
    _error(_get(admin_api, admin_api.cognito.other_pool_admin["AccessToken"]), 401, "unauthorized")


def test_a_token_for_another_app_client_is_401(admin_api):
    now = int(time.time())
    claims = {**_claims(admin_api.cognito.admin["AccessToken"]), "client_id": "some-other-client", "exp": now + 600}
    token = jwt.encode(claims, _moto_private_key(), algorithm="RS256", headers={"kid": "dummy"})
    _error(_get(admin_api, token), 401, "unauthorized")
    id_claims = {**_claims(admin_api.cognito.admin["IdToken"]), "aud": "some-other-client", "exp": now + 600}
    token = jwt.encode(id_claims, _moto_private_key(), algorithm="RS256", headers={"kid": "dummy"})
    _error(_get(admin_api, token), 401, "unauthorized")


def test_a_refresh_or_unknown_token_use_is_401(admin_api):
    claims = {**_claims(admin_api.cognito.admin["AccessToken"]), "token_use": "refresh"}
    token = jwt.encode(claims, _moto_private_key(), algorithm="RS256", headers={"kid": "dummy"})
    _error(_get(admin_api, token), 401, "unauthorized")


def test_a_valid_user_outside_the_admins_group_is_403(admin_api):
    token = admin_api.cognito.viewer["AccessToken"]
    assert "cognito:groups" not in _claims(token) or "admins" not in _claims(token)["cognito:groups"]
    _error(_get(admin_api, token), 403, "forbidden")
    _error(_get(admin_api, admin_api.cognito.viewer["IdToken"]), 403, "forbidden")


@pytest.mark.parametrize("route", ["/api/admin/screenings", "/api/admin/screenings/6f1f3c1e-0f0e-4d3a-9a55-1c2b3d4e5f60",
                                   "/api/admin/stats", "/api/admin/exports/6f1f3c1e-0f0e-4d3a-9a55-1c2b3d4e5f60"])
def test_every_admin_route_is_guarded(admin_api, route):
    _error(admin_api.api.get(route), 401, "unauthorized")
    _error(admin_api.api.get(route, headers={"Authorization": f"Bearer {admin_api.cognito.viewer['AccessToken']}"}),
           403, "forbidden")
    _error(admin_api.api.request("DELETE", "/api/admin/screenings/6f1f3c1e-0f0e-4d3a-9a55-1c2b3d4e5f60"),
           401, "unauthorized")
    _error(admin_api.api.post("/api/admin/exports", {}), 401, "unauthorized")


def test_every_admin_route_of_the_app_is_guarded(admin_api, chalice_app):
    """Read from the app's own route table: a new /api/admin/ route without the admin check fails here."""
    viewer = {"Authorization": f"Bearer {admin_api.cognito.viewer['AccessToken']}"}
    checked = 0
    for path, methods in chalice_app.routes.items():
        if not path.startswith("/api/admin/"):
            continue
        concrete = re.sub(r"\{[^}]+\}", "6f1f3c1e-0f0e-4d3a-9a55-1c2b3d4e5f60", path)
        for method in methods:
            _error(admin_api.api.request(method, concrete), 401, "unauthorized")
            _error(admin_api.api.request(method, concrete, headers=viewer), 403, "forbidden")
            checked += 1
    assert checked >= 14  # screenings, review, stats, monitoring, exports, models

def test_public_routes_stay_public(admin_api):
    assert admin_api.api.get("/api/health").status_code == 200


def test_sign_in_not_configured_is_503(admin_api, monkeypatch):
    monkeypatch.delenv("COGNITO_USER_POOL_ID")
    auth.reset()
    _error(_get(admin_api, admin_api.cognito.admin["AccessToken"]), 503, "auth_not_configured")


def test_an_unreachable_jwks_is_503_not_401(admin_api, monkeypatch):
    monkeypatch.setenv("COGNITO_JWKS_URL", "http://127.0.0.1:9/none/.well-known/jwks.json")
    auth.reset()
    _error(_get(admin_api, admin_api.cognito.admin["AccessToken"]), 503, "auth_unavailable")


def test_the_jwks_location_defaults_to_the_issuers(monkeypatch):
    monkeypatch.setenv("COGNITO_USER_POOL_ID", "eu-west-1_AbCdEf")
    monkeypatch.setenv("COGNITO_APP_CLIENT_ID", "client")
    for name in ("COGNITO_REGION", "COGNITO_JWKS_URL", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    config = auth.CognitoConfig.from_env()
    assert config is not None
    assert config.issuer == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf"
    assert config.jwks_url == config.issuer + "/.well-known/jwks.json"


def test_the_principal_names_the_user_without_email(admin_api):
    verifier = auth.TokenVerifier(auth.CognitoConfig.from_env())
    who = verifier.principal(f"Bearer {admin_api.cognito.admin['IdToken']}")
    claims = _claims(admin_api.cognito.admin["IdToken"])
    assert who.actor() == {"sub": claims["sub"], "username": claims["cognito:username"]}
    assert "@" not in json.dumps(who.actor())
