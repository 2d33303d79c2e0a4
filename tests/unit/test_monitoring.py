"""Monitoring the serving model on confirmed cases (issue 14, item 3): the pure figures of
`papila.core.monitoring` (periods, versions, cameras, the drift rule, refusals), the admin route
GET /api/admin/monitoring behind a real admin token, the store's read, and `papila evaluate --export DIR
--stored` printing the same figures on an export of the same cases."""

from __future__ import annotations

import csv
import json
import random
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from papila.cli import main as papila
from papila.core import monitoring, pipeline
from papila.core.exports import LABELS_COLUMNS, metadata_line
from papila.model.serving.metrics import screening_metrics

pytest_plugins = ["tests.unit.admin_fixtures"]

ROOT = Path(__file__).resolve().parents[2]
BAKED_CARD = json.loads((ROOT / "weights" / "model.json").read_text())
BAKED = BAKED_CARD["model_version"]
TOPCON = "Topcon DRI OCT Triton"  # a domain the baked card has figures for
THRESHOLD = 0.5757
T = datetime(2026, 11, 4, 9, 30, tzinfo=UTC)  # a Wednesday


def record(*, p: float | None = 0.7, true_label: str | None = "glaucoma", camera: str | None = TOPCON,
           version: str = "v-1", at: datetime = T, threshold: float = THRESHOLD, status: str = "done",
           code: str | None = None, label: str | None = None, **extra: Any) -> dict[str, Any]:
    """A screening as MongoDB stores it (the fields the monitoring reads, and a few it must not need)."""
    rec: dict[str, Any] = {"_id": str(uuid.uuid4()), "status": status, "created_at": at, "updated_at": at,
                           "filename": "secret-name.jpg", "original_key": "uploads/x/original.jpg", **extra}
    if status == "done":
        rec["result"] = {"probability_glaucoma": p, "threshold": threshold, "model_version": version,
                         "label": label or ("glaucoma" if p is not None and p >= threshold else "normal"),
                         "crop": {"x": 10, "y": 20, "size": 200, "source": "auto"}, "inference_ms": 12.0}
    if status == "rejected":
        rec["error"] = {"code": code, "message": "refused"} if code else {"message": "refused"}
    if true_label is not None or camera is not None:
        meta = {"camera": camera, "subject_id": "s-1"} if camera is not None else {"subject_id": "s-1"}
        rec["feedback"] = {"true_label": true_label, "diagnosis_correct": None, "metadata": meta, "given_at": at}
    return rec


def no_card(_version: str) -> None:
    return None


def population(seed: int, n: int, **kw: Any) -> list[dict[str, Any]]:
    """`n` confirmed cases with probabilities that separate the classes only partly."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        glaucoma = i % 3 != 0
        p = round(min(max(rng.gauss(0.65 if glaucoma else 0.45, 0.2), 0.0), 1.0), 4)
        out.append(record(p=p, true_label="glaucoma" if glaucoma else "normal", **kw))
    return out


# ---------------------------------------------------------------- periods, groups, figures


def test_period_starts_are_mondays_and_firsts_of_months_in_utc():
    assert monitoring.period_start(T, "week") == "2026-11-02"
    assert monitoring.period_start(datetime(2026, 11, 2, tzinfo=UTC), "week") == "2026-11-02"  # a Monday itself
    assert monitoring.period_start(datetime(2026, 11, 1, 23, 59, tzinfo=UTC), "week") == "2026-10-26"  # a Sunday
    assert monitoring.period_start(T, "month") == "2026-11-01"
    # Local midnight of 1 December in UTC+2 is still 30 November (a Monday) in UTC.
    east = datetime(2026, 12, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert monitoring.period_start(east, "month") == "2026-11-01"
    assert monitoring.period_start(east, "week") == "2026-11-30"
    assert monitoring.period_start(datetime(2026, 11, 30, 22, 30), "month") == "2026-11-01"  # naive is UTC
    with pytest.raises(ValueError, match="period"):
        monitoring.period_start(T, "day")


def test_confirmed_cases_are_grouped_by_period_version_and_camera():
    week2 = T + timedelta(days=7)
    december = datetime(2026, 12, 2, tzinfo=UTC)
    records = [
        record(p=0.9), record(p=0.2, true_label="normal"), record(p=0.8, at=week2),
        record(p=0.3, true_label="normal", camera=None), record(p=0.6, camera="", true_label="normal"),
        record(p=0.9, version="v-2", at=december),
        # not confirmed cases: no confirmed label, not done, no probability
        record(true_label="suspect"), record(true_label=None, camera=TOPCON), record(status="failed"),
        record(p=None), {**record(), "feedback": None},
    ]
    body = monitoring.monitoring(records, no_card, period="week")
    assert body["period"] == "week" and body["min_cases"] == monitoring.MIN_CASES
    keys = [(s["start"], s["model_version"], s["camera"], s["confirmed"], s["glaucoma"], s["normal"])
            for s in body["series"]]
    assert keys == [
        ("2026-11-02", "v-1", "(unknown)", 2, 0, 2),  # no camera given, and a blank one
        ("2026-11-02", "v-1", TOPCON, 2, 1, 1),
        ("2026-11-09", "v-1", TOPCON, 1, 1, 0),
        ("2026-11-30", "v-2", TOPCON, 1, 1, 0),
    ]
    monthly = monitoring.monitoring(records, no_card, period="month")
    assert [(s["start"], s["model_version"], s["camera"], s["confirmed"]) for s in monthly["series"]] == [
        ("2026-11-01", "v-1", "(unknown)", 2), ("2026-11-01", "v-1", TOPCON, 3), ("2026-12-01", "v-2", TOPCON, 1)]
    assert [(v["model_version"], v["camera"], v["confirmed"], v["expected"]) for v in monthly["by_version"]] == [
        ("v-1", "(unknown)", 2, None), ("v-1", TOPCON, 3, None), ("v-2", TOPCON, 1, None)]
    # One class only: no AUC and no sensitivity (null, not NaN); every normal was called normal.
    unknown = monthly["series"][0]
    assert unknown["auc"] is None and unknown["sensitivity"] is None
    assert unknown["specificity"] == 0.5 and unknown["agreement"] == 0.5  # 0.6 >= threshold: called glaucoma
    assert monthly["refusals"] == [] and monthly["warnings"] == []
    json.dumps(monthly, allow_nan=False)


def test_the_figures_are_screening_metrics_on_the_same_cases():
    records = population(1, 90)
    body = monitoring.monitoring(records, no_card)
    [row] = body["by_version"]
    labels = [r["feedback"]["true_label"] == "glaucoma" for r in records]
    p = [r["result"]["probability_glaucoma"] for r in records]
    expected = screening_metrics(labels, p, THRESHOLD)
    assert row["confirmed"] == 90 and row["glaucoma"] == 60 and row["normal"] == 30
    assert (row["auc"], row["sensitivity"], row["specificity"]) == (
        expected["auc"], expected["sensitivity"], expected["specificity"])
    assert 0.5 < row["auc"] < 1 and 0 < row["sensitivity"] < 1 and 0 < row["specificity"] < 1
    agree = sum((pi >= THRESHOLD) == yi for pi, yi in zip(p, labels, strict=True)) / 90
    assert row["agreement"] == pytest.approx(agree)
    assert body["series"][0]["auc"] == row["auc"]  # one month: the same cases


def test_mixed_thresholds_judge_each_case_at_its_own():
    # 0.6 is glaucoma at 0.5 but normal at 0.7: one version re-released with another operating point.
    records = [record(p=0.6, threshold=0.5), record(p=0.6, threshold=0.7),
               record(p=0.65, true_label="normal", threshold=0.7), record(p=0.55, true_label="normal", threshold=0.5)]
    [row] = monitoring.monitoring(records, no_card)["by_version"]
    assert row["sensitivity"] == 0.5 and row["specificity"] == 0.5
    out = screening_metrics([1, 1, 0, 0], [0.6, 0.6, 0.65, 0.55], np.array([0.5, 0.7, 0.7, 0.5]))
    assert (out["sensitivity"], out["specificity"]) == (0.5, 0.5) and np.isnan(out["threshold"])
    with pytest.raises(ValueError, match="thresholds"):
        screening_metrics([1, 0], [0.6, 0.4], np.array([0.5, 0.5, 0.5]))


def test_the_model_label_is_what_agreement_counts():
    # A stored label is taken as served, even where it disagrees with the probability's side.
    records = [record(p=0.9, label="normal"), record(p=0.1, true_label="normal", label="normal")]
    [row] = monitoring.monitoring(records, no_card)["by_version"]
    assert row["agreement"] == 0.5 and row["sensitivity"] == 1.0


# ---------------------------------------------------------------- the drift rule


def separated(n_glaucoma: int, n_normal: int, camera: str = TOPCON, version: str = "v-1") -> list[dict[str, Any]]:
    """A fifth of each class on the wrong side: sensitivity 0.8, specificity 0.8, AUC 0.8 for 20 + 20."""
    g = [0.9] * (n_glaucoma - n_glaucoma // 5) + [0.1] * (n_glaucoma // 5)
    n = [0.1] * (n_normal - n_normal // 5) + [0.9] * (n_normal // 5)
    return ([record(p=p, camera=camera, version=version) for p in g]
            + [record(p=p, true_label="normal", camera=camera, version=version) for p in n])


def card(auc: float, sensitivity: float, specificity: float, cv: tuple[float, float, float] = (0.5, 0.5, 0.5),
         version: str = "v-1") -> dict[str, Any]:
    return {"model_version": version, "metrics": {
        "cv": {"auc": cv[0], "sensitivity": cv[1], "specificity": cv[2], "n": 777},
        "by_domain": {TOPCON: {"n": 466, "auc_served": auc, "auc_network": 0.1, "sensitivity": sensitivity,
                               "specificity": specificity}}}}


def test_drift_warns_below_the_cards_margins_only():
    records = separated(20, 20)
    [row] = monitoring.monitoring(records, no_card)["by_version"]
    # 16 x 0.9 and 4 x 0.1 glaucoma against 16 x 0.1 and 4 x 0.9 normal: 256 wins and 128 ties of 400 pairs
    assert (row["auc"], row["sensitivity"], row["specificity"]) == (0.8, 0.8, 0.8)

    def warned(the_card: dict[str, Any], **kw: Any) -> list[tuple[str, float, float]]:
        body = monitoring.monitoring(records, lambda v: the_card if v == "v-1" else None, **kw)
        assert body["by_version"][0]["expected"] == {
            "auc": the_card["metrics"]["by_domain"][TOPCON]["auc_served"],
            "sensitivity": the_card["metrics"]["by_domain"][TOPCON]["sensitivity"],
            "specificity": the_card["metrics"]["by_domain"][TOPCON]["specificity"]}
        return [(w["metric"], w["observed"], w["expected"]) for w in body["warnings"]]

    assert warned(card(0.86, 0.89, 0.85)) == [("auc", 0.8, 0.86)]  # AUC 0.06 below; rates within 0.10
    assert warned(card(0.84, 0.91, 0.85)) == [("sensitivity", 0.8, 0.91)]  # AUC within 0.05
    assert warned(card(0.95, 0.85, 0.91)) == [("auc", 0.8, 0.95), ("specificity", 0.8, 0.91)]
    assert warned(card(0.70, 0.70, 0.80)) == []  # at or above the card: no warning
    body = monitoring.monitoring(records, lambda v: card(0.95, 0.95, 0.95))
    assert body["warnings"] == [{"model_version": "v-1", "camera": TOPCON, "metric": metric, "observed": 0.8,
                                 "expected": 0.95, "confirmed": 40} for metric in ("auc", "sensitivity", "specificity")]
    # Fewer than min_cases of either class: no warning, whatever the gap.
    few = separated(20, 19)
    assert monitoring.monitoring(few, lambda v: card(0.99, 0.99, 0.99))["warnings"] == []
    assert len(monitoring.monitoring(few, lambda v: card(0.99, 0.99, 0.99), min_cases=19)["warnings"]) == 3
    assert warned(card(0.99, 0.99, 0.99), min_cases=21) == []


def test_a_camera_the_card_does_not_name_is_held_to_its_cross_validation():
    records = separated(20, 20, camera="Canon CR-2")
    body = monitoring.monitoring(records, lambda v: card(0.99, 0.99, 0.99, cv=(0.95, 0.5, 0.5)))
    assert body["by_version"][0]["expected"] == {"auc": 0.95, "sensitivity": 0.5, "specificity": 0.5}
    assert [(w["camera"], w["metric"]) for w in body["warnings"]] == [("Canon CR-2", "auc")]
    # No card for the version: figures, no expectations, no warnings.
    body = monitoring.monitoring(records, no_card)
    assert body["by_version"][0]["expected"] is None and body["warnings"] == []
    # The baked card as released: its HYGD figures for its Topcon camera, its cross-validation otherwise.
    assert monitoring.expected_figures(BAKED_CARD, TOPCON)["auc"] == BAKED_CARD["metrics"]["by_domain"][TOPCON][
        "auc_served"]
    assert monitoring.expected_figures(BAKED_CARD, "(unknown)")["auc"] == BAKED_CARD["metrics"]["cv"]["auc"]
    # The camera as a person typed it: the card's domain whatever the case.
    assert monitoring.expected_figures(BAKED_CARD, TOPCON.upper()) == monitoring.expected_figures(BAKED_CARD, TOPCON)


def test_refusals_are_counted_by_code_per_period():
    december = datetime(2026, 12, 7, tzinfo=UTC)
    records = [record(status="rejected", code="disc_not_found"), record(status="rejected", code="disc_not_found"),
               record(status="rejected", code="not_fundus", at=december), record(status="rejected"),
               record(status="rejected", code="too_dark", at=T + timedelta(days=7)), record(p=0.9)]
    body = monitoring.monitoring(records, no_card)
    assert body["refusals"] == [
        {"start": "2026-11-01", "codes": {"(unknown)": 1, "disc_not_found": 2, "too_dark": 1}},
        {"start": "2026-12-01", "codes": {"not_fundus": 1}}]
    weekly = monitoring.monitoring(records, no_card, period="week")
    assert [r["start"] for r in weekly["refusals"]] == ["2026-11-02", "2026-11-09", "2026-12-07"]
    assert len(body["series"]) == 1  # a refusal is no confirmed case


# ---------------------------------------------------------------- the store's read


def test_the_store_reads_confirmed_and_rejected_screenings_in_range_with_only_the_needed_fields(service):
    store = service.store
    old, mid, new = T - timedelta(days=40), T, T + timedelta(days=3)
    for at in (old, mid, new):
        store.insert(record(p=0.8, at=at))
        store.insert(record(status="rejected", code="too_dark", at=at, true_label=None, camera=None))
    for other in (record(true_label="suspect"), record(true_label=None), record(status="failed"),
                  record(status="queued")):
        store.insert(other)
    got = store.monitored(T - timedelta(days=1), None, 100)
    assert sorted((r["status"], r["created_at"]) for r in got) == [
        ("done", mid), ("done", new), ("rejected", mid), ("rejected", new)]
    done = next(r for r in got if r["status"] == "done")
    assert set(done) == {"_id", "created_at", "status", "result", "feedback"}
    assert set(done["result"]) == {"probability_glaucoma", "threshold", "label", "model_version"}
    assert done["feedback"] == {"true_label": "glaucoma", "metadata": {"camera": TOPCON}}
    assert set(next(r for r in got if r["status"] == "rejected")) == {"_id", "created_at", "status", "error"}
    # The cap keeps the newest of each kind; `end` bounds the range too.
    capped = store.monitored(None, None, 1)
    assert sorted((r["status"], r["created_at"]) for r in capped) == [("done", new), ("rejected", new)]
    assert {r["created_at"] for r in store.monitored(None, mid, 100)} == {old, mid}


# ---------------------------------------------------------------- GET /api/admin/monitoring


@pytest.fixture
def monitored(admin_api, service, aws):
    """Confirmed cases of the baked version on Topcon, of a registered version (its card in the registry)
    and of a version nobody has a card of; refusals; screenings that are no confirmed case."""
    registered = card(0.99, 0.99, 0.99, version="v-registered")
    aws.s3.put_object(Bucket=aws.bucket, Key="models/v-registered/model.json", Body=json.dumps(registered).encode())
    records = (separated(20, 20, version=BAKED) + separated(20, 20, version="v-registered")
               + population(3, 6, version="v-unknown", camera=None, at=T + timedelta(days=30))
               + [record(status="rejected", code="disc_not_found"), record(status="rejected", code="not_fundus"),
                  record(true_label="suspect", version=BAKED), record(status="processing")])
    for r in records:
        service.store.insert(r)
    return records


def test_the_monitoring_route_serves_the_figures_against_each_versions_card(admin_api, monitored, service):
    r = admin_api.api.get("/api/admin/monitoring", headers=admin_api.headers)
    assert r.status_code == 200, r.body
    body = r.json_body
    # What the core makes of the stored records, through the same cards.
    cards = {BAKED: BAKED_CARD, "v-registered": card(0.99, 0.99, 0.99, version="v-registered")}
    assert body == json.loads(json.dumps(monitoring.monitoring(monitored, cards.get))) | {"truncated": False}
    assert body["period"] == "month" and body["min_cases"] == 20
    rows = {(v["model_version"], v["camera"]): v for v in body["by_version"]}
    assert set(rows) == {(BAKED, TOPCON), ("v-registered", TOPCON), ("v-unknown", "(unknown)")}
    baked = rows[(BAKED, TOPCON)]
    domain = BAKED_CARD["metrics"]["by_domain"][TOPCON]
    assert baked["expected"] == {"auc": domain["auc_served"], "sensitivity": domain["sensitivity"],
                                 "specificity": domain["specificity"]}
    assert (baked["confirmed"], baked["auc"], baked["sensitivity"], baked["specificity"]) == (40, 0.8, 0.8, 0.8)
    assert rows[("v-registered", TOPCON)]["expected"] == {"auc": 0.99, "sensitivity": 0.99, "specificity": 0.99}
    assert rows[("v-unknown", "(unknown)")]["expected"] is None
    assert [(w["model_version"], w["metric"]) for w in body["warnings"]] == [
        ("v-registered", "auc"), ("v-registered", "sensitivity"), ("v-registered", "specificity")]
    assert body["refusals"] == [{"start": "2026-11-01", "codes": {"disc_not_found": 1, "not_fundus": 1}}]
    assert [s["start"] for s in body["series"]] == ["2026-11-01", "2026-11-01", "2026-12-01"]
    # Figures and counts only: nothing is audited.
    assert admin_api.db["audit"].count_documents({}) == 0


def test_the_monitoring_route_takes_a_period_and_a_range(admin_api, monitored):
    get = admin_api.api.get
    weekly = get("/api/admin/monitoring?period=week&from=2026-11-20", headers=admin_api.headers)
    assert weekly.status_code == 200, weekly.body
    body = weekly.json_body
    assert body["period"] == "week" and body["refusals"] == []
    assert [(s["start"], s["model_version"], s["confirmed"]) for s in body["series"]] == [
        ("2026-11-30", "v-unknown", 6)]
    until = get("/api/admin/monitoring?to=2026-11-04&period=", headers=admin_api.headers).json_body
    assert until["period"] == "month" and {v["model_version"] for v in until["by_version"]} == {BAKED, "v-registered"}
    assert get("/api/admin/monitoring?to=2026-11-03", headers=admin_api.headers).json_body["series"] == []


@pytest.mark.parametrize(("cap", "truncated"), [(85, True), (86, False)])
def test_the_monitoring_route_says_when_the_range_held_more_than_it_reads(admin_api, monitored, monkeypatch,
                                                                            cap, truncated):
    from papila.api import admin

    monkeypatch.setattr(admin, "MONITORED_CAP", cap)  # the fixture holds 86 confirmed cases and 2 refusals
    body = admin_api.api.get("/api/admin/monitoring", headers=admin_api.headers).json_body
    assert body["truncated"] is truncated


@pytest.mark.parametrize("query", ["period=day", "from=yesterday", "from=2026-12-01&to=2026-11-01", "limit=5"])
def test_bad_monitoring_queries_are_400(admin_api, query):
    r = admin_api.api.get(f"/api/admin/monitoring?{query}", headers=admin_api.headers)
    assert r.status_code == 400 and r.json_body["error"]["code"] == "invalid_request"


def test_the_monitoring_route_needs_an_admin(admin_api):
    r = admin_api.api.get("/api/admin/monitoring")
    assert r.status_code == 401 and r.json_body["error"]["code"] == "unauthorized"
    viewer = {"Authorization": f"Bearer {admin_api.cognito.viewer['AccessToken']}"}
    assert admin_api.api.get("/api/admin/monitoring", headers=viewer).status_code == 403


# ---------------------------------------------------------------- papila evaluate --export


def export_folder(root: Path, records: list[dict[str, Any]], *, originals: bool = True) -> Path:
    """A dataset export as `papila.usecases.export` lays it out (labels.csv, crops, originals,
    metadata.jsonl through the export's own `metadata_line`), by hand."""
    rows, lines = [], []
    for i, rec in enumerate(records):
        sid, label = rec["_id"], rec["feedback"]["true_label"]
        crop = f"{label}/{sid}.png"
        (root / label).mkdir(parents=True, exist_ok=True)
        (root / crop).write_bytes(b"crop")
        files = {"crop": crop}
        if originals and i % 4 != 3:  # every fourth exported without its original
            files["original"] = f"originals/{label}/{sid}.jpg"
            (root / "originals" / label).mkdir(parents=True, exist_ok=True)
            (root / files["original"]).write_bytes(sid.encode())  # its bytes say which screening it is
        meta = rec["feedback"].get("metadata") or {}
        rows.append([crop, label, sid, rec["result"]["model_version"], meta.get("subject_id") or "",
                     meta.get("camera") or ""])
        lines.append(json.dumps(metadata_line(rec, label, files)))
    with (root / "labels.csv").open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(LABELS_COLUMNS)
        writer.writerows(rows)
    (root / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    return root


def exported_records() -> list[dict[str, Any]]:
    return (population(5, 45, camera=TOPCON) + population(6, 30, camera="Canon CR-2")
            + population(7, 12, camera=None) + population(8, 24, camera=TOPCON, version="v-2"))


def test_evaluate_export_stored_prints_the_monitorings_figures(tmp_path, capsys):
    records = exported_records()
    folder = export_folder(tmp_path / "export", records)
    by_version = {(v["model_version"], v["camera"]): v for v in monitoring.monitoring(records, no_card)["by_version"]}

    one = [r for r in records if r["result"]["model_version"] == "v-1"]
    folder_one = export_folder(tmp_path / "one", one)
    assert papila(["evaluate", "--export", str(folder_one), "--stored", "--by", "camera", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["by"]) == {TOPCON, "Canon CR-2", "(unknown)"}
    for camera, figures in out["by"].items():
        row = by_version[("v-1", camera)]
        assert figures["n"] == row["confirmed"] and figures["done"] == row["confirmed"]
        assert (figures["auc"], figures["sensitivity"], figures["specificity"]) == (
            row["auc"], row["sensitivity"], row["specificity"]), camera
    [whole] = monitoring.monitoring([{**r, "feedback": {**r["feedback"], "metadata": {}}} for r in one],
                                    no_card)["by_version"]
    assert (out["auc"], out["sensitivity"], out["specificity"], out["agreement"]) == (
        whole["auc"], whole["sensitivity"], whole["specificity"], whole["agreement"])
    assert out["stored"] is True and out["model_versions"] == {"v-1": 87} and out["threshold"] == THRESHOLD

    assert papila(["evaluate", "--export", str(folder), "--stored", "--by", "model_version", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["by"]) == {"v-1", "v-2"} and out["n"] == len(records)
    assert out["by"]["v-2"]["auc"] == by_version[("v-2", TOPCON)]["auc"]
    assert out["by"]["v-1"]["n"] == 87


def test_evaluate_export_grades_each_original_again_with_the_users_square(tmp_path, capsys, monkeypatch):
    from papila.model.serving import runtime

    records = population(9, 8, camera=TOPCON)
    square = {"x": 40, "y": 30, "size": 220}
    records[0]["result"]["crop"] = {"x": 35, "y": 25, "size": 230, "source": "user", "requested": square}
    folder = export_folder(tmp_path / "export", records)
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "model.json").write_text(json.dumps({"model_version": "candidate", "threshold": 0.5, "files": {}}))
    monkeypatch.setattr(runtime, "load", lambda path, **kw: "fake-model")
    offered: dict[str, Any] = {}
    graded = {r["_id"]: 0.9 if r["feedback"]["true_label"] == "glaucoma" else 0.2 for r in records}

    def screen(data, crop_request, model, the_card):
        sid = data.decode()
        offered[sid] = crop_request
        if sid == records[1]["_id"]:
            return pipeline.Rejected("disc_not_found", "refused")
        return pipeline.Screened({"probability_glaucoma": graded[sid], "label": "x", "threshold": 0.5}, b"", b"")

    monkeypatch.setattr(pipeline, "screen_image", screen)
    assert papila(["evaluate", "--export", str(folder), "--model", str(weights / "m.tflite"), "--json",
                   "--by", "camera"]) == 0
    out = json.loads(capsys.readouterr().out)
    # Every fourth case was exported without its original: left out, and said so.
    kept = [r for i, r in enumerate(records) if i % 4 != 3]
    assert set(offered) == {r["_id"] for r in kept} and out["missing_original"] == 2
    assert offered[records[0]["_id"]] == square  # the square the user drew
    assert all(offered[r["_id"]] is None for r in kept[1:])  # located, as without one
    assert out["n"] == 6 and out["done"] == 5 and out["model_version"] == "candidate"
    refused_label = records[1]["feedback"]["true_label"]
    assert out["refused"][refused_label] == 1 and out["refused_codes"] == {"disc_not_found": 1}
    assert out["by"][TOPCON]["n"] == 6 and out["threshold"] == 0.5


def test_evaluate_export_refuses_what_is_not_an_export(tmp_path):
    (tmp_path / "a.png").write_bytes(b"x")
    (tmp_path / "labels.csv").write_text("file,label\na.png,normal\n")
    with pytest.raises(SystemExit, match="not a dataset export"):
        papila(["evaluate", "--export", str(tmp_path), "--stored", "--json"])
    with pytest.raises(SystemExit, match="--stored needs --export"):
        papila(["evaluate", "--photos", str(tmp_path), "--stored", "--json"])
    folder = export_folder(tmp_path / "export", population(2, 3))
    with pytest.raises(SystemExit, match="no column 'site'"):
        papila(["evaluate", "--export", str(folder), "--stored", "--by", "site", "--json"])


def test_the_export_carries_the_users_square_to_evaluate_with():
    # metadata.jsonl's stored result keeps its crop, and with it the square the user drew (`requested`).
    rec = record(p=0.7)
    rec["result"]["crop"] = {"x": 1, "y": 2, "size": 3, "source": "user", "requested": {"x": 0, "y": 1, "size": 5}}
    line = json.loads(json.dumps(metadata_line(rec, "glaucoma", {"crop": "glaucoma/x.png"})))
    assert line["result"]["crop"]["requested"] == {"x": 0, "y": 1, "size": 5}
    assert line["result"]["threshold"] == THRESHOLD and line["result"]["probability_glaucoma"] == 0.7
