"""Compare a candidate model with the serving one on confirmed cases it never trained on (issue 14).

The cases are done screenings whose label was confirmed (feedback or the review queue: glaucoma or normal),
less every screening of a person (`feedback.metadata.subject_id`; without one, the screening alone) that is
in the candidate's `training_set.json`. Both models grade each original photo again through the served
pipeline (`papila.core.pipeline.screen_image`, with the user's square when one was drawn), so the two columns
differ only by the model. A refused photo counts as a miss, as `papila evaluate` counts it.

The comparison is a job (the compare function, in the inference image: it needs the model runtime); its
states are papila.core.comparisons'; its result is stored beside the version in the registry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from papila.core import pipeline
from papila.core.comparisons import UNFINISHED, candidate_of
from papila.core.exports import CONFIRMED_LABELS
from papila.core.records import iso, now
from papila.model.serving.metrics import screening_metrics

log = logging.getLogger("papila.usecases.compare")

MAX_CASES = 400  # the newest held-out cases a job grades (2 models x ~0.4 s each: inside the function's 900 s)
ROC_POINTS = 101  # a curve of at most this many points is enough to draw


class Cases(Protocol):
    def confirmed(self, filters: dict[str, Any], snapshot_at: datetime,
                  after: list[Any] | None = None) -> Iterator[dict[str, Any]]: ...


class Photos(Protocol):
    def get_if_exists(self, key: str) -> bytes | None: ...


class Versions(Protocol):
    def card(self, version: str) -> dict[str, Any] | None: ...

    def training_set(self, version: str) -> dict[str, Any] | None: ...

    def comparison(self, version: str) -> dict[str, Any] | None: ...

    def save_comparison(self, version: str, body: dict[str, Any]) -> None: ...


class CompareError(RuntimeError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Case:
    screening_id: str
    label: str
    camera: str
    photo_key: str
    crop_request: dict[str, int] | None


def held_out(records: Iterable[dict[str, Any]], training_set: dict[str, Any] | None,
             limit: int = MAX_CASES) -> tuple[list[Case], dict[str, int]]:
    """The confirmed cases the candidate did not train on (grouped by person), newest `limit`; the counts."""
    def subject_of(record: dict[str, Any]) -> Any:
        return ((record.get("feedback") or {}).get("metadata") or {}).get("subject_id")

    confirmed_records = [r for r in records if (r.get("feedback") or {}).get("true_label") in CONFIRMED_LABELS
                         and r.get("original_key")]
    trained_ids = set((training_set or {}).get("screening_ids") or [])
    # a person is out when any of their screenings trained the candidate, named or not in its subject list
    trained_subjects = set((training_set or {}).get("subject_ids") or []) | {
        subject_of(r) for r in confirmed_records if r["_id"] in trained_ids and subject_of(r)}
    confirmed = len(confirmed_records)
    kept: list[tuple[Any, Case]] = []
    for record in confirmed_records:
        label = record["feedback"]["true_label"]
        metadata = record["feedback"].get("metadata") or {}
        subject = subject_of(record)
        if record["_id"] in trained_ids or (subject and subject in trained_subjects):
            continue
        kept.append((record.get("created_at"), Case(
            record["_id"], label, str(metadata.get("camera") or "(unknown)"), record["original_key"],
            record.get("crop_request"))))
    kept.sort(key=lambda item: (item[0] is None, item[0]), reverse=True)
    cases = [case for _, case in kept[:limit]]
    counts = {"confirmed": confirmed, "held_out": len(kept), "excluded_training": confirmed - len(kept),
              "graded": len(cases), "glaucoma": sum(c.label == "glaucoma" for c in cases),
              "normal": sum(c.label == "normal" for c in cases)}
    return cases, counts


def roc_points(labels: np.ndarray, scores: np.ndarray, points: int = ROC_POINTS) -> dict[str, list[float]]:
    """The ROC curve (false and true positive rates as the threshold falls), thinned to `points`."""
    if not labels.any() or labels.all():
        return {"fpr": [], "tpr": []}
    order = np.argsort(-scores, kind="stable")
    y, s = labels[order], scores[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(y)[last_of_tie]
    fps = (last_of_tie + 1) - tps
    tpr = np.r_[0.0, tps / y.sum()]
    fpr = np.r_[0.0, fps / (~y).sum()]
    if len(fpr) > points:
        keep = np.unique(np.linspace(0, len(fpr) - 1, points).round().astype(int))
        tpr, fpr = tpr[keep], fpr[keep]
    return {"fpr": [round(float(v), 4) for v in fpr], "tpr": [round(float(v), 4) for v in tpr]}


def _finite(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else round(float(value), 4)


def figures(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict[str, Any]:
    """n, done, refused, AUC, sensitivity, specificity (screening_metrics: a refusal is a miss)."""
    m = screening_metrics(labels, probabilities, threshold)
    return {"n": int(m["n"]), "done": int(m["done"]), "refused": int(m["n"] - m["done"]),
            "auc": _finite(m["auc"]), "sensitivity": _finite(m["sensitivity"]),
            "specificity": _finite(m["specificity"])}


def grade(cases: list[Case], photos: Photos, model: Any, card: dict[str, Any]) -> np.ndarray:
    """Each case's served probability under `model` (NaN: refused, or its photo is gone)."""
    out = np.full(len(cases), np.nan)
    for i, case in enumerate(cases):
        data = photos.get_if_exists(case.photo_key)
        if data is None:
            continue
        outcome = pipeline.screen_image(data, case.crop_request, model, card)
        if isinstance(outcome, pipeline.Screened):
            out[i] = outcome.result["probability_glaucoma"]
    return out


def column(role: str, card: dict[str, Any], cases: list[Case], probabilities: np.ndarray) -> dict[str, Any]:
    labels = np.array([c.label == "glaucoma" for c in cases], dtype=bool)
    threshold = float(card["threshold"])
    graded = ~np.isnan(probabilities)
    by_camera = {}
    for camera in sorted({c.camera for c in cases}):
        mine = np.array([c.camera == camera for c in cases], dtype=bool)
        by_camera[camera] = figures(labels[mine], probabilities[mine], threshold)
    return {"model_version": card["model_version"], "role": role, "threshold": round(threshold, 6),
            "overall": figures(labels, probabilities, threshold),
            "roc": roc_points(labels[graded], probabilities[graded]), "by_camera": by_camera}


class Comparison:
    """The compare job: grade the held-out confirmed cases with both models, store the result."""

    def __init__(self, cases: Cases, photos: Photos, versions: Versions,
                 load: Callable[[str], tuple[Any, dict[str, Any]]], *, limit: int = MAX_CASES) -> None:
        self.cases, self.photos, self.versions, self.load, self.limit = cases, photos, versions, load, limit

    def run(self, candidate: str) -> dict[str, Any]:
        state = self.versions.comparison(candidate)
        if state is None or state.get("status") not in UNFINISHED:
            log.info("comparison of %s is %s: nothing to do", candidate, None if state is None else state.get("status"))
            return state or {}
        self.versions.save_comparison(candidate, {**state, "status": "running"})
        started = time.perf_counter()
        try:
            body = self._compare(candidate, state["current"])
        except CompareError as exc:
            body = {"status": "failed", "error": {"code": exc.code, "message": str(exc)}}
        result = {**state, **body, "finished_at": iso(now()), "seconds": round(time.perf_counter() - started, 1)}
        self.versions.save_comparison(candidate, result)
        log.info("comparison of %s with %s: %s", candidate, state["current"], result["status"])
        return result

    def handle(self, body: Any, *, final_attempt: bool) -> None:
        """One queue message `{"papila_compare": version}`; an error on its last receive ends it failed."""
        candidate = candidate_of(body)
        if candidate is None:
            log.warning("skipped a malformed compare message")
            return
        try:
            self.run(candidate)
        except Exception:
            if final_attempt:
                state = self.versions.comparison(candidate) or {}
                self.versions.save_comparison(candidate, {**state, "status": "failed", "finished_at": iso(now()), "error": {
                    "code": "comparison_failed", "message": "The comparison job failed; ask for it again."}})
            raise

    def _compare(self, candidate: str, current: str) -> dict[str, Any]:
        records = self.cases.confirmed({}, now())
        cases, counts = held_out(records, self.versions.training_set(candidate), self.limit)
        if not cases:
            raise CompareError("no_cases", "No confirmed screening is held out from the candidate's training yet.")
        columns = []
        for role, version in (("candidate", candidate), ("current", current)):
            try:
                model, card = self.load(version)
            except Exception as exc:  # reported in the comparison, not a crash
                raise CompareError("model_unavailable", f"Model {version} could not be loaded.") from exc
            columns.append(column(role, card, cases, grade(cases, self.photos, model, card)))
        return {"status": "done", "cases": counts, "models": columns}


def model_loader(versions: Any, runtime_load: Callable[[Path], tuple[Any, dict[str, Any]]], baked: Path,
                 cache_dir: Path, baked_name: str) -> Callable[[str], tuple[Any, dict[str, Any]]]:
    """Load a version by name: the baked model for `baked_name`, else the registry's (fetched once)."""

    def load(version: str) -> tuple[Any, dict[str, Any]]:
        return runtime_load(baked if version == baked_name else versions.fetch(version, cache_dir))

    return load
