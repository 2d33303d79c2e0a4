"""API errors in the contract's shape: `{"error": {"code": "<snake_case>", "message": "<sentence>"}}`.

`reply_for_exception` turns anything a use case raises into (status, body): `ApiError` as it is,
pydantic's `ValidationError` as 400 `invalid_request` naming each field and its problem (never the
input: it may be personal data), an `ImageError` with its own code, an unreachable database or
object store as 503, anything else as a generic 500. Only the exception's type, the route and the
screening id are logged, never request bodies or exception messages.
"""

from __future__ import annotations

import json
import logging
import traceback
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from papila.core.imaging import BOMB_ERRORS, TOO_LARGE, TOO_LARGE_MESSAGE, ImageError

log = logging.getLogger("papila.api")

# ImageError codes that deserve a status other than 400.
IMAGE_ERROR_STATUS = {"unsupported_format": 415, "content_type_mismatch": 415, "image_too_large": 413}

INTERNAL_MESSAGE = "Something went wrong on our side; please try again in a minute."
UNAVAILABLE_MESSAGE = "The service is temporarily unavailable; please try again in a minute."


def _omit_defaults(schema: dict[str, Any]) -> None:
    # A response field has no default a client could rely on: it is absent, or it carries its value.
    for prop in schema.get("properties", {}).values():
        prop.pop("default", None)


class ResponseShapeError(RuntimeError):
    """A response body its model refuses: the server's mistake (a generic 500), never the client's 400."""


class Body(BaseModel):
    """Base of the response models (the error body here, the others in `papila.api.responses`): a body holds
    the declared keys only. Here, at the bottom of the API layer, because `papila.api.requests` and
    `papila.api.responses` build on it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_omit_defaults)

    @classmethod
    def body(cls, **fields: Any) -> dict[str, Any]:
        """The JSON body of `fields`, through the model: the keys set and nothing else (an optional field is
        absent, not null; null only where a field was set to None). ResponseShapeError if the model refuses
        them (its message names the fields, never their values)."""
        try:
            model = cls(**fields)
        except ValidationError as exc:
            where = sorted({".".join(map(str, e["loc"])) for e in exc.errors(include_input=False)})
            raise ResponseShapeError(f"{cls.__name__} refused: {', '.join(where)}") from None
        return model.model_dump(mode="json", exclude_unset=True)


class FieldProblem(Body):
    field: Annotated[str, Field(description="the field, dotted (`crop.size`), or `body`")]
    problem: str


class ErrorDetail(Body):
    """What went wrong: a snake_case code and one sentence a person can act on."""

    code: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    message: str
    details: Annotated[list[FieldProblem], Field(description="`invalid_request`: every field and its problem")] = None


class Error(Body):
    """Every error: a 4xx/5xx status with this body; never an HTML page, never a stack trace."""

    error: ErrorDetail


class ApiError(Exception):
    """An error the client can act on: HTTP status, snake_case code and one readable sentence."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


def error_body(code: str, message: str, details: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return Error.body(error={"code": code, "message": message, **({"details": details} if details else {})})


def _field(loc: tuple[Any, ...]) -> str:
    # A field name is the client's text (an unknown key may be 100,000 characters): shown shortened.
    return ".".join(_short(str(part)) for part in loc) or "body"


def _short(text: str, limit: int = 64) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _problem(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required"
    msg = str(err.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    return msg[:1].lower() + msg[1:]


def from_validation_error(exc: ValidationError) -> ApiError:
    """400 `invalid_request`; `details` lists every field, the message the first three."""
    details = [
        {"field": _field(tuple(e["loc"])), "problem": _problem(e)}
        for e in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
    shown = "; ".join(f"{d['field']}: {d['problem']}" for d in details[:3])
    more = f" (and {len(details) - 3} more)" if len(details) > 3 else ""
    return ApiError(400, "invalid_request", f"Invalid request: {shown}{more}.", details=details)


def _unavailable_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = []
    try:
        from pymongo.errors import ConnectionFailure

        types.append(ConnectionFailure)
    except ImportError:  # pragma: no cover - pymongo is a runtime dependency of the API
        pass
    try:
        from botocore.exceptions import ConnectionError as BotoConnectionError

        types.append(BotoConnectionError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(types)


def _is_unavailable(exc: Exception) -> bool:
    """The database or an AWS endpoint could not be reached (a 503, not a bug)."""
    return isinstance(exc, _unavailable_types())


def reply_for_exception(
    exc: Exception, *, route: str = "?", screening_id: str | None = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, body, headers) for any exception a route raised."""
    if isinstance(exc, ApiError):
        return exc.status, exc.body(), exc.headers
    if isinstance(exc, ValidationError):
        err = from_validation_error(exc)
        return err.status, err.body(), {}
    if isinstance(exc, ImageError):
        return IMAGE_ERROR_STATUS.get(exc.code, 400), error_body(exc.code, exc.message), {}
    if isinstance(exc, BOMB_ERRORS):  # Pillow's own guard, met outside imaging.decode: still the client's photo
        return IMAGE_ERROR_STATUS[TOO_LARGE], error_body(TOO_LARGE, TOO_LARGE_MESSAGE), {}
    frames = "".join(traceback.format_tb(exc.__traceback__))  # code locations only, no values
    if _is_unavailable(exc):
        log.error("dependency unavailable: %s route=%s screening_id=%s", type(exc).__name__, route, screening_id)
        return 503, error_body("service_unavailable", UNAVAILABLE_MESSAGE), {"Retry-After": "5"}
    log.error("unhandled %s route=%s screening_id=%s\n%s", type(exc).__name__, route, screening_id, frames)
    return 500, error_body("internal_error", INTERNAL_MESSAGE), {}


# Chalice answers some requests itself with {"Code": ..., "Message": ...}; these become contract errors.
_CHALICE_CODES = {
    "MethodNotAllowedError": ("method_not_allowed", "This method is not allowed here."),
    "UnsupportedMediaType": ("unsupported_media_type", "Send the request body as application/json."),
    # Chalice's only "BadRequest": a binary response (the PDF report) to a request whose Accept allows none.
    "BadRequest": ("not_acceptable", "Send an Accept header that allows the response, e.g. Accept: application/pdf."),
    "BadRequestError": ("bad_request", "The request could not be understood."),
    "NotFoundError": ("not_found", "Nothing is here."),
    "InternalServerError": ("internal_error", INTERNAL_MESSAGE),
}


def reshape_framework_error(status: int, body: Any) -> dict[str, Any] | None:
    """The contract body for a framework-made error body, or None if `body` is not one."""
    if status < 400 or not isinstance(body, dict) or "Code" not in body or "error" in body:
        return None
    code, message = _CHALICE_CODES.get(str(body.get("Code")), ("error", "The request failed."))
    if code == "method_not_allowed" and isinstance(body.get("Message"), str):
        method = body["Message"].rsplit(" ", 1)[-1]
        message = f"The {method} method is not allowed on this path."
    return error_body(code, message)


# What an HTTP server refuses before any route runs (http.server's send_error: a request line over
# 64 KiB, too many or too long headers, a malformed request line): contract errors, not HTML pages.
_SERVER_CODES = {
    400: ("bad_request", "The request could not be understood; check the method, path and HTTP version."),
    408: ("request_timeout", "The request took too long to arrive; please send it again."),
    414: ("uri_too_long", "The address is too long; a screening id is a 36-character UUID."),
    431: ("headers_too_large", "The request headers are too large or too many; send fewer or shorter headers."),
    405: ("method_not_allowed", "This method is not supported."),
    505: ("http_version_not_supported", "Use HTTP/1.1."),
}


def server_error_response(status: int) -> tuple[str, bytes]:
    """(reason phrase, JSON body) for an error the HTTP server itself answers with `status`."""
    from http import HTTPStatus

    code, message = _SERVER_CODES.get(status, ("bad_request", "The request could not be understood."))
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return phrase, json.dumps(error_body(code, message), separators=(",", ":")).encode()


def contract_send_error(handler: Any, code: int, message: str | None = None, explain: str | None = None) -> None:
    """A drop-in for `http.server.BaseHTTPRequestHandler.send_error` (as `chalice local` uses it) that
    answers in the contract's shape. The request's own text (in `message`) is never echoed. A method the
    server has no handler for (TRACE, CONNECT, made-up ones: its 501) is the client's mistake, as the app
    says for every other method a path does not take: 405."""
    code = 405 if int(code) == 501 else int(code)
    phrase, body = server_error_response(code)
    handler.log_error("code %d, message %s", code, phrase)
    handler.send_response(code, phrase)
    handler.send_header("Connection", "close")
    handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Content-Length", str(len(body)))
    for name, value in getattr(handler, "contract_error_headers", {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)
