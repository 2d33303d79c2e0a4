"""Disc verification and the one anatomical scale: a square is graded only with a verified disc inside,
and the square every model sees is sized by the disc, not by the camera or the user's square."""

from __future__ import annotations

import numpy as np
import pytest
from papila.core import disc as discs
from papila.core import pipeline
from papila.core.imaging import Crop
from PIL import Image, ImageDraw

S = 96


def _masks(cx: float, cy: float, ry: float, rx: float | None = None, p: float = 0.95, cup: float = 0.4) -> np.ndarray:
    yy, xx = np.mgrid[0:S, 0:S] + 0.5
    rx = rx or ry
    r2 = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2
    return np.stack([(r2 <= 1) * p, (r2 <= cup**2) * p], -1).astype(np.float32)


def test_a_round_disc_wholly_inside_is_measured():
    shape = discs.measure(_masks(40, 50, 20))
    assert shape is not None
    assert abs(shape.cx - 40) < 1 and abs(shape.cy - 50) < 1 and abs(shape.height - 40) <= 2
    assert 0.1 < shape.cup < 0.25


@pytest.mark.parametrize("masks, why", [
    (np.zeros((S, S, 2), np.float32), "nothing segmented"),
    (_masks(48, 48, 3), "too small"),
    (_masks(48, 48, 47.9), "too large / touching the border"),
    (_masks(10, 48, 20), "cut by the border"),
    (_masks(48, 48, 30, 8), "not round: a streak"),
    (_masks(48, 48, 20, p=0.55), "segmented without confidence"),
])
def test_implausible_discs_are_refused(masks, why):
    assert discs.measure(masks) is None, why


def test_a_ring_is_not_a_disc():
    ring = _masks(48, 48, 30)
    ring[..., 0] *= 1 - (_masks(48, 48, 26)[..., 0] > 0)
    assert discs.measure(ring) is None


def test_the_largest_component_wins():
    masks = np.maximum(_masks(30, 30, 15), _masks(75, 75, 5))
    shape = discs.measure(masks)
    assert shape is not None and abs(shape.cx - 30) < 1


class PointSegmenter:
    """Segments a disc of a given diameter around one point of the photo, wherever a square shows it."""

    input_size = S

    def __init__(self, image: Image.Image, centre: tuple[float, float], diameter: float) -> None:
        self.image, self.centre, self.diameter = image, centre, diameter
        self.cup = 0.4  # cup radius / disc radius
        self.squares: list[Crop] = []

    def segment(self, crop: np.ndarray) -> np.ndarray:
        square = self.squares[-1]
        scale = S / square.size
        return _masks((self.centre[0] - square.x) * scale, (self.centre[1] - square.y) * scale,
                      self.diameter / 2 * scale, cup=self.cup)


@pytest.fixture
def segmenter(monkeypatch):
    image = Image.new("RGB", (1000, 800), (150, 60, 30))
    ImageDraw.Draw(image).ellipse((640, 320, 760, 440), fill=(210, 95, 55))  # the disc: paler than its surround
    seg = PointSegmenter(image, (700.0, 380.0), 120.0)
    real = discs.segment_square

    def recording(img, crop, s):
        seg.squares.append(crop)
        return real(img, crop, s)

    monkeypatch.setattr(discs, "segment_square", recording)
    return seg


def test_the_first_candidate_without_a_disc_is_passed_over(segmenter):
    wrong, right = Crop(50, 50, 300), Crop(560, 240, 300)
    disc = discs.verified_disc(segmenter.image, [wrong, right], segmenter)
    assert disc is not None and abs(disc.cx - 700) < 5 and abs(disc.cy - 380) < 5
    assert abs(disc.height - 120) < 6


def test_no_verified_disc_means_none(segmenter):
    assert discs.verified_disc(segmenter.image, [Crop(0, 0, 200), Crop(50, 500, 250)], segmenter) is None


def test_an_implausible_size_for_the_field_is_no_disc(segmenter):
    # The field implies a disc of ~400 px: a 120 px "disc" is a bright patch, not the disc.
    assert discs.verified_disc(segmenter.image, [Crop(560, 240, 300)], segmenter, expected=400.0) is None


@pytest.mark.parametrize("side", [200, 320, 600])
def test_the_normalised_square_follows_the_disc_not_the_users_square(segmenter, side):
    user = Crop(round(700 - side / 2), round(380 - side / 2), side)
    outcome = pipeline.disc_crop(segmenter.image, user.as_dict(), segmenter)
    assert not isinstance(outcome, pipeline.Rejected)
    crop, source, disc = outcome
    assert source == "user" and disc is not None
    assert abs(crop.size - discs.SIDE_PER_DISC * 120) <= 8
    assert abs(crop.x + crop.size / 2 - 700) <= 3 and abs(crop.y + crop.size / 2 - 380) <= 3


def test_a_users_square_without_the_disc_is_refused_with_a_reason(segmenter):
    outcome = pipeline.disc_crop(segmenter.image, {"x": 20, "y": 20, "size": 200}, segmenter)
    assert isinstance(outcome, pipeline.Rejected) and outcome.code == "disc_not_found"
    assert "square" in outcome.message


def test_a_photo_without_a_disc_is_refused(monkeypatch, segmenter):
    segmenter.centre = (-5000.0, -5000.0)  # nowhere in the photo
    outcome = pipeline.disc_crop(segmenter.image, None, segmenter)
    assert isinstance(outcome, pipeline.Rejected) and outcome.code == "disc_not_found"


def test_a_segmented_patch_no_paler_than_its_surround_is_no_disc(segmenter):
    segmenter.centre = (250.0, 250.0)  # plain retina there: the segmenter's "disc" has no contrast
    assert discs.verified_disc(segmenter.image, [Crop(100, 100, 300)], segmenter) is None


def test_a_flat_picture_gives_no_candidates_and_is_refused(segmenter):
    flat = Image.new("RGB", (640, 480), (150, 60, 30))
    outcome = pipeline.disc_crop(flat, None, segmenter)
    assert isinstance(outcome, pipeline.Rejected) and outcome.code == "disc_not_found"


def _far_candidates(image):
    """The locator's candidates, all far from the disc (as on photos whose disc sits at the field's edge)."""
    from papila.core.locate import LocateResult

    return [LocateResult(Crop(50, 50, 288), 0.5, (194.0, 194.0), 120.0),
            LocateResult(Crop(50, 450, 288), 0.0, (194.0, 594.0), 120.0)]


def test_a_disc_the_candidates_miss_is_found_by_searching_the_field(monkeypatch, segmenter):
    monkeypatch.setattr(pipeline, "candidates", _far_candidates)
    outcome = pipeline.disc_crop(segmenter.image, None, segmenter)
    assert not isinstance(outcome, pipeline.Rejected)
    crop, source, disc = outcome
    assert source == "auto" and abs(disc.cx - 700) < 5 and abs(disc.cy - 380) < 5
    assert abs(crop.size - discs.SIDE_PER_DISC * 120) <= 8


def test_the_field_grid_covers_the_field_only():
    from papila.core.locate import field_grids

    photo = Image.new("RGB", (800, 800), (0, 0, 0))
    ImageDraw.Draw(photo).ellipse((100, 100, 700, 700), fill=(150, 60, 30))
    squares, tighter = field_grids(photo, 100.0, [(0.8, 2.4), (0.5, 1.6)])
    assert all(abs(c.size - 160) <= 1 for c in tighter) and len(tighter) > len(squares)
    centres = [(c.x + c.size / 2, c.y + c.size / 2) for c in squares]
    assert squares and all(abs(c.size - 240) <= 1 for c in squares)
    assert all(np.hypot(x - 400, y - 400) <= 310 for x, y in centres)  # none in the black surround
    assert any(np.hypot(x - 400, y - 400) >= 250 for x, y in centres)  # the field's rim is searched


@pytest.mark.parametrize("expected, cup, why", [
    (80.0, 0.4, "a 120 px disc where the field implies 80 px: a bright patch"),
    (250.0, 0.4, "a 120 px disc where the field implies 250 px"),
    (120.0, 0.2, "no cup (4 % of the disc): a round reflection"),
])
def test_what_the_search_finds_must_look_more_like_a_disc_than_a_candidate(segmenter, expected, cup, why):
    segmenter.cup = cup
    squares = [Crop(560, 240, 300)]
    assert discs.verified_disc(segmenter.image, squares, segmenter, expected=expected) is not None, why
    assert discs.searched_disc(segmenter.image, squares, segmenter, expected) is None, why


def test_the_search_keeps_the_palest_disc_with_the_most_cup(monkeypatch, segmenter):
    # On HYGD a glare on the field's rim was paler than the disc but held less cup; a bright patch beside
    # a disc was segmented more confidently than the disc, with less contrast and cup.
    glare = discs.Disc(740, 1093, 120, 120, confidence=0.86, cup=0.4, contrast=1.19)
    patch = discs.Disc(454, 349, 120, 120, confidence=0.93, cup=0.12, contrast=1.08)
    disc = discs.Disc(882, 516, 130, 120, confidence=0.91, cup=0.7, contrast=1.08)
    found = {1: glare, 2: patch, 3: disc, 4: None}
    monkeypatch.setattr(discs, "_verified", lambda image, crop, *args, **kw: found[crop.x])
    squares = [Crop(x, 0, 300) for x in found]
    assert discs.searched_disc(segmenter.image, squares, segmenter, 120.0) is disc
    assert discs.searched_disc(segmenter.image, squares[:2], segmenter, 120.0) is glare


def test_a_second_tighter_grid_is_searched_only_when_the_first_finds_nothing(monkeypatch, segmenter):
    monkeypatch.setattr(pipeline, "candidates", _far_candidates)
    searched = []
    real = discs.searched_disc

    def recording(image, squares, seg, expected, recheck_side=2.0):
        searched.append(round(squares[0].size / expected, 1))
        return None if len(searched) == 1 else real(image, squares, seg, expected, recheck_side)

    monkeypatch.setattr(discs, "searched_disc", recording)
    outcome = pipeline.disc_crop(segmenter.image, None, segmenter)
    assert searched == [side for side, _, _ in discs.SEARCHES] == [2.4, 1.6]
    assert not isinstance(outcome, pipeline.Rejected) and abs(outcome[2].cx - 700) < 5
