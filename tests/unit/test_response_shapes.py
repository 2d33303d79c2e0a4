"""The served bodies and `/api/openapi.json` in step: real bodies from the API in-process (every screening
state, a done one with every result field, errors, health, locate, the admin's page, detail, stats and
exports) are validated against the schema of the response the served document gives for their operation and
status, and every response component is met by at least one real body. The components are the response
models' own schemas (`papila.api.responses`), and the presenters build every body through those models."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import jsonschema
import pytest
from papila.api import responses
from papila.api.errors import ResponseShapeError
from papila.api.openapi import REF, document
from papila.api.responses import RESPONSE_MODELS, Screening, present
from papila.core.exports import ExportStatus
from papila.core.records import Status

pytest_plugins = ["tests.unit.admin_fixtures"]

JSON = "application/json"
# A result with every field the pipeline writes (conftest's RESULT has the required ones only).
FULL_RESULT = {
    "probability_glaucoma": 0.4321, "label": "normal", "threshold": 0.5757152151124704,
    "referral": "No glaucoma signs found at this operating point.", "model_version": "vgg19-test",
    "crop": {"x": 290, "y": 130, "size": 210, "source": "user", "requested": {"x": 300, "y": 140, "size": 200}},
    "disc": {"x": 395.5, "y": 235.0, "height": 70.2, "width": 68.9, "confidence": 0.981},
    "inference_ms": 23.1, "probability_network": 0.3877,
    "cdr": {"vertical": 0.48, "mae_vs_experts": 0.0831, "measured_on": "cv_drishti_gs1"},
}


class Contract:
    """The served OpenAPI document: validates a response against the schema documented for its operation
    and status, and remembers which components the validated bodies were documented as."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.met: set[str] = set()

    def schema(self, path: str, method: str, status: int) -> dict[str, Any]:
        responses_ = self.doc["paths"][path][method]["responses"]
        assert str(status) in responses_, f"{method.upper()} {path} does not document {status}"
        return responses_[str(status)]["content"][JSON]["schema"]

    def check(self, body: Any, path: str, method: str, status: int) -> None:
        schema = self.schema(path, method, status)
        # The document's own "#/components/..." references resolve against a root that carries its components.
        root = {**copy.deepcopy(schema), "components": self.doc["components"]}
        jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker()).validate(body)
        if "$ref" in schema:
            self.met.add(schema["$ref"].rsplit("/", 1)[-1])

    def served(self, response: Any, path: str, method: str, status: int) -> dict[str, Any]:
        """A response of the expected status whose body is what the document says of it."""
        assert response.status_code == status, response.body
        assert response.headers["Content-Type"].startswith(JSON)
        body = json.loads(response.body)
        self.check(body, path, method, status)
        return body


@pytest.fixture
def contract(api) -> Contract:
    served = api.get("/api/openapi.json")
    assert served.status_code == 200
    assert served.json_body == document()
    return Contract(served.json_body)


def _screening(api, images, **extra) -> str:
    body = {"filename": "left_eye.png", "content_type": "image/png", "consent": True,
            "image_base64": images.b64(images.png()), **extra}
    r = api.post("/api/screenings", body)
    assert r.status_code == 202, r.body
    return r.json_body["id"]


def test_every_served_body_is_its_documented_response(contract, api, admin_api, images, aws, service, worker,
                                                      monkeypatch):
    c, one, many = contract, "/api/screenings/{id}", "/api/screenings"
    h, admin = admin_api.headers, admin_api.api
    stats = c.served(admin.get("/api/admin/stats", headers=h), "/api/admin/stats", "get", 200)
    assert stats["total"] == 0 and stats["agreement_rate"] is None

    # --- the screenings, in every state they can be read in
    r = api.post(many, {"filename": "right_eye.jpg", "content_type": "image/jpeg", "size": 2483112, "consent": True})
    created = c.served(r, many, "post", 201)
    assert created["upload"]["fields"] and created["secret"]
    assert c.served(api.get(f"{many}/{created['id']}"), one, "get", 200)["status"] == Status.AWAITING_UPLOAD

    sid = _screening(api, images, crop={"x": 300, "y": 140, "size": 200})
    r = api.post(many, {"filename": "left_eye.png", "content_type": "image/png", "consent": True,
                        "image_base64": images.b64(images.png())})
    assert c.served(r, many, "post", 202)["status"] == Status.QUEUED
    assert c.served(api.get(f"{many}/{sid}"), one, "get", 200)["status"] == Status.QUEUED
    assert service.store.move(sid, Status.PROCESSING) is not None
    assert c.served(api.get(f"{many}/{sid}"), one, "get", 200)["status"] == Status.PROCESSING
    assert service.store.move(sid, Status.DONE, set_fields={"result": dict(FULL_RESULT)}) is not None
    done = c.served(api.get(f"{many}/{sid}"), one, "get", 200)
    assert done["result"] == FULL_RESULT and "feedback" not in done

    feedback = {"diagnosis_correct": False, "true_label": "glaucoma", "metadata": {
        "subject_id": "hygd-17", "age": 63, "sex": "female", "eye": "left", "iop_mmhg": 24, "cdr": 0.7,
        "family_history": True, "camera": "Topcon NW400", "notes": "free text"}}
    given = c.served(api.put(f"{many}/{sid}/feedback", feedback), f"{one}/feedback", "put", 200)
    assert given["feedback"]["metadata"]["subject_id"] == "hygd-17" and given["feedback"]["given_at"]
    assert "feedback" in c.served(api.get(f"{many}/{sid}"), one, "get", 200)
    assert "feedback" not in c.served(api.get(f"{many}/{sid}", own=False), one, "get", 200)

    rejected = _screening(api, images)
    assert service.store.move(rejected, Status.PROCESSING) is not None
    assert service.store.move(rejected, Status.REJECTED, set_fields={"error": {
        "code": "too_blurred", "message": "The photo is out of focus.",
        "quality_scores": {"sharpness": 3.5, "sharpness_limit": 8}}}) is not None
    body = c.served(api.get(f"{many}/{rejected}"), one, "get", 200)
    assert body["error"] == {"code": "too_blurred", "message": "The photo is out of focus."}

    failed = _screening(api, images)
    assert service.store.move(failed, Status.FAILED, set_fields={"error": {
        "code": "processing_failed", "message": "Could not be processed."}}) is not None
    assert c.served(api.get(f"{many}/{failed}"), one, "get", 200)["status"] == Status.FAILED

    rerun = c.served(api.post(f"{many}/{failed}/rerun", {"crop": None}), f"{one}/rerun", "post", 202)
    assert rerun["status"] == Status.QUEUED and "error" not in rerun

    # --- errors: the contract's error body, under the status the operation documents
    error = c.served(api.post(many, {"filename": "x.png", "content_type": "image/png", "consent": True,
                                     "size": "big"}), many, "post", 400)["error"]
    assert error["code"] == "invalid_request" and error["details"]
    c.served(api.get(f"{many}/{uuid.uuid4()}"), one, "get", 404)
    c.served(api.get(f"{many}/not-an-id"), one, "get", 400)
    c.served(api.put(f"{many}/{sid}/feedback", feedback, own=False), f"{one}/feedback", "put", 401)
    c.served(api.get(f"{many}/{failed}/crop"), f"{one}/crop", "get", 409)

    # --- service
    c.served(api.get("/api/health"), "/api/health", "get", 200)
    image = images.encode(images.fundus(800, 600, disc=(560, 300)), "PNG")
    c.served(api.post("/api/locate", {"image_base64": images.b64(image)}), "/api/locate", "post", 200)

    # --- admin
    page = c.served(admin.get("/api/admin/screenings?limit=2", headers=h), "/api/admin/screenings", "get", 200)
    assert page["next_cursor"] is not None
    page = c.served(admin.get("/api/admin/screenings?limit=200", headers=h), "/api/admin/screenings", "get", 200)
    assert page["next_cursor"] is None and len(page["items"]) == 5
    path = "/api/admin/screenings/{id}"
    detail = c.served(admin.get(f"/api/admin/screenings/{rejected}", headers=h), path, "get", 200)
    assert detail["quality_scores"]["sharpness"] == 3.5 and detail["original"]["url"]
    detail = c.served(admin.get(f"/api/admin/screenings/{failed}", headers=h), path, "get", 200)
    assert detail["history"][0]["error"]["code"] == "processing_failed"
    detail = c.served(admin.get(f"/api/admin/screenings/{sid}", headers=h), path, "get", 200)
    assert detail["feedback"]["true_label"] == "glaucoma" and detail["result"] == FULL_RESULT
    detail = c.served(admin.get(f"/api/admin/screenings/{created['id']}", headers=h), path, "get", 200)
    assert detail["original"] is None and detail["image"] is None  # never uploaded
    stats = c.served(admin.get("/api/admin/stats", headers=h), "/api/admin/stats", "get", 200)
    assert stats["total"] == 5 and stats["agreement_rate"] == 0
    c.served(admin.get("/api/admin/stats"), "/api/admin/stats", "get", 401)
    # the model's monitoring: the one confirmed case (a miss at the threshold) and the one refusal, by week
    watch = c.served(admin.get("/api/admin/monitoring?period=week", headers=h), "/api/admin/monitoring", "get", 200)
    assert [(p["confirmed"], p["camera"], p["sensitivity"], p["auc"]) for p in watch["series"]] == [
        (1, "Topcon NW400", 0.0, None)]
    assert watch["by_version"][0]["expected"] is None and watch["warnings"] == []
    assert watch["refusals"][0]["codes"] == {"too_blurred": 1}
    c.served(admin.get("/api/admin/monitoring?period=day", headers=h), "/api/admin/monitoring", "get", 400)

    # the review queue: an unconfirmed done screening near its threshold, then an expert's label on it
    service.store.col.update_one({"_id": sid}, {"$unset": {"feedback": ""}})
    queue = c.served(admin.get("/api/admin/review?limit=5", headers=h), "/api/admin/review", "get", 200)
    assert [item["id"] for item in queue["items"]] == [sid] and queue["items"][0]["probability_network"]
    review = "/api/admin/screenings/{id}/review"
    reviewed = c.served(admin.put(f"/api/admin/screenings/{sid}/review", {"true_label": "glaucoma"}, headers=h),
                        review, "put", 200)
    assert reviewed["review"]["true_label"] == "glaucoma" and reviewed["feedback"]["true_label"] == "glaucoma"
    c.served(admin.put(f"/api/admin/screenings/{rejected}/review", {"true_label": "normal"}, headers=h),
             review, "put", 409)

    export = c.served(admin.post("/api/admin/exports", {"true_label": "glaucoma", "from": "2026-01-01"}, headers=h),
                      "/api/admin/exports", "post", 202)
    path, exports = "/api/admin/exports/{id}", admin_api.db["exports"]
    assert c.served(admin.get(f"/api/admin/exports/{export['id']}", headers=h), path, "get", 200)["status"] in (
        ExportStatus.QUEUED, ExportStatus.RUNNING)
    exports.update_one({"_id": export["id"]}, {"$set": {
        "status": str(ExportStatus.DONE), "finished_at": exports.find_one({"_id": export["id"]})["updated_at"],
        "size": 4096, "counts": {"screenings": 1, "glaucoma": 1, "normal": 0}}})
    assert c.served(admin.get(f"/api/admin/exports/{export['id']}", headers=h), path, "get", 200)["download_url"]
    exports.update_one({"_id": export["id"]}, {"$set": {"status": str(ExportStatus.FAILED), "error": {
        "code": "export_failed", "message": "The export could not be built."}}})
    assert c.served(admin.get(f"/api/admin/exports/{export['id']}", headers=h), path, "get", 200)["error"]
    c.served(admin.get(f"/api/admin/exports/{uuid.uuid4()}", headers=h), path, "get", 404)

    # --- the model registry: list, compare (queued, then done as the job stores it), promote, roll back
    _models(monkeypatch, aws)
    listed = c.served(admin.get("/api/admin/models", headers=h), "/api/admin/models", "get", 200)
    assert listed["serving"] == "baked" and listed["versions"][0]["model_version"] == "v2"
    path = "/api/admin/models/{version}/comparison"
    assert c.served(admin.post("/api/admin/models/v2/comparison", headers=h), path, "post", 202)["status"] == "queued"
    _finish_comparison(aws)
    done = c.served(admin.get("/api/admin/models/v2/comparison", headers=h), path, "get", 200)
    assert done["models"][0]["by_camera"]["Topcon"]["auc"] == 0.9
    c.served(admin.get("/api/admin/models/v9/comparison", headers=h), path, "get", 404)
    promote = "/api/admin/models/{version}/promote"
    assert c.served(admin.post("/api/admin/models/v2/promote", headers=h), promote, "post", 200)["serving"] == "v2"
    c.served(admin.post("/api/admin/models/v9/promote", headers=h), promote, "post", 404)
    rolled = c.served(admin.post("/api/admin/models/rollback", headers=h), "/api/admin/models/rollback", "post", 200)
    assert rolled == {"serving": "baked", "previous": "v2"}

    # --- roles: an admin grants and revokes `reviewers` (papila.api.users, on moto's Cognito)
    from infra import cognito as local_cognito

    cog = admin_api.cognito
    local_cognito.ensure_user(local_cognito.client(cog.endpoint), cog.pool.pool_id, "shapes@example.org",
                              "Shapes-Password-42", ("clinicians",))
    path = "/api/admin/users/{username}/reviewer"
    granted = c.served(admin.put("/api/admin/users/shapes@example.org/reviewer", headers=h), path, "put", 200)
    assert granted == {"username": "shapes@example.org", "groups": ["clinicians", "reviewers"]}
    revoked = c.served(admin.request("DELETE", "/api/admin/users/shapes@example.org/reviewer", headers=h),
                       path, "delete", 200)
    assert revoked["groups"] == ["clinicians"]
    c.served(admin.put("/api/admin/users/nobody@example.org/reviewer", headers=h), path, "put", 404)
    c.served(admin.put("/api/admin/users/a%20b/reviewer", headers=h), path, "put", 400)

    # --- a clinician's own (papila.api.accounts): who am I, a claim, my screenings, my export
    user = {"Authorization": f"Bearer {admin_api.cognito.viewer['AccessToken']}"}
    me = c.served(api.get("/api/me", headers=user), "/api/me", "get", 200)
    assert me["role"] == "clinician"
    c.served(api.get("/api/me"), "/api/me", "get", 401)
    claimed = c.served(api.post(f"{many}/{sid}/claim", headers=user), f"{one}/claim", "post", 200)
    assert claimed["owned"] is True
    c.served(api.post(f"{many}/{sid}/claim", headers=h), f"{one}/claim", "post", 409)  # the admin: another account
    c.served(api.get(f"{many}/{sid}", own=False), one, "get", 404)  # owned: the id alone finds nothing
    mine = c.served(api.get("/api/me/screenings?limit=1", headers=user), "/api/me/screenings", "get", 200)
    assert [item["id"] for item in mine["items"]] == [sid] and mine["next_cursor"] is None
    c.served(api.get("/api/me/screenings?cursor=x", headers=user), "/api/me/screenings", "get", 400)
    mine = c.served(api.post("/api/me/exports", headers=user), "/api/me/exports", "post", 202)
    assert mine["filters"]["include_unconfirmed"] is True
    assert c.served(api.get(f"/api/me/exports/{mine['id']}", headers=user), "/api/me/exports/{id}", "get",
                    200)["links"]["self"] == f"/api/me/exports/{mine['id']}"
    c.served(api.get(f"/api/me/exports/{export['id']}", headers=user), "/api/me/exports/{id}", "get", 404)
    c.served(api.request("DELETE", f"{many}/{sid}", own=False), one, "delete", 404)
    assert api.request("DELETE", f"{many}/{sid}", headers=user).status_code == 204

    # A failure on its way out is an error body too.
    aws.sqs.delete_queue(QueueUrl=aws.queue_url)
    health = c.served(api.get("/api/health"), "/api/health", "get", 503)
    assert health["status"] == "error" and health["error"]["code"] == "unhealthy"

    # Every response component was met by a real body.
    assert c.met == {model.__name__ for model in RESPONSE_MODELS}


def _record(**extra: Any) -> dict[str, Any]:
    from datetime import UTC, datetime

    t = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
    return {"_id": str(uuid.uuid4()), "status": "done", "created_at": t, "updated_at": t, "filename": "a.png",
            "consent": {"accepted": True, "at": t, "version": "2026-11"}, "result": dict(FULL_RESULT), **extra}


def test_the_check_can_fail():
    c = Contract(document())
    body = present(_record())
    c.check(body, "/api/screenings/{id}", "get", 200)
    broken = [
        {**body, "undeclared": 1},  # the response models are closed
        {k: v for k, v in body.items() if k != "links"},  # a required key
        {**body, "status": "finished"},  # not a Status
        {**body, "result": {**body["result"], "label": "suspect"}},  # not a model label
        {**body, "links": {**body["links"], "self": 1}},
        {**body, "error": {"code": "x"}},
    ]
    for bad in broken:
        with pytest.raises(jsonschema.ValidationError):
            c.check(bad, "/api/screenings/{id}", "get", 200)
    with pytest.raises(AssertionError, match="does not document 418"):
        c.check(body, "/api/screenings/{id}", "get", 418)


def test_presenters_build_through_the_models(monkeypatch):
    from papila.api import admin

    # What a presenter sets is what the model declares: an undeclared key is an error, not a surprise.
    fields = responses.screening_fields
    monkeypatch.setattr(responses, "screening_fields", lambda record, **kw: {**fields(record, **kw), "extra": 1})
    monkeypatch.setattr(admin, "screening_fields", responses.screening_fields)
    with pytest.raises(ResponseShapeError, match="Screening refused: extra"):
        responses.present(_record())
    with pytest.raises(ResponseShapeError, match="AdminScreening refused: extra"):
        admin.present_admin(_record())
    # A value of the wrong type is one too (the worker's result is checked as it goes out); the message
    # names the fields, never their values.
    monkeypatch.undo()
    with pytest.raises(ResponseShapeError, match=r"^Screening refused: result\.probability_glaucoma$"):
        present(_record(result={**FULL_RESULT, "probability_glaucoma": 1.5}))
    with pytest.raises(ResponseShapeError, match="status"):
        admin.present_export({"_id": str(uuid.uuid4()), "status": "lost", "created_at": None, "updated_at": None})
    # The result keeps fields it does not declare (further fields may appear); ints stay ints.
    body = present(_record(result={**FULL_RESULT, "threshold": 1, "later": {"x": 1}}))
    assert body["result"]["later"] == {"x": 1} and json.dumps(body["result"]["threshold"]) == "1"


def test_the_components_are_the_models_schemas():
    schemas = document()["components"]["schemas"]
    for model in RESPONSE_MODELS:
        own = model.model_json_schema(ref_template=REF, mode="serialization")
        for name, part in {**own.pop("$defs", {}), model.__name__: own}.items():
            assert schemas[name] == part, name
    # The enums are the domain's, written once.
    assert schemas["Status"]["enum"] == [s.value for s in Status]
    assert schemas["ExportStatus"]["enum"] == [s.value for s in ExportStatus]
    listing = document()["paths"]["/api/admin/screenings"]["get"]["parameters"]
    assert next(p for p in listing if p["name"] == "status")["schema"]["enum"] == [s.value for s in Status]
    # Optional fields are absent rather than null: no response property carries a default.
    for model in RESPONSE_MODELS:
        own = model.model_json_schema(mode="serialization")
        for name, part in {**own.pop("$defs", {}), model.__name__: own}.items():
            if name != "FeedbackMetadata":  # a request model, shared
                assert all("default" not in p for p in part.get("properties", {}).values()), name
    assert Screening.model_json_schema()["additionalProperties"] is False


def test_a_body_its_model_refuses_is_a_500_not_the_clients_400(api, images, service, worker, caplog):
    sid = _screening(api, images)
    worker.finish(sid, {**worker.result, "label": "suspect", "referral": "Jane Doe, 1961"})
    r = api.get(f"/api/screenings/{sid}")
    assert r.status_code == 500 and r.json_body["error"]["code"] == "internal_error"
    assert "ResponseShapeError" in caplog.text and "Jane Doe" not in caplog.text + r.body.decode()


def _models(monkeypatch: Any, aws: Any) -> None:
    """The registry's pointer, the compare queue and one registered version (its card only)."""
    import boto3
    from papila.adapters import registry
    from papila.api import model_admin

    registry._ssm.cache_clear()
    boto3.client("ssm").put_parameter(Name="papila-model-version", Value="baked", Type="String")
    monkeypatch.setenv("MODEL_PARAMETER", "papila-model-version")
    monkeypatch.setenv("COMPARE_QUEUE_URL", aws.sqs.create_queue(QueueName="papila-compare")["QueueUrl"])
    model_admin.reset()
    card = {"model_version": "v2", "threshold": 0.5, "trained_at": "2026-12-01T00:00:00Z",
            "metrics": {"by_domain": {"Topcon": {"n": 40, "auc_served": 0.8, "sensitivity": 0.7, "specificity": 0.75}}}}
    aws.s3.put_object(Bucket=aws.bucket, Key="models/v2/model.json", Body=json.dumps(card).encode())


def _finish_comparison(aws: Any) -> None:
    """What the compare job stores when it is done (papila.usecases.compare)."""
    key = "models/v2/comparison.json"
    state = json.loads(aws.s3.get_object(Bucket=aws.bucket, Key=key)["Body"].read())
    figures = {"n": 10, "done": 9, "refused": 1, "auc": 0.9, "sensitivity": 0.8, "specificity": None}
    column = {"threshold": 0.5, "overall": figures, "roc": {"fpr": [0, 0.5, 1], "tpr": [0, 0.9, 1]},
              "by_camera": {"Topcon": figures}}
    state.update(status="done", finished_at=state["requested_at"], seconds=3.2,
                 cases={"confirmed": 12, "held_out": 10, "excluded_training": 2, "graded": 10, "glaucoma": 5, "normal": 5},
                 models=[{**column, "model_version": "v2", "role": "candidate"},
                         {**column, "model_version": "baked-v", "role": "current"}])
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=json.dumps(state).encode())
