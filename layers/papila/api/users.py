"""The admin API's accounts use cases (contract: "Admin: users"): grant and revoke the `reviewers` role, who
may then use the review queue. Framework-free like `papila.api.admin`: the caller (`api_app/app.py`) has
already checked the admin's token and passes the `Principal`.

A user is named by their user name or e-mail address (Cognito's admin API takes either). The user is looked
up first (unknown: 404 `not_found`), then the change is audited, then made: an entry that cannot be written
fails the request before anything changed (fail closed), and the entry names the user by the canonical
user name and `sub`, never the e-mail address. Granting a reviewer twice, or revoking a non-reviewer,
changes nothing and answers the same.

One `UsersService` per container (`service()`), built lazily from the environment (COGNITO_USER_POOL_ID, the
audit log's MONGODB_*); `reset()` drops it.
"""

from __future__ import annotations

import logging
import os
import unicodedata
from urllib.parse import unquote

from papila.adapters.audit import Action, AuditLog
from papila.adapters.cognito import NoSuchUser, UserDirectory
from papila.api.auth import Principal
from papila.api.errors import ApiError
from papila.api.reply import Reply
from papila.api.responses import UserGroups
from papila.config import PerContainer, Settings

log = logging.getLogger("papila.api.users")

REVIEWER_GROUP = "reviewers"
MAX_USERNAME = 128  # Cognito's limit
# Cognito's user name pattern, [\p{L}\p{M}\p{S}\p{N}\p{P}]+: letters, marks, symbols, numbers, punctuation.
USERNAME_CATEGORIES = frozenset("LMSNP")


def valid_username(value: str) -> str:
    """The user name (or e-mail address) of a path segment, as Cognito accepts it; 400 `invalid_username`
    otherwise. `chalice local` hands a path parameter on percent-encoded as the client sent it (the SPA's
    `encodeURIComponent("a@b.org")` is `a%40b.org`), API Gateway decoded: both are decoded here (a name
    with a literal `%` followed by two hex digits would be decoded twice behind API Gateway)."""
    try:
        name = unquote(value, errors="strict")
    except UnicodeDecodeError:
        name = ""
    if not name or len(name) > MAX_USERNAME or any(
            unicodedata.category(ch)[0] not in USERNAME_CATEGORIES for ch in name):
        raise ApiError(400, "invalid_username", f"A user name is 1-{MAX_USERNAME} letters, digits, symbols or "
                                                "punctuation, without spaces (an e-mail address will do).")
    return name


def _unknown() -> ApiError:
    return ApiError(404, "not_found", "No account has this user name or e-mail address.")


class UsersService:
    def __init__(self, settings: Settings, pool_id: str, *, directory: UserDirectory | None = None,
                 audit: AuditLog | None = None) -> None:
        self.settings = settings
        self.pool_id = pool_id
        self._directory = directory
        self._audit = audit

    @property
    def directory(self) -> UserDirectory:
        if self._directory is None:
            if not self.pool_id:
                raise ApiError(503, "auth_not_configured", "Accounts are not configured on this server.")
            self._directory = UserDirectory(self.pool_id)
        return self._directory

    @property
    def audit(self) -> AuditLog:
        if self._audit is None:
            self._audit = AuditLog.connect(self.settings.mongodb_uri, self.settings.mongodb_db)
        return self._audit

    def _change(self, username: str, who: Principal, action: Action, *, add: bool) -> Reply:
        username = valid_username(username)
        directory = self.directory
        try:
            user = directory.user(username)
            self.audit.record(who.actor(), action, details={
                "group": REVIEWER_GROUP, "user": {"sub": user.sub, "username": user.username}})
            if add:
                directory.add_to_group(user.username, REVIEWER_GROUP)
            else:
                directory.remove_from_group(user.username, REVIEWER_GROUP)
            groups = directory.groups_of(user.username)
        except NoSuchUser:
            raise _unknown() from None
        log.info("%s %s: user %s by %s", action, REVIEWER_GROUP, user.sub, who.sub)
        return Reply(200, UserGroups.body(username=username, groups=groups))

    # --- PUT /api/admin/users/{username}/reviewer

    def grant_reviewer(self, username: str, who: Principal) -> Reply:
        return self._change(username, who, Action.GRANT, add=True)

    # --- DELETE /api/admin/users/{username}/reviewer

    def revoke_reviewer(self, username: str, who: Principal) -> Reply:
        return self._change(username, who, Action.REVOKE, add=False)


def _from_env() -> UsersService:
    return UsersService(Settings.from_env(), os.environ.get("COGNITO_USER_POOL_ID", "").strip())


# The container's one service, built on first use from the environment.
service: PerContainer[UsersService] = PerContainer(_from_env)
reset = service.reset


def grant_reviewer(username: str, who: Principal) -> Reply:
    return service().grant_reviewer(username, who)


def revoke_reviewer(username: str, who: Principal) -> Reply:
    return service().revoke_reviewer(username, who)
