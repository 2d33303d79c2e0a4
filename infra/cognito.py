"""The admin sign-in pool on the local cloud. LocalStack's community runtime has no Cognito, so the pool
lives on moto's server (`moto_server -H 127.0.0.1 -p COGNITO_PORT`, default 5001), which implements
cognito-idp: user pools, groups, USER_PASSWORD_AUTH, RS256 tokens with `cognito:groups`, and the
pool's JWKS at `http://127.0.0.1:PORT/<pool-id>/.well-known/jwks.json`.

`ensure_admin` creates, idempotently, what template.yaml declares in AWS (a pool with email as user
name and admin-created users only, an app client with USER_PASSWORD_AUTH and no secret, the `admins`
group) plus one admin user with a permanent password. `spawn_local` and `ensure_local` run it
for `make up` (infra/localcloud.py).

    python -m infra.cognito token [--id]   # a fresh token of the running cloud's admin (for curl)
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
POOL_NAME = "papila-admins"
CLIENT_NAME = "papila-spa"
ADMIN_GROUP = "admins"
DEFAULT_ADMIN_USER = "admin@example.org"
DEFAULT_PORT = 5001


@dataclass(frozen=True)
class AdminPool:
    endpoint: str
    region: str
    pool_id: str
    client_id: str
    username: str
    password: str

    @property
    def jwks_url(self) -> str:
        return f"{self.endpoint}/{self.pool_id}/.well-known/jwks.json"

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool_id}"

    def env(self) -> dict[str, str]:
        """What the API function needs (as template.yaml passes it in AWS), plus the JWKS location that
        differs locally and the endpoint the SPA's sign-in and `token` below talk to."""
        return {
            "COGNITO_USER_POOL_ID": self.pool_id,
            "COGNITO_APP_CLIENT_ID": self.client_id,
            "COGNITO_REGION": self.region,
            "COGNITO_JWKS_URL": self.jwks_url,
            "COGNITO_ENDPOINT": self.endpoint,
        }


def client(endpoint: str, region: str = REGION) -> Any:
    # moto accepts any credentials; never hand it real ones.
    return boto3.client("cognito-idp", endpoint_url=endpoint, region_name=region,
                        aws_access_key_id="test", aws_secret_access_key="test")


def ensure_pool(idp: Any, pool_name: str = POOL_NAME, client_name: str = CLIENT_NAME) -> tuple[str, str]:
    """(pool id, app client id), created if missing."""
    pool_id = next((p["Id"] for page in idp.get_paginator("list_user_pools").paginate(MaxResults=60)
                    for p in page["UserPools"] if p["Name"] == pool_name), None)
    if pool_id is None:
        pool_id = idp.create_user_pool(
            PoolName=pool_name,
            UsernameAttributes=["email"],
            AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
            Policies={"PasswordPolicy": {"MinimumLength": 12, "RequireUppercase": True, "RequireLowercase": True,
                                         "RequireNumbers": True, "RequireSymbols": False}},
        )["UserPool"]["Id"]
    client_id = next((c["ClientId"] for c in idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)
                      ["UserPoolClients"] if c["ClientName"] == client_name), None)
    if client_id is None:
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id, ClientName=client_name, GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            PreventUserExistenceErrors="ENABLED",
        )["UserPoolClient"]["ClientId"]
    try:
        idp.get_group(UserPoolId=pool_id, GroupName=ADMIN_GROUP)
    except idp.exceptions.ResourceNotFoundException:
        idp.create_group(UserPoolId=pool_id, GroupName=ADMIN_GROUP, Description="Papila administrators")
    return pool_id, client_id


def ensure_user(idp: Any, pool_id: str, username: str, password: str, groups: tuple[str, ...] = ()) -> None:
    """A confirmed user with this permanent password, in (at least) these groups."""
    try:
        idp.admin_get_user(UserPoolId=pool_id, Username=username)
    except idp.exceptions.UserNotFoundException:
        idp.admin_create_user(
            UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": username}, {"Name": "email_verified", "Value": "true"}],
        )
    # Permanent: no NEW_PASSWORD_REQUIRED challenge at the first sign-in.
    idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password, Permanent=True)
    for group in groups:
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)


def ensure_admin(endpoint: str, *, username: str = DEFAULT_ADMIN_USER, password: str, region: str = REGION,
                 pool_name: str = POOL_NAME, client_name: str = CLIENT_NAME) -> AdminPool:
    """The pool, its client, the `admins` group and an admin user, created where missing."""
    idp = client(endpoint, region)
    pool_id, client_id = ensure_pool(idp, pool_name, client_name)
    ensure_user(idp, pool_id, username, password, (ADMIN_GROUP,))
    return AdminPool(endpoint.rstrip("/"), region, pool_id, client_id, username, password)


def sign_in(endpoint: str, client_id: str, username: str, password: str, region: str = REGION) -> dict[str, str]:
    """USER_PASSWORD_AUTH, as the SPA does: {"AccessToken", "IdToken", "RefreshToken", ...}."""
    result = client(endpoint, region).initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    return result["AuthenticationResult"]


def generate_password() -> str:
    # Meets the pool's policy (length, upper, lower, digit) whatever token_urlsafe draws.
    return f"Pa{secrets.token_urlsafe(15)}9x"


def admin_password(state_dir: Path) -> str:
    """PAPILA_ADMIN_PASSWORD, else the one generated on the first `make up` (kept in STATE/admin.txt)."""
    if os.environ.get("PAPILA_ADMIN_PASSWORD"):
        return os.environ["PAPILA_ADMIN_PASSWORD"]
    path = state_dir / "admin.txt"
    if path.exists():
        return path.read_text().strip()
    password = generate_password()
    state_dir.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(password + "\n")
    return password


def spawn_local(cloud: Any) -> None:
    """For `infra.localcloud`: start moto's server on the cloud's `cognito_port` (COGNITO_PORT), through
    the LocalCloud's own `_spawn`, so it is watched and stopped with the other services."""
    moto = ROOT / ".venv" / "bin" / "moto_server"
    port = str(cloud.settings.cognito_port)
    cloud._spawn("cognito", [str(moto), "-H", "127.0.0.1", "-p", port], cloud._child_env({}))


def ensure_local(cloud: Any) -> AdminPool:
    """For `infra.localcloud`: wait for moto's server, then make the admin pool and user."""
    endpoint = f"http://127.0.0.1:{cloud.settings.cognito_port}"
    cloud._wait("cognito", lambda: _answers(endpoint), 60)
    username = os.environ.get("PAPILA_ADMIN_USER", DEFAULT_ADMIN_USER)
    return ensure_admin(endpoint, username=username, password=admin_password(cloud.settings.state_dir))


def _answers(endpoint: str) -> bool:
    with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2) as resp:
        return resp.status == 200


def sign_in_help(pool: AdminPool, password_source: str) -> str:
    return (f"  Admin  {pool.username}   password: {password_source}\n"
            f"         sign in at /admin of the SPA (Cognito pool on moto: {pool.endpoint})")


def password_source(state_dir: Path) -> str:
    """How to find the admin password, for the `make up` banner (the password itself is not printed
    when it came from the environment)."""
    if os.environ.get("PAPILA_ADMIN_PASSWORD"):
        return "$PAPILA_ADMIN_PASSWORD"
    return f"{admin_password(state_dir)}   (saved in {state_dir / 'admin.txt'})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.cognito", description="Local admin sign-in helper.")
    sub = parser.add_subparsers(dest="command", required=True)
    token = sub.add_parser("token", help="print a fresh access token of the running cloud's admin")
    token.add_argument("--id", action="store_true", help="print the ID token instead")
    token.add_argument("--env-file", type=Path, default=ROOT / ".run" / "env")
    args = parser.parse_args(argv)
    env = dict(line.split("=", 1) for line in args.env_file.read_text().splitlines() if "=" in line)
    state_dir = Path(os.environ.get("PAPILA_STATE_DIR", ROOT / ".localdata"))
    username = os.environ.get("PAPILA_ADMIN_USER", DEFAULT_ADMIN_USER)
    tokens = sign_in(env["COGNITO_ENDPOINT"], env["COGNITO_APP_CLIENT_ID"], username, admin_password(state_dir),
                     env.get("COGNITO_REGION", REGION))
    print(tokens["IdToken" if args.id else "AccessToken"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
