"""Plumbing cheaper than the model (issue 13, item 6): every shortcut gives the very result of the slower
way it replaced (the locator's candidates to the pixel, the result PNGs' pixels, the squares' pixels), so
no clinical decision moves; bench/pipeline.py measures what they save."""

from __future__ import annotations

import importlib.util
import io
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from papila.core import heatmap, imaging, locate
from PIL import Image, ImageCms, ImageFilter

from tests.fundus import make_fundus

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- the locator: the same candidates

# locate.candidates on tests/fundus.py photos as the locator gave them before it was made cheaper
# (Pillow's median filter, a (k - 1)-step rank filter, suppression over the whole map): (x, y, size, confidence).
GOLDEN = {
    ((1900, 1500), 3): [(993, 455, 497, 1.0), (785, 310, 497, 0.0), (855, 662, 497, 0.0), (607, 121, 497, 0.0),
                        (648, 518, 497, 0.0), (425, 811, 497, 0.0), (1104, 677, 497, 0.0), (766, 900, 497, 0.0),
                        (1011, 206, 497, 0.0), (332, 228, 497, 0.0)],
    ((640, 480), 1): [(332, 145, 159, 1.0), (200, 39, 159, 0.0), (254, 156, 159, 0.138), (174, 277, 159, 0.0),
                      (302, 220, 159, 0.0), (280, 40, 159, 0.0), (254, 284, 159, 0.0), (381, 209, 159, 0.0),
                      (184, 117, 159, 0.0), (355, 67, 159, 0.0)],
}


@pytest.mark.parametrize(("size", "seed"), list(GOLDEN))
def test_the_locator_proposes_the_same_squares_as_before(size, seed):
    found = locate.candidates(make_fundus(*size, seed=seed))
    assert [(r.crop.x, r.crop.y, r.crop.size, r.confidence) for r in found] == GOLDEN[(size, seed)]


def test_the_field_of_view_is_pillows_5x5_median_of_the_mask():
    rng = np.random.default_rng(0)
    for shape, p in (((64, 80), 0.5), ((41, 33), 0.2), ((5, 7), 0.7), ((120, 96), 0.9)):
        red = np.where(rng.random(shape) < p, 200.0, 0.0).astype(np.float32)
        rgb = np.stack([red, red * 0.4, red * 0.2], axis=2)
        mask = red > max(18.0, 0.12 * float(np.percentile(red, 99)))
        reference = Image.fromarray((mask * 255).astype(np.uint8)).filter(ImageFilter.MedianFilter(5))
        assert np.array_equal(locate.field_of_view(rgb), np.asarray(reference) > 127)


@pytest.mark.parametrize("k", [3, 5, 7, 9, 11, 13, 21, 33])
def test_the_rank_filter_is_the_plain_sliding_window(k):
    a = np.random.default_rng(k).uniform(0, 255, (37, 52)).astype(np.float32)
    for op in (np.maximum, np.minimum):
        expected = a
        r = k // 2
        for axis in (0, 1):  # the filter as it was: k - 1 shifted copies per axis, edges replicated
            pad = [(0, 0), (0, 0)]
            pad[axis] = (r, r)
            p = np.pad(expected, pad, mode="edge")
            n = expected.shape[axis]
            out = p[:n] if axis == 0 else p[:, :n]
            for d in range(1, k):
                out = op(out, p[d:d + n] if axis == 0 else p[:, d:d + n])
            expected = out
        assert np.array_equal(imaging.rank_filter(a, k, dilate=op is np.maximum), expected)


# ---------------------------------------------------------------- squares and result PNGs: the same pixels

def _padded_reference(image: Image.Image, crop: imaging.Crop) -> np.ndarray:
    canvas = np.zeros((crop.size, crop.size, 3), np.uint8)
    rgb = np.asarray(image)
    for y in range(crop.size):
        sy = crop.y + y
        if 0 <= sy < image.height:
            for x0 in range(crop.size):
                sx = crop.x + x0
                if 0 <= sx < image.width:
                    canvas[y, x0] = rgb[sy, sx]
    return canvas


@pytest.mark.parametrize("crop", [imaging.Crop(10, 12, 40), imaging.Crop(0, 0, 60), imaging.Crop(-8, 5, 30),
                                  imaging.Crop(70, 50, 30), imaging.Crop(-5, -5, 100)])
def test_a_square_is_the_photos_pixels_padded_black(crop):
    image = Image.fromarray(np.random.default_rng(1).integers(0, 255, (60, 80, 3), dtype=np.uint8))
    cut = imaging.square_crop(image, crop)
    assert cut.mode == "RGB" and cut.size == (crop.size, crop.size)
    assert np.array_equal(np.asarray(cut), _padded_reference(image, crop))


def test_result_pngs_are_fast_lossless_and_carry_nothing_but_pixels():
    crop = make_fundus(640, 480, seed=2).crop((300, 100, 524, 324))
    crop.info["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = imaging.png_bytes(crop)
    with Image.open(io.BytesIO(data)) as back:
        back.load()
        assert back.mode == "RGB" and np.array_equal(np.asarray(back), np.asarray(crop))
        assert "icc_profile" not in back.info and not back.getexif()
    array = np.asarray(crop)
    assert imaging.png_bytes(array) == imaging.png_bytes(Image.fromarray(array))
    slow = io.BytesIO()
    Image.fromarray(array).save(slow, "PNG", compress_level=6)
    assert len(data) < 1.5 * len(slow.getvalue())  # level 1: a little larger, far quicker


def _overlay_as_it_was(crop: Image.Image, cam: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    positive = np.maximum(np.asarray(cam, np.float32), 0)
    peak = float(positive.max())
    norm = positive / peak if peak > 0 else positive
    upsampled = np.asarray(Image.fromarray((norm * 255).astype(np.uint8)).resize(crop.size, Image.Resampling.BICUBIC),
                           np.float32) / 255.0
    heat = heatmap.colormap(upsampled).astype(np.float32)
    base = np.asarray(crop.convert("RGB"), np.float32)
    weight = alpha * (0.25 + 0.75 * upsampled[..., None])
    return (base * (1 - weight) + heat * weight).clip(0, 255).astype(np.uint8)


@pytest.mark.parametrize("seed", range(6))
def test_the_heat_map_looked_up_is_the_heat_map_computed(seed):
    rng = np.random.default_rng(seed)
    crop = Image.fromarray(rng.integers(0, 256, (224, 224, 3), dtype=np.uint8))
    cam = rng.normal(0, 1, (14, 14)).astype(np.float32) * (seed % 3)  # seeds 0 and 3: no evidence at all
    assert np.array_equal(np.asarray(heatmap.overlay(crop, cam)), _overlay_as_it_was(crop, cam))


# ---------------------------------------------------------------- bench/pipeline.py's accounting

def _bench():
    spec = importlib.util.spec_from_file_location("bench_pipeline", ROOT / "bench" / "pipeline.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_pipeline"] = module
    spec.loader.exec_module(module)
    return module


def test_the_bench_counts_each_stage_without_the_stages_inside_it():
    bench = _bench()
    clock = bench.Clock()

    def spin(seconds: float) -> None:
        end = time.process_time() + seconds
        while time.process_time() < end:
            pass

    inner = clock.wrap("inner", lambda: spin(0.03))
    outer = clock.wrap("outer", lambda: (spin(0.02), inner(), spin(0.02)))
    outer()
    assert 0.025 <= clock.spent["inner"] <= 0.045
    assert 0.035 <= clock.spent["outer"] <= 0.055
    assert not clock.stack
