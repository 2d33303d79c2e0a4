"""The admin API's use cases (contract: "Admin"): browse, read, erase, count, export. Framework-free like
`papila.api.screenings`: each returns a `Reply`; the caller (`api_app/app.py`) has already checked the Cognito
token (`papila.api.auth`) and passes the `Principal`, whose subject and user name go to the audit log.

One `AdminService` per container (`service()`), built lazily from the environment; `reset()` drops it.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from papila.adapters.audit import Action
from papila.adapters.aws import WorkQueue
from papila.api.auth import Principal
from papila.api.errors import ApiError
from papila.api.reply import Reply
from papila.api.requests import parse_object
from papila.api.responses import (
    AdminScreening,
    AdminScreeningPage,
    AdminStats,
    Export,
    Monitoring,
    ReviewItem,
    ReviewQueue,
    screening_fields,
)
from papila.api.stores import Stores, require_id
from papila.config import PerContainer, Settings
from papila.core import keys, monitoring
from papila.core.exports import ExportStatus, export_key
from papila.core.records import Status, is_valid_id, iso, jsonable
from papila.core.review import review_priority
from papila.usecases.export import send_step
from papila.usecases.retention import erase_screening

log = logging.getLogger("papila.api.admin")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
STATUSES = tuple(str(s) for s in Status)
MODEL_LABELS = ("glaucoma", "normal")
TRUE_LABELS = ("glaucoma", "normal", "suspect", "unknown")
ORIGINAL_URL_SECONDS = 300
EXPORT_URL_SECONDS = 3600


# ---------------------------------------------------------------- query and body models


def parse_instant(value: str, *, end_of_day: bool = False) -> datetime:
    """An ISO-8601 date or date-time; naive means UTC. A bare date as a `to` bound means its last ms."""
    text = value.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        moment = time(23, 59, 59, 999000) if end_of_day else time(0, 0)
        return datetime.combine(day, moment, tzinfo=UTC)
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


class _Range(BaseModel):
    from_: Annotated[datetime | None, Field(alias="from", description="created at or after (ISO-8601 date or date-time)")] = None
    to: Annotated[datetime | None, Field(description="created at or before; a bare date includes that whole day")] = None

    @field_validator("from_", mode="before")
    @classmethod
    def _from(cls, value: Any) -> Any:
        return _instant(value, end_of_day=False)

    @field_validator("to", mode="before")
    @classmethod
    def _to(cls, value: Any) -> Any:
        return _instant(value, end_of_day=True)

    @model_validator(mode="after")
    def _ordered(self) -> _Range:
        if self.from_ and self.to and self.from_ > self.to:
            raise ValueError("`from` must not be after `to`")
        return self


def _instant(value: Any, *, end_of_day: bool) -> Any:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("must be an ISO-8601 date or date-time string")  # noqa: TRY004 - pydantic reports ValueError
    try:
        return parse_instant(value, end_of_day=end_of_day)
    except ValueError:
        raise ValueError("must be an ISO-8601 date (2026-11-25) or date-time (2026-11-25T18:00:00Z)") from None


class ListQuery(_Range):
    """GET /api/admin/screenings query parameters (strings, so lax parsing; unknown names rejected)."""

    model_config = ConfigDict(extra="forbid")
    status: Literal["awaiting_upload", "queued", "processing", "done", "rejected", "failed"] | None = None
    label: Annotated[Literal["glaucoma", "normal"] | None, Field(description="the model's result label")] = None
    true_label: Annotated[Literal["glaucoma", "normal", "suspect", "unknown"] | None,
                          Field(description="the feedback's label")] = None
    feedback: Literal["given", "missing"] | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT
    cursor: Annotated[str | None, Field(max_length=200)] = None

    @field_validator("status", "label", "true_label", "feedback", "cursor", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


class ExportRequest(_Range):
    """POST /api/admin/exports body (optional): which confirmed-label screenings to export."""

    model_config = ConfigDict(extra="forbid")
    label: Annotated[Literal["glaucoma", "normal"] | None, Field(description="only this model result label")] = None
    true_label: Annotated[Literal["glaucoma", "normal"] | None, Field(description="only this confirmed label")] = None
    model_version: Annotated[str | None, Field(min_length=1, max_length=100)] = None
    reviewed: Annotated[bool | None, Field(description="only labels an expert confirmed in the review queue")] = None

    def filters(self) -> dict[str, Any]:
        out = {"from": self.from_, "to": self.to, "label": self.label, "true_label": self.true_label,
               "model_version": self.model_version, "reviewed": self.reviewed or None}
        return {k: v for k, v in out.items() if v is not None}


class ReviewRequest(BaseModel):
    """PUT /api/admin/screenings/{id}/review body: the expert's label."""

    model_config = ConfigDict(extra="forbid")
    true_label: Literal["glaucoma", "normal", "suspect", "unknown"]


class ReviewQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = 20


class MonitoringQuery(_Range):
    """GET /api/admin/monitoring query parameters."""

    model_config = ConfigDict(extra="forbid")
    period: Annotated[Literal["week", "month"], Field(description="week: ISO weeks (Monday); month")] = "month"

    @field_validator("period", mode="before")
    @classmethod
    def _blank_is_default(cls, value: Any) -> Any:
        return "month" if value == "" else value


ADMIN_MODELS: tuple[type[BaseModel], ...] = (ExportRequest, ReviewRequest)
REVIEW_CANDIDATES = 5000  # the newest unconfirmed screenings ranked per request
# The newest confirmed screenings, and the newest rejected ones, the monitoring reads per request (of the
# range asked for): beyond them, the oldest periods of a long range are left out, never sampled.
MONITORED_CAP = 50_000


# ---------------------------------------------------------------- cursor


def encode_cursor(created_at: datetime, screening_id: str) -> str:
    raw = json.dumps([iso(created_at), screening_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (created_at, id) a page ended at; 400 `invalid_cursor` for anything not made by us."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, screening_id = json.loads(raw)
        if not isinstance(created, str) or not isinstance(screening_id, str) or not is_valid_id(screening_id):
            raise ValueError
        return parse_instant(created), screening_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):  # RecursionError: deep JSON
        raise ApiError(400, "invalid_cursor", "The cursor is not one this API gave out; start from the first page.") from None


# ---------------------------------------------------------------- presenters


def present_admin(record: dict[str, Any], *, original_url: str | None = None, detail: bool = False,
                  images: dict[str, str] | None = None) -> dict[str, Any]:
    """The public screening plus what an admin sees: the consent record and whether feedback exists; the
    detail view adds the stored image's facts, the attempts, the reruns' history, the gate's scores and
    the original photo's URL (None: no original stored)."""
    fields = screening_fields(record)
    fields["consent"] = jsonable(record.get("consent") or {"accepted": False})
    # `images`: presigned URLs of the crop and heat map, which the public routes hide when an account owns it
    fields["links"] = {**fields["links"], **(images or {}), "admin": f"/api/admin/screenings/{record['_id']}"}
    if detail:
        fields.update(
            content_type=record.get("content_type"),
            size=record.get("size"),
            image=jsonable(record.get("image")),
            attempt=record.get("attempt", 0),
            history=jsonable(record.get("history") or []),
            original=None if original_url is None else {"url": original_url, "expires_in": ORIGINAL_URL_SECONDS},
            quality_scores=jsonable((record.get("error") or {}).get("quality_scores")),  # why the gate refused
        )
        if original_url is not None:
            fields["links"]["original"] = original_url
    if isinstance(record.get("review"), dict):
        review = record["review"]
        fields["review"] = {"by": review.get("by"), "at": iso(review.get("at")), "true_label": review.get("true_label"),
                            "replaced": review.get("replaced")}
    return AdminScreening.body(**fields, has_feedback=bool(record.get("feedback")))


def agreement(record: dict[str, Any]) -> str:
    """agree | disagree | unknown: confirmed label against the model's, else `diagnosis_correct`."""
    feedback = record.get("feedback") or {}
    model_label = (record.get("result") or {}).get("label")
    true_label = feedback.get("true_label")
    if true_label in MODEL_LABELS and model_label in MODEL_LABELS:
        return "agree" if true_label == model_label else "disagree"
    if feedback.get("diagnosis_correct") is True:
        return "agree"
    if feedback.get("diagnosis_correct") is False:
        return "disagree"
    return "unknown"


def present_review(record: dict[str, Any], priority: float, crop_url: str) -> dict[str, Any]:
    result, sid = record["result"], record["_id"]
    fields: dict[str, Any] = {
        "id": sid, "created_at": iso(record.get("created_at")), "priority": priority,
        "probability_glaucoma": result["probability_glaucoma"], "threshold": result["threshold"],
        "label": result.get("label"),
        "links": {"admin": f"/api/admin/screenings/{sid}", "crop": crop_url,
                  "review": f"/api/admin/screenings/{sid}/review"},
    }
    if isinstance(result.get("probability_network"), int | float):
        fields["probability_network"] = result["probability_network"]
    if isinstance(result.get("cdr"), dict):
        fields["cdr"] = result["cdr"].get("vertical")
    true_label = (record.get("feedback") or {}).get("true_label")
    if true_label in TRUE_LABELS:
        fields["true_label"] = true_label
    return ReviewItem.body(**fields)


def present_export(record: dict[str, Any], download_url: str | None = None, *,
                   base: str = "/api/admin/exports") -> dict[str, Any]:
    """An export; `download_url` once it is done (a presigned GET of its zip). `base`: where it is read
    (a clinician's own export: /api/me/exports)."""
    fields: dict[str, Any] = {
        "id": record["_id"],
        "status": record["status"],
        "created_at": iso(record.get("created_at")),
        "updated_at": iso(record.get("updated_at")),
        "filters": jsonable(record.get("filters") or {}),
        "counts": jsonable(record.get("counts") or {}),
        "links": {"self": f"{base}/{record['_id']}"},
    }
    if record.get("finished_at"):
        fields["finished_at"] = iso(record["finished_at"])
    if record.get("size") is not None:
        fields["size"] = record["size"]
    if isinstance(record.get("error"), dict):
        fields["error"] = {"code": str(record["error"].get("code")), "message": str(record["error"].get("message"))}
    if download_url is not None:
        fields.update(download_url=download_url, download_expires_in=EXPORT_URL_SECONDS)
        fields["links"]["download"] = download_url
    return Export.body(**fields)


# ---------------------------------------------------------------- the use cases



class AdminService(Stores):
    # --- GET /api/admin/screenings

    def list_screenings(self, params: dict[str, str], who: Principal) -> Reply:
        q = ListQuery.model_validate(params)
        filters = q.model_dump(by_alias=True, exclude_none=True, exclude={"cursor", "limit"})
        found = self.store.page(filters, decode_cursor(q.cursor) if q.cursor else None, q.limit + 1)
        page, more = found[: q.limit], len(found) > q.limit
        next_cursor = encode_cursor(page[-1]["created_at"], page[-1]["_id"]) if more else None
        self.audit.record(who.actor(), Action.READ, details={
            "view": "list", "filters": jsonable(filters), "ids": [r["_id"] for r in page]})
        return Reply(200, AdminScreeningPage.body(items=[present_admin(r) for r in page], next_cursor=next_cursor,
                                                  limit=q.limit))

    # --- GET /api/admin/screenings/{id}

    def get_screening(self, screening_id: str, who: Principal) -> Reply:
        record = self._record(screening_id)
        self.audit.record(who.actor(), Action.READ, screening_id=screening_id, details={"view": "detail"})
        key = record.get("original_key")
        url = None
        if key and self.bucket.exists(key):
            # Audited before the URL leaves: a download is what the URL allows.
            self.audit.record(who.actor(), Action.DOWNLOAD, screening_id=screening_id,
                              details={"object": "original", "expires_in": ORIGINAL_URL_SECONDS})
            url = self.bucket.presigned_get(key, ORIGINAL_URL_SECONDS)
        return Reply(200, present_admin(record, original_url=url, detail=True, images=self._images(record)))

    def _images(self, record: dict[str, Any]) -> dict[str, str] | None:
        """Short-lived URLs of a finished screening's crop and heat map (owned ones' public routes answer
        their owner only; the detail read that hands them out is audited)."""
        if record.get("status") != Status.DONE:
            return None
        sid = record["_id"]
        return {"crop": self.bucket.presigned_get(keys.crop_key(sid), ORIGINAL_URL_SECONDS),
                "heatmap": self.bucket.presigned_get(keys.heatmap_key(sid), ORIGINAL_URL_SECONDS)}

    # --- DELETE /api/admin/screenings/{id}

    def delete_screening(self, screening_id: str, who: Principal) -> Reply:
        self._record(screening_id)
        existed, deleted = erase_screening(self.store, self.bucket, screening_id)
        self.audit.record(who.actor(), Action.DELETE, screening_id=screening_id,
                          details={"objects": deleted, "record": existed})
        log.info("screening %s erased by an admin (%d objects)", screening_id, deleted)
        return Reply(204, "")

    # --- GET /api/admin/stats

    def stats(self, _who: Principal) -> Reply:
        # Counts only: no screening is read, so nothing is audited.
        groups = self.store.tallies()
        by_status = dict.fromkeys(STATUSES, 0)
        by_label = dict.fromkeys(MODEL_LABELS, 0)
        by_true_label = dict.fromkeys(TRUE_LABELS, 0)
        by_model: dict[str, int] = {}
        feedback = {"given": 0, "missing": 0, "agree": 0, "disagree": 0, "unknown": 0}
        total = 0
        for key, n in groups:
            total += n
            status = key.get("s")
            by_status[status] = by_status.get(status, 0) + n
            if key.get("t") in by_true_label:
                by_true_label[key["t"]] += n
            if status != Status.DONE:
                continue
            if key.get("l") in by_label:
                by_label[key["l"]] += n
            if key.get("v"):
                by_model[key["v"]] = by_model.get(key["v"], 0) + n
            if not key.get("f"):
                feedback["missing"] += n
                continue
            feedback["given"] += n
            record = {"result": {"label": key.get("l")},
                      "feedback": {"true_label": key.get("t"), "diagnosis_correct": key.get("d")}}
            feedback[agreement(record)] += n
        judged = feedback["agree"] + feedback["disagree"]
        return Reply(200, AdminStats.body(
            total=total, by_status=by_status, by_label=by_label, by_true_label=by_true_label,
            by_model_version=by_model, feedback=feedback,
            agreement_rate=round(feedback["agree"] / judged, 4) if judged else None,
        ))

    # --- GET /api/admin/monitoring

    def monitoring(self, params: dict[str, str], _who: Principal) -> Reply:
        """The serving model's figures on confirmed cases per period, version and camera, against the
        versions' cards, with the refusals and drift warnings (papila.core.monitoring). Counts and figures
        only: no screening is shown, so nothing is audited (as the stats)."""
        q = MonitoringQuery.model_validate(params)
        read = self.store.monitored(q.from_, q.to, MONITORED_CAP + 1)  # one more of each kind: were there more?
        kinds = [[r for r in read if r.get("status") == status] for status in (Status.DONE, Status.REJECTED)]
        records = [r for kind in kinds for r in kind[:MONITORED_CAP]]  # each kind newest first
        body = monitoring.monitoring(records, self._card_lookup(), period=q.period)
        return Reply(200, Monitoring.body(**body, truncated=any(len(kind) > MONITORED_CAP for kind in kinds)))

    def _card_lookup(self) -> monitoring.CardOf:
        """A version's model card (the core asks once per version and request): the baked model's own card
        for its version, else the registry's; None: no card, or the registry unreadable (logged)."""
        from papila.adapters.registry import ModelRegistry
        from papila.model.serving.card import load_card

        try:
            baked: dict[str, Any] | None = load_card(self.settings.model_path)
        except (FileNotFoundError, ValueError):  # no baked model here, or its card unreadable
            baked = None
        registry = ModelRegistry(self.bucket, self.settings.model_parameter)

        def card_of(version: str) -> dict[str, Any] | None:
            if baked is not None and baked.get("model_version") == version:
                return baked
            try:
                return registry.card(version)
            except Exception as exc:  # noqa: BLE001 - the figures stand without the card's
                log.warning("model card of %s unreadable: %s", version, type(exc).__name__)
                return None

        return card_of

    # --- GET /api/admin/review

    def review_queue(self, params: dict[str, str], who: Principal) -> Reply:
        """The unconfirmed done screenings whose labels would teach most, first (core.review)."""
        q = ReviewQuery.model_validate(params)
        candidates = self.store.unconfirmed(REVIEW_CANDIDATES)
        scored = [(review_priority(r.get("result") or {}), r) for r in candidates]
        ranked = sorted(((p, r) for p, r in scored if p is not None), key=lambda pr: (-pr[0], pr[1]["_id"]))
        items = [present_review(record, priority, self.bucket.presigned_get(keys.crop_key(record["_id"]),
                                                                          ORIGINAL_URL_SECONDS))
                 for priority, record in ranked[: q.limit]]
        self.audit.record(who.actor(), Action.READ, details={"view": "review", "ids": [i["id"] for i in items]})
        return Reply(200, ReviewQueue.body(items=items, limit=q.limit, candidates=len(candidates)))

    # --- PUT /api/admin/screenings/{id}/review

    def review_screening(self, screening_id: str, raw: bytes | None, who: Principal) -> Reply:
        req = ReviewRequest.model_validate(parse_object(raw))
        self._record(screening_id)
        record = self.store.set_review(screening_id, req.true_label, who.actor())
        if record is None:
            raise ApiError(409, "not_reviewable", "Only a finished screening can be reviewed (or it changed "
                                                  "meanwhile: try again).")
        self.audit.record(who.actor(), Action.REVIEW, screening_id=screening_id,
                          details={"true_label": req.true_label, "replaced": record["review"].get("replaced")})
        return Reply(200, present_admin(record))

    # --- POST /api/admin/exports

    def create_export(self, raw: bytes | None, who: Principal) -> Reply:
        req = ExportRequest.model_validate(parse_object(raw, allow_empty=True))
        if not self.settings.export_queue_url:
            raise ApiError(503, "export_unavailable", "Exports are not configured on this server (no queue).")
        record = self.exports.create(req.filters(), who.actor())
        self.audit.record(who.actor(), Action.EXPORT, export_id=record["_id"],
                          details={"filters": jsonable(req.filters())})
        try:
            # The work runs in the export function (its own queue; papila.usecases.export): the API only hands it off.
            send_step(WorkQueue(self.settings.export_queue_url), record["_id"])
        except Exception:
            self.exports.fail(record["_id"], "export_not_started", "The export could not be started; try again.")
            raise
        return Reply(202, present_export(record), {"Location": f"/api/admin/exports/{record['_id']}"})

    # --- GET /api/admin/exports/{id}

    def get_export(self, export_id: str, who: Principal) -> Reply:
        record = self.exports.get(require_id(export_id, "export"))
        if record is None:
            raise ApiError(404, "not_found", "No export has this id.")
        url = None
        if record["status"] == ExportStatus.DONE:
            self.audit.record(who.actor(), Action.DOWNLOAD, export_id=export_id,
                              details={"object": "export", "expires_in": EXPORT_URL_SECONDS})
            url = self.bucket.presigned_get(export_key(export_id), EXPORT_URL_SECONDS,
                                            download_as=f"papila-export-{export_id}.zip")
        return Reply(200, present_export(record, url))


# The container's one service, built on first use from the environment.
service: PerContainer[AdminService] = PerContainer(lambda: AdminService(Settings.from_env()))
reset = service.reset
