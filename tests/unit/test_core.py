"""The AWS-free core: state rules, key layout, imaging, metrics."""

from __future__ import annotations

import io

import numpy as np
import pytest
from papila.core import imaging, keys, records
from papila.core.records import Status
from papila.model.serving import metrics
from PIL import Image


def test_state_machine_allows_only_the_designed_moves():
    assert records.can_move(Status.AWAITING_UPLOAD, Status.PROCESSING)
    assert records.can_move(Status.QUEUED, Status.PROCESSING)
    assert records.can_move(Status.PROCESSING, Status.DONE)
    assert records.can_move(Status.DONE, Status.QUEUED)  # rerun
    assert not records.can_move(Status.DONE, Status.PROCESSING)  # a repeated event changes nothing
    assert not records.can_move(Status.DONE, Status.DONE)
    assert not records.can_move(Status.REJECTED, Status.FAILED)
    assert not records.can_move(Status.AWAITING_UPLOAD, Status.DONE)


def test_ids_and_keys_round_trip():
    sid = records.new_id()
    assert records.is_valid_id(sid)
    assert not records.is_valid_id("not-a-uuid") and not records.is_valid_id(sid.upper())
    key = keys.original_key(sid, ".JPG")
    assert key == f"uploads/{sid}/original.jpg"
    assert keys.screening_id_from_key(key) == sid
    assert keys.screening_id_from_key(keys.crop_key(sid)) is None  # results never re-trigger
    assert keys.screening_id_from_key(f"uploads/{sid}/other.jpg") is None


def _jpeg_with_exif(orientation: int) -> bytes:
    image = Image.new("RGB", (120, 80), (200, 60, 20))
    image.paste((10, 10, 10), (0, 0, 20, 20))  # a dark mark top-left
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "Topcon"  # camera maker: must not survive
    buf = io.BytesIO()
    image.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def test_decode_applies_exif_orientation_and_encode_strips_metadata():
    data = _jpeg_with_exif(orientation=6)  # rotate 90 degrees clockwise to display
    assert imaging.has_metadata(data)
    image = imaging.decode(data)
    assert image.size == (80, 120)
    clean = imaging.encode(image, "image/jpeg")
    assert not imaging.has_metadata(clean)
    assert not Image.open(io.BytesIO(clean)).getexif()


@pytest.mark.parametrize(
    ("data", "code"),
    [(b"hello world", "unreadable_image"), (b"\xff\xd8\xff\xe0broken", "unreadable_image")],
)
def test_decode_rejects_non_images(data, code):
    with pytest.raises(imaging.ImageError) as err:
        imaging.decode(data)
    assert err.value.code == code


def test_decode_rejects_tiny_and_unsupported_images():
    buf = io.BytesIO()
    Image.new("RGB", (20, 20)).save(buf, "PNG")
    with pytest.raises(imaging.ImageError, match="too small"):
        imaging.decode(buf.getvalue())
    buf = io.BytesIO()
    Image.new("RGB", (100, 100)).save(buf, "GIF")
    with pytest.raises(imaging.ImageError) as err:
        imaging.decode(buf.getvalue())
    assert err.value.code == "unsupported_format"


def test_sniff_content_type():
    for fmt, ctype in (("JPEG", "image/jpeg"), ("PNG", "image/png"), ("TIFF", "image/tiff")):
        buf = io.BytesIO()
        Image.new("RGB", (70, 70)).save(buf, fmt)
        assert imaging.sniff_content_type(buf.getvalue()) == ctype
    assert imaging.sniff_content_type(b"GIF89a....") is None


def test_square_crop_pads_outside_the_photo_with_black():
    image = Image.new("RGB", (100, 80), (255, 255, 255))
    crop = imaging.square_crop(image, imaging.Crop(-20, 50, 60))
    a = np.asarray(crop)
    assert crop.size == (60, 60)
    assert a[:, :20].max() == 0  # left of the photo
    assert a[30:, :].max() == 0  # below the photo (rows 80+)
    assert a[0, 20:].min() == 255


def test_clamp_crop_keeps_the_square_overlapping_the_photo():
    c = imaging.clamp_crop(imaging.Crop(5000, -5000, 10), 400, 300)
    assert c.size == 32
    assert c.x <= 400 - 16 and c.y >= -16


def test_model_input_is_224_rgb_float():
    x = imaging.model_input(Image.new("RGB", (500, 500), (1, 2, 3)))
    assert x.shape == (224, 224, 3) and x.dtype == np.float32
    assert tuple(x[0, 0]) == (1.0, 2.0, 3.0)


def test_auc_matches_a_hand_computed_example():
    labels = np.array([1, 1, 1, 0, 0, 0, 0])
    scores = np.array([0.9, 0.6, 0.3, 0.6, 0.2, 0.1, 0.4])
    # positive/negative pairs: 0.9 beats 4; 0.6 beats 3 and ties 1; 0.3 beats 2 -> (4 + 3.5 + 2) / 12
    assert metrics.roc_auc(labels, scores) == pytest.approx(9.5 / 12)


def test_threshold_for_specificity_is_chosen_on_negatives_only():
    labels = np.array([0] * 20 + [1] * 5)
    scores = np.concatenate([np.linspace(0.0, 0.95, 20), [0.99, 0.5, 0.2, 0.97, 0.98]])
    t = metrics.threshold_for_specificity(labels, scores, 0.85)
    negatives = scores[:20]
    assert (negatives < t).mean() >= 0.85
    assert (negatives < t).mean() < 0.85 + 1 / 20 + 1e-9  # the most sensitive such threshold
    summary = metrics.summary(labels, scores, t)
    assert summary["specificity"] >= 0.85 and summary["n"] == 25
