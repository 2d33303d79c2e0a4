"""What a use case answers: an HTTP status, a body and headers, framework-free (`api_app/app.py` turns it
into a Chalice response)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
