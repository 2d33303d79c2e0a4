"""The Cognito user pool's directory: which groups a user is in, and changing that (granting `reviewers`).

The `cognito-idp` client is created lazily, once per container; its endpoint is boto3's own business
(`AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER` locally: moto's server; unset in AWS), never this code's.
A user is named by their user name or an alias (the e-mail address in this pool), as Cognito's admin API
accepts either; `user` answers the canonical user name and `sub`, which is what the audit log keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import boto3
from botocore.exceptions import ClientError


class NoSuchUser(LookupError):
    """The pool has no user by this name."""


class NoSuchGroup(LookupError):
    """The pool has no group by this name (a deployment without it)."""


@dataclass(frozen=True)
class User:
    username: str  # the canonical user name (in an e-mail pool: a generated id)
    sub: str


@cache
def _client() -> Any:
    return boto3.client("cognito-idp")


class UserDirectory:
    def __init__(self, pool_id: str, client: Any = None) -> None:
        self.pool_id = pool_id
        self._client = client  # tooling with its own client; else the container's

    @property
    def client(self) -> Any:
        return self._client or _client()

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        try:
            return getattr(self.client, operation)(UserPoolId=self.pool_id, **params)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "UserNotFoundException":
                raise NoSuchUser(params.get("Username", "")) from None
            if code == "ResourceNotFoundException" and "GroupName" in params:
                raise NoSuchGroup(params["GroupName"]) from None
            raise

    def user(self, username: str) -> User:
        reply = self._call("admin_get_user", Username=username)
        attributes = {a["Name"]: a["Value"] for a in reply.get("UserAttributes", [])}
        return User(username=reply["Username"], sub=attributes.get("sub", reply["Username"]))

    def groups_of(self, username: str) -> list[str]:
        """The user's groups, sorted."""
        groups: list[str] = []
        params: dict[str, Any] = {"Username": username, "Limit": 60}
        while True:
            reply = self._call("admin_list_groups_for_user", **params)
            groups += [g["GroupName"] for g in reply.get("Groups", [])]
            if not reply.get("NextToken"):
                return sorted(groups)
            params["NextToken"] = reply["NextToken"]

    def add_to_group(self, username: str, group: str) -> None:
        """Idempotent: a member stays one."""
        self._call("admin_add_user_to_group", Username=username, GroupName=group)

    def remove_from_group(self, username: str, group: str) -> None:
        """Idempotent: a non-member stays one."""
        self._call("admin_remove_user_from_group", Username=username, GroupName=group)
