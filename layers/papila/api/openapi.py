"""The API's OpenAPI 3.1 document (served at GET /api/openapi.json). The components' schemas come from the
pydantic models themselves: the request models (`papila.api.requests`, `papila.api.admin`) and the response models
the presenters build every body through (`papila.api.responses`). Unit tests keep the paths and methods in step
with the routes, and the served bodies in step with the documented responses (test_response_shapes)."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any, Literal, get_args

from pydantic import BaseModel

from papila.api.requests import REQUEST_MODELS, FeedbackMetadata, ModelLabel, TrueLabel
from papila.api.responses import RESPONSE_MODELS
from papila.core.records import Status

REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _text(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


ID_PARAM = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "The screening's id (UUIDv4).",
    "schema": {"type": "string", "format": "uuid",
               "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"},
}
SECRET_HEADER = "X-Screening-Secret"


def _secret_param(required: bool) -> dict[str, Any]:
    need = ("Required: knowing the id is not enough to change a screening." if required else
            "Optional: without it the screening comes without its clinical `feedback`; a wrong one is refused.")
    return {"name": SECRET_HEADER, "in": "header", "required": required, "schema": {"type": "string"},
            "description": f"The screening's secret, returned once by its create (`secret`). {need}"}


IDEMPOTENCY_PARAM = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
    "description": "A key the client makes (a UUID): the same create sent again with it answers the same "
                   "screening (`Idempotent-Replayed: true`, a fresh `secret`; the earlier one stops working) "
                   "instead of making a second one. The same key with another body: 422.",
}
NO_SECRET = _error("No `X-Screening-Secret` header (`secret_required`).")
WRONG_SECRET = _error("The secret is not this screening's (`secret_invalid`).")
BAD_ID = _error("Malformed id (`invalid_id`).")
UNKNOWN = _error("No screening has this id (`not_found`).")
INVALID = _error("Invalid body: `invalid_json`, `invalid_request` (with `details`), or a more specific code.")
REDIRECT = {
    "description": "See Other: a short-lived presigned S3 URL of the PNG (also in the body as `url`).",
    "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
    "content": {"application/json": {"schema": {"type": "object", "properties": {"url": {"type": "string"}}}}},
}


def _op(op_id: str, summary: str, responses: dict[str, Any], *, body: str | None = None,
        body_types: tuple[str, ...] = ("application/json",), with_id: bool = False,
        tags: tuple[str, ...] = ("screenings",), secret: bool | None = None) -> dict[str, Any]:
    """`secret`: True = the screening's secret is required, False = optional (it unlocks the feedback)."""
    op: dict[str, Any] = {"operationId": op_id, "summary": summary, "tags": list(tags)}
    parameters = []
    if with_id:
        parameters.append(ID_PARAM)
        responses = {"400": BAD_ID, "404": UNKNOWN, **responses}
    if secret is not None:
        parameters.append(_secret_param(secret))
        responses = {**({"401": NO_SECRET} if secret else {}), "403": WRONG_SECRET, **responses}
    if parameters:
        op["parameters"] = parameters
    if body:
        op["requestBody"] = {"required": True, "content": {t: {"schema": _ref(body)} for t in body_types}}
    op["responses"] = dict(responses)
    op["responses"].setdefault("500", _error("Internal error (`internal_error`)."))
    op["responses"].setdefault("503", _error("A dependency is unavailable (`service_unavailable`)."))
    return op


def _model_schemas(models: tuple[type[BaseModel], ...], into: dict[str, Any] | None = None, *,
                   mode: Literal["validation", "serialization"] = "validation") -> dict[str, Any]:
    """The models' schemas and those of the models they use, one component each (`into`, if given). Request
    models in validation mode, response models in serialization mode (the shape they are dumped in)."""
    schemas: dict[str, Any] = {} if into is None else into
    for model in models:
        schema = model.model_json_schema(ref_template=REF, mode=mode)
        for name, part in {**schema.pop("$defs", {}), model.__name__: schema}.items():
            # One name, one shape: two models of one name (or a request model whose response shape differs)
            # must not silently replace each other.
            if schemas.setdefault(name, part) != part:
                raise ValueError(f"two different schemas for the component {name}")
    return schemas


def _seed_metadata(feedback_metadata: dict[str, Any]) -> dict[str, Any]:
    """FeedbackMetadata's fields beside `uuid` (and `secret`) in one flat object, as the 2020 client sends
    them (an allOf of two closed objects would accept no body at all)."""
    return {
        **feedback_metadata,
        "properties": {
            "uuid": {"type": "string", "format": "uuid"},
            "secret": {"type": "string", "description": "The screening's secret, if not sent as X-Screening-Secret."},
            **feedback_metadata.get("properties", {}),
        },
        "required": ["uuid"],
        "additionalProperties": False,
        "description": "The screening id as `uuid` plus feedback metadata fields (unknown fields are rejected); the "
                       "screening's secret in the X-Screening-Secret header or as `secret`.",
    }


def _paths() -> dict[str, Any]:
    screening = _json(_ref("Screening"), "The screening.")
    not_ready = _error("Not done yet, or ended rejected/failed (`not_ready`).")
    return {
        "/api/screenings": {
            "post": {**_op("createScreening", "Start a screening (inline image or presigned upload)", {
                "201": _json(_ref("CreatedScreening"), "Presigned mode: awaiting_upload, with the upload form."),
                "202": _json(_ref("NewScreening"), "Inline mode: stored and queued."),
                "400": _error("Invalid body, `consent_required`, `invalid_base64`, `invalid_crop`, image unusable, "
                              "`invalid_idempotency_key`."),
                "409": _error("A replayed create met a concurrent replay (`conflict`): send it again."),
                "413": _error("Inline image over 7 MiB (`image_too_large`)."),
                "415": _error("`unsupported_format` or `content_type_mismatch`."),
                "422": _error("The Idempotency-Key came with another request before (`idempotency_key_reused`)."),
            }, body="CreateScreening"), "parameters": [IDEMPOTENCY_PARAM]},
        },
        "/api/screenings/{id}": {
            "get": _op("getScreening", "Poll a screening", {"200": screening}, with_id=True, secret=False),
        },
        "/api/screenings/{id}/crop": {
            "get": _op("getCrop", "The 224-ready square crop the model saw (PNG)",
                       {"303": REDIRECT, "409": not_ready}, with_id=True),
        },
        "/api/screenings/{id}/heatmap": {
            "get": _op("getHeatmap", "Heat-map overlay of the crop (PNG)",
                       {"303": REDIRECT, "409": not_ready}, with_id=True),
        },
        "/api/screenings/{id}/report": {
            "get": _op("getReport", "One-page PDF report: photo, crop, heat map, result, model performance", {
                "200": {
                    "description": "The report (send `Accept: application/pdf`, or one with `*/*`).",
                    "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                },
                "400": _error("Malformed id (`invalid_id`), or an Accept header that allows no PDF "
                              "(`not_acceptable`)."),
                "409": not_ready,
            }, with_id=True, secret=False),
        },
        "/api/screenings/{id}/feedback": {
            "put": _op("putFeedback", "Give (or replace) feedback on a finished screening",
                       {"200": screening, "409": not_ready}, body="Feedback", with_id=True, secret=True),
        },
        "/api/screenings/{id}/rerun": {
            "post": _op("rerunScreening", "Run again with a new crop (null: locate automatically)", {
                "202": _json(_ref("Screening"), "Queued again; the previous result is kept in history."),
                "409": _error("Not finished yet (`not_ready`), `no_image`, or `conflict`."),
            }, body="Rerun", with_id=True, secret=True),
        },
        "/api/locate": {
            "post": _op("locateDisc", "Propose a square crop around the optic disc", {
                "200": _json(_ref("Located"), "The proposed crop in original pixels."),
                "400": INVALID,
                "413": _error("Image over 7 MiB (`image_too_large`)."),
                "415": _error("Not a JPEG, PNG or TIFF (`unsupported_format`)."),
                "422": _error("No disc could be found."),
            }, body="LocateRequest", tags=("tools",)),
        },
        "/api/health": {
            "get": _op("health", "Health of MongoDB, S3 and SQS", {
                "200": _json(_ref("Health"), "All dependencies answer."),
                "503": _json(_ref("Health"), "A dependency failed (also carries `error`)."),
            }, tags=("service",)),
        },
        "/api/model": {
            "get": _op("model", "The model card summary: version, input size, threshold, metrics", {
                "200": _json({"type": "object"}, "Model summary of the serving version (`serving`: `registry` "
                                                 "when the model registry's pointer names it, `baked` for the "
                                                 "installed one; `plots`: key -> PNG file name, served at "
                                                 "/api/model/plots/{name})."),
                "503": _error("No trained model installed (`model_unavailable`)."),
            }, tags=("service",)),
        },
        "/api/model/plots/{name}": {
            "get": {**_op("modelPlot", "A plot the model card lists (ROC curves, calibration, CDR vs experts)", {
                "200": {"description": "The PNG.",
                        "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}},
                "404": _error("Not a plot the model card lists (`not_found`)."),
                "503": _error("No trained model installed (`model_unavailable`)."),
            }, tags=("service",)), "parameters": [{
                "name": "name", "in": "path", "required": True,
                "description": "A file name from the card's `plots`, e.g. `roc.png`.",
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*\\.png$"},
            }]},
        },
        "/api/openapi.json": {
            "get": _op("openapi", "This document", {"200": _json({"type": "object"}, "OpenAPI 3.1.")},
                       tags=("service",)),
        },
        "/api/process": {
            "post": _op("seedProcess", "Seed client: upload with a crop in displayed pixels; answers the id", {
                "200": {**_text("The screening id."), "headers": {SECRET_HEADER: {
                    "description": "The screening's secret (once): /api/metadata needs it.",
                    "schema": {"type": "string"}}}},
                "400": INVALID,
                "406": _error("Bad file extension (`unsupported_format`)."),
                "413": _error("Image over 7 MiB."),
                "415": _error("Not a JPEG, PNG or TIFF."),
            }, body="SeedProcess", body_types=("application/json", "text/plain"), tags=("seed",)),
        },
        "/api/getDiagnosis/{id}": {
            "get": _op("seedGetDiagnosis", "Seed client: the probability once done, an empty body before", {
                "200": {
                    "description": "`{\"diagnosisResult\": p}` once done; an empty text body before.",
                    "content": {
                        "application/json": {"schema": {"type": "object", "properties": {
                            "diagnosisResult": {"type": "number"}}}},
                        "text/plain": {"schema": {"type": "string", "maxLength": 0}},
                    },
                },
                "422": _error("The screening ended rejected or failed (the code says why)."),
            }, with_id=True, tags=("seed",)),
        },
        "/api/download/{id}": {
            "get": _op("seedDownload", "Seed client: the crop as a base64 PNG string",
                       {"200": _text("Base64 PNG."), "409": not_ready}, with_id=True, tags=("seed",)),
        },
        "/api/metadata": {
            "post": {**_op("seedMetadata", "Seed client: store feedback metadata", {
                "200": _json({"type": "object", "properties": {
                    "uuid": {"type": "string"}, "metadata": _ref("FeedbackMetadata")}}, "Stored."),
                "400": INVALID,
                "401": _error("No secret, in the header or the body (`secret_required`)."),
                "403": WRONG_SECRET,
                "404": UNKNOWN,
            }, body="SeedMetadata", body_types=("application/json", "text/plain"), tags=("seed",)), "parameters": [{
                **_secret_param(False), "description": "The screening's secret (the X-Screening-Secret header of "
                                                       "/api/process's answer), or send it as `secret` in the body."}]},
        },
    }


@cache
def _document() -> dict[str, Any]:
    schemas = _model_schemas((*REQUEST_MODELS, FeedbackMetadata))
    _model_schemas(RESPONSE_MODELS, schemas, mode="serialization")
    schemas["SeedMetadata"] = _seed_metadata(schemas["FeedbackMetadata"])
    _admin_schemas(schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Papila glaucoma screening API",
            "version": "1.0.0",
            "description": "Every error is {\"error\": {\"code\", \"message\"}} with a 4xx/5xx status. "
                           "Ids are server-generated UUIDv4 strings.",
        },
        "servers": [{"url": "/"}],
        "paths": {**_with_accounts(_paths()), **_admin_paths()},
        "components": {"schemas": schemas, "securitySchemes": {"cognito": COGNITO_SCHEME}},
    }


def document() -> dict[str, Any]:
    return copy.deepcopy(_document())


# ---------------------------------------------------------------- admin (papila.api.admin, papila.api.auth)

COGNITO_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "A Cognito access or ID token of the deployment's user pool and app client (checked by the "
                   "app: RS256 against the pool's JWKS, issuer, expiry). The admin routes take a user in the "
                   "`admins` group (the review queue: `admins` or `reviewers`); /api/me* any user of the pool; "
                   "the screening routes take one optionally (the caller's own screenings).",
}


# ---------------------------------------------------------------- a clinician's account (papila.api.accounts)

BAD_TOKEN = "a forged, expired or foreign sign-in token (`unauthorized`)"
OWNED_404 = ("No screening has this id, or it belongs to an account and the caller has neither that account's "
             "token nor the screening's secret (`not_found`).")
SIGNED_IN = "Sign in required: no, malformed, forged or expired token (`unauthorized`)."


def _optional_sign_in(op: dict[str, Any]) -> None:
    """A screening route: a token is optional (it names the caller, whose own screenings it opens)."""
    op["security"] = [{}, {"cognito": []}]
    responses = op["responses"]
    if "401" in responses:
        responses["401"] = _error(f"{responses['401']['description'].rstrip('.')}, or {BAD_TOKEN}.")
    else:
        responses["401"] = _error(BAD_TOKEN[0].upper() + BAD_TOKEN[1:] + ".")
    if "404" in responses:
        responses["404"] = _error(OWNED_404)


def _user_op(op_id: str, summary: str, responses: dict[str, Any], **options: Any) -> dict[str, Any]:
    """An operation of a signed-in user's own (any user of the pool)."""
    op = _op(op_id, summary, {"401": _error(SIGNED_IN), **responses}, tags=("account",), **options)
    op["security"] = [{"cognito": []}]
    return op


def _with_accounts(paths: dict[str, Any]) -> dict[str, Any]:
    """The screening routes with their optional sign-in, plus a clinician's account routes."""
    for path, item in paths.items():
        if path.startswith(("/api/screenings", "/api/getDiagnosis/", "/api/download/", "/api/metadata",
                            "/api/process")):
            for method, op in item.items():
                if method != "parameters":
                    _optional_sign_in(op)
    delete = _op("deleteScreening", "Erase a screening: its record and every S3 object (audited)", {
        "204": {"description": "Erased."},
        "401": _error(f"An anonymous screening without its secret (`secret_required`), or {BAD_TOKEN}."),
        "403": _error("A secret that is not this screening's (`secret_invalid`), or an owned screening without "
                      "its owner's token (`forbidden`: the secret alone does not erase it)."),
    }, with_id=True, secret=False)
    delete["description"] = "An owned screening: its owner's token. An anonymous one: its secret."
    delete["security"] = [{}, {"cognito": []}]
    delete["responses"]["404"] = _error(OWNED_404)
    claim = _op("claimScreening", "Take an anonymous screening into the caller's account", {
        "200": _json(_ref("Screening"), "The screening, now `owned` (claiming one's own again changes nothing)."),
        "401": _error(f"No secret (`secret_required`), or no token: {SIGNED_IN}"),
        "409": _error("Another account owns it (`already_owned`)."),
    }, with_id=True, secret=False, tags=("account",))
    claim["description"] = "Send the account's token and the screening's secret (it proves the caller made it)."
    claim["security"] = [{"cognito": []}]
    claim["responses"]["404"] = _error(OWNED_404)
    listing = _user_op("myScreenings", "The caller's own screenings, newest first, filtered, cursor-paged", {
        "200": _json(_ref("ScreeningPage"), "A page of screenings, with their feedback."),
        "400": _error("A bad query parameter (`invalid_request` with `details`) or cursor (`invalid_cursor`)."),
    })
    listing["parameters"] = _listing_query(20)
    export = _user_op("myCreateExport", "Export all of the caller's screenings as a zip (audited)", {
        "202": _json(_ref("Export"), "Queued: poll its `links.self`."),
        "503": _error("Exports are not configured on this server (`export_unavailable`)."),
    })
    export["description"] = (
        "Every screening of the caller: those with a confirmed label under `glaucoma/` and `normal/`, the rest "
        "under `unconfirmed/` (crops; originals under `originals/<folder>/`), `labels.csv` (the confirmed crops) "
        "and `metadata.jsonl` (one line per screening).")
    get_export = _user_op("myGetExport", "One of the caller's own exports; a download URL when done", {
        "200": _json(_ref("Export"), "The export (a download URL handed out is audited)."),
        "400": _error("Malformed id (`invalid_id`)."),
        "404": _error("No export of the caller's has this id (`not_found`)."),
    })
    get_export["parameters"] = [{**ID_PARAM, "description": "The export's id (UUIDv4)."}]
    paths["/api/screenings/{id}"]["delete"] = delete
    return {
        **paths,
        "/api/screenings/{id}/claim": {"post": claim},
        "/api/me": {"get": _user_op("me", "Who the token names, and its role", {
            "200": _json(_ref("Me"), "The caller: sub, user name, groups, role."),
        })},
        "/api/me/screenings": {"get": listing},
        "/api/me/exports": {"post": export},
        "/api/me/exports/{id}": {"get": get_export},
    }


def _admin_schemas(schemas: dict[str, Any]) -> None:
    """The admin's request models (its response models are among papila.api.responses')."""
    from papila.api.admin import ADMIN_MODELS

    _model_schemas(ADMIN_MODELS, schemas)


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def _admin_op(op_id: str, summary: str, responses: dict[str, Any], *, id_of: str | None = None,
              **options: Any) -> dict[str, Any]:
    op = _op(op_id, summary, {
        "401": _error("No, malformed, forged or expired token (`unauthorized`)."),
        "403": _error("A valid token of a user outside the `admins` group (`forbidden`)."),
        **responses,
    }, tags=("admin",), **options)
    op["security"] = [{"cognito": []}]
    if id_of:
        op["parameters"] = [{**ID_PARAM, "description": f"The {id_of}'s id (UUIDv4)."}]
        op["responses"] = {"400": _error("Malformed id (`invalid_id`)."),
                           "404": _error(f"No {id_of} has this id (`not_found`)."), **op["responses"]}
    return op


def _enum(*values: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


def _listing_query(page_size: int) -> list[dict[str, Any]]:
    """The query parameters of a screening list (the admin's and the caller's own): filters and cursor."""
    return [
        _query("status", _enum(*(str(s) for s in Status)), "Status."),
        _query("label", _enum(*get_args(ModelLabel)), "The model's result label."),
        _query("true_label", _enum(*get_args(TrueLabel)), "The feedback's label."),
        _query("feedback", _enum("given", "missing"), "Whether feedback was given."),
        _query("from", {"type": "string"}, "Created at or after: ISO-8601 date or date-time."),
        _query("to", {"type": "string"}, "Created at or before: ISO-8601 date (the whole day) or date-time."),
        _query("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": page_size}, "Page size."),
        _query("cursor", {"type": "string"}, "`next_cursor` of the previous page."),
    ]


def _admin_paths() -> dict[str, Any]:
    from papila.api.admin import MONITORED_CAP
    from papila.core.exports import LABELS_COLUMNS
    from papila.core.monitoring import AUC_MARGIN, RATE_MARGIN

    listing = _admin_op("adminListScreenings", "Screenings, newest first, filtered, cursor-paged", {
        "200": _json(_ref("AdminScreeningPage"), "A page of screenings."),
        "400": _error("A bad query parameter (`invalid_request` with `details`) or cursor (`invalid_cursor`)."),
    })
    listing["parameters"] = _listing_query(50)
    create_export = _admin_op("adminCreateExport", "Export the confirmed-label screenings as a training zip", {
        "202": _json(_ref("Export"), "Queued: poll its `links.self`."),
        "400": INVALID,
    }, body="ExportRequest")
    create_export["requestBody"]["required"] = False  # no body: every confirmed-label screening
    create_export["description"] = (
        "The zip holds `glaucoma/` and `normal/` (the 224-ready crops), `originals/<label>/`, `labels.csv` with "
        f"the columns `{','.join(LABELS_COLUMNS)}` (`subject_id` and `camera` from the feedback metadata, empty "
        "when not given: group training folds by `subject_id`, report metrics per `camera`) and `metadata.jsonl`."
    )
    review_queue = _admin_op("adminReviewQueue", "Unconfirmed screenings whose labels would teach most, first", {
        "200": _json(_ref("ReviewQueue"), "The queue: nearness to the threshold plus VGG19 disagreement (audited)."),
        "400": _error("A bad query parameter (`invalid_request` with `details`)."),
    })
    review_queue["parameters"] = [
        _query("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 20}, "How many."),
    ]
    review = _admin_op("adminReviewScreening", "Confirm a screening's label as an expert (audited)", {
        "200": _json(_ref("AdminScreening"), "The screening with its `review` (who, when, the label it replaced)."),
        "400": INVALID,
        "409": _error("Not a finished screening, or it changed meanwhile (`not_reviewable`)."),
    }, id_of="screening", body="ReviewRequest")
    for op in (review_queue, review):  # the review queue: reviewers too
        op["responses"]["403"] = _error("A valid token of a user outside the `admins` and `reviewers` groups "
                                        "(`forbidden`).")
    monitoring = _admin_op("adminMonitoring", "The serving model on confirmed cases, by period, version and camera", {
        "200": _json(_ref("Monitoring"), "Figures per period, version and camera, against each version's card; "
                                         "refusals per period; drift warnings (not audited: no screening shown)."),
        "400": _error("A bad query parameter (`invalid_request` with `details`)."),
    })
    monitoring["description"] = (
        "Confirmed cases are done screenings whose `feedback.true_label` is glaucoma or normal. AUC, sensitivity "
        "and specificity are `papila evaluate`'s (`papila evaluate --export DIR --stored` prints the same on an "
        "export of the same cases), each case at its stored threshold. A version on a camera with at least "
        f"`min_cases` confirmed cases of each class warns when its AUC is more than {AUC_MARGIN} below its card's, "
        f"or its sensitivity or specificity more than {RATE_MARGIN} below. The newest {MONITORED_CAP} confirmed "
        "and as many rejected screenings of the range are read; `truncated` says when there were more."
    )
    monitoring["parameters"] = [
        _query("period", {**_enum("week", "month"), "default": "month"}, "week: ISO weeks (from Monday); month."),
        _query("from", {"type": "string"}, "Created at or after: ISO-8601 date or date-time."),
        _query("to", {"type": "string"}, "Created at or before: ISO-8601 date (the whole day) or date-time."),
    ]
    return {
        "/api/admin/screenings": {"get": listing},
        "/api/admin/screenings/{id}": {
            "get": _admin_op("adminGetScreening", "A screening in full, with a presigned URL of the original", {
                "200": _json(_ref("AdminScreening"), "The screening (the read and the URL are audited)."),
            }, id_of="screening"),
            "delete": _admin_op("adminDeleteScreening", "Erase a screening: its record and every S3 object", {
                "204": {"description": "Erased (audited)."},
            }, id_of="screening"),
        },
        "/api/admin/review": {"get": review_queue},
        "/api/admin/screenings/{id}/review": {"put": review},
        "/api/admin/stats": {
            "get": _admin_op("adminStats", "Counts by status, label and feedback agreement", {
                "200": _json(_ref("AdminStats"), "The counts."),
            }),
        },
        "/api/admin/monitoring": {"get": monitoring},
        "/api/admin/exports": {"post": create_export},
        "/api/admin/exports/{id}": {
            "get": _admin_op("adminGetExport", "An export's status, counts and (when done) download URL", {
                "200": _json(_ref("Export"), "The export (a download URL handed out is audited)."),
            }, id_of="export"),
        },
        **_model_paths(),
        **_user_paths(),
    }


VERSION_PARAM = {"name": "version", "in": "path", "required": True, "description": "A registered model version "
                 "(`baked`: the inference image's own model, for promote).",
                 "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,100}$"}}


def _model_paths() -> dict[str, Any]:
    """The model registry's admin routes (papila.api.model_admin)."""
    unavailable = _error("No model registry or compare queue on this server (`registry_unavailable`, "
                         "`comparison_unavailable`).")
    unknown = _error("No registered model has this version (`not_found`).")
    bad = _error("Not a model version (`invalid_version`).")

    def versioned(op: dict[str, Any]) -> dict[str, Any]:
        return {**op, "parameters": [VERSION_PARAM]}

    return {
        "/api/admin/models": {"get": _admin_op("adminListModels", "The registered model versions and the one serving", {
            "200": _json(_ref("ModelList"), "Newest first, then the baked one; `previous`: what a roll-back restores."),
            "503": unavailable})},
        "/api/admin/models/rollback": {"post": _admin_op("adminRollbackModel", "Serve the model that served before the "
                                                         "latest change (audited)", {
            "200": _json(_ref("Promotion"), "Rolled back: the inference function follows within its check interval."),
            "409": _error("The pointer never changed (`nothing_to_roll_back`)."), "503": unavailable})},
        "/api/admin/models/{version}/promote": {"post": versioned(_admin_op(
            "adminPromoteModel", "Make a version serve (audited)", {
                "200": _json(_ref("Promotion"), "Promoted: the inference function follows within its check interval."),
                "400": bad, "404": unknown, "503": unavailable}))},
        "/api/admin/models/{version}/comparison": {
            "post": versioned(_admin_op("adminCompareModel", "Compare a candidate with the serving model on confirmed "
                                        "cases held out from its training (a job; audited)", {
                "202": _json(_ref("Comparison"), "Queued: poll GET on the same path."),
                "400": bad, "404": unknown, "409": _error("The version is serving (`same_model`)."),
                "503": unavailable})),
            "get": versioned(_admin_op("adminGetComparison", "The latest comparison of a candidate", {
                "200": _json(_ref("Comparison"), "queued, running, done (ROC curves and figures per camera) or failed."),
                "400": bad, "404": _error("None was asked for (`not_found`)."), "503": unavailable})),
        },
    }


USERNAME_PARAM = {"name": "username", "in": "path", "required": True,
                  "description": "The user's Cognito user name or e-mail address.",
                  "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": r"^[^\s]+$"}}


def _user_paths() -> dict[str, Any]:
    """Granting and revoking roles (papila.api.users)."""
    answers = {
        "400": _error("Not a user name (`invalid_username`)."),
        "404": _error("No account has this user name or e-mail address (`not_found`)."),
    }
    grant = _admin_op("adminGrantReviewer", "Let a user use the review queue: add them to `reviewers` (audited)", {
        "200": _json(_ref("UserGroups"), "The user's groups now (granting twice changes nothing)."), **answers})
    revoke = _admin_op("adminRevokeReviewer", "Take a user out of `reviewers` (audited)", {
        "200": _json(_ref("UserGroups"), "The user's groups now (revoking a non-reviewer changes nothing)."),
        **answers})
    return {"/api/admin/users/{username}/reviewer": {
        "put": {**grant, "parameters": [USERNAME_PARAM]},
        "delete": {**revoke, "parameters": [USERNAME_PARAM]},
    }}
