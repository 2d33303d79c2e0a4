"""The bounded sweep (template.yaml: SweepFunction, an EventBridge schedule): screenings stuck past a
bound in `awaiting_upload`, `queued` or `processing` end `failed` with the reason. The same code as the
local cloud's periodic sweep: `papila.usecases.sweeper.sweep_from_env`."""

from __future__ import annotations

import logging
import os
from typing import Any

from papila.usecases.sweeper import sweep_from_env

logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"))


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    # The event (a scheduled EventBridge event) carries nothing the sweep needs.
    return {"moved": sweep_from_env()}
