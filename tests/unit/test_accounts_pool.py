"""The accounts pool on the local cloud (infra/cognito.py on moto's server) and the sign-up trigger
(signup_fn/handler.py): seeding is idempotent and keeps its passwords, the seeded clinician is in
`clinicians`, a sign-up is unconfirmed until confirmed, what moto does with codes (nothing: any code
confirms), and the PostConfirmation trigger puts a confirmed user in `clinicians`, on moto's real API."""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path

import pytest

from infra import cognito as local_cognito

pytest_plugins = ["tests.unit.admin_fixtures"]

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Sign-Up-Password-42"


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.org"


@pytest.fixture
def seeded(cognito, tmp_path, monkeypatch):
    """A pool of its own on the session's moto server, seeded as `make up` does."""
    for name in ("PAPILA_ADMIN_USER", "PAPILA_ADMIN_PASSWORD", "PAPILA_CLINICIAN_USER", "PAPILA_CLINICIAN_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    name = f"seed-{uuid.uuid4().hex[:8]}"
    pool = local_cognito.ensure_seeded(cognito.endpoint, tmp_path, pool_name=name)
    return pool, name


def test_seeding_is_idempotent_and_keeps_the_passwords(cognito, seeded, tmp_path):
    pool, name = seeded
    again = local_cognito.ensure_seeded(cognito.endpoint, tmp_path, pool_name=name)
    assert (again.pool_id, again.client_id) == (pool.pool_id, pool.client_id)
    assert (again.password, again.clinician_password) == (pool.password, pool.clinician_password)
    assert pool.password != pool.clinician_password
    for file in ("admin.txt", "clinician.txt"):
        assert (tmp_path / file).stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "clinician.txt").read_text().strip() == pool.clinician_password
    idp = local_cognito.client(cognito.endpoint)
    pools = [p for page in idp.get_paginator("list_user_pools").paginate(MaxResults=60)
             for p in page["UserPools"] if p["Name"] == name]
    assert len(pools) == 1
    groups = {g["GroupName"] for g in idp.list_groups(UserPoolId=pool.pool_id)["Groups"]}
    assert groups == {"admins", "reviewers", "clinicians"}


def test_the_seeded_clinician_signs_in_as_a_clinician(cognito, seeded):
    import jwt

    pool, _ = seeded
    assert pool.clinician == local_cognito.DEFAULT_CLINICIAN_USER
    assert local_cognito.groups_of(cognito.endpoint, pool.pool_id, pool.clinician) == ["clinicians"]
    assert local_cognito.groups_of(cognito.endpoint, pool.pool_id, pool.username) == ["admins"]
    token = local_cognito.sign_in(cognito.endpoint, pool.client_id, pool.clinician, pool.clinician_password)
    claims = jwt.decode(token["AccessToken"], options={"verify_signature": False})
    assert claims["cognito:groups"] == ["clinicians"]


def test_the_pool_is_made_as_template_yaml_declares_it(cognito, seeded):
    pool, _ = seeded
    idp = local_cognito.client(cognito.endpoint)
    described = idp.describe_user_pool(UserPoolId=pool.pool_id)["UserPool"]
    assert described["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is False  # self sign-up
    assert described["UsernameAttributes"] == ["email"] and described["AutoVerifiedAttributes"] == ["email"]
    assert described["Policies"]["PasswordPolicy"]["MinimumLength"] == 12
    app = idp.describe_user_pool_client(UserPoolId=pool.pool_id, ClientId=pool.client_id)["UserPoolClient"]
    assert "ClientSecret" not in app
    assert {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"} == set(app["ExplicitAuthFlows"])
    # The API reaches the pool's admin API through boto3's own endpoint variable (no `if local` in the code).
    assert pool.env()["AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"] == cognito.endpoint


def test_a_weak_password_is_refused_at_sign_up(cognito, seeded):
    pool, _ = seeded
    idp = local_cognito.client(cognito.endpoint)
    with pytest.raises(idp.exceptions.InvalidPasswordException):
        local_cognito.sign_up(cognito.endpoint, pool.client_id, _email("weak"), "short1A")
    with pytest.raises(idp.exceptions.InvalidPasswordException):
        local_cognito.sign_up(cognito.endpoint, pool.client_id, _email("weak"), "alllowercase1234")


def test_sign_up_then_confirm_joins_clinicians(cognito, seeded):
    pool, _ = seeded
    email = _email("dr")
    idp = local_cognito.client(cognito.endpoint)
    sub = local_cognito.sign_up(cognito.endpoint, pool.client_id, email, PASSWORD)
    with pytest.raises(idp.exceptions.UserNotConfirmedException):
        local_cognito.sign_in(cognito.endpoint, pool.client_id, email, PASSWORD)
    with pytest.raises(idp.exceptions.UsernameExistsException):
        local_cognito.sign_up(cognito.endpoint, pool.client_id, email, PASSWORD)
    local_cognito.confirm(cognito.endpoint, pool.pool_id, email)
    local_cognito.confirm(cognito.endpoint, pool.pool_id, email)  # again: nothing changes
    assert local_cognito.groups_of(cognito.endpoint, pool.pool_id, email) == ["clinicians"]
    tokens = local_cognito.sign_in(cognito.endpoint, pool.client_id, email, PASSWORD)
    import jwt

    claims = jwt.decode(tokens["AccessToken"], options={"verify_signature": False})
    assert claims["sub"] == sub and claims["cognito:groups"] == ["clinicians"]


def test_moto_checks_no_codes(cognito, seeded):
    """What `make up` prints: moto sends no mail, any sign-up code confirms and any reset code resets (it
    checks only codes of its own `moto-confirmation-code:` form). No trigger runs: no group."""
    pool, _ = seeded
    email = _email("any-code")
    idp = local_cognito.client(cognito.endpoint)
    local_cognito.sign_up(cognito.endpoint, pool.client_id, email, PASSWORD)
    idp.confirm_sign_up(ClientId=pool.client_id, Username=email, ConfirmationCode="123456")
    assert local_cognito.sign_in(cognito.endpoint, pool.client_id, email, PASSWORD)["AccessToken"]
    assert local_cognito.groups_of(cognito.endpoint, pool.pool_id, email) == []
    idp.forgot_password(ClientId=pool.client_id, Username=email)
    idp.confirm_forgot_password(ClientId=pool.client_id, Username=email, ConfirmationCode="654321",
                                Password="A-New-Password-99")
    assert local_cognito.sign_in(cognito.endpoint, pool.client_id, email, "A-New-Password-99")["AccessToken"]


def test_the_banner_says_how_a_sign_up_is_verified(seeded, tmp_path):
    pool, _ = seeded
    text = local_cognito.sign_in_help(pool, local_cognito.password_source(tmp_path),
                                      local_cognito.clinician_password_source(tmp_path))
    assert pool.clinician in text and pool.clinician_password in text and pool.password in text
    assert "any 6-digit code" in text and "python -m infra.cognito confirm" in text


def test_the_cli_signs_up_and_confirms(cognito, seeded, tmp_path, capsys, monkeypatch):
    pool, _ = seeded
    monkeypatch.setenv("PAPILA_STATE_DIR", str(tmp_path))
    env_file = tmp_path / "env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in pool.env().items()))
    email = _email("cli")
    assert local_cognito.main(["sign-up", email, "--password", PASSWORD, "--env-file", str(env_file)]) == 0
    assert "unconfirmed" in capsys.readouterr().out
    assert local_cognito.main(["confirm", email, "--env-file", str(env_file)]) == 0
    assert "clinicians" in capsys.readouterr().out
    assert local_cognito.main(["token", "--clinician", "--env-file", str(env_file)]) == 0
    assert capsys.readouterr().out.count(".") == 2  # a JWT


# ---------------------------------------------------------------- the PostConfirmation trigger (AWS)


@pytest.fixture
def trigger(cognito, monkeypatch):
    """signup_fn/handler.py, its boto3 client pointed at moto's server as Lambda's would be at Cognito."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", cognito.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    spec = importlib.util.spec_from_file_location("papila_signup_fn_under_test", ROOT / "signup_fn" / "handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _event(source: str, pool_id: str, username: str) -> dict:
    return {"version": "1", "triggerSource": source, "region": "us-east-1", "userPoolId": pool_id,
            "userName": username, "callerContext": {"clientId": "x"},
            "request": {"userAttributes": {"email": "hidden@example.org"}}, "response": {}}


def test_the_trigger_puts_a_confirmed_sign_up_in_clinicians(cognito, trigger):
    pool = cognito.pool
    email = _email("trigger")
    idp = local_cognito.client(cognito.endpoint)
    sub = local_cognito.sign_up(cognito.endpoint, pool.client_id, email, PASSWORD)
    idp.confirm_sign_up(ClientId=pool.client_id, Username=email, ConfirmationCode="123456")
    # Cognito names the user by their user name: in this e-mail pool the generated one (the sub).
    username = idp.admin_get_user(UserPoolId=pool.pool_id, Username=email)["Username"]
    event = _event("PostConfirmation_ConfirmSignUp", pool.pool_id, username)
    assert trigger.handler(event, None) == event  # Cognito's event back, as a trigger must answer
    assert trigger.handler(event, None) == event  # a retried confirmation: still fine
    assert local_cognito.groups_of(cognito.endpoint, pool.pool_id, email) == ["clinicians"]
    assert username == sub


def test_the_trigger_leaves_a_password_reset_alone(cognito, trigger):
    pool = cognito.pool
    email = _email("reset")
    local_cognito.sign_up(cognito.endpoint, pool.client_id, email, PASSWORD)
    event = _event("PostConfirmation_ConfirmForgotPassword", pool.pool_id, email)
    assert trigger.handler(event, None) == event
    assert local_cognito.groups_of(cognito.endpoint, pool.pool_id, email) == []


def test_the_trigger_fails_the_confirmation_for_an_unknown_user(cognito, trigger):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="UserNotFoundException"):
        trigger.handler(_event("PostConfirmation_ConfirmSignUp", cognito.pool.pool_id, "nobody"), None)
