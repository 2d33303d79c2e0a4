"""Disc locator and quality gate on generated photos (the real-data numbers come from bench/)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from papila.core import imaging
from papila.core.locate import locate
from papila.core.quality import MIN_SHARPNESS, check_crop, check_photo, sharpness
from PIL import Image, ImageDraw, ImageFilter

from tests.fundus import make_fundus


@pytest.mark.parametrize(("size", "disc"), [((1200, 1000), (850, 480)), ((640, 512), (200, 260)),
                                             ((3000, 2400), (1500, 1200)), ((2000, 1500), (700, 900))])
def test_locator_finds_the_disc_at_any_resolution(size, disc):
    found = locate(make_fundus(*size, disc_xy=disc, seed=sum(disc)))
    r = min(size) * 0.46 / 6  # the generator's disc radius
    assert np.hypot(found.center[0] - disc[0], found.center[1] - disc[1]) <= 0.5 * r
    c = found.crop
    assert c.x <= disc[0] - r and c.x + c.size >= disc[0] + r
    assert c.y <= disc[1] - r and c.y + c.size >= disc[1] + r
    assert 0 < found.confidence <= 1


def test_fundus_photos_and_disc_crops_pass_the_gate():
    photo = make_fundus(1200, 1000, seed=3)
    assert check_photo(photo) is None
    crop = imaging.square_crop(photo, locate(photo).crop)
    assert check_photo(crop) is None and check_crop(crop) is None


def _document() -> Image.Image:
    doc = Image.new("RGB", (850, 1100), (250, 250, 245))
    draw = ImageDraw.Draw(doc)
    for y in range(80, 1000, 30):
        draw.line((60, y, 700, y), fill=(20, 20, 20), width=5)
    return doc


def _landscape() -> Image.Image:
    a = np.zeros((600, 800, 3), np.uint8)
    a[..., 2] = 230
    a[..., 1] = 180
    a[350:] = (60, 140, 50)
    return Image.fromarray(a)


@pytest.mark.parametrize(
    ("image", "code"),
    [
        (Image.new("RGB", (800, 600), (128, 128, 128)), "not_a_fundus_photo"),
        (_document(), "not_a_fundus_photo"),
        (_landscape(), "not_a_fundus_photo"),
        (Image.eval(make_fundus(800, 700, seed=4), lambda v: v // 25), "too_dark"),
    ],
)
def test_gate_refuses_what_the_model_must_not_judge(image, code):
    rejection = check_photo(image)
    assert rejection is not None and rejection.code == code
    assert rejection.message.endswith(".")


def test_featureless_disc_region_is_refused():
    rejection = check_crop(Image.new("RGB", (300, 300), (200, 90, 40)))
    assert rejection is not None and rejection.code == "disc_not_visible"


def _gate_crop(photo: Image.Image) -> Image.Image:
    assert check_photo(photo) is None
    return imaging.square_crop(photo, locate(photo).crop)


@pytest.mark.parametrize("size", [(1200, 1000), (640, 512), (3000, 2400)])
def test_focused_photo_passes_and_defocused_copy_is_refused_as_too_blurred(size):
    photo = make_fundus(*size, seed=5)
    crop = _gate_crop(photo)
    assert check_crop(crop) is None
    assert sharpness(crop) > 1.5 * MIN_SHARPNESS  # clear of the threshold, at any resolution
    disc_d = min(size) * 0.45 * 2 / 6  # the generator's disc diameter
    blurred = photo.filter(ImageFilter.GaussianBlur(0.08 * disc_d))  # vessels and disc rim smeared
    rejection = check_crop(_gate_crop(blurred))
    assert rejection is not None and rejection.code == "too_blurred"
    assert rejection.message.endswith(".")


def test_blur_check_tolerates_jpeg_and_downscaling_but_not_a_blurred_crop():
    crop = _gate_crop(make_fundus(1200, 1000, seed=6))
    buf = io.BytesIO()
    crop.save(buf, "JPEG", quality=60)
    assert check_crop(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")) is None
    assert check_crop(crop.resize((crop.width // 2, crop.height // 2), Image.Resampling.LANCZOS)) is None
    rejection = check_crop(crop.filter(ImageFilter.GaussianBlur(0.06 * crop.width)))
    assert rejection is not None and rejection.code == "too_blurred"


def test_blur_check_skips_a_crop_mostly_outside_the_field():
    crop = Image.new("RGB", (300, 300))
    crop.paste(make_fundus(400, 400, seed=2).resize((40, 40)), (0, 0))
    assert sharpness(crop) is None
