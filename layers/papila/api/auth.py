"""Admin sign-in: verification of Amazon Cognito JWTs, done in the app itself (not by API Gateway), so
`chalice local` and AWS apply the very same check.

A request is an admin's when its `Authorization: Bearer <token>` carries a Cognito access or ID token
that is
- signed RS256 by a key of the pool's JWKS (fetched once and cached by PyJWT's `PyJWKClient`),
- issued by `https://cognito-idp.<region>.amazonaws.com/<pool-id>` and not expired,
- for this app client (`client_id` of an access token, `aud` of an ID token),
- of a user in the `admins` group (`cognito:groups`).
Anything else is 401 `unauthorized` (no, malformed, forged or expired token) or 403 `forbidden` (a
valid token of a user outside the group), in the contract's error shape.

The same check, less the group, signs in any user of the pool (`require_user`; `optional_user` where a
token is optional: none is anonymous, a bad one is still 401, never silently anonymous). Roles: admin
(group `admins`), reviewer (group `reviewers`: the review queue too, `require_group`), clinician
(anyone else of the pool: in AWS a PostConfirmation trigger puts new users in `clinicians`).

Settings: COGNITO_USER_POOL_ID, COGNITO_APP_CLIENT_ID, COGNITO_REGION (else AWS_REGION), and
COGNITO_JWKS_URL, which defaults to the issuer's `/.well-known/jwks.json` (AWS). Locally the pool lives
on moto's server, whose tokens still name the AWS issuer, so only the JWKS location differs there.
Tokens are never logged.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import cache
from typing import Any

import jwt

from papila.api.errors import ApiError

log = logging.getLogger("papila.api.auth")

ADMIN_GROUP = "admins"
REVIEWER_GROUP = "reviewers"
CLINICIAN_GROUP = "clinicians"
ALGORITHMS = ["RS256"]  # Cognito signs RS256 only; never let the token choose (alg=none, HS256 with the public key)
LEEWAY_S = 30  # clock skew between Cognito and us: a token used the second it was issued must pass `iat`
MAX_TOKEN_CHARS = 8192
JWKS_CACHE_S = 3600


@dataclass(frozen=True)
class CognitoConfig:
    region: str
    user_pool_id: str
    app_client_id: str
    jwks_url: str

    @property
    def issuer(self) -> str:
        return issuer_of(self.region, self.user_pool_id)

    @classmethod
    def from_env(cls) -> CognitoConfig | None:
        """The pool named by the environment, or None when sign-in is not configured."""
        env = os.environ
        pool = env.get("COGNITO_USER_POOL_ID", "").strip()
        client = env.get("COGNITO_APP_CLIENT_ID", "").strip()
        region = (env.get("COGNITO_REGION") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "").strip()
        if not region and "_" in pool:
            region = pool.split("_", 1)[0]  # a pool id starts with its region: us-east-1_AbC...
        if not (pool and client and region):
            return None
        jwks = env.get("COGNITO_JWKS_URL", "").strip() or f"{issuer_of(region, pool)}/.well-known/jwks.json"
        return cls(region=region, user_pool_id=pool, app_client_id=client, jwks_url=jwks)


def issuer_of(region: str, user_pool_id: str) -> str:
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


@dataclass(frozen=True)
class Principal:
    """Who is calling: what the audit log records (the token's subject and user name, never email)."""

    sub: str
    username: str
    groups: tuple[str, ...]
    token_use: str

    def actor(self) -> dict[str, str]:
        return {"sub": self.sub, "username": self.username}

    @property
    def role(self) -> str:
        """admin | reviewer | clinician (a user in no group is a clinician)."""
        if ADMIN_GROUP in self.groups:
            return "admin"
        if REVIEWER_GROUP in self.groups:
            return "reviewer"
        return "clinician"


def _unauthorized(message: str, reason: str) -> ApiError:
    log.info("request refused: %s", reason)  # the reason only: never the token
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="papila-admin"'})


SIGN_IN = "Sign in as an administrator: send your token as `Authorization: Bearer <token>`."
SIGN_IN_USER = "Sign in: send your token as `Authorization: Bearer <token>`."
INVALID = "The sign-in token is not valid for this service; sign in again."


class TokenVerifier:
    def __init__(self, config: CognitoConfig, jwks_client: jwt.PyJWKClient | None = None) -> None:
        self.config = config
        self.jwks = jwks_client or _jwks_client(config.jwks_url)

    def principal(self, authorization: str | None, groups: frozenset[str] = frozenset({ADMIN_GROUP})) -> Principal:
        """The caller of a request with this Authorization header, in one of `groups`; ApiError 401/403/503
        otherwise."""
        return _in_groups(self.user(authorization, SIGN_IN), groups)

    def user(self, authorization: str | None, sign_in: str = SIGN_IN_USER) -> Principal:
        """The caller of a request with this Authorization header, any user of the pool; ApiError 401/503
        otherwise."""
        if not authorization or not authorization.strip():
            raise _unauthorized(sign_in, "no token")
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or " " in token or len(token) > MAX_TOKEN_CHARS:
            raise _unauthorized("The Authorization header must be `Bearer <token>`; sign in again.", "malformed header")
        return self.authenticate(token)

    def verify(self, token: str) -> Principal:
        """An admin's token: `authenticate`, and the `admins` group."""
        return _in_groups(self.authenticate(token), frozenset({ADMIN_GROUP}))

    def authenticate(self, token: str) -> Principal:
        """Whose token this is (any user of the pool): signature, issuer, expiry, app client."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise _unauthorized(INVALID, "malformed token") from None
        if header.get("alg") not in ALGORITHMS:
            raise _unauthorized(INVALID, "unexpected algorithm")
        try:
            key = self.jwks.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError:
            log.error("the pool's JWKS could not be fetched")
            raise ApiError(503, "auth_unavailable", "Sign-in cannot be checked right now; try again in a minute.",
                           headers={"Retry-After": "5"}) from None
        except (jwt.PyJWKClientError, jwt.DecodeError):
            raise _unauthorized(INVALID, "unknown signing key") from None
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=ALGORITHMS, issuer=self.config.issuer, leeway=LEEWAY_S,
                # `aud` exists on ID tokens only: checked below, per token kind.
                options={"require": ["exp", "iat", "iss", "sub", "token_use"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise _unauthorized("Your sign-in has expired; sign in again.", "expired") from None
        except jwt.InvalidTokenError as exc:
            raise _unauthorized(INVALID, type(exc).__name__) from None
        use = claims.get("token_use")
        client = claims.get("client_id") if use == "access" else claims.get("aud") if use == "id" else None
        if client != self.config.app_client_id:
            raise _unauthorized(INVALID, f"wrong client or token_use={use!r}")
        groups = claims.get("cognito:groups") or []
        if not isinstance(groups, list):
            groups = []
        return Principal(
            sub=str(claims["sub"]),
            username=str(claims.get("username") or claims.get("cognito:username") or claims["sub"]),
            groups=tuple(str(g) for g in groups),
            token_use=str(use),
        )


def _in_groups(principal: Principal, groups: frozenset[str]) -> Principal:
    """The principal if it is in one of `groups`; 403 `forbidden` otherwise."""
    if not groups.intersection(principal.groups):
        named = " or ".join(sorted(groups))
        log.info("request refused: not in %s (sub=%s)", named, principal.sub)
        raise ApiError(403, "forbidden", f"Your account is not in the {named} group; ask an administrator for access.")
    return principal


@cache
def _jwks_client(url: str) -> jwt.PyJWKClient:
    # One per container: keys are cached an hour; an unknown `kid` refetches (rate-limited by PyJWT).
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=JWKS_CACHE_S, timeout=5)


_verifier: TokenVerifier | None = None


def verifier() -> TokenVerifier:
    """The container's verifier, built from the environment on first use; 503 while not configured."""
    global _verifier
    if _verifier is None:
        config = CognitoConfig.from_env()
        if config is None:
            log.error("admin sign-in is not configured (COGNITO_USER_POOL_ID / COGNITO_APP_CLIENT_ID)")
            raise ApiError(503, "auth_not_configured", "Admin sign-in is not configured on this server.")
        _verifier = TokenVerifier(config)
    return _verifier


def require_admin(authorization: str | None) -> Principal:
    return verifier().principal(authorization)


def require_group(authorization: str | None, groups: set[str] | frozenset[str]) -> Principal:
    """A user in one of `groups` (e.g. the review queue: admins or reviewers); 401/403 otherwise."""
    return verifier().principal(authorization, frozenset(groups))


def require_user(authorization: str | None) -> Principal:
    """Any user of the pool (the clinicians' own routes); 401 without a valid token."""
    return verifier().user(authorization)


def optional_user(authorization: str | None) -> Principal | None:
    """Routes where signing in is optional: None without an Authorization header; a header with a bad
    token is 401 all the same (a forged or expired token never passes for anonymous)."""
    if authorization is None or not authorization.strip():
        return None
    return require_user(authorization)


def reset() -> None:
    """Forget the verifier and cached JWKS (tests, or a changed environment)."""
    global _verifier
    _verifier = None
    _jwks_client.cache_clear()
