"""Service routes (health, model, OpenAPI, locate), error shapes of the framework's own answers,
CORS, logging hygiene and the Chalice project files."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from unittest import mock

import pytest
from papila.api import screenings as svc
from papila.api.openapi import document
from papila.core.imaging import Crop, ImageError

ROOT = Path(__file__).resolve().parents[2]
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


# ---------------------------------------------------------------- health


def test_health_ok(api, aws):
    r = api.get("/api/health")
    assert r.status_code == 200
    assert r.json_body == {"status": "ok", "checks": {"mongo": "ok", "s3": "ok", "queue": "ok"}}


@pytest.mark.parametrize("broken", ["mongo", "s3", "queue"])
def test_health_503_when_a_dependency_fails(api, aws, service, broken):
    if broken == "mongo":
        patch = mock.patch.object(type(service.store), "ping", side_effect=RuntimeError("secret detail"))
    elif broken == "s3":
        aws.s3.delete_bucket(Bucket=aws.bucket)
        patch = mock.patch.object(svc, "log")  # no-op patch
    else:
        aws.sqs.delete_queue(QueueUrl=aws.queue_url)
        patch = mock.patch.object(svc, "log")
    with patch:
        r = api.get("/api/health")
    assert r.status_code == 503
    body = r.json_body
    assert body["status"] == "error"
    assert body["checks"][broken] == "error"
    assert all(v == "ok" for k, v in body["checks"].items() if k != broken)
    assert body["error"]["code"] == "unhealthy" and broken in body["error"]["message"]
    assert b"secret detail" not in r.body


def test_health_when_mongo_is_unreachable(aws, monkeypatch, chalice_app, tmp_path):
    from chalice.test import Client

    monkeypatch.setenv("MONGODB_URI", "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200&connectTimeoutMS=200")
    svc.reset()
    try:
        with Client(chalice_app, project_dir=str(tmp_path)) as client:
            r = client.http.get("/api/health")
            assert r.status_code == 503
            assert json.loads(r.body)["checks"] == {"mongo": "error", "s3": "ok", "queue": "ok"}
            # Routes needing the database answer 503 in the contract's shape, not a stack trace.
            r = client.http.get("/api/screenings/6f1c2d9e-0a4b-4c1d-9e2f-3a4b5c6d7e8f")
            assert r.status_code == 503
            assert json.loads(r.body)["error"]["code"] == "service_unavailable"
    finally:
        svc.reset()


# ---------------------------------------------------------------- model


def test_model_summary_from_the_card(api, aws, monkeypatch, tmp_path):
    from papila.model.serving import card

    card_json = {"model_version": "vgg19-test-1", "input_size": 224, "threshold": 0.42,
                 "metrics": {"auc": 0.9}, "private_notes": "not served"}
    (tmp_path / "model.json").write_text(json.dumps(card_json))
    monkeypatch.setenv("MODEL_PATH", str(tmp_path / "papila.tflite"))
    card.load_card.cache_clear()
    try:
        r = api.get("/api/model")
    finally:
        card.load_card.cache_clear()
    assert r.status_code == 200, r.body
    assert r.json_body["model_version"] == "vgg19-test-1"
    assert r.json_body["threshold"] == 0.42 and r.json_body["input_size"] == 224
    assert "private_notes" not in r.json_body


def test_model_unavailable_is_503(api, aws, monkeypatch, tmp_path):
    from papila.model.serving import card

    monkeypatch.setenv("MODEL_PATH", str(tmp_path / "missing" / "papila.tflite"))
    card.load_card.cache_clear()
    try:
        r = api.get("/api/model")
    finally:
        card.load_card.cache_clear()
    assert r.status_code == 503
    assert r.json_body["error"]["code"] == "model_unavailable"
    assert str(tmp_path) not in r.body.decode()  # no server paths leak


# ---------------------------------------------------------------- locate


def test_locate_finds_the_bright_disc(api, aws, images):
    image = images.fundus(800, 600, disc=(560, 300))
    r = api.post("/api/locate", {"image_base64": images.b64(images.encode(image, "PNG"))})
    assert r.status_code == 200, r.body
    crop, confidence = r.json_body["crop"], r.json_body["confidence"]
    assert set(crop) == {"x", "y", "size"} and all(isinstance(v, int) for v in crop.values())
    assert 0 <= confidence <= 1
    cx, cy = crop["x"] + crop["size"] / 2, crop["y"] + crop["size"] / 2
    assert abs(cx - 560) < 40 and abs(cy - 300) < 40


def test_locate_scales_to_the_original_size(api, aws, images, monkeypatch):
    from papila.core import locate as locate_module

    found = locate_module.LocateResult(crop=Crop(100, 50, 80), confidence=0.8, center=(140.0, 90.0),
                                       disc_diameter=33.0)
    monkeypatch.setattr(locate_module, "locate", lambda image: found)
    body = {"image_base64": images.b64(images.png(640, 480))}
    assert api.post("/api/locate", body).json_body == {"crop": {"x": 100, "y": 50, "size": 80}, "confidence": 0.8}
    # The client sent a quarter-size copy of a 2560x1920 photo.
    r = api.post("/api/locate", {**body, "width": 2560, "height": 1920})
    assert r.json_body["crop"] == {"x": 400, "y": 200, "size": 320}
    # Same size as decoded: unchanged.
    assert api.post("/api/locate", {**body, "width": 640, "height": 480}).json_body["crop"]["size"] == 80


def test_locate_errors(api, aws, images, monkeypatch):
    def err(body, status, code):
        r = api.post("/api/locate", body)
        assert r.status_code == status, r.body
        assert r.json_body["error"]["code"] == code

    png = images.b64(images.png())
    err({}, 400, "invalid_request")
    err({"image_base64": png, "width": 100}, 400, "invalid_request")
    err({"image_base64": png, "width": 0, "height": 10}, 400, "invalid_request")
    err({"image_base64": png, "extra": 1}, 400, "invalid_request")
    err({"image_base64": "%%%"}, 400, "invalid_base64")
    err({"image_base64": images.b64(b"plain text, no image here")}, 415, "unsupported_format")

    from papila.core import locate as locate_module

    def no_disc(image):
        raise ImageError("disc_not_found", "No optic disc could be found; crop it by hand.")

    monkeypatch.setattr(locate_module, "locate", no_disc)
    err({"image_base64": png}, 422, "disc_not_found")


# ---------------------------------------------------------------- OpenAPI


def app_routes(chalice_app) -> set[tuple[str, str]]:
    return {(path, method.lower()) for path, methods in chalice_app.routes.items() for method in methods}


def doc_routes(doc) -> set[tuple[str, str]]:
    return {(path, method) for path, item in doc["paths"].items() for method in item if method in HTTP_METHODS}


def test_openapi_is_served_and_in_step_with_the_routes(api, aws, chalice_app):
    r = api.get("/api/openapi.json")
    assert r.status_code == 200
    doc = r.json_body
    assert doc["openapi"].startswith("3.1")
    assert doc_routes(doc) == app_routes(chalice_app)
    for path, item in doc["paths"].items():
        for method, op in item.items():
            params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert params == set(re.findall(r"{(\w+)}", path)), (path, method)


def test_openapi_in_step_check_can_fail(chalice_app):
    doc = document()
    doc["paths"].pop("/api/locate")
    assert doc_routes(doc) != app_routes(chalice_app)


def test_openapi_is_a_valid_3_1_document():
    from openapi_spec_validator import validate

    validate(document())


def test_openapi_request_schemas_come_from_the_models():
    from papila.api.requests import CreateScreening, Feedback, FeedbackMetadata

    schemas = document()["components"]["schemas"]
    assert set(schemas["CreateScreening"]["properties"]) == set(CreateScreening.model_fields)
    assert set(schemas["Feedback"]["properties"]) == set(Feedback.model_fields)
    assert schemas["FeedbackMetadata"]["additionalProperties"] is False
    assert set(schemas["FeedbackMetadata"]["properties"]) == set(FeedbackMetadata.model_fields)
    body_ref = document()["paths"]["/api/screenings"]["post"]["requestBody"]["content"]["application/json"]
    assert body_ref["schema"] == {"$ref": "#/components/schemas/CreateScreening"}
    # Every $ref resolves.
    text = json.dumps(document())
    for name in set(re.findall(r'"#/components/schemas/(\w+)"', text)):
        assert name in schemas, name


# ---------------------------------------------------------------- framework answers, CORS, logging


def test_method_not_allowed_in_contract_shape(api, aws):
    r = api.request("DELETE", "/api/screenings")
    assert r.status_code == 405
    assert r.json_body["error"]["code"] == "method_not_allowed"
    assert r.headers["Allow"] == "POST"
    assert r.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8080"


def test_cors_on_every_route(chalice_app):
    for path, methods in chalice_app.routes.items():
        for method, entry in methods.items():
            assert entry.cors is not None, (path, method)
            assert entry.cors.allow_origin == "http://127.0.0.1:8080"


def test_cors_headers_and_preflight(api, aws, chalice_app):
    from chalice.config import Config
    from chalice.local import LocalGateway

    r = api.get("/api/health")
    assert r.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8080"
    # chalice.test's client cannot read a preflight's empty body; ask the local gateway directly.
    answer = LocalGateway(chalice_app, Config.create()).handle_request(
        "OPTIONS", "/api/screenings", {"origin": "http://127.0.0.1:8080", "access-control-request-method": "POST"}, b""
    )
    assert answer["statusCode"] == 200
    assert "POST" in answer["headers"]["Access-Control-Allow-Methods"]
    assert answer["headers"]["Access-Control-Allow-Origin"] == "http://127.0.0.1:8080"


def test_unhandled_error_is_generic_500_and_logs_no_personal_data(api, aws, images, service, caplog):
    secret = "Patient Jane Doe, born 1961"
    with mock.patch.object(type(service.store), "insert", side_effect=ValueError(secret)), \
            caplog.at_level(logging.DEBUG):
        r = api.post("/api/screenings", {"filename": "eye.png", "content_type": "image/png", "consent": True,
                                         "image_base64": images.b64(images.png())})
    assert r.status_code == 500
    assert r.json_body == {"error": {"code": "internal_error",
                                     "message": "Something went wrong on our side; please try again in a minute."}}
    assert "Jane Doe" not in r.body.decode()
    assert "ValueError" in caplog.text
    assert "Jane Doe" not in caplog.text and images.b64(images.png())[:40] not in caplog.text


def test_error_logging_names_the_screening(api, aws, images, service, worker, caplog):
    sid = api.post("/api/screenings", {"filename": "eye.png", "content_type": "image/png", "consent": True,
                                       "image_base64": images.b64(images.png())}).json_body["id"]
    with mock.patch.object(type(service.bucket), "exists", side_effect=KeyError("boom")), caplog.at_level(logging.ERROR):
        worker.finish(sid)
        r = api.get(f"/api/screenings/{sid}/crop")
    assert r.status_code == 500
    assert sid in caplog.text and "KeyError" in caplog.text


def test_service_is_built_once_and_reset(aws, mongo_uri, monkeypatch):
    monkeypatch.setenv("MONGODB_URI", mongo_uri)
    svc.reset()
    first = svc.service()
    assert svc.service() is first
    monkeypatch.setenv("UPLOADS_BUCKET", "another-bucket")
    assert svc.service().bucket.bucket != "another-bucket"
    svc.reset()
    assert svc.service().bucket.bucket == "another-bucket"
    svc.reset()


# ---------------------------------------------------------------- project files


def test_chalice_config_stages():
    config = json.loads((ROOT / "api_app" / ".chalice" / "config.json").read_text())
    assert config["app_name"] == "papila-api" and config["version"] == "2.0"
    assert {"dev", "prod"} <= set(config["stages"])
    # `chalice local` puts these over the shell's environment: nothing deployment-specific may be fixed here.
    for stage in config["stages"].values():
        fixed = set(stage.get("environment_variables", {})) | set(config.get("environment_variables", {}))
        assert not fixed & {"UPLOADS_BUCKET", "INFERENCE_QUEUE_URL", "MONGODB_URI", "AWS_ENDPOINT_URL"}


def test_api_requirements_are_pinned():
    lines = [ln.strip() for ln in (ROOT / "api_app" / "requirements.txt").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    names = {re.split(r"==", ln)[0].lower() for ln in lines}
    assert names == {"boto3", "pymongo", "pydantic", "pillow", "numpy", "chalice", "fpdf2", "pyjwt", "cryptography"}
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", ln) for ln in lines), lines
