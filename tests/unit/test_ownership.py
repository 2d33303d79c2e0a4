"""Clinician accounts (issue 15): who may read or change a screening once it belongs to an account, claiming,
erasing, "my screenings", "my data" (the personal export), /api/me and the reviewers' review queue. Against a
REAL Cognito pool on moto's server (tests/unit/admin_fixtures.py): clinician A (the fixtures' viewer: a user
in no group), clinician B (made here), the admin, a reviewer (made here) and tokens of another pool."""

from __future__ import annotations

import csv
import io
import json
import os
import time
import uuid
import zipfile
from datetime import timedelta
from types import SimpleNamespace

import jwt
import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from cryptography.hazmat.primitives.asymmetric import rsa
from papila.adapters.aws import WorkQueue
from papila.adapters.mongo import Exports
from papila.core.access import Access, Claim, Refusal, claim, decide
from papila.events import export_record
from papila.usecases import export as export_mod

from infra import cognito as local_cognito
from tests.unit.admin_support import T0, drain, objects_of, put_screening

pytest_plugins = ["tests.unit.admin_fixtures"]

CLINICIAN_B = "clinician-b@example.org"
REVIEWER = "reviewer@example.org"
FEEDBACK = {"diagnosis_correct": True, "true_label": "glaucoma", "metadata": {"age": 63, "notes": "seen in clinic"}}


# ---------------------------------------------------------------- the pure rules: every case


H, S_REQ, S_INV, OWNER_ONLY = Refusal.HIDDEN, Refusal.SECRET_REQUIRED, Refusal.SECRET_INVALID, Refusal.OWNER_ONLY
FULL = Access(None, None, None, None)
HIDDEN = Access(H, H, H, H)
TRUTH = [
    # owner, caller, secret (None: none given / True: the screening's / False: another) -> access
    (None, None, None, Access(None, S_REQ, S_REQ, S_REQ)),
    (None, None, False, Access(None, S_INV, S_INV, S_INV)),
    (None, None, True, FULL),
    (None, "A", None, Access(None, S_REQ, S_REQ, S_REQ)),  # a token alone proves nothing of an anonymous one
    (None, "A", False, Access(None, S_INV, S_INV, S_INV)),
    (None, "A", True, FULL),
    ("A", "A", None, FULL),  # the owner's token
    ("A", "A", False, FULL),  # the owner's token stands, whatever secret comes with it
    ("A", "A", True, FULL),
    ("A", None, None, HIDDEN),  # the id alone
    ("A", None, False, HIDDEN),
    ("A", None, True, Access(None, None, None, OWNER_ONLY)),  # the secret: everything but the erasure
    ("A", "B", None, HIDDEN),  # another account
    ("A", "B", False, HIDDEN),
    ("A", "B", True, Access(None, None, None, OWNER_ONLY)),
]


@pytest.mark.parametrize(("owner", "caller", "secret", "expected"), TRUTH)
def test_the_access_truth_table(owner, caller, secret, expected):
    assert decide(owner, caller, secret) == expected


def test_the_truth_table_is_complete_and_the_flags_follow_the_refusals():
    assert {(o, c, s) for o, c, s, _ in TRUTH} == {
        (o, c, s) for o in (None, "A") for c in (None, "A", "B") for s in (None, False, True) if not (o is None and c == "B")}
    assert decide("", None, None) == decide(None, None, None)  # an empty owner is no owner
    access = decide(None, None, None)
    assert access.may_read_result and not access.may_read_feedback and not access.may_write and not access.may_erase
    assert decide("A", "A", None).may_erase and not decide("A", "B", True).may_erase


@pytest.mark.parametrize(("owner", "secret", "expected"), [
    (None, True, Claim.TAKE),
    (None, None, Refusal.SECRET_REQUIRED),
    (None, False, Refusal.SECRET_INVALID),
    ("A", None, Claim.ALREADY_YOURS),
    ("A", False, Claim.ALREADY_YOURS),
    ("A", True, Claim.ALREADY_YOURS),
    ("B", True, Claim.ALREADY_OWNED),
    ("B", None, Refusal.HIDDEN),
    ("B", False, Refusal.HIDDEN),
])
def test_the_claim_table(owner, secret, expected):
    assert claim(owner, "A", secret) == expected


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def users(cognito):
    """Tokens of clinician A (the fixtures' viewer), clinician B, a reviewer and the admin, with their subs."""
    idp = local_cognito.client(cognito.endpoint)
    pool = cognito.pool.pool_id
    try:
        idp.get_group(UserPoolId=pool, GroupName="reviewers")
    except idp.exceptions.ResourceNotFoundException:
        idp.create_group(UserPoolId=pool, GroupName="reviewers")
    password = cognito.pool.password  # the fixtures' users' password
    local_cognito.ensure_user(idp, pool, CLINICIAN_B, password)
    local_cognito.ensure_user(idp, pool, REVIEWER, password, ("reviewers",))

    def person(tokens):
        token = tokens["AccessToken"]
        return SimpleNamespace(token=token, sub=_claims(token)["sub"], auth={"Authorization": f"Bearer {token}"})

    def sign_in(user):
        return local_cognito.sign_in(cognito.endpoint, cognito.pool.client_id, user, password)

    return SimpleNamespace(a=person(cognito.viewer), b=person(sign_in(CLINICIAN_B)), admin=person(cognito.admin),
                           reviewer=person(sign_in(REVIEWER)), other_pool=person(cognito.other_pool_admin))


@pytest.fixture
def t(api, service, admin_env, users, aws, images, worker):
    """Everything a test here uses: the API client, the users, the store, the audit log."""
    db = service.store.col.database
    for name in ("audit", "exports", "export_items"):
        db[name].delete_many({})
    return SimpleNamespace(api=api, u=users, service=service, aws=aws, images=images, worker=worker, db=db)


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _moto_private_key():
    from moto.utilities.utils import load_resource

    return jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(load_resource("cognitoidp/resources/jwks-private.json")))


def _create(t, who=None, **extra) -> tuple[str, str]:
    """An inline screening (by `who`, else anonymous): (id, secret)."""
    body = {"filename": "eye.png", "content_type": "image/png", "consent": True,
            "image_base64": t.images.b64(t.images.png()), **extra}
    r = t.api.post("/api/screenings", body, headers=who.auth if who else None)
    assert r.status_code == 202, r.body
    return r.json_body["id"], r.json_body["secret"]


def _done(t, who=None, *, feedback: bool = True) -> tuple[str, str]:
    sid, secret = _create(t, who)
    t.worker.finish(sid)
    if feedback:
        r = t.api.put(f"/api/screenings/{sid}/feedback", FEEDBACK, own=False, headers={"X-Screening-Secret": secret})
        assert r.status_code == 200, r.body
    return sid, secret


def _code(response) -> tuple[int, str]:
    return response.status_code, json.loads(response.body)["error"]["code"]


def _as(who=None, secret: str | None = None) -> dict[str, str]:
    headers = dict(who.auth) if who else {}
    if secret is not None:
        headers["X-Screening-Secret"] = secret
    return headers


def _reads(t, sid: str, headers: dict[str, str]) -> dict[str, int]:
    """Every read route's status for this caller."""
    api = t.api
    pdf = {**headers, "Accept": "application/pdf"}
    return {
        "get": api.get(f"/api/screenings/{sid}", own=False, headers=headers).status_code,
        "crop": api.get(f"/api/screenings/{sid}/crop", own=False, headers=headers).status_code,
        "heatmap": api.get(f"/api/screenings/{sid}/heatmap", own=False, headers=headers).status_code,
        "report": api.get(f"/api/screenings/{sid}/report", own=False, headers=pdf).status_code,
        "diagnosis": api.get(f"/api/getDiagnosis/{sid}", own=False, headers=headers).status_code,
        "download": api.get(f"/api/download/{sid}", own=False, headers=headers).status_code,
    }


def _writes(t, sid: str, headers: dict[str, str]) -> dict[str, tuple[int, str] | int]:
    """Every write route's answer for this caller (feedback, metadata, rerun), as (status, code) or status."""
    api = t.api

    def answer(r):
        return r.status_code if r.status_code < 400 else _code(r)

    return {
        "feedback": answer(api.put(f"/api/screenings/{sid}/feedback", {**FEEDBACK, "true_label": "normal"},
                                   own=False, headers=headers)),
        "metadata": answer(api.post("/api/metadata", {"uuid": sid, "age": 70}, own=False, headers=headers)),
        "rerun": answer(api.post(f"/api/screenings/{sid}/rerun", {}, own=False, headers=headers)),
    }


ALL_READ = {"get": 200, "crop": 303, "heatmap": 303, "report": 200, "diagnosis": 200, "download": 200}
NONE_READ = dict.fromkeys(ALL_READ, 404)
ALL_WRITE = {"feedback": 200, "metadata": 200, "rerun": 202}


# ---------------------------------------------------------------- creating: the owner is the token's sub


def test_a_signed_in_create_stores_the_sub_as_owner(t):
    sid, _ = _create(t, t.u.a)
    record = t.service.store.get(sid)
    assert record["owner"] == t.u.a.sub
    assert "viewer@example.org" not in json.dumps(record, default=str)  # the sub only, never the e-mail
    r = t.api.post("/api/screenings", {"filename": "l.png", "content_type": "image/png", "size": 1000, "consent": True},
                   headers=t.u.a.auth)
    assert r.status_code == 201 and r.json_body["owned"] is True
    assert t.service.store.get(r.json_body["id"])["owner"] == t.u.a.sub


def test_an_anonymous_create_has_no_owner(t):
    r = t.api.post("/api/screenings", {"filename": "l.png", "content_type": "image/png", "size": 1000, "consent": True})
    assert r.status_code == 201 and r.json_body["owned"] is False
    assert "owner" not in t.service.store.get(r.json_body["id"])
    assert t.api.get(f"/api/screenings/{r.json_body['id']}").json_body["owned"] is False


def test_the_owner_index_exists(t):
    index = t.service.store.col.index_information()["owner_created"]
    assert index["key"] == [("owner", 1), ("created_at", -1)]


def test_a_replayed_create_is_the_same_callers_only(t):
    body = {"filename": "l.png", "content_type": "image/png", "size": 1000, "consent": True}
    key = {"Idempotency-Key": "owner-replay-1"}
    first = t.api.post("/api/screenings", body, headers={**key, **t.u.a.auth})
    assert t.api.post("/api/screenings", body, headers={**key, **t.u.a.auth}).json_body["id"] == first.json_body["id"]
    assert _code(t.api.post("/api/screenings", body, headers={**key, **t.u.b.auth})) == (422, "idempotency_key_reused")
    assert _code(t.api.post("/api/screenings", body, headers=key)) == (422, "idempotency_key_reused")


# ---------------------------------------------------------------- reading and writing an owned screening


def test_the_owners_token_reads_everything_without_the_secret(t):
    sid, _ = _done(t, t.u.a)
    assert _reads(t, sid, _as(t.u.a)) == ALL_READ
    body = t.api.get(f"/api/screenings/{sid}", own=False, headers=_as(t.u.a)).json_body
    assert body["owned"] is True and body["feedback"]["metadata"]["notes"] == "seen in clinic"


def test_the_owners_token_writes_without_the_secret(t):
    sid, _ = _done(t, t.u.a)
    assert _writes(t, sid, _as(t.u.a)) == ALL_WRITE
    assert t.service.store.get(sid)["status"] == "queued"


def test_another_clinicians_token_finds_nothing(t):
    sid, _ = _done(t, t.u.a)
    before = t.service.store.get(sid)
    assert _reads(t, sid, _as(t.u.b)) == NONE_READ
    not_found = (404, "not_found")
    assert _writes(t, sid, _as(t.u.b)) == dict.fromkeys(ALL_WRITE, not_found)
    assert _code(t.api.post(f"/api/screenings/{sid}/claim", own=False, headers=_as(t.u.b))) == not_found
    assert _code(t.api.request("DELETE", f"/api/screenings/{sid}", own=False, headers=_as(t.u.b))) == not_found
    assert t.service.store.get(sid) == before
    # word for word the answer for an id that does not exist: nothing says it does
    unknown = t.api.get(f"/api/screenings/{uuid.uuid4()}", own=False, headers=_as(t.u.b)).json_body
    assert t.api.get(f"/api/screenings/{sid}", own=False, headers=_as(t.u.b)).json_body == unknown


def test_the_id_alone_or_a_wrong_secret_finds_nothing_of_an_owned_screening(t):
    sid, _ = _done(t, t.u.a)
    other_secret = _create(t)[1]
    before = t.service.store.get(sid)
    for headers in ({}, _as(secret=other_secret), _as(t.u.b, other_secret)):
        assert _reads(t, sid, headers) == NONE_READ, headers
        assert _writes(t, sid, headers) == dict.fromkeys(ALL_WRITE, (404, "not_found")), headers
    assert t.service.store.get(sid) == before


def test_the_secret_of_an_owned_screening_still_opens_it(t):
    sid, secret = _done(t, t.u.a)
    assert _reads(t, sid, _as(secret=secret)) == ALL_READ
    assert "feedback" in t.api.get(f"/api/screenings/{sid}", own=False, headers=_as(secret=secret)).json_body
    assert _reads(t, sid, _as(t.u.b, secret)) == ALL_READ  # another's token plus the secret: the secret counts
    assert _writes(t, sid, _as(secret=secret)) == ALL_WRITE


def test_an_anonymous_screening_keeps_the_secret_rules(t):
    sid, secret = _done(t)
    other_secret = _create(t)[1]
    # the id alone: the result, not the feedback; no writes
    assert _reads(t, sid, {}) == ALL_READ
    assert "feedback" not in t.api.get(f"/api/screenings/{sid}", own=False).json_body
    assert _writes(t, sid, {}) == dict.fromkeys(ALL_WRITE, (401, "secret_required"))
    # a signed-in stranger is no more than that
    assert "feedback" not in t.api.get(f"/api/screenings/{sid}", own=False, headers=_as(t.u.b)).json_body
    assert _writes(t, sid, _as(t.u.b)) == dict.fromkeys(ALL_WRITE, (401, "secret_required"))
    # a wrong secret is refused, not ignored (the result-only reads take no secret, as before)
    assert _code(t.api.get(f"/api/screenings/{sid}", own=False, headers=_as(secret=other_secret))) == \
        (403, "secret_invalid")
    assert _writes(t, sid, _as(secret=other_secret)) == dict.fromkeys(ALL_WRITE, (403, "secret_invalid"))
    assert t.api.get(f"/api/screenings/{sid}/crop", own=False, headers=_as(secret=other_secret)).status_code == 303
    # the right one: everything
    assert "feedback" in t.api.get(f"/api/screenings/{sid}", own=False, headers=_as(secret=secret)).json_body
    assert _writes(t, sid, _as(secret=secret)) == ALL_WRITE


def test_an_admins_token_on_the_screening_routes_is_just_a_users(t):
    sid, _ = _done(t, t.u.a)
    assert _reads(t, sid, _as(t.u.admin)) == NONE_READ
    assert _writes(t, sid, _as(t.u.admin)) == dict.fromkeys(ALL_WRITE, (404, "not_found"))
    # the admin API reads it (audited)
    r = t.api.get(f"/api/admin/screenings/{sid}", own=False, headers=_as(t.u.admin))
    assert r.status_code == 200 and r.json_body["owned"] is True and r.json_body["feedback"]
    # and an admin's own screening is the admin's like anyone's
    mine, _ = _done(t, t.u.admin)
    assert _reads(t, mine, _as(t.u.admin)) == ALL_READ
    assert _reads(t, mine, _as(t.u.a)) == NONE_READ


# ---------------------------------------------------------------- bad tokens: 401 everywhere, never anonymous


def _bad_tokens(t) -> dict[str, str]:
    now = int(time.time())
    claims = _claims(t.u.a.token)
    expired = {**claims, "iat": now - 7200, "auth_time": now - 7200, "exp": now - 3600}
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "expired": jwt.encode(expired, _moto_private_key(), algorithm="RS256", headers={"kid": "dummy"}),
        "forged": jwt.encode(claims, forger, algorithm="RS256", headers={"kid": "dummy"}),  # every claim right
        "other_pool": t.u.other_pool.token,
        "malformed": "not.a.jwt",
    }


def test_expired_forged_and_foreign_tokens_are_401_on_every_route(t):
    sid, secret = _done(t)  # anonymous: without a token these would all answer
    owned, _ = _done(t, t.u.a)
    count = t.service.store.col.count_documents({})
    body = {"filename": "l.png", "content_type": "image/png", "size": 1000, "consent": True}
    for name, token in _bad_tokens(t).items():
        bad = {"Authorization": f"Bearer {token}"}
        answers = {
            "create": t.api.post("/api/screenings", body, headers=bad),
            "get": t.api.get(f"/api/screenings/{sid}", own=False, headers=bad),
            "get_with_secret": t.api.get(f"/api/screenings/{sid}", own=False, headers={**bad, "X-Screening-Secret": secret}),
            "crop": t.api.get(f"/api/screenings/{sid}/crop", own=False, headers=bad),
            "diagnosis": t.api.get(f"/api/getDiagnosis/{sid}", own=False, headers=bad),
            "feedback": t.api.put(f"/api/screenings/{sid}/feedback", FEEDBACK, own=False,
                                  headers={**bad, "X-Screening-Secret": secret}),
            "owned": t.api.get(f"/api/screenings/{owned}", own=False, headers=bad),
            "claim": t.api.post(f"/api/screenings/{sid}/claim", own=False, headers={**bad, "X-Screening-Secret": secret}),
            "delete": t.api.request("DELETE", f"/api/screenings/{sid}", own=False,
                                    headers={**bad, "X-Screening-Secret": secret}),
            "me": t.api.get("/api/me", headers=bad),
            "my_screenings": t.api.get("/api/me/screenings", headers=bad),
            "my_export": t.api.post("/api/me/exports", headers=bad),
        }
        assert {k: _code(r) for k, r in answers.items()} == dict.fromkeys(answers, (401, "unauthorized")), name
    assert t.service.store.col.count_documents({}) == count  # nothing created, nothing erased
    assert t.service.store.get(sid)["feedback"]["true_label"] == "glaucoma" and "owner" not in t.service.store.get(sid)


# ---------------------------------------------------------------- claim


def test_claim_takes_an_anonymous_screening_with_its_secret(t):
    sid, secret = _done(t)
    r = t.api.post(f"/api/screenings/{sid}/claim", own=False, headers=_as(t.u.a, secret))
    assert r.status_code == 200, r.body
    assert r.json_body["owned"] is True and r.json_body["feedback"]["true_label"] == "glaucoma"
    assert t.service.store.get(sid)["owner"] == t.u.a.sub
    # idempotent for its owner (with or without the secret)
    assert t.api.post(f"/api/screenings/{sid}/claim", own=False, headers=_as(t.u.a, secret)).status_code == 200
    assert t.api.post(f"/api/screenings/{sid}/claim", own=False, headers=_as(t.u.a)).status_code == 200
    # now owned: the id alone finds nothing; the owner's token reads it; another with the secret: 409
    assert _code(t.api.get(f"/api/screenings/{sid}", own=False)) == (404, "not_found")
    assert t.api.get(f"/api/screenings/{sid}", own=False, headers=_as(t.u.a)).status_code == 200
    assert _code(t.api.post(f"/api/screenings/{sid}/claim", own=False, headers=_as(t.u.b, secret))) == \
        (409, "already_owned")
    assert t.service.store.get(sid)["owner"] == t.u.a.sub
    [entry] = list(t.db["audit"].find({"screening_id": sid, "action": "claim"}))
    assert entry["actor"] == {"sub": t.u.a.sub, "via": "secret"}


def test_claim_takes_a_token_and_the_secret(t):
    sid, secret = _done(t)
    other_secret = _create(t)[1]
    assert _code(t.api.post(f"/api/screenings/{sid}/claim", own=False, headers=_as(secret=secret))) == \
        (401, "unauthorized")
    assert _code(t.api.post(f"/api/screenings/{sid}/claim", own=False, headers=_as(t.u.a))) == (401, "secret_required")
    assert _code(t.api.post(f"/api/screenings/{sid}/claim", own=False, headers=_as(t.u.a, other_secret))) == \
        (403, "secret_invalid")
    assert "owner" not in t.service.store.get(sid)
    assert _code(t.api.post(f"/api/screenings/{uuid.uuid4()}/claim", own=False, headers=_as(t.u.a, secret))) == \
        (404, "not_found")


# ---------------------------------------------------------------- delete


def test_the_owner_erases_the_record_and_every_object(t):
    sid, _ = _done(t, t.u.a)
    assert objects_of(t.aws, sid)
    r = t.api.request("DELETE", f"/api/screenings/{sid}", own=False, headers=_as(t.u.a))
    assert r.status_code == 204, r.body
    assert t.service.store.get(sid) is None and objects_of(t.aws, sid) == []
    [entry] = list(t.db["audit"].find({"screening_id": sid}))
    assert entry["action"] == "delete" and entry["actor"] == {"sub": t.u.a.sub, "via": "owner"}
    assert entry["details"]["record"] is True and entry["details"]["objects"] >= 3
    assert _code(t.api.request("DELETE", f"/api/screenings/{sid}", own=False, headers=_as(t.u.a))) == \
        (404, "not_found")


def test_an_anonymous_screening_is_erased_with_its_secret(t):
    sid, secret = _done(t)
    other_secret = _create(t)[1]
    assert _code(t.api.request("DELETE", f"/api/screenings/{sid}", own=False)) == (401, "secret_required")
    assert _code(t.api.request("DELETE", f"/api/screenings/{sid}", own=False, headers=_as(t.u.a))) == \
        (401, "secret_required")
    assert _code(t.api.request("DELETE", f"/api/screenings/{sid}", own=False, headers=_as(secret=other_secret))) == \
        (403, "secret_invalid")
    assert t.service.store.get(sid) is not None
    assert t.api.request("DELETE", f"/api/screenings/{sid}", own=False, headers=_as(secret=secret)).status_code == 204
    assert t.service.store.get(sid) is None and objects_of(t.aws, sid) == []
    [entry] = list(t.db["audit"].find({"screening_id": sid}))
    assert entry["action"] == "delete" and entry["actor"] == {"sub": None, "via": "secret"}


def test_an_owned_screening_is_erased_by_its_owner_only(t):
    sid, secret = _done(t, t.u.a)
    assert _code(t.api.request("DELETE", f"/api/screenings/{sid}", own=False, headers=_as(secret=secret))) == \
        (403, "forbidden")
    assert _code(t.api.request("DELETE", f"/api/screenings/{sid}", own=False)) == (404, "not_found")
    assert _code(t.api.request("DELETE", f"/api/screenings/{sid}", own=False, headers=_as(t.u.admin))) == \
        (404, "not_found")
    assert t.service.store.get(sid) is not None and objects_of(t.aws, sid)


# ---------------------------------------------------------------- /api/me and my screenings


def test_me_names_the_caller_and_its_role(t):
    r = t.api.get("/api/me", headers=t.u.a.auth)
    assert r.status_code == 200
    assert r.json_body == {"sub": t.u.a.sub, "username": r.json_body["username"], "groups": [], "role": "clinician"}
    admin = t.api.get("/api/me", headers=t.u.admin.auth).json_body
    assert admin["role"] == "admin" and "admins" in admin["groups"]
    assert t.api.get("/api/me", headers=t.u.reviewer.auth).json_body["role"] == "reviewer"
    assert _code(t.api.get("/api/me")) == (401, "unauthorized")


def _owned(t, who, **kw) -> str:
    sid = put_screening(t.service, t.aws, t.images, **kw)
    if who is not None:
        t.service.store.col.update_one({"_id": sid}, {"$set": {"owner": who.sub}})
    return sid


def test_my_screenings_are_mine_only_newest_first_with_feedback(t):
    mine = [_owned(t, t.u.a, created_at=T0 + timedelta(minutes=i), true_label="glaucoma" if i == 0 else None,
                   metadata={"notes": "mine"} if i == 0 else None) for i in range(3)]
    _owned(t, t.u.b, created_at=T0 + timedelta(minutes=10))
    _owned(t, None, created_at=T0 + timedelta(minutes=11))
    r = t.api.get("/api/me/screenings", headers=t.u.a.auth)
    assert r.status_code == 200, r.body
    assert [i["id"] for i in r.json_body["items"]] == mine[::-1]
    assert r.json_body["next_cursor"] is None and r.json_body["limit"] == 20
    assert all(i["owned"] is True for i in r.json_body["items"])
    assert r.json_body["items"][-1]["feedback"]["metadata"]["notes"] == "mine"
    assert [i["id"] for i in t.api.get("/api/me/screenings", headers=t.u.b.auth).json_body["items"]] != mine
    assert _code(t.api.get("/api/me/screenings")) == (401, "unauthorized")


def test_my_screenings_filter_and_page(t):
    a = t.u.a
    done = [_owned(t, a, created_at=T0 + timedelta(days=i), label="normal" if i % 2 else "glaucoma") for i in range(5)]
    rejected = _owned(t, a, created_at=T0 + timedelta(days=6), status="rejected")
    confirmed = _owned(t, a, created_at=T0 + timedelta(days=7), true_label="normal")
    _owned(t, t.u.b, created_at=T0 + timedelta(days=1), status="rejected")

    def ids(query: str) -> list[str]:
        r = t.api.get(f"/api/me/screenings?{query}", headers=a.auth)
        assert r.status_code == 200, r.body
        return [i["id"] for i in r.json_body["items"]]

    assert ids("status=rejected") == [rejected]
    assert ids("label=normal") == [done[3], done[1]]
    assert ids("true_label=normal") == [confirmed]
    assert ids("feedback=given") == [confirmed]
    assert len(ids("feedback=missing")) == 6
    assert ids(f"from={(T0 + timedelta(days=1)).date()}&to={(T0 + timedelta(days=2)).date()}") == [done[2], done[1]]
    # the cursor walks every page of mine, newest first, and no further
    seen, cursor = [], ""
    while True:
        r = t.api.get(f"/api/me/screenings?limit=3{cursor}", headers=a.auth).json_body
        seen += [i["id"] for i in r["items"]]
        if r["next_cursor"] is None:
            break
        cursor = f"&cursor={r['next_cursor']}"
    assert seen == [confirmed, rejected, *done[::-1]]
    assert _code(t.api.get("/api/me/screenings?cursor=bogus", headers=a.auth)) == (400, "invalid_cursor")
    assert _code(t.api.get("/api/me/screenings?owner=someone", headers=a.auth)) == (400, "invalid_request")


# ---------------------------------------------------------------- my data: the personal export


def _work(t) -> None:
    """Plays the export function until the export queue is empty (as test_admin_export does)."""
    db = t.service.store.col.database
    builder = export_mod.builder_from_env(Exports(db), t.service.store, t.service.bucket,
                                          WorkQueue(os.environ["EXPORT_QUEUE_URL"]))
    for _ in range(50):
        records = drain(t.aws)
        if not records:
            return
        for record in records:
            export_record(builder, SQSRecord(record), 3)
    raise AssertionError("the export never finished")


def test_my_export_holds_all_of_mine_and_nothing_else(t):
    a = t.u.a
    confirmed = _owned(t, a, created_at=T0, label="glaucoma", true_label="glaucoma", metadata={"notes": "x", "age": 60})
    unconfirmed = _owned(t, a, created_at=T0 + timedelta(minutes=1), label="normal", true_label="suspect")
    unlabelled = _owned(t, a, created_at=T0 + timedelta(minutes=2), label="glaucoma")
    rejected = _owned(t, a, created_at=T0 + timedelta(minutes=3), status="rejected")
    others = [_owned(t, t.u.b, true_label="glaucoma"), _owned(t, None, true_label="normal")]

    r = t.api.post("/api/me/exports", headers=a.auth)
    assert r.status_code == 202, r.body
    export_id = r.json_body["id"]
    assert r.headers["Location"] == f"/api/me/exports/{export_id}" == r.json_body["links"]["self"]
    assert r.json_body["filters"] == {"owner": a.sub, "include_unconfirmed": True}
    _work(t)
    status = t.api.get(f"/api/me/exports/{export_id}", headers=a.auth).json_body
    assert status["status"] == "done", status
    assert status["counts"] == {"screenings": 4, "glaucoma": 1, "normal": 0, "unconfirmed": 3, "originals": 4,
                                "missing_crop": 1, "missing_original": 0}
    assert f"exports/{export_id}.zip" in status["download_url"]

    data = t.aws.s3.get_object(Bucket=t.aws.bucket, Key=f"exports/{export_id}.zip")["Body"].read()
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    assert set(archive.namelist()) == {
        "glaucoma/", "normal/", "labels.csv", "metadata.jsonl",
        f"glaucoma/{confirmed}.png", f"originals/glaucoma/{confirmed}.jpg",
        f"unconfirmed/{unconfirmed}.png", f"originals/unconfirmed/{unconfirmed}.jpg",
        f"unconfirmed/{unlabelled}.png", f"originals/unconfirmed/{unlabelled}.jpg",
        f"originals/unconfirmed/{rejected}.jpg",  # no crop (rejected): its photo and its line
    }
    rows = list(csv.DictReader(io.StringIO(archive.read("labels.csv").decode())))
    assert [(row["file"], row["label"]) for row in rows] == [(f"glaucoma/{confirmed}.png", "glaucoma")]
    lines = {line["id"]: line for line in map(json.loads, archive.read("metadata.jsonl").decode().splitlines())}
    assert set(lines) == {confirmed, unconfirmed, unlabelled, rejected} and not set(others) & set(lines)
    assert lines[confirmed]["label"] == "glaucoma" and lines[confirmed]["feedback"]["metadata"] == {"age": 60}
    assert lines[unconfirmed]["label"] is None and lines[unconfirmed]["feedback"]["true_label"] == "suspect"
    assert lines[rejected]["files"] == {"original": f"originals/unconfirmed/{rejected}.jpg"}

    actions = [(e["action"], e["actor"]) for e in t.db["audit"].find({"export_id": export_id}).sort("at", 1)]
    assert actions == [("export", {"sub": a.sub, "via": "owner"}), ("download", {"sub": a.sub, "via": "owner"})]


def test_my_exports_are_mine_only(t):
    _owned(t, t.u.a, true_label="glaucoma")
    mine = t.api.post("/api/me/exports", headers=t.u.a.auth).json_body["id"]
    admins = t.api.post("/api/admin/exports", {}, headers=t.u.admin.auth).json_body["id"]
    assert t.api.get(f"/api/me/exports/{mine}", headers=t.u.a.auth).status_code == 200
    assert _code(t.api.get(f"/api/me/exports/{mine}", headers=t.u.b.auth)) == (404, "not_found")
    assert _code(t.api.get(f"/api/me/exports/{admins}", headers=t.u.admin.auth)) == (404, "not_found")
    assert _code(t.api.get(f"/api/me/exports/{mine}")) == (401, "unauthorized")
    assert _code(t.api.get("/api/me/exports/not-an-id", headers=t.u.a.auth)) == (400, "invalid_id")
    # queued on the export queue like the admin's
    assert {json.loads(m["body"])["papila_export"] for m in drain(t.aws)} == {mine, admins}


def test_the_admin_export_still_takes_confirmed_labels_only(t):
    _owned(t, t.u.a, label="normal", true_label="suspect")
    kept = _owned(t, t.u.a, label="glaucoma", true_label="glaucoma")
    export_id = t.api.post("/api/admin/exports", {}, headers=t.u.admin.auth).json_body["id"]
    _work(t)
    data = t.aws.s3.get_object(Bucket=t.aws.bucket, Key=f"exports/{export_id}.zip")["Body"].read()
    names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    assert f"glaucoma/{kept}.png" in names and not any(n.startswith(("unconfirmed/", "originals/unconfirmed/"))
                                                        for n in names)


# ---------------------------------------------------------------- reviewers: the review queue, nothing else


def test_reviewers_use_the_review_queue_and_nothing_else_of_the_admin_api(t):
    sid = _owned(t, None, label="glaucoma")
    reviewer = t.u.reviewer.auth
    queue = t.api.get("/api/admin/review", headers=reviewer)
    assert queue.status_code == 200 and [i["id"] for i in queue.json_body["items"]] == [sid]
    r = t.api.put(f"/api/admin/screenings/{sid}/review", {"true_label": "normal"}, headers=reviewer)
    assert r.status_code == 200 and r.json_body["review"]["by"]["sub"] == t.u.reviewer.sub
    for method, path in (("GET", "/api/admin/stats"), ("GET", "/api/admin/screenings"),
                         ("GET", f"/api/admin/screenings/{sid}"), ("DELETE", f"/api/admin/screenings/{sid}"),
                         ("POST", "/api/admin/exports")):
        assert _code(t.api.request(method, path, {}, headers=reviewer)) == (403, "forbidden"), path
    # a clinician reaches no part of it
    assert _code(t.api.get("/api/admin/review", headers=t.u.a.auth)) == (403, "forbidden")
    assert _code(t.api.put(f"/api/admin/screenings/{sid}/review", {"true_label": "normal"}, headers=t.u.a.auth)) == \
        (403, "forbidden")
