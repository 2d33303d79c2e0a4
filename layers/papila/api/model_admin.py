"""The admin API's model registry use cases (contract: "Admin: models"): list the registered versions and
the one serving, promote one, roll back, and ask for / read a comparison of a candidate with the serving
model (the job itself runs in the compare function: papila.usecases.compare). Promotions and roll-backs
are audited; they take effect in the inference function within its pointer check interval."""

from __future__ import annotations

import logging
from typing import Any

from papila.adapters.audit import Action, AuditLog
from papila.adapters.aws import ImageBucket, WorkQueue
from papila.adapters.registry import BAKED, ModelRegistry
from papila.api.auth import Principal
from papila.api.errors import ApiError
from papila.api.reply import Reply
from papila.api.responses import Comparison, ModelList, Promotion
from papila.config import PerContainer, Settings
from papila.core import comparisons as compare
from papila.core.records import jsonable

log = logging.getLogger("papila.api.model_admin")

VERSION_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def _version(value: str) -> str:
    if not value or len(value) > 100 or not set(value) <= VERSION_CHARS:
        raise ApiError(400, "invalid_version", "A model version is 1-100 letters, digits, '.', '_' or '-'.")
    return value


def domain_figures(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The card's out-of-fold figures per domain (camera), as the panel shows them."""
    out = {}
    for domain, m in ((card.get("metrics") or {}).get("by_domain") or {}).items():
        if isinstance(m, dict):
            out[str(domain)] = {"n": m.get("n"), "auc": m.get("auc_served", m.get("auc")),
                                "sensitivity": m.get("sensitivity"), "specificity": m.get("specificity")}
    return out


def present_version(version: str, card: dict[str, Any], *, baked: bool, serving: bool,
                    comparison: dict[str, Any] | None) -> dict[str, Any]:
    name = BAKED if baked else version
    links = {"promote": f"/api/admin/models/{name}/promote"}
    if not baked:
        links["comparison"] = f"/api/admin/models/{name}/comparison"
    state = None
    if comparison:
        shown = compare.shown(comparison)
        state = {"status": shown["status"], "current": shown.get("current"), "requested_at": shown.get("requested_at")}
    return {"model_version": card.get("model_version") or version, "baked": baked, "serving": serving,
            "trained_at": card.get("trained_at"), "threshold": card.get("threshold"),
            "by_domain": domain_figures(card), "comparison": state, "links": links}


class ModelAdminService:
    def __init__(self, settings: Settings, *, bucket: ImageBucket | None = None,
                 audit: AuditLog | None = None) -> None:
        self.settings = settings
        self.bucket = bucket or ImageBucket(settings.uploads_bucket)
        self._audit = audit

    @property
    def audit(self) -> AuditLog:
        if self._audit is None:
            self._audit = AuditLog.connect(self.settings.mongodb_uri, self.settings.mongodb_db)
        return self._audit

    @property
    def registry(self) -> ModelRegistry:
        if not self.settings.model_parameter:
            raise ApiError(503, "registry_unavailable", "No model registry is configured on this server.")
        return ModelRegistry(self.bucket, self.settings.model_parameter)

    def _baked_card(self) -> dict[str, Any]:
        from papila.model.serving.card import load_card

        try:
            return load_card(self.settings.model_path)
        except FileNotFoundError:
            return {}

    def _card(self, version: str) -> dict[str, Any]:
        card = self.registry.card(_version(version))
        if card is None:
            raise ApiError(404, "not_found", "No registered model has this version.")
        return card

    # --- GET /api/admin/models

    def list_models(self, _who: Principal) -> Reply:
        registry = self.registry
        serving = registry.current()
        cards = [(v, registry.card(v)) for v in registry.versions()]
        listed = sorted(((v, c) for v, c in cards if c), key=lambda vc: (str(vc[1].get("trained_at") or ""), vc[0]),
                        reverse=True)
        versions = [present_version(v, c, baked=False, serving=v == serving, comparison=registry.comparison(v))
                    for v, c in listed]
        versions.append(present_version(BAKED, self._baked_card(), baked=True, serving=serving == BAKED,
                                        comparison=None))
        return Reply(200, ModelList.body(serving=serving, previous=registry.previous(), versions=jsonable(versions)))

    # --- POST /api/admin/models/{version}/promote, POST /api/admin/models/rollback

    def promote(self, version: str, who: Principal) -> Reply:
        if version != BAKED:
            self._card(version)
        previous = self.registry.promote(version)
        self.audit.record(who.actor(), Action.PROMOTE, details={"version": version, "previous": previous})
        log.info("model %s promoted (was %s)", version, previous)
        return Reply(200, Promotion.body(serving=version, previous=previous))

    def rollback(self, who: Principal) -> Reply:
        registry = self.registry
        restore = registry.previous()
        if restore is None or restore == registry.current():
            raise ApiError(409, "nothing_to_roll_back", "The serving model has not been changed: nothing to roll back to.")
        previous = registry.promote(restore)
        self.audit.record(who.actor(), Action.ROLLBACK, details={"version": restore, "previous": previous})
        log.info("model rolled back to %s (was %s)", restore, previous)
        return Reply(200, Promotion.body(serving=restore, previous=previous))

    # --- POST / GET /api/admin/models/{version}/comparison

    def request_comparison(self, version: str, who: Principal) -> Reply:
        self._card(version)
        if not self.settings.compare_queue_url:
            raise ApiError(503, "comparison_unavailable", "Comparisons are not configured on this server (no queue).")
        registry = self.registry
        current = registry.current()
        if current == version:
            raise ApiError(409, "same_model", "This version is the serving model: compare another with it.")
        state = compare.requested(version, current)
        registry.save_comparison(version, state)
        self.audit.record(who.actor(), Action.COMPARE, details={"version": version, "current": current})
        try:
            WorkQueue(self.settings.compare_queue_url).send(compare.message(version))
        except Exception:
            registry.save_comparison(version, {**state, "status": "failed", "error": {
                "code": "comparison_not_started", "message": "The comparison could not be started; try again."}})
            raise
        return Reply(202, Comparison.body(**state), {"Location": f"/api/admin/models/{version}/comparison"})

    def get_comparison(self, version: str, _who: Principal) -> Reply:
        state = self.registry.comparison(_version(version))
        if state is None:
            raise ApiError(404, "not_found", "No comparison was asked for this version.")
        return Reply(200, Comparison.body(**jsonable(compare.shown(state))))


# The container's one service, built on first use from the environment.
service: PerContainer[ModelAdminService] = PerContainer(lambda: ModelAdminService(Settings.from_env()))
reset = service.reset
