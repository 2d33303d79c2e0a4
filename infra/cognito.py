"""The accounts pool on the local cloud. LocalStack's community runtime has no Cognito, so the pool
lives on moto's server (`moto_server -H 127.0.0.1 -p COGNITO_PORT`, default 5001), which implements
cognito-idp: user pools, groups, SignUp / ConfirmSignUp, USER_PASSWORD_AUTH, RS256 tokens with
`cognito:groups`, and the pool's JWKS at `http://127.0.0.1:PORT/<pool-id>/.well-known/jwks.json`.

`ensure_pool` creates, idempotently, what template.yaml declares in AWS: one pool for every account (e-mail
as user name, self sign-up, e-mail verified by a code, the password policy, recovery by verified e-mail), an
app client with USER_PASSWORD_AUTH / SRP and no secret, and the groups `admins`, `reviewers`, `clinicians`.
`ensure_admin` adds one admin; `ensure_local` (for `make up`, infra/localcloud.py) also seeds one clinician.
Both passwords are generated on the first `make up` and kept in the state folder (or come from
PAPILA_ADMIN_PASSWORD / PAPILA_CLINICIAN_PASSWORD).

What moto does not do, and how the local cloud stands in (moto 5.x, cognitoidp/models.py):
- it sends no mail and checks no sign-up code: ConfirmSignUp accepts ANY code (the SPA's "enter the code"
  step takes any 6 digits locally); `confirm` below confirms by the admin API instead, as a code would.
- ForgotPassword answers its code in the `x-moto-forgot-password-confirmation-code` header only, and
  ConfirmForgotPassword checks only codes that begin `moto-confirmation-code:`: any other code resets.
- it runs no Lambda triggers: the PostConfirmation trigger that puts a new account in `clinicians` in AWS
  (signup_fn/) does not run; `confirm` below adds the user itself, and the API treats a user in no group
  as a clinician anyway.
- user names are matched case-sensitively whatever `UsernameConfiguration` says.

    python -m infra.cognito token [--id] [--clinician]   # a fresh token of the running cloud's admin (or clinician)
    python -m infra.cognito sign-up EMAIL [--password P]  # a self sign-up, as the SPA does (unconfirmed)
    python -m infra.cognito confirm EMAIL                 # confirm it (what the e-mailed code does in AWS)
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
POOL_NAME = "papila-admins"
CLIENT_NAME = "papila-spa"
ADMIN_GROUP = "admins"
REVIEWER_GROUP = "reviewers"
CLINICIAN_GROUP = "clinicians"
# template.yaml's AdminsGroup, ReviewersGroup, CliniciansGroup
GROUPS = {
    ADMIN_GROUP: "Papila administrators",
    REVIEWER_GROUP: "May use the review queue (granted by an admin)",
    CLINICIAN_GROUP: "Self-signed-up accounts; own their screenings",
}
DEFAULT_ADMIN_USER = "admin@example.org"
DEFAULT_CLINICIAN_USER = "clinician@example.org"
DEFAULT_PORT = 5001
# How a locally signed-up account gets verified (moto sends no mail and checks no code): the `make up` banner.
VERIFY_HELP = ("moto sends no mail and checks no code: any 6-digit code (e.g. 123456) confirms a sign-up and\n"
               "             resets a password; or `python -m infra.cognito confirm EMAIL` (also joins clinicians)")
# template.yaml's AdminUserPool, as far as moto keeps it (it ignores the verification message and the
# case-insensitivity, and keeps the rest as given).
POOL_SETTINGS: dict[str, Any] = {
    "UsernameAttributes": ["email"],
    "UsernameConfiguration": {"CaseSensitive": False},
    "AutoVerifiedAttributes": ["email"],
    "VerificationMessageTemplate": {
        "DefaultEmailOption": "CONFIRM_WITH_CODE",
        "EmailSubject": "Your Papila verification code",
        "EmailMessage": "Your Papila verification code is {####}. It confirms this e-mail address for your account.",
    },
    "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": False},
    "Policies": {"PasswordPolicy": {"MinimumLength": 12, "RequireUppercase": True, "RequireLowercase": True,
                                    "RequireNumbers": True, "RequireSymbols": False}},
    "AccountRecoverySetting": {"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]},
}


@dataclass(frozen=True)
class AdminPool:
    endpoint: str
    region: str
    pool_id: str
    client_id: str
    username: str
    password: str
    clinician: str = ""  # the seeded clinician's user name (`ensure_local`), and password
    clinician_password: str = ""

    @property
    def jwks_url(self) -> str:
        return f"{self.endpoint}/{self.pool_id}/.well-known/jwks.json"

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool_id}"

    def env(self) -> dict[str, str]:
        """What the API function needs (as template.yaml passes it in AWS), plus the JWKS location that
        differs locally, the endpoint the SPA's sign-in and `token` below talk to, and boto3's own
        service-specific endpoint variable, so the API's Cognito admin calls (granting reviewers:
        papila.adapters.cognito) reach moto's server with no `if local` in the code. (boto3 names it
        after the service id "Cognito Identity Provider": AWS_ENDPOINT_URL_COGNITO_IDP is not read.)"""
        return {
            "COGNITO_USER_POOL_ID": self.pool_id,
            "COGNITO_APP_CLIENT_ID": self.client_id,
            "COGNITO_REGION": self.region,
            "COGNITO_JWKS_URL": self.jwks_url,
            "COGNITO_ENDPOINT": self.endpoint,
            "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER": self.endpoint,
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
        pool_id = idp.create_user_pool(PoolName=pool_name, **POOL_SETTINGS)["UserPool"]["Id"]
    client_id = next((c["ClientId"] for c in idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)
                      ["UserPoolClients"] if c["ClientName"] == client_name), None)
    if client_id is None:
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id, ClientName=client_name, GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            PreventUserExistenceErrors="ENABLED",
        )["UserPoolClient"]["ClientId"]
    for group, description in GROUPS.items():
        try:
            idp.get_group(UserPoolId=pool_id, GroupName=group)
        except idp.exceptions.ResourceNotFoundException:
            idp.create_group(UserPoolId=pool_id, GroupName=group, Description=description)
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


def ensure_clinician(endpoint: str, pool_id: str, username: str, password: str, region: str = REGION) -> None:
    """A confirmed clinician with this permanent password, in `clinicians` (as the sign-up trigger puts one)."""
    ensure_user(client(endpoint, region), pool_id, username, password, (CLINICIAN_GROUP,))


def sign_up(endpoint: str, client_id: str, username: str, password: str, region: str = REGION) -> str:
    """A self sign-up as the SPA makes it (SignUp with the app client: e-mail as user name); the new user's
    `sub`. The account is UNCONFIRMED until `confirm` (in AWS: the code Cognito e-mails)."""
    result = client(endpoint, region).sign_up(
        ClientId=client_id, Username=username, Password=password,
        UserAttributes=[{"Name": "email", "Value": username}],
    )
    return result["UserSub"]


def confirm(endpoint: str, pool_id: str, username: str, region: str = REGION) -> None:
    """Confirm a signed-up user, as the e-mailed code does in AWS (moto checks no code: the admin API does
    it here), then put them in `clinicians`, as template.yaml's PostConfirmation trigger (signup_fn/) does
    in AWS and moto does not. Confirming a confirmed user changes nothing."""
    idp = client(endpoint, region)
    idp.admin_confirm_sign_up(UserPoolId=pool_id, Username=username)
    idp.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=CLINICIAN_GROUP)


def groups_of(endpoint: str, pool_id: str, username: str, region: str = REGION) -> list[str]:
    groups = client(endpoint, region).admin_list_groups_for_user(UserPoolId=pool_id, Username=username)["Groups"]
    return sorted(g["GroupName"] for g in groups)


def sign_in(endpoint: str, client_id: str, username: str, password: str, region: str = REGION) -> dict[str, str]:
    """USER_PASSWORD_AUTH, as the SPA does: {"AccessToken", "IdToken", "RefreshToken", ...}."""
    result = client(endpoint, region).initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    return result["AuthenticationResult"]


def generate_password() -> str:
    # Meets the pool's policy (length, upper, lower, digit) whatever token_urlsafe draws.
    return f"Pa{secrets.token_urlsafe(15)}9x"


def _kept_password(state_dir: Path, name: str, variable: str) -> str:
    """$variable, else the one generated on the first `make up` (kept in STATE/<name>.txt, mode 600)."""
    if os.environ.get(variable):
        return os.environ[variable]
    path = state_dir / f"{name}.txt"
    if path.exists():
        return path.read_text().strip()
    password = generate_password()
    state_dir.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(password + "\n")
    return password


def admin_password(state_dir: Path) -> str:
    """PAPILA_ADMIN_PASSWORD, else the one generated on the first `make up` (kept in STATE/admin.txt)."""
    return _kept_password(state_dir, "admin", "PAPILA_ADMIN_PASSWORD")


def clinician_password(state_dir: Path) -> str:
    """PAPILA_CLINICIAN_PASSWORD, else the one generated on the first `make up` (STATE/clinician.txt)."""
    return _kept_password(state_dir, "clinician", "PAPILA_CLINICIAN_PASSWORD")


def admin_user() -> str:
    return os.environ.get("PAPILA_ADMIN_USER", DEFAULT_ADMIN_USER)


def clinician_user() -> str:
    return os.environ.get("PAPILA_CLINICIAN_USER", DEFAULT_CLINICIAN_USER)


def spawn_local(cloud: Any) -> None:
    """For `infra.localcloud`: start moto's server on the cloud's `cognito_port` (COGNITO_PORT), through
    the LocalCloud's own `_spawn`, so it is watched and stopped with the other services."""
    moto = ROOT / ".venv" / "bin" / "moto_server"
    port = str(cloud.settings.cognito_port)
    cloud._spawn("cognito", [str(moto), "-H", "127.0.0.1", "-p", port], cloud._child_env({}))


def ensure_local(cloud: Any) -> AdminPool:
    """For `infra.localcloud`: wait for moto's server, then make the pool, the admin and the clinician."""
    endpoint = f"http://127.0.0.1:{cloud.settings.cognito_port}"
    cloud._wait("cognito", lambda: _answers(endpoint), 60)
    return ensure_seeded(endpoint, cloud.settings.state_dir)


def ensure_seeded(endpoint: str, state_dir: Path, region: str = REGION, pool_name: str = POOL_NAME) -> AdminPool:
    """The pool with its admin and one clinician (user names from PAPILA_ADMIN_USER / PAPILA_CLINICIAN_USER,
    passwords kept in `state_dir`), created where missing: idempotent."""
    pool = ensure_admin(endpoint, username=admin_user(), password=admin_password(state_dir), region=region,
                        pool_name=pool_name)
    username, password = clinician_user(), clinician_password(state_dir)
    ensure_clinician(endpoint, pool.pool_id, username, password, region)
    return replace(pool, clinician=username, clinician_password=password)


def _answers(endpoint: str) -> bool:
    with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2) as resp:
        return resp.status == 200


def sign_in_help(pool: AdminPool, password_source: str, clinician_source: str | None = None) -> str:
    """The `make up` banner's accounts: the admin, the seeded clinician, and how a sign-up is verified."""
    lines = [f"  Admin      {pool.username}   password: {password_source}",
             f"             sign in at /admin of the SPA (Cognito pool on moto: {pool.endpoint})"]
    if pool.clinician:
        lines += [f"  Clinician  {pool.clinician}   password: {clinician_source or pool.clinician_password}",
                  f"  Sign-up    {VERIFY_HELP}"]
    return "\n".join(lines)


def password_source(state_dir: Path) -> str:
    """How to find the admin password, for the `make up` banner (the password itself is not printed
    when it came from the environment)."""
    if os.environ.get("PAPILA_ADMIN_PASSWORD"):
        return "$PAPILA_ADMIN_PASSWORD"
    return f"{admin_password(state_dir)}   (saved in {state_dir / 'admin.txt'})"


def clinician_password_source(state_dir: Path) -> str:
    """The seeded clinician's password for the banner (not printed when it came from the environment)."""
    if os.environ.get("PAPILA_CLINICIAN_PASSWORD"):
        return "$PAPILA_CLINICIAN_PASSWORD"
    return f"{clinician_password(state_dir)}   (saved in {state_dir / 'clinician.txt'})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.cognito", description="Local accounts helper.")
    sub = parser.add_subparsers(dest="command", required=True)
    token = sub.add_parser("token", help="print a fresh access token of the running cloud's admin")
    token.add_argument("--id", action="store_true", help="print the ID token instead")
    token.add_argument("--clinician", action="store_true", help="the seeded clinician's token instead")
    signup = sub.add_parser("sign-up", help="sign an account up as the SPA does (unconfirmed until `confirm`)")
    signup.add_argument("email")
    signup.add_argument("--password", help="default: a generated one, printed")
    confirm_ = sub.add_parser("confirm", help="confirm a signed-up account (the e-mailed code's part) and put it "
                                              "in clinicians (the sign-up trigger's part)")
    confirm_.add_argument("email")
    for command in (token, signup, confirm_):
        command.add_argument("--env-file", type=Path, default=ROOT / ".run" / "env")
    args = parser.parse_args(argv)
    env = dict(line.split("=", 1) for line in args.env_file.read_text().splitlines() if "=" in line)
    endpoint, region = env["COGNITO_ENDPOINT"], env.get("COGNITO_REGION", REGION)
    state_dir = Path(os.environ.get("PAPILA_STATE_DIR", ROOT / ".localdata"))
    if args.command == "sign-up":
        password = args.password or generate_password()
        sub_id = sign_up(endpoint, env["COGNITO_APP_CLIENT_ID"], args.email, password, region)
        print(f"signed up {args.email} (sub {sub_id}), password {password}; unconfirmed: any 6-digit code "
              f"confirms it locally, or `python -m infra.cognito confirm {args.email}`")
        return 0
    if args.command == "confirm":
        confirm(endpoint, env["COGNITO_USER_POOL_ID"], args.email, region)
        print(f"confirmed {args.email}: in {', '.join(groups_of(endpoint, env['COGNITO_USER_POOL_ID'], args.email, region))}")
        return 0
    if args.clinician:
        username, password = clinician_user(), clinician_password(state_dir)
    else:
        username, password = admin_user(), admin_password(state_dir)
    tokens = sign_in(endpoint, env["COGNITO_APP_CLIENT_ID"], username, password, region)
    print(tokens["IdToken" if args.id else "AccessToken"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
