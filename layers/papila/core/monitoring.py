"""Monitoring the serving model on confirmed cases (issue 14): the figures of GET /api/admin/monitoring, from
the stored screenings alone (no photo is graded again).

A confirmed case is a done screening whose `feedback.true_label` is glaucoma or normal (the feedback, or an
expert in the review queue), with the stored result's probability and threshold. Cases are grouped by the
period they were created in (`period_start`: the Monday of their ISO week, or the first of their month,
UTC), the `result.model_version` that graded them and the camera of the feedback's metadata ("(unknown)"
when none was given, as the model comparison names it).

The figures are `papila.model.serving.metrics.screening_metrics`'s, the function `papila evaluate` prints
(`papila evaluate --export DIR --stored` gives the same numbers on an export of the same cases): AUC over
the stored probabilities; sensitivity and specificity at each result's own stored threshold (a case is
called glaucoma when its probability is >= its threshold: one version has one threshold, and a group
mixing thresholds, e.g. of a version re-released, is still judged at the operating point each case was
served at); `agreement` = the share of cases whose model label (the stored `result.label`) is the confirmed
label. NaN (an AUC with one class, a rate with no cases) is null. Figures are not rounded.

Drift: a (version, camera) with at least `min_cases` confirmed cases of EACH class warns when its AUC is
below its card's by more than `AUC_MARGIN`, or its sensitivity or specificity below the card's by more
than `RATE_MARGIN`. The card's figures (`expected_figures`): `metrics.by_domain[camera]` (auc_served,
sensitivity, specificity), else, for a camera the card does not name, `metrics.cv`.

Rejected screenings (a photo the served path refused) are counted by refusal code (`error.code`) per period.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from papila.model.serving.metrics import screening_metrics

PERIODS = ("week", "month")
MIN_CASES = 20  # confirmed cases of each class a (version, camera) needs before it may warn
AUC_MARGIN = 0.05  # an AUC this far below the card's warns
RATE_MARGIN = 0.10  # a sensitivity or specificity this far below the card's warns
METRICS = ("auc", "sensitivity", "specificity")
CONFIRMED = ("glaucoma", "normal")
UNKNOWN = "(unknown)"  # no camera given, no model version stored, no refusal code

CardOf = Callable[[str], dict[str, Any] | None]


def period_start(at: datetime, period: str) -> str:
    """The ISO date the period holding `at` starts on (UTC): its week's Monday, or its month's first day."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {PERIODS}, not {period!r}")
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    day = at.date()
    start = day - timedelta(days=day.weekday()) if period == "week" else date(day.year, day.month, 1)
    return start.isoformat()


def camera_of(record: dict[str, Any]) -> str:
    """The camera of a screening's feedback metadata, or "(unknown)"."""
    meta = ((record.get("feedback") or {}).get("metadata")) or {}
    return str(meta.get("camera") or UNKNOWN)


def _number(value: Any) -> float | None:
    """A finite number as float; anything else (NaN, None, text) as None (JSON null)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


@dataclass(frozen=True)
class Case:
    """A confirmed case: what its stored result said and what the confirmed label is."""

    start: str
    model_version: str
    camera: str
    glaucoma: bool  # the confirmed label
    probability: float
    threshold: float
    model_label: str


def confirmed_case(record: dict[str, Any], period: str) -> Case | None:
    """The case a record is, or None: not done, no confirmed label, or a result without a numeric
    probability and threshold (nothing to measure)."""
    if record.get("status") != "done" or not isinstance(record.get("created_at"), datetime):
        return None
    true_label = (record.get("feedback") or {}).get("true_label")
    result = record.get("result") or {}
    probability, threshold = _number(result.get("probability_glaucoma")), _number(result.get("threshold"))
    if true_label not in CONFIRMED or probability is None or threshold is None:
        return None
    label = result.get("label")
    if label not in CONFIRMED:  # an older result without its label: the rule it is served by
        label = "glaucoma" if probability >= threshold else "normal"
    return Case(start=period_start(record["created_at"], period), model_version=str(result.get("model_version") or UNKNOWN),
                camera=camera_of(record), glaucoma=true_label == "glaucoma", probability=probability,
                threshold=threshold, model_label=label)


def figures(cases: list[Case]) -> dict[str, Any]:
    """confirmed, glaucoma, normal, auc, sensitivity, specificity (screening_metrics, at each case's own
    threshold), agreement."""
    labels = np.array([c.glaucoma for c in cases], dtype=bool)
    m = screening_metrics(labels, np.array([c.probability for c in cases], dtype=np.float64),
                          np.array([c.threshold for c in cases], dtype=np.float64))
    agree = sum((c.model_label == "glaucoma") == c.glaucoma for c in cases)
    return {
        "confirmed": len(cases), "glaucoma": int(labels.sum()), "normal": int((~labels).sum()),
        "auc": _number(m["auc"]), "sensitivity": _number(m["sensitivity"]), "specificity": _number(m["specificity"]),
        "agreement": agree / len(cases) if cases else None,
    }


def expected_figures(card: dict[str, Any] | None, camera: str) -> dict[str, float | None] | None:
    """The card's figures for this camera: `metrics.by_domain[camera]` (the name matched without regard to
    case), else `metrics.cv`; None without a card or either table."""
    metrics = (card or {}).get("metrics") or {}
    domains = {str(name).casefold(): figures for name, figures in (metrics.get("by_domain") or {}).items()}
    domain = domains.get(camera.casefold())
    if isinstance(domain, dict):
        auc = domain.get("auc_served", domain.get("auc"))
        return {"auc": _number(auc), "sensitivity": _number(domain.get("sensitivity")),
                "specificity": _number(domain.get("specificity"))}
    cv = metrics.get("cv")
    if isinstance(cv, dict):
        return {"auc": _number(cv.get("auc")), "sensitivity": _number(cv.get("sensitivity")),
                "specificity": _number(cv.get("specificity"))}
    return None


def drift_warnings(row: dict[str, Any], min_cases: int = MIN_CASES) -> list[dict[str, Any]]:
    """The warnings of one by-version row (its figures and `expected`), by the drift rule."""
    expected = row.get("expected")
    if not expected or row["glaucoma"] < min_cases or row["normal"] < min_cases:
        return []
    out = []
    for metric in METRICS:
        observed, card = row.get(metric), expected.get(metric)
        margin = AUC_MARGIN if metric == "auc" else RATE_MARGIN
        if observed is not None and card is not None and card - observed > margin:
            out.append({"model_version": row["model_version"], "camera": row["camera"], "metric": metric,
                        "observed": observed, "expected": card, "confirmed": row["confirmed"]})
    return out


def monitoring(records: Iterable[dict[str, Any]], card_of: CardOf, *, period: str = "month",
               min_cases: int = MIN_CASES) -> dict[str, Any]:
    """The body of GET /api/admin/monitoring from the stored records (confirmed done ones and rejected ones;
    others are ignored). `card_of(version)`: that version's model card (model.json), None if unknown."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {PERIODS}, not {period!r}")
    cases: list[Case] = []
    refusals: dict[str, dict[str, int]] = {}
    for record in records:
        if record.get("status") == "rejected" and isinstance(record.get("created_at"), datetime):
            codes = refusals.setdefault(period_start(record["created_at"], period), {})
            code = str((record.get("error") or {}).get("code") or UNKNOWN)
            codes[code] = codes.get(code, 0) + 1
            continue
        case = confirmed_case(record, period)
        if case is not None:
            cases.append(case)

    periods: dict[tuple[str, str, str], list[Case]] = {}
    versions: dict[tuple[str, str], list[Case]] = {}
    for case in cases:
        periods.setdefault((case.start, case.model_version, case.camera), []).append(case)
        versions.setdefault((case.model_version, case.camera), []).append(case)

    series = [{"start": start, "model_version": version, "camera": camera, **figures(group)}
              for (start, version, camera), group in sorted(periods.items())]
    cards: dict[str, dict[str, Any] | None] = {}
    by_version, warnings = [], []
    for (version, camera), group in sorted(versions.items()):
        if version not in cards:
            cards[version] = card_of(version) if version != UNKNOWN else None
        row = {"model_version": version, "camera": camera, **figures(group),
               "expected": expected_figures(cards[version], camera)}
        by_version.append(row)
        warnings += drift_warnings(row, min_cases)
    return {
        "period": period,
        "min_cases": min_cases,
        "series": series,
        "by_version": by_version,
        "refusals": [{"start": start, "codes": dict(sorted(codes.items()))} for start, codes in sorted(refusals.items())],
        "warnings": warnings,
    }
