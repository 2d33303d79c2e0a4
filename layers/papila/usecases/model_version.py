"""Which model grades: the inference function follows the registry's "current" pointer. At its cold start
and then at most every `check_seconds` it reads the pointer; a new version is fetched and loaded and the
worker grades with it from the next photo on (each result records the version that graded it). A pointer
that cannot be read, or a version that will not load, leaves the model in hand serving: it is logged."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from papila.config import BAKED_MODEL as BAKED

log = logging.getLogger("papila.usecases.model_version")

DEFAULT_CHECK_SECONDS = 300


class Registry(Protocol):
    def current(self) -> str: ...

    def fetch(self, version: str, into: Path) -> Path: ...


class Graded(Protocol):
    """What holds the model that grades (the inference worker)."""

    model: Any
    card: dict[str, Any]


class ModelSwitch:
    def __init__(self, registry: Registry, load: Callable[[Path], tuple[Any, dict[str, Any]]], baked: Path,
                 cache_dir: Path, *, check_seconds: float = DEFAULT_CHECK_SECONDS,
                 clock: Callable[[], float] = time.monotonic, serving: str | None = BAKED) -> None:
        self.registry, self.load, self.baked, self.cache_dir = registry, load, baked, cache_dir
        self.check_seconds, self.clock = check_seconds, clock
        self.serving = serving  # the pointer value whose model is in hand (the baked one at a cold start)
        self._checked_at: float | None = None

    def refresh(self, target: Graded) -> str | None:
        """Follow the pointer if it is time to look; the pointer value now serving."""
        now = self.clock()
        if self._checked_at is not None and now - self._checked_at < self.check_seconds:
            return self.serving
        self._checked_at = now
        try:
            wanted = self.registry.current() or BAKED
        except Exception as exc:  # noqa: BLE001 - the model in hand keeps serving
            log.warning("model pointer unreadable (%s); %s keeps serving", type(exc).__name__, self.serving)
            return self.serving
        if wanted == self.serving:
            return self.serving
        try:
            path = self.baked if wanted == BAKED else self.registry.fetch(wanted, self.cache_dir)
            target.model, target.card = self.load(path)
        except Exception as exc:  # noqa: BLE001
            log.error("model %s could not be loaded (%s); %s keeps serving", wanted, type(exc).__name__, self.serving)
            return self.serving
        log.info("model %s serves (was %s)", wanted, self.serving)
        self.serving = wanted
        return self.serving
