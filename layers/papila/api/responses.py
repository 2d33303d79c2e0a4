"""The API's response bodies as pydantic models, and the presenters of a screening record that build them.

One source for the HTTP shapes: every presenter builds its body through these models (a key the model does
not declare, or a value of the wrong type, is an error here, not a surprise for the client), and
`papila.api.openapi` takes the components' schemas from them (`RESPONSE_MODELS`).

- A body is built as `Model.body(**fields)` (`errors.Body`): the keys its presenter set and nothing else,
  so an optional field is absent rather than null, and null only where the presenter set None (an admin
  screening's `original`, a page's last `next_cursor`). A field declared `X = None` may be absent but is
  never null; `X | None` may be null. Fields the model refuses are the server's mistake: a 500, not a 400.
- What the API composes itself is closed (`Body`: no undeclared key). What the worker stored and the API
  passes on as it is, the result and its parts, is `Stored`: its declared fields are checked and further
  fields are kept (the contract: "further fields may appear").
- Numbers are `Number` (an int stays an int, 1 is not served as 1.0); instants are the ISO-8601 strings of
  `records.iso` (milliseconds, `Z`), not pydantic's own datetime format.
- The enums come from the domain: `records.Status`, `export.ExportStatus`, the labels of `papila.api.requests`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, WithJsonSchema

from papila.api.errors import Body, Error, ErrorDetail
from papila.api.requests import FeedbackMetadata, ModelLabel, TrueLabel
from papila.core.exports import ExportStatus
from papila.core.records import TERMINAL, Status, iso, jsonable

# An int stays an int (a plain `float` field would serve 1 as 1.0).
Number = Annotated[float | int, WithJsonSchema({"type": "number"})]
Probability = Annotated[float | int, Field(ge=0, le=1), WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1})]
Instant = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]  # records.iso
Id = Annotated[str, WithJsonSchema({"type": "string", "format": "uuid"})]
CheckState = Literal["ok", "error"]


class Stored(Body):
    """Passed on as the worker stored it: the declared fields are checked, further fields are kept."""

    model_config = ConfigDict(extra="allow")


# ---------------------------------------------------------------- the screening


class Square(Body):
    """A square in original image pixels: top-left corner and side."""

    x: int
    y: int
    size: int


class ResultCrop(Stored):
    """The square the model saw, in original pixels: the disc found in the user's square (or located
    automatically), cut at one anatomical scale."""

    x: int
    y: int
    size: int
    source: Literal["user", "auto"]
    requested: Annotated[Square, Field(description="the user's square, when one was given")] = None


class Disc(Stored):
    """The optic disc the segmenter verified, in original pixels: centre, height, width, confidence."""

    x: Number
    y: Number
    height: Number
    width: Number
    confidence: Number


class Cdr(Stored):
    """The estimated vertical cup-to-disc ratio and its measured error."""

    vertical: Number | None = None
    mae_vs_experts: Number | None = None
    measured_on: str = None


class Result(Stored):
    """Present when status is done; further fields may appear."""

    probability_glaucoma: Probability
    label: Annotated[ModelLabel, Field(description="probability >= threshold: glaucoma")]
    threshold: Annotated[Number, Field(description="the operating point from the model card")]
    referral: Annotated[str, Field(description="the wording for this label")] = None
    model_version: str
    crop: ResultCrop
    disc: Disc = None
    inference_ms: Number
    probability_network: Annotated[Probability, Field(
        description="the VGG19 alone, before it is combined with the disc measurements")] = None
    cdr: Cdr = None


class Failure(Body):
    """Why a screening was rejected (an unusable photo) or failed (could not be processed), or an export failed."""

    code: str
    message: str


class ScreeningFeedback(Body):
    """The feedback given on a screening (the seed client's `/api/metadata` gives the metadata alone)."""

    diagnosis_correct: Annotated[bool | None, Field(description="null: don't know")] = None
    true_label: TrueLabel | None = None
    metadata: FeedbackMetadata = None
    given_at: Instant = None


class Links(Body):
    self: str
    crop: Annotated[str, Field(description="the crop the model saw (PNG), once done")]
    heatmap: Annotated[str, Field(description="the heat map of the crop (PNG), once done")]
    report: Annotated[str, Field(description="the one-page PDF report, once done")]


class Screening(Body):
    """A screening. `result` when done; `error` when rejected or failed; `feedback` once given, to the
    holder of the screening's secret."""

    id: Id
    status: Status
    created_at: Instant
    updated_at: Instant
    filename: str
    consent: Annotated[bool, Field(description="whether the research-use consent was given")]
    result: Result = None
    error: Failure = None
    feedback: ScreeningFeedback = None
    owned: Annotated[bool, Field(
        description="whether the screening belongs to an account (then only that account's token or the "
                    "screening's secret reads or changes it; anyone else gets 404)")] = None
    links: Links


class NewScreening(Screening):
    """A screening just created (inline mode: stored and queued), with its secret."""

    secret: Annotated[str, Field(
        description="This screening's secret, in this answer only (the server keeps a hash): send it as "
                    "X-Screening-Secret to give feedback, rerun, or read the feedback back.")]


class Upload(Body):
    """An S3 presigned POST: send `fields` then the file as multipart form data to `url`."""

    url: str
    fields: dict[str, str]
    expires_in: int


class CreatedScreening(NewScreening):
    """A screening awaiting its upload (presigned mode), with its secret and the upload form."""

    upload: Upload


# ---------------------------------------------------------------- service


class Health(Body):
    """The dependencies' states; a 503 also carries `error`."""

    status: CheckState
    checks: dict[str, CheckState]
    error: ErrorDetail = None


class Located(Body):
    """A proposed square around the optic disc, in original pixels."""

    crop: Square
    confidence: Probability


# ---------------------------------------------------------------- admin


class Consent(Body):
    """The consent record: accepted, when, and the text version (or `via`: the seed client)."""

    accepted: bool
    at: Instant = None
    version: str = None
    via: str = None


class AdminLinks(Links):
    admin: str
    original: Annotated[str, Field(description="Detail view only: the presigned URL of the original photo.")] = None


class ImageSize(Body):
    width: int
    height: int


class OriginalUrl(Body):
    """A short-lived presigned URL of the original photo."""

    url: str
    expires_in: int


class Reviewer(Body):
    sub: str
    username: str


class Review(Body):
    """An expert's confirmation from the review queue (PUT /api/admin/screenings/{id}/review)."""

    by: Reviewer
    at: Instant
    true_label: TrueLabel
    replaced: Annotated[TrueLabel | None, Field(description="the feedback's label before the review")]


class AdminScreening(Screening):
    """A screening as an admin sees it: the consent record, the feedback, and (detail view only) the
    stored image's facts, the attempts, the history of reruns and the original photo."""

    consent: Consent  # the record, not the public view's boolean
    links: AdminLinks
    has_feedback: bool
    content_type: Annotated[str | None, Field(description="Detail view only.")] = None
    size: Annotated[int | None, Field(description="Detail view only: bytes of the original.")] = None
    image: Annotated[ImageSize | None, Field(description="Detail view only.")] = None
    attempt: Annotated[int, Field(description="Detail view only.")] = None
    history: Annotated[list[dict[str, Any]], Field(
        description="Detail view only: earlier results and errors, kept by each rerun.")] = None
    original: Annotated[OriginalUrl | None, Field(
        description="Detail view only: a short-lived presigned URL of the original photo.")] = None
    quality_scores: Annotated[dict[str, Number] | None, Field(
        description="Detail view only: the input gate's scores behind a refusal (brightness, sharpness and its "
                    "limit, fundus-likeness scores and limits).")] = None
    review: Annotated[Review, Field(description="Once an expert confirmed the label in the review queue.")] = None


class ReviewLinks(Body):
    admin: str
    crop: str
    review: Annotated[str, Field(description="PUT {true_label} here to confirm the label")]


class ReviewItem(Body):
    """A done screening without a confirmed label, and how much its label would teach (`priority`: the
    probability's nearness to the threshold, 0..1, plus the VGG19's disagreement with it, 0..1)."""

    id: Id
    created_at: Instant
    priority: Number
    probability_glaucoma: Number
    threshold: Number
    label: ModelLabel
    probability_network: Number = None
    cdr: Number | None = None
    true_label: Annotated[TrueLabel, Field(description="the clinician's label, when not a confirmed one")] = None
    links: ReviewLinks


class ReviewQueue(Body):
    """GET /api/admin/review: the most useful labels to give first."""

    items: list[ReviewItem]
    limit: int
    candidates: Annotated[int, Field(description="unconfirmed done screenings looked at (the newest)")]


class AdminScreeningPage(Body):
    items: list[AdminScreening]
    next_cursor: Annotated[str | None, Field(description="Pass as `cursor` for the next page; null at the end.")]
    limit: int


class FeedbackCounts(Body):
    """Finished screenings: feedback given or missing; of those given, whether the confirmed label (else
    `diagnosis_correct`) agrees with the model."""

    given: int
    missing: int
    agree: int
    disagree: int
    unknown: int


class AdminStats(Body):
    total: int
    by_status: dict[Status, int]
    by_label: Annotated[dict[ModelLabel, int], Field(description="Finished screenings by the model's label.")]
    by_true_label: Annotated[dict[TrueLabel, int], Field(description="Screenings by the feedback's label.")]
    by_model_version: dict[str, int]
    feedback: FeedbackCounts
    agreement_rate: Annotated[Number | None, Field(description="agree / (agree + disagree).")]


Day = Annotated[str, WithJsonSchema({"type": "string", "format": "date"})]
Measured = Annotated[Number | None, Field(description="null: not measurable (one class, no cases)")]
Camera = Annotated[str, Field(description='the feedback metadata\'s camera; "(unknown)" when none was given')]


class MonitoringFigures(Body):
    """Confirmed cases of one model version and camera, and the model's figures on them: AUC, sensitivity
    and specificity as `papila evaluate` computes them (at each result's stored threshold), and the share
    whose model label is the confirmed one."""

    model_version: str
    camera: Camera
    confirmed: int
    glaucoma: int
    normal: int
    auc: Measured
    sensitivity: Measured
    specificity: Measured
    agreement: Measured


class MonitoringPoint(MonitoringFigures):
    """The figures of one period."""

    start: Annotated[Day, Field(description="the period's first day (UTC): a Monday, or the 1st of a month")]


class MonitoringExpected(Body):
    """The version's model card: its figures for this camera (`metrics.by_domain`), else its cross-validation's."""

    auc: Measured
    sensitivity: Measured
    specificity: Measured


class MonitoringVersion(MonitoringFigures):
    """The figures of a model version on one camera over the whole range, beside its card's."""

    expected: Annotated[MonitoringExpected | None, Field(description="null: no card of this version")]


class MonitoringRefusals(Body):
    """The rejected screenings of a period, by refusal code."""

    start: Day
    codes: dict[str, int]


class MonitoringWarning(Body):
    """A version on a camera below its card: AUC by more than 0.05, a rate by more than 0.10."""

    model_version: str
    camera: Camera
    metric: Literal["auc", "sensitivity", "specificity"]
    observed: Number
    expected: Number
    confirmed: int


class Monitoring(Body):
    """GET /api/admin/monitoring: the serving model on confirmed cases (done screenings whose confirmed label
    is glaucoma or normal), by period, version and camera; refusals by period; drift warnings for a version
    and camera with at least `min_cases` confirmed cases of each class."""

    period: Literal["week", "month"]
    min_cases: int
    series: list[MonitoringPoint]
    by_version: list[MonitoringVersion]
    refusals: list[MonitoringRefusals]
    warnings: list[MonitoringWarning]
    truncated: Annotated[bool, Field(description="true: the range held more confirmed or rejected screenings "
                                                 "than are read (the newest of each kind were): narrow the range")]


class ExportLinks(Body):
    self: str
    download: Annotated[str, Field(description="When done: the download URL.")] = None


class Export(Body):
    """A dataset export: its status, filters, counts and, when done, a download URL."""

    id: Id
    status: ExportStatus
    created_at: Instant
    updated_at: Instant
    filters: dict[str, Any]
    counts: Annotated[dict[str, int], Field(
        description="screenings, glaucoma, normal, originals, missing_crop, missing_original; a clinician's "
                    "own export also unconfirmed.")]
    links: ExportLinks
    finished_at: Instant = None
    size: Annotated[int, Field(description="Bytes of the zip.")] = None
    error: Failure = None
    download_url: Annotated[str, Field(description="When done: a presigned URL of the zip (1 hour).")] = None
    download_expires_in: int = None


# ---------------------------------------------------------------- the model registry (admin)

ComparisonStatus = Literal["queued", "running", "done", "failed"]


class DomainFigures(Body):
    """A model card's out-of-fold figures on one domain (camera)."""

    n: int | None = None
    auc: Number | None = None
    sensitivity: Number | None = None
    specificity: Number | None = None


class ComparisonState(Body):
    status: ComparisonStatus
    current: str | None
    requested_at: Instant | None


class ModelVersionLinks(Body):
    promote: Annotated[str, Field(description="POST here to make this version serve")]
    comparison: Annotated[str, Field(description="POST to compare it with the serving model, GET the result")] = None


class ModelVersion(Body):
    model_version: str
    baked: Annotated[bool, Field(description="The inference image's own model (promote it as `baked`).")]
    serving: bool
    trained_at: Instant | None
    threshold: Number | None
    by_domain: dict[str, DomainFigures]
    comparison: ComparisonState | None
    links: ModelVersionLinks


class ModelList(Body):
    """GET /api/admin/models: the registered versions (newest first), then the baked one."""

    serving: Annotated[str, Field(description="The pointer's value: a registered version or `baked`.")]
    previous: Annotated[str | None, Field(description="What a roll-back restores; null: nothing to roll back.")]
    versions: list[ModelVersion]


class Promotion(Body):
    serving: str
    previous: str


class Figures(Body):
    """Screening figures at a model's own threshold; a refused photo counts as a miss."""

    n: int
    done: int
    refused: int
    auc: Number | None
    sensitivity: Number | None
    specificity: Number | None


class RocCurve(Body):
    fpr: list[Number]
    tpr: list[Number]


class ComparedModel(Body):
    model_version: str
    role: Literal["candidate", "current"]
    threshold: Number
    overall: Figures
    roc: RocCurve
    by_camera: dict[str, Figures]


class ComparisonCases(Body):
    confirmed: int
    held_out: int
    excluded_training: Annotated[int, Field(description="Confirmed cases of people the candidate trained on.")]
    graded: int
    glaucoma: int
    normal: int


class Comparison(Body):
    """A candidate against the serving model on confirmed cases held out from the candidate's training."""

    candidate: str
    current: str
    status: ComparisonStatus
    requested_at: Instant
    finished_at: Instant = None
    seconds: Number = None
    error: Failure = None
    cases: ComparisonCases = None
    models: list[ComparedModel] = None


# ---------------------------------------------------------------- a clinician's account (papila.api.accounts)


class Me(Body):
    """GET /api/me: who the token names (its subject, never the e-mail) and the role its groups give."""

    sub: str
    username: str
    groups: list[str]
    role: Annotated[Literal["admin", "reviewer", "clinician"], Field(
        description="admin: group admins; reviewer: group reviewers (the review queue); clinician: anyone else")]


class ScreeningPage(Body):
    """GET /api/me/screenings: the caller's own screenings, newest first, with their feedback."""

    items: list[Screening]
    next_cursor: Annotated[str | None, Field(description="Pass as `cursor` for the next page; null at the end.")]
    limit: int


class UserGroups(Body):
    """A user's groups after an admin granted or revoked a role (PUT/DELETE /api/admin/users/{username}/reviewer)."""

    username: Annotated[str, Field(description="the user name or e-mail address the request named")]
    groups: Annotated[list[str], Field(description="the user's Cognito groups, sorted")]


# The components of the OpenAPI document (the models they use come along as their own components).
RESPONSE_MODELS: tuple[type[Body], ...] = (
    Screening, NewScreening, CreatedScreening, Error, Health, Located,
    AdminScreening, AdminScreeningPage, AdminStats, Export, ReviewQueue, ModelList, Promotion, Comparison, Monitoring,
    Me, ScreeningPage,
    UserGroups,
)


# ---------------------------------------------------------------- presenters


def links(screening_id: str) -> dict[str, str]:
    base = f"/api/screenings/{screening_id}"
    return {"self": base, "crop": f"{base}/crop", "heatmap": f"{base}/heatmap", "report": f"{base}/report"}


def screening_fields(record: dict[str, Any], *, with_feedback: bool = True) -> dict[str, Any]:
    """A record's fields of the contract's screening; never storage keys, attempts, consent internals or
    the secret's hash. The clinical feedback only for those who may read it (`with_feedback`)."""
    sid = record["_id"]
    status = record["status"]
    fields: dict[str, Any] = {
        "id": sid,
        "status": status,
        "created_at": iso(record.get("created_at")),
        "updated_at": iso(record.get("updated_at")),
        "filename": record.get("filename"),
        "consent": bool((record.get("consent") or {}).get("accepted")),
        "owned": bool(record.get("owner")),
        "links": links(sid),
    }
    result = record.get("result")
    if status == Status.DONE and isinstance(result, dict):
        fields["result"] = jsonable(result)
    error = record.get("error")
    if status in TERMINAL and status != Status.DONE and isinstance(error, dict):
        fields["error"] = {"code": str(error.get("code") or "error"), "message": str(error.get("message") or "")}
    feedback = record.get("feedback")
    if with_feedback and isinstance(feedback, dict) and feedback:
        fields["feedback"] = jsonable(feedback)
    return fields


def present(record: dict[str, Any], *, with_feedback: bool = True) -> dict[str, Any]:
    """A record as the contract's screening (see `screening_fields`)."""
    return Screening.body(**screening_fields(record, with_feedback=with_feedback))
