"""Papila HTTP API (Chalice): routes only. Each route is a few lines calling `papila.api.screenings`;
the contract is /work/shared/design/api-contract.md and GET /api/openapi.json."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

from chalice import Chalice, CORSConfig, Response
from papila.api import accounts, admin, auth, model_admin, users
from papila.api import screenings as svc
from papila.api.errors import (
    contract_send_error,
    reply_for_exception,
    reshape_framework_error,
)
from papila.api.reply import Reply

app = Chalice(app_name="papila-api")
app.api.binary_types = sorted({*app.api.binary_types, "image/png", "application/pdf"})

CORS = CORSConfig(
    allow_origin=os.environ.get("CORS_ALLOW_ORIGIN", "http://127.0.0.1:8080"),
    allow_headers=["X-Screening-Secret", "Idempotency-Key"],
    expose_headers=["Location", "X-Screening-Secret", "Idempotent-Replayed"],
    max_age=600,
)
SEED_TYPES = ["application/json", "text/plain"]  # the 2020 client's bodies


def _respond(status: int, body: Any, headers: dict[str, str]) -> Response:
    return Response(body=body, status_code=status, headers={"Content-Type": svc.JSON, **headers})


def route(path: str, method: str = "GET", **options: Any) -> Callable[[Callable[..., Reply]], Any]:
    """`app.route` with CORS, and every exception as a contract error (never Chalice's own page)."""

    def register(view: Callable[..., Reply]) -> Any:
        @functools.wraps(view)
        def guarded(**params: str) -> Response:
            try:
                reply = view(**params)
            except Exception as exc:  # noqa: BLE001 - mapped to the contract's error body
                return _respond(*reply_for_exception(exc, route=path, screening_id=params.get("id")))
            return _respond(reply.status, reply.body, reply.headers)

        return app.route(path, methods=[method], cors=CORS, **options)(guarded)

    return register


@app.middleware("http")
def contract_errors(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """Chalice's own answers (405, 415, ...) in the contract's error shape too."""
    try:
        response = get_response(event)
    except Exception as exc:  # noqa: BLE001
        return _respond(*reply_for_exception(exc, route="middleware"))
    body = reshape_framework_error(response.status_code, response.body)
    if body is not None:
        response.body = body
        response.headers["Content-Type"] = svc.JSON
        for name, value in CORS.get_access_control_headers().items():
            response.headers.setdefault(name, value)
    return response


def local_server_errors() -> None:
    """Under `chalice local`, what its HTTP server refuses before any route runs (a 100,000-character
    id: 414; huge headers: 431) is a contract error too, not http.server's HTML page. In Lambda
    `chalice.local` is never loaded and this does nothing (API Gateway's own refusals are its own)."""
    local = sys.modules.get("chalice.local")
    if local is not None:
        local.ChaliceRequestHandler.send_error = contract_send_error
        local.ChaliceRequestHandler.contract_error_headers = CORS.get_access_control_headers()


local_server_errors()


def _body() -> bytes | None:
    return app.current_request.raw_body


def _header(name: str) -> str | None:
    return app.current_request.headers.get(name) or None


def _secret() -> str | None:
    """The screening's secret, returned once by the create: it proves the caller made the screening."""
    return _header("x-screening-secret")


def _user() -> auth.Principal | None:
    """The signed-in caller, if a token was sent (optional here; a bad one is 401, never anonymous)."""
    return auth.optional_user(app.current_request.headers.get("authorization"))


# ---------------------------------------------------------------- screenings


@route("/api/screenings", "POST")
def create_screening() -> Reply:
    return svc.service().create_screening(_body(), _header("idempotency-key"), _user())


@route("/api/screenings/{id}")
def get_screening(id: str) -> Reply:
    return svc.service().get_screening(id, _secret(), _user())


@route("/api/screenings/{id}", "DELETE")
def delete_screening(id: str) -> Reply:
    return accounts.service().delete_screening(id, _secret(), _user())


@route("/api/screenings/{id}/crop")
def get_crop(id: str) -> Reply:
    return svc.service().crop_image(id, _secret(), _user())


@route("/api/screenings/{id}/heatmap")
def get_heatmap(id: str) -> Reply:
    return svc.service().heatmap_image(id, _secret(), _user())


@route("/api/screenings/{id}/report")
def get_report(id: str) -> Reply:
    return svc.service().report(id, _secret(), _user())


@route("/api/screenings/{id}/feedback", "PUT")
def put_feedback(id: str) -> Reply:
    return svc.service().put_feedback(id, _body(), _secret(), _user())


@route("/api/screenings/{id}/rerun", "POST")
def rerun(id: str) -> Reply:
    return svc.service().rerun(id, _body(), _secret(), _user())


@route("/api/locate", "POST")
def locate() -> Reply:
    return svc.service().locate(_body())


# ---------------------------------------------------------------- service


@route("/api/health")
def health() -> Reply:
    return svc.service().health()


@route("/api/model")
def model() -> Reply:
    return svc.service().model()


@route("/api/model/plots/{name}")
def model_plot(name: str) -> Reply:
    return svc.service().model_plot(name)


@route("/api/openapi.json")
def openapi() -> Reply:
    return svc.service().openapi()


# ---------------------------------------------------------------- seed-compatible (2020 client)


@route("/api/process", "POST", content_types=SEED_TYPES)
def seed_process() -> Reply:
    return svc.service().seed_process(_body(), _user())


@route("/api/getDiagnosis/{id}")
def seed_get_diagnosis(id: str) -> Reply:
    return svc.service().seed_diagnosis(id, _secret(), _user())


@route("/api/download/{id}")
def seed_download(id: str) -> Reply:
    return svc.service().seed_download(id, _secret(), _user())


@route("/api/metadata", "POST", content_types=SEED_TYPES)
def seed_metadata() -> Reply:
    return svc.service().seed_metadata(_body(), _secret(), _user())


# ---------------------------------------------------------------- a clinician's account (Cognito JWT, any user)


def user_route(path: str, method: str = "GET", **options: Any) -> Callable[[Callable[..., Reply]], Any]:
    """`route` for a signed-in user's own routes: any user of the pool (`papila.api.auth.require_user`)."""

    def register(view: Callable[..., Reply]) -> Any:
        @functools.wraps(view)
        def checked(**params: str) -> Reply:
            who = auth.require_user(app.current_request.headers.get("authorization"))
            return view(who, **params)

        return route(path, method, **options)(checked)

    return register


@user_route("/api/me")
def me(who: auth.Principal) -> Reply:
    return accounts.service().me(who)


@user_route("/api/me/screenings")
def my_screenings(who: auth.Principal) -> Reply:
    return accounts.service().list_screenings(_query(), who)


@user_route("/api/screenings/{id}/claim", "POST")
def claim_screening(who: auth.Principal, id: str) -> Reply:
    return accounts.service().claim(id, _secret(), who)


@user_route("/api/me/exports", "POST")
def my_create_export(who: auth.Principal) -> Reply:
    return accounts.service().create_export(who)


@user_route("/api/me/exports/{id}")
def my_get_export(who: auth.Principal, id: str) -> Reply:
    return accounts.service().get_export(id, who)


# ---------------------------------------------------------------- admin (Cognito JWT, group `admins`)


def admin_route(path: str, method: str = "GET", **options: Any) -> Callable[[Callable[..., Reply]], Any]:
    """`route` for the admin API: the token is checked here, in the app (`papila.api.auth`), so `chalice
    local` and API Gateway apply the same check; the view gets the caller for the audit log."""

    def register(view: Callable[..., Reply]) -> Any:
        @functools.wraps(view)
        def checked(**params: str) -> Reply:
            who = auth.require_admin(app.current_request.headers.get("authorization"))
            return view(who, **params)

        return route(path, method, **options)(checked)

    return register


def reviewer_route(path: str, method: str = "GET", **options: Any) -> Callable[[Callable[..., Reply]], Any]:
    """`admin_route` for the review queue, which reviewers (group `reviewers`) may use too."""

    def register(view: Callable[..., Reply]) -> Any:
        @functools.wraps(view)
        def checked(**params: str) -> Reply:
            who = auth.require_group(app.current_request.headers.get("authorization"),
                                     {auth.ADMIN_GROUP, auth.REVIEWER_GROUP})
            return view(who, **params)

        return route(path, method, **options)(checked)

    return register


def _query() -> dict[str, str]:
    return dict(app.current_request.query_params or {})


@admin_route("/api/admin/screenings")
def admin_list_screenings(who: auth.Principal) -> Reply:
    return admin.service().list_screenings(_query(), who)


@admin_route("/api/admin/screenings/{id}")
def admin_get_screening(who: auth.Principal, id: str) -> Reply:
    return admin.service().get_screening(id, who)


@admin_route("/api/admin/screenings/{id}", "DELETE")
def admin_delete_screening(who: auth.Principal, id: str) -> Reply:
    return admin.service().delete_screening(id, who)


@reviewer_route("/api/admin/review")
def admin_review_queue(who: auth.Principal) -> Reply:
    return admin.service().review_queue(_query(), who)


@reviewer_route("/api/admin/screenings/{id}/review", "PUT")
def admin_review_screening(who: auth.Principal, id: str) -> Reply:
    return admin.service().review_screening(id, _body(), who)


@admin_route("/api/admin/stats")
def admin_stats(who: auth.Principal) -> Reply:
    return admin.service().stats(who)


@admin_route("/api/admin/monitoring")
def admin_monitoring(who: auth.Principal) -> Reply:
    return admin.service().monitoring(_query(), who)


@admin_route("/api/admin/exports", "POST")
def admin_create_export(who: auth.Principal) -> Reply:
    return admin.service().create_export(_body(), who)


@admin_route("/api/admin/exports/{id}")
def admin_get_export(who: auth.Principal, id: str) -> Reply:
    return admin.service().get_export(id, who)


@admin_route("/api/admin/models")
def admin_list_models(who: auth.Principal) -> Reply:
    return model_admin.service().list_models(who)


@admin_route("/api/admin/models/rollback", "POST")
def admin_rollback_model(who: auth.Principal) -> Reply:
    return model_admin.service().rollback(who)


@admin_route("/api/admin/models/{version}/promote", "POST")
def admin_promote_model(who: auth.Principal, version: str) -> Reply:
    return model_admin.service().promote(version, who)


@admin_route("/api/admin/models/{version}/comparison", "POST")
def admin_request_comparison(who: auth.Principal, version: str) -> Reply:
    return model_admin.service().request_comparison(version, who)


@admin_route("/api/admin/models/{version}/comparison")
def admin_get_comparison(who: auth.Principal, version: str) -> Reply:
    return model_admin.service().get_comparison(version, who)


@admin_route("/api/admin/users/{username}/reviewer", "PUT")
def admin_grant_reviewer(who: auth.Principal, username: str) -> Reply:
    return users.grant_reviewer(username, who)


@admin_route("/api/admin/users/{username}/reviewer", "DELETE")
def admin_revoke_reviewer(who: auth.Principal, username: str) -> Reply:
    return users.revoke_reviewer(username, who)
