"""A clinician's account (issue 15): who am I, my screenings, claiming an anonymous screening, erasing one,
and an export of all my data. Framework-free like `papila.api.screenings`: each returns a `Reply`; the
caller (`api_app/app.py`) has checked the token (`papila.api.auth`) and passes the `Principal`. The
ownership rules themselves are `papila.core.access`.

The record keeps only the account's `sub` as `owner`. Erasures, claims and exports are audited with the
actor `{"sub", "via"}` ("owner": the owner's token, "secret": the screening's secret), never the e-mail.

One `AccountService` per container (`service()`), built lazily from the environment; `reset()` drops it.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from pydantic import Field

from papila.adapters.audit import Action
from papila.adapters.aws import WorkQueue
from papila.api.admin import ListQuery, decode_cursor, encode_cursor, present_export
from papila.api.auth import Principal
from papila.api.errors import ApiError
from papila.api.reply import Reply
from papila.api.responses import Me, ScreeningPage, present
from papila.api.screenings import access_of, refused
from papila.api.stores import Stores, require_id
from papila.config import PerContainer, Settings
from papila.core import access
from papila.core.exports import ExportStatus, export_key
from papila.core.records import secret_matches
from papila.usecases.export import send_step
from papila.usecases.retention import erase_screening

log = logging.getLogger("papila.api.accounts")

DEFAULT_LIMIT = 20
EXPORT_URL_SECONDS = 3600
MY_EXPORTS = "/api/me/exports"


class MyListQuery(ListQuery):
    """GET /api/me/screenings query parameters: the admin list's, 20 a page by default."""

    limit: Annotated[int, Field(ge=1, le=200)] = DEFAULT_LIMIT



def owner_actor(who: Principal | None, via: str) -> dict[str, Any]:
    """The audit log's actor of a clinician's own action: the token's sub (None: the secret alone)."""
    return {"sub": who.sub if who else None, "via": via}


class AccountService(Stores):
    # --- GET /api/me

    def me(self, who: Principal) -> Reply:
        return Reply(200, Me.body(sub=who.sub, username=who.username, groups=list(who.groups), role=who.role))

    # --- GET /api/me/screenings

    def list_screenings(self, params: dict[str, str], who: Principal) -> Reply:
        """The caller's own screenings, newest first, with their feedback, cursor-paged as the admin list."""
        q = MyListQuery.model_validate(params)
        filters = q.model_dump(by_alias=True, exclude_none=True, exclude={"cursor", "limit"})
        found = self.store.page({**filters, "owner": who.sub}, decode_cursor(q.cursor) if q.cursor else None,
                                q.limit + 1)
        page, more = found[: q.limit], len(found) > q.limit
        next_cursor = encode_cursor(page[-1]["created_at"], page[-1]["_id"]) if more else None
        return Reply(200, ScreeningPage.body(items=[present(r) for r in page], next_cursor=next_cursor, limit=q.limit))

    # --- POST /api/screenings/{id}/claim

    def claim(self, screening_id: str, secret: str | None, who: Principal) -> Reply:
        """An anonymous screening into the caller's account, proved by its secret. Claiming one's own again
        changes nothing; one another account owns is 409 `already_owned` (to a holder of its secret)."""
        record = self._record(screening_id)
        outcome = access.claim(record.get("owner"), who.sub, secret_matches(record, secret) if secret else None)
        if isinstance(outcome, access.Refusal):
            raise refused(outcome)
        if outcome == access.Claim.ALREADY_OWNED:
            raise ApiError(409, "already_owned", "Another account owns this screening already.")
        if outcome == access.Claim.TAKE:
            claimed = self.store.set_owner(screening_id, who.sub)
            if claimed is None:  # claimed meanwhile: by this account (fine) or another
                return self.claim(screening_id, secret, who)
            self.audit.record(owner_actor(who, "secret"), Action.CLAIM, screening_id=screening_id)
            log.info("screening %s claimed by an account", screening_id)
            record = claimed
        return Reply(200, present(record))

    # --- DELETE /api/screenings/{id}

    def delete_screening(self, screening_id: str, secret: str | None, who: Principal | None) -> Reply:
        """Erase a screening, its record and every S3 object, as the admin erasure does: the owner's token
        for an owned one, the secret (or, for none, nothing) for an anonymous one."""
        record = self._record(screening_id)
        rights = access_of(record, secret, who)
        if rights.erase is not None:
            raise refused(rights.erase)
        via = "owner" if record.get("owner") else "secret"
        existed, deleted = erase_screening(self.store, self.bucket, screening_id)
        self.audit.record(owner_actor(who, via), Action.DELETE, screening_id=screening_id,
                          details={"objects": deleted, "record": existed})
        log.info("screening %s erased by its %s (%d objects)", screening_id, via, deleted)
        return Reply(204, "")

    # --- POST /api/me/exports

    def create_export(self, who: Principal) -> Reply:
        """Every screening of the caller as a zip (the admin export's use case with an owner filter): the
        confirmed ones under their label, the rest under `unconfirmed/`, labels.csv and metadata.jsonl."""
        if not self.settings.export_queue_url:
            raise ApiError(503, "export_unavailable", "Exports are not configured on this server (no queue).")
        filters = {"owner": who.sub, "include_unconfirmed": True}
        actor = owner_actor(who, "owner")
        record = self.exports.create(filters, actor)
        self.audit.record(actor, Action.EXPORT, export_id=record["_id"], details={"scope": "own"})
        try:
            send_step(WorkQueue(self.settings.export_queue_url), record["_id"])
        except Exception:
            self.exports.fail(record["_id"], "export_not_started", "The export could not be started; try again.")
            raise
        location = f"{MY_EXPORTS}/{record['_id']}"
        return Reply(202, present_export(record, base=MY_EXPORTS), {"Location": location})

    # --- GET /api/me/exports/{id}

    def get_export(self, export_id: str, who: Principal) -> Reply:
        """One of the caller's own exports (anyone else's, or an admin's, is not found)."""
        record = self.exports.get(require_id(export_id, "export"))
        if record is None or (record.get("filters") or {}).get("owner") != who.sub:
            raise ApiError(404, "not_found", "No export of yours has this id.")
        url = None
        if record["status"] == ExportStatus.DONE:
            self.audit.record(owner_actor(who, "owner"), Action.DOWNLOAD, export_id=export_id,
                              details={"object": "export", "expires_in": EXPORT_URL_SECONDS})
            url = self.bucket.presigned_get(export_key(export_id), EXPORT_URL_SECONDS,
                                            download_as=f"papila-my-data-{export_id}.zip")
        return Reply(200, present_export(record, url, base=MY_EXPORTS))


# The container's one service, built on first use from the environment.
service: PerContainer[AccountService] = PerContainer(lambda: AccountService(Settings.from_env()))
reset = service.reset
