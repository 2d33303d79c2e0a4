"""The daily retention purge (template.yaml: PurgeFunction, an EventBridge schedule). The same code as
`papila purge` locally: `papila.usecases.retention.purge_from_env`."""

from __future__ import annotations

import logging
import os
from typing import Any

from papila.usecases.retention import purge_from_env

logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"))


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    # The event (a scheduled EventBridge event) carries nothing the purge needs.
    return purge_from_env()
