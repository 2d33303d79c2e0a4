"""The review queue (issue 14, item 4): unconfirmed done screenings ranked by how much their label would
teach (nearness to the threshold plus the VGG19's disagreement), an expert's label recorded with who gave
it and audited, and exports that can be limited to reviewed screenings."""

from __future__ import annotations

import pytest
from papila.core.records import now
from papila.core.review import review_priority

from tests.unit.admin_support import put_screening

pytest_plugins = ["tests.unit.admin_fixtures"]


def _with_result(service, sid: str, p: float, network: float | None = None, threshold: float = 0.5757) -> None:
    result = {"probability_glaucoma": p, "threshold": threshold, "label": "glaucoma" if p >= threshold else "normal"}
    if network is not None:
        result["probability_network"] = network
    service.store.col.update_one({"_id": sid}, {"$set": {f"result.{k}": v for k, v in result.items()}})


@pytest.fixture
def population(admin_api, service, aws, images):
    def put(**kw):
        return put_screening(service, aws, images, **kw)

    ids = {"near": put(), "far": put(), "disagree": put(), "suspect": put(true_label="suspect"),
           "confirmed": put(true_label="glaucoma"), "rejected": put(status="rejected")}
    _with_result(service, ids["near"], 0.58, 0.58)
    _with_result(service, ids["far"], 0.95, 0.95)
    _with_result(service, ids["disagree"], 0.2, 0.9)
    _with_result(service, ids["suspect"], 0.4)
    _with_result(service, ids["confirmed"], 0.57, 0.1)
    return ids


def test_priority_is_nearness_to_the_threshold_plus_disagreement():
    assert review_priority({"probability_glaucoma": 0.5757, "threshold": 0.5757}) == 1.0
    assert review_priority({"probability_glaucoma": 1.0, "threshold": 0.5757}) == 0.0
    assert review_priority({"probability_glaucoma": 0.0, "threshold": 0.5757}) == 0.0
    assert review_priority({"probability_glaucoma": 0.2, "threshold": 0.5757, "probability_network": 0.9}) == \
        pytest.approx(1 - 0.3757 / 0.5757 + 0.7, abs=1e-4)
    assert review_priority({"label": "glaucoma"}) is None  # an old result without a probability


def test_the_queue_ranks_unconfirmed_done_screenings(admin_api, population):
    r = admin_api.api.get("/api/admin/review", headers=admin_api.headers)
    assert r.status_code == 200, r.body
    body = r.json_body
    order = [item["id"] for item in body["items"]]
    names = {v: k for k, v in population.items()}
    assert [names[i] for i in order] == ["disagree", "near", "suspect", "far"]  # no confirmed, no rejected
    assert body["candidates"] == 4 and body["items"][2]["true_label"] == "suspect"
    assert [item["priority"] for item in body["items"]] == sorted((i["priority"] for i in body["items"]), reverse=True)
    assert admin_api.api.get("/api/admin/review?limit=1", headers=admin_api.headers).json_body["items"][0]["id"] == \
        population["disagree"]
    read = admin_api.db["audit"].find_one({"action": "read", "details.view": "review"})
    assert read["details"]["ids"] == order


def test_an_experts_label_is_recorded_with_who_gave_it_and_audited(admin_api, population, service):
    sid = population["suspect"]
    r = admin_api.api.put(f"/api/admin/screenings/{sid}/review", {"true_label": "normal"}, headers=admin_api.headers)
    assert r.status_code == 200, r.body
    body = r.json_body
    assert body["feedback"]["true_label"] == "normal"
    assert body["review"]["true_label"] == "normal" and body["review"]["replaced"] == "suspect"
    assert body["review"]["by"]["username"] and body["review"]["by"]["sub"]
    entry = admin_api.db["audit"].find_one({"action": "review", "screening_id": sid})
    assert entry["details"] == {"true_label": "normal", "replaced": "suspect"}
    queue = admin_api.api.get("/api/admin/review", headers=admin_api.headers).json_body
    assert sid not in [item["id"] for item in queue["items"]]  # confirmed now
    # Exports can be limited to reviewed screenings.
    reviewed = [r["_id"] for r in service.store.confirmed({"reviewed": True}, now())]
    assert reviewed == [sid]
    assert len(list(service.store.confirmed({}, now()))) == 2  # with the clinician-confirmed one


@pytest.mark.parametrize(("target", "body", "status", "code"), [
    ("rejected", {"true_label": "normal"}, 409, "not_reviewable"),
    ("near", {"true_label": "maybe"}, 400, "invalid_request"),
    ("near", {"true_label": "normal", "by": "me"}, 400, "invalid_request"),
    ("unknown", {"true_label": "normal"}, 404, "not_found"),
])
def test_bad_reviews_are_refused_and_change_nothing(admin_api, population, service, target, body, status, code):
    sid = population.get(target, "5f0c2c1e-8b7a-4d3e-9f00-000000000000")
    before = service.store.get(sid)
    r = admin_api.api.put(f"/api/admin/screenings/{sid}/review", body, headers=admin_api.headers)
    assert r.status_code == status and r.json_body["error"]["code"] == code
    assert service.store.get(sid) == before
    assert admin_api.db["audit"].count_documents({"action": "review"}) == 0


def test_the_review_routes_need_an_admin(admin_api, population):
    assert admin_api.api.get("/api/admin/review").status_code == 401
    sid = population["near"]
    assert admin_api.api.put(f"/api/admin/screenings/{sid}/review", {"true_label": "normal"}).status_code == 401
