"""Cognito PostConfirmation trigger (template.yaml: SignupFunction): a user who confirmed their own sign-up
joins the `clinicians` group, the default role of a self-made account (papila.api.auth reads it from the
token's `cognito:groups`). A confirmed password reset fires the same trigger and changes nothing.

Cognito waits for the trigger and fails the confirmation when it raises, so a user is never confirmed
outside the group; adding a user already in the group succeeds, so a retried confirmation is harmless.
moto's Cognito runs no triggers: the local pool (infra/cognito.py) treats a user in no group as a
clinician, as the API does.
"""

from __future__ import annotations

import logging
import os
from functools import cache
from typing import Any

import boto3

log = logging.getLogger("papila.signup")
log.setLevel(os.environ.get("LOG_LEVEL", "INFO"))

SIGN_UP = "PostConfirmation_ConfirmSignUp"


@cache
def _cognito() -> Any:
    return boto3.client("cognito-idp")


def handler(event: dict[str, Any], context: object = None) -> dict[str, Any]:
    """Cognito's event back, unchanged (a trigger must answer it)."""
    if event.get("triggerSource") != SIGN_UP:
        return event
    group = os.environ.get("CLINICIANS_GROUP", "clinicians")
    _cognito().admin_add_user_to_group(UserPoolId=event["userPoolId"], Username=event["userName"], GroupName=group)
    # The user name only (a generated id in this pool), never the e-mail address.
    log.info("user %s joined %s", event["userName"], group)
    return event
