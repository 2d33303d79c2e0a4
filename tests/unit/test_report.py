"""GET /api/screenings/{id}/report and the pure PDF builder behind it (papila.adapters.pdf_report)."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime

import numpy as np
import pytest
from papila.adapters.pdf_report import DISCLAIMER, TITLE, build_report, latin1
from papila.core import keys
from papila.model.serving import card as model_card
from PIL import Image
from pypdf import PdfReader

UNKNOWN = str(uuid.uuid4())
PDF_ACCEPT = {"Accept": "application/pdf"}
CARD = {
    "model_version": "vgg19bn-2026-11-30-d7aa01ba",
    "threshold": 0.42,
    "metrics": {"cv": {"n": 311, "auc": 0.9312, "sensitivity": 0.874, "specificity": 0.853, "threshold": 0.42}},
    "training_data": {"name": "RIM-ONE DL, partitioned by hospital, training set", "n": 311},
    "cdr_error": {"mae_vs_experts": 0.071, "measured_on": "drishti_gs1"},
}
FEEDBACK = {"diagnosis_correct": False, "true_label": "normal",
            "metadata": {"age": 63, "sex": "female", "eye": "left", "iop_mmhg": 24, "family_history": True,
                         "camera": "Topcon NW400", "notes": "seen in clinic"}}


def text_of(pdf: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(pdf))
    return len(reader.pages), " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def images_on_page(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages[0].images)


@pytest.fixture
def card(tmp_path, monkeypatch):
    """The installed model card (`MODEL_PATH`'s model.json); `card.install(None)` leaves none."""

    def install(content: dict | None) -> None:
        model = tmp_path / "weights" / "papila_vgg19_int8.tflite"
        model.parent.mkdir(exist_ok=True)
        target = model_card.card_path(model)
        if content is None:
            target.unlink(missing_ok=True)
        else:
            target.write_text(json.dumps(content))
        monkeypatch.setenv("MODEL_PATH", str(model))
        model_card.load_card.cache_clear()

    install(None)
    yield type("Card", (), {"install": staticmethod(install)})
    model_card.load_card.cache_clear()


def inline(api, images) -> str:
    body = {"filename": "left_eye.png", "content_type": "image/png", "image_base64": images.b64(images.png()),
            "consent": True}
    r = api.post("/api/screenings", body)
    assert r.status_code == 202, r.body
    return r.json_body["id"]


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.body
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json_body["error"]["code"] == code
    assert response.json_body["error"]["message"]


# ---------------------------------------------------------------- the route


def test_report_of_a_finished_screening(api, images, aws, worker, card):
    card.install(CARD)
    sid = inline(api, images)
    result = {**worker.result, "cdr": {"vertical": 0.61, "mae_vs_experts": 0.071, "measured_on": "cv_drishti_gs1"}}
    worker.finish(sid, result)
    heat = images.encode(images.fundus(224, 224, disc=(60, 100)), "PNG")  # unlike the crop (fpdf2 dedups)
    aws.s3.put_object(Bucket=aws.bucket, Key=keys.heatmap_key(sid), Body=heat, ContentType="image/png")
    assert api.put(f"/api/screenings/{sid}/feedback", FEEDBACK).status_code == 200
    assert api.get(f"/api/screenings/{sid}").json_body["links"]["report"] == f"/api/screenings/{sid}/report"

    r = api.get(f"/api/screenings/{sid}/report", headers=PDF_ACCEPT)
    assert r.status_code == 200, r.body
    assert r.headers["Content-Type"] == "application/pdf"
    assert f"papila-report-{sid}.pdf" in r.headers["Content-Disposition"]
    assert r.headers["Cache-Control"] == "private, no-store"
    pdf = r.body
    assert pdf.startswith(b"%PDF-")
    pages, text = text_of(pdf)
    assert pages == 1
    for expected in (TITLE, sid, "Probability of glaucoma", "0.913", "glaucoma", "threshold 0.42",
                     worker.result["referral"], "Vertical cup-to-disc ratio", "0.61", "vgg19-test",
                     "Estimated; mean absolute error 0.07 against experts on Drishti-GS1 photos, cross-validated.",
                     "AUC 0.931", "sensitivity 0.87", "specificity 0.85", "installed model vgg19bn-2026-11-30-d7aa01ba",
                     "Result correct: no; true label: normal", "age 63", "IOP 24 mmHg", "family history: yes",
                     "Notes: seen in clinic", DISCLAIMER):
        assert expected in text, expected
    assert images_on_page(pdf) == 3  # photo, crop, heat map


def test_report_without_model_card_heatmap_cdr_or_feedback(api, images, aws, worker, card):
    sid = inline(api, images)
    worker.finish(sid, {**worker.result, "label": "normal", "probability_glaucoma": 0.12}, heatmap=False)
    r = api.get(f"/api/screenings/{sid}/report", headers={"Accept": "*/*"})
    assert r.status_code == 200, r.body
    pages, text = text_of(r.body)
    assert pages == 1
    assert sid in text and "0.120" in text and "normal" in text and DISCLAIMER in text
    assert "No heat map" in text
    assert "AUC" not in text and "sensitivity" not in text  # no card: no performance block
    assert "cup-to-disc" not in text and "Feedback" not in text
    assert images_on_page(r.body) == 2


def test_report_before_done_is_409(api, images, aws, worker, service, card):
    sid = inline(api, images)
    assert_error(api.get(f"/api/screenings/{sid}/report", headers=PDF_ACCEPT), 409, "not_ready")
    worker.reject(sid)
    r = api.get(f"/api/screenings/{sid}/report", headers=PDF_ACCEPT)
    assert_error(r, 409, "not_ready")
    assert "rejected" in r.json_body["error"]["message"]


def test_report_unknown_and_malformed_ids(api, aws, card):
    assert_error(api.get(f"/api/screenings/{UNKNOWN}/report", headers=PDF_ACCEPT), 404, "not_found")
    assert_error(api.get("/api/screenings/not-a-uuid/report", headers=PDF_ACCEPT), 400, "invalid_id")


def test_report_needs_an_accept_that_allows_pdf(api, images, aws, worker, card):
    sid = inline(api, images)
    worker.finish(sid)
    # Chalice refuses a binary body to a request whose Accept allows none: a contract error, not its own.
    assert_error(api.get(f"/api/screenings/{sid}/report"), 400, "not_acceptable")
    assert_error(api.get(f"/api/screenings/{sid}/report", headers={"Accept": "application/json"}), 400,
                 "not_acceptable")
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    assert api.get(f"/api/screenings/{sid}/report", headers={"Accept": browser}).status_code == 200


def test_report_reads_the_stored_images(api, images, aws, worker, service, card):
    sid = inline(api, images)
    worker.finish(sid)
    aws.s3.delete_object(Bucket=aws.bucket, Key=keys.crop_key(sid))  # a lost object: a blank, not a 500
    r = api.get(f"/api/screenings/{sid}/report", headers=PDF_ACCEPT)
    assert r.status_code == 200
    assert "Crop not available" in text_of(r.body)[1]
    assert images_on_page(r.body) == 2


# ---------------------------------------------------------------- the pure builder


def record(**extra):
    return {
        "_id": "0b6f1c1e-3a57-4f2d-9a4e-7b7f3c2d1e00",
        "status": "done",
        "created_at": datetime(2026, 11, 30, 9, 12),
        "result": {"probability_glaucoma": 0.913, "label": "glaucoma", "threshold": 0.42,
                   "referral": "Refer to an ophthalmologist.", "model_version": "vgg19-test",
                   "crop": {"x": 300, "y": 140, "size": 200, "source": "user"}},
        **extra,
    }


def test_uncompressed_pdf_carries_plain_text_and_metadata():
    pdf = build_report(record(), {}, None, compress=False, generated_at=datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    assert pdf.startswith(b"%PDF-")
    assert pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") + pdf.count(b"/Type /Page/") == 1
    assert b"0b6f1c1e-3a57-4f2d-9a4e-7b7f3c2d1e00" in pdf and b"(glaucoma)" in pdf
    text = text_of(pdf)[1]
    assert "Screened 2026-11-30 09:12 UTC - report generated 2026-12-01 08:00 UTC" in text
    assert "Version: vgg19-test" in text
    info = PdfReader(io.BytesIO(pdf)).metadata
    assert info.title == TITLE and info.creator == "Papila"


def test_worst_case_text_stays_on_one_page(images):
    long_feedback = {
        "diagnosis_correct": None, "true_label": "suspect", "given_at": datetime(2026, 11, 30, 10, 0),
        "metadata": {"age": 120, "sex": "other", "eye": "right", "iop_mmhg": 79.5, "cdr": 0.95, "family_history": False,
                     "camera": "C" * 100, "notes": "Ünïcode — “quotes” ≥ 0.7 ✓ 眼 " + "word " * 400},
    }
    result = {**record()["result"], "referral": "Refer now. " * 100, "model_version": "v" * 200,
              "cdr": {"vertical": 0.93, "mae_vs_experts": 0.07, "measured_on": "drishti_gs1"}}
    card = {**CARD, "training_data": {"name": "N" * 300, "n": 311}}
    stored = {"original": images.jpeg(1600, 1200), "crop": images.png(224, 224), "heatmap": images.png(224, 224)}
    pdf = build_report(record(result=result, feedback=long_feedback), stored, card)
    pages, text = text_of(pdf)
    assert pages == 1
    assert "don't know" in text and "true label: suspect" in text and "family history: no" in text
    assert 'Ünïcode - "quotes" >= 0.7 ? ?' in text  # folded to latin-1, never an error
    assert DISCLAIMER in text


def test_tolerates_odd_values_and_unreadable_images():
    result = {"probability_glaucoma": "high", "label": None, "threshold": float("nan"), "cdr": 0.61}
    card = {"metrics": {"cv": {"auc": None, "sensitivity": "?"}}, "threshold": True}
    pdf = build_report(record(result=result, feedback={"metadata": "x"}), {"original": b"not an image",
                                                                           "crop": b""}, card)
    pages, text = text_of(pdf)
    assert pages == 1
    assert "Probability of glaucoma: n/a" in text and "Photo not available" in text
    assert "Crop not available" in text and "No heat map" in text


def test_large_photo_is_downscaled_and_the_pdf_stays_small(images):
    rng = np.random.default_rng(0)
    noisy = Image.fromarray(rng.integers(0, 255, (1800, 2400, 3), dtype=np.uint8))  # JPEG compresses noise badly
    photo = images.encode(noisy, "JPEG", quality=95)
    assert len(photo) > 3_000_000
    pdf = build_report(record(), {"original": photo}, None)
    assert len(pdf) < 1_500_000
    (embedded,) = PdfReader(io.BytesIO(pdf)).pages[0].images
    assert max(embedded.image.size) <= 1200


def test_exif_rotated_photo_is_upright(images):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    photo = images.encode(images.fundus(640, 480), "JPEG", exif=exif.tobytes())
    pdf = build_report(record(), {"original": photo}, None)
    (embedded,) = PdfReader(io.BytesIO(pdf)).pages[0].images
    assert embedded.image.size == (480, 640)


def test_latin1_folding():
    assert latin1("a — b “c” ≥ 1…") == 'a - b "c" >= 1...'
    assert latin1("x\ty\nz\x00") == "x y z"
    assert latin1("眼") == "?"
    assert latin1("abcdefghij", 8) == "abcde..."
