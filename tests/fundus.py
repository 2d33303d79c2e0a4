"""Synthetic fundus-like photos for plumbing tests and benchmarks (not for judging the model).

A dark surround, an orange-red circular field of view (~90% of the shorter side) darker and redder
towards its rim, with the choroid's mottling (each channel its own); a paler yellowish optic disc (~1/6 of
the field's diameter, colours near real photos') with a defined rim and a paler cup; vessels leaving the
cup and crossing the rim, darker mostly in green and blue; a darker macula, mild noise and a slight blur,
as a camera gives.

    from tests.fundus import make_fundus, fundus_bytes
    image = make_fundus(1200, 1000, disc_xy=(800, 480), seed=3)
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def default_disc_xy(width: int, height: int) -> tuple[int, int]:
    """Where the disc sits by default: right of centre (a left eye), a little above the midline."""
    field_d = 0.9 * min(width, height)
    return round(width / 2 + 0.22 * field_d), round(height / 2 - 0.03 * field_d)


RETINA = (172, 76, 44)  # mean RGB at the field's centre, before vignetting
RIM = (208, 98, 58)
CUP = (236, 158, 98)
VESSEL_DARKENING = (0.22, 0.6, 0.66)  # share of R, G, B a vein absorbs

RENDER_MAX = 720  # px: larger photos are drawn at this size and enlarged, as the optics of a camera blur


def make_fundus(width: int = 1200, height: int = 1000, disc_xy: tuple[int, int] | None = None,
                seed: int = 0) -> Image.Image:
    """The same anatomy at any size: drawn at no more than RENDER_MAX px and enlarged (the disc/cup
    segmenter, trained on real photos, sees at its own scale what it would see in a real one)."""
    scale = min(1.0, RENDER_MAX / max(width, height))
    if scale < 1.0:
        small_disc = None if disc_xy is None else (round(disc_xy[0] * scale), round(disc_xy[1] * scale))
        small = _draw_fundus(round(width * scale), round(height * scale), small_disc, seed)
        big = np.asarray(small.resize((width, height), Image.Resampling.BICUBIC), np.float32)
        big += np.random.default_rng(seed + 1).normal(0, 2.0, big.shape)
        return Image.fromarray(np.clip(big, 0, 255).astype(np.uint8))
    return _draw_fundus(width, height, disc_xy, seed)


def _smooth_noise(rng: np.random.Generator, width: int, height: int, cell: float) -> np.ndarray:
    """Zero-mean, unit-ish random field varying over about `cell` px (the choroid's mottling)."""
    gw, gh = max(2, round(width / cell) + 2), max(2, round(height / cell) + 2)
    grid = Image.fromarray(rng.normal(0, 1, (gh, gw)).astype(np.float32), mode="F")
    return np.asarray(grid.resize((width, height), Image.Resampling.BICUBIC), np.float32)


def _draw_fundus(width: int, height: int, disc_xy: tuple[int, int] | None, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    cx, cy = width / 2, height / 2
    field_r = 0.45 * min(width, height)
    dx, dy = disc_xy if disc_xy is not None else default_disc_xy(width, height)
    disc_r = field_r * 2 / 6 / 2  # diameter = 1/6 of the field's diameter

    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    rr = np.hypot(xx - cx, yy - cy) / field_r  # 0 at the centre, 1 at the field's rim
    # Orange-red retina (real photos, around the disc: ~(158, 70, 42)), vignetted towards the rim, with
    # the choroid's slow mottling and a random tint so no two photos are equal.
    # Green and blue fall off faster than red towards the rim (the periphery is redder), and each channel
    # has its own mottling, so the channels do not vary in lockstep as a tinted picture's do.
    falloff = np.array([0.45, 0.62, 0.66], np.float32) * rng.uniform(0.85, 1.15)
    shade = np.clip(1.0 - falloff * (rr**2.2)[..., None], 0.05, 1)
    tint = rng.uniform(0.92, 1.08, size=3)
    base = np.array(RETINA, np.float32) * tint
    mottle = _smooth_noise(rng, width, height, disc_r * 0.9)
    texture = np.stack([a * _smooth_noise(rng, width, height, disc_r * 0.8) + 0.03 * mottle
                        + f * _smooth_noise(rng, width, height, disc_r * 0.25)
                        for a, f in ((0.03, 0.008), (0.05, 0.012), (0.08, 0.015))], axis=-1)
    rgb = base * shade * (1 + texture)
    # Darker macula about 2.5 disc diameters to the temporal side of the disc.
    side = (dx - cx) / max(abs(dx - cx), 1)
    mx, my = dx - side * 5 * disc_r, dy + 0.3 * disc_r
    macula = np.exp(-(((xx - mx) ** 2 + (yy - my) ** 2) / (2 * (1.4 * disc_r) ** 2)))
    rgb *= (1 - 0.3 * macula)[..., None]

    # The disc (paler, yellowish: real rims ~(206, 88, 50)) with a defined rim, and its paler cup.
    disc = Image.new("L", (width, height), 0)
    ImageDraw.Draw(disc).ellipse([dx - disc_r, dy - disc_r * 1.08, dx + disc_r, dy + disc_r * 1.08], fill=255)
    disc_m = np.asarray(disc.filter(ImageFilter.GaussianBlur(disc_r * 0.06)), np.float32)[..., None] / 255
    rim = np.array(RIM, np.float32) * tint * rng.uniform(0.95, 1.05)
    rgb = rgb * (1 - disc_m) + rim * (1 + 0.03 * mottle[..., None]) * disc_m
    cup_r = disc_r * rng.uniform(0.35, 0.6)
    ox, oy = side * rng.uniform(0.0, 0.15) * disc_r, rng.uniform(-0.1, 0.1) * disc_r
    cup = Image.new("L", (width, height), 0)
    ImageDraw.Draw(cup).ellipse([dx + ox - cup_r, dy + oy - cup_r * 1.1, dx + ox + cup_r, dy + oy + cup_r * 1.1],
                                fill=255)
    cup_m = np.asarray(cup.filter(ImageFilter.GaussianBlur(cup_r * 0.3)), np.float32)[..., None] / 255
    rgb = rgb * (1 - cup_m) + np.array(CUP, np.float32) * tint * cup_m

    # Vessels leave the cup and cross the rim: darker mostly in green and blue (red light passes blood),
    # thick near the disc and thinner as they go, each branching once; veins darker than arteries.
    vessels = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(vessels)
    n = 12
    for k in range(n):
        angle = 2 * math.pi * k / n + rng.uniform(-0.25, 0.25)
        strength = int(rng.choice([150, 230]))
        _vessel(draw, rng, (dx + ox, dy + oy), angle, cup_r * 0.3, field_r * rng.uniform(0.7, 1.2),
                width=max(2, round(disc_r * rng.uniform(0.09, 0.14))), colour=strength)
    vmask = np.asarray(vessels.filter(ImageFilter.GaussianBlur(max(0.6, disc_r * 0.015))), np.float32)[..., None] / 255
    rgb *= 1 - vmask * np.array(VESSEL_DARKENING, np.float32)

    arr = np.asarray(Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.0)),
                     np.float32)
    arr += rng.normal(0, 1.0, arr.shape) * np.array([2.0, 2.5, 2.5], np.float32)
    # The camera's circular aperture: black outside the field, with a soft edge.
    edge = np.clip((1.0 - rr) * field_r / 3.0, 0, 1)
    arr = arr * edge[..., None] + rng.normal(4, 1.5, arr.shape) * (1 - edge[..., None])
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _vessel(draw: ImageDraw.ImageDraw, rng: np.random.Generator, start: tuple[float, float], angle: float,
            offset: float, length: float, width: int, colour: int, depth: int = 0) -> None:
    x, y = start[0] + math.cos(angle) * offset, start[1] + math.sin(angle) * offset
    steps = 24
    step = length / steps
    bend = rng.uniform(-0.05, 0.05)
    points = [(x, y)]
    for i in range(steps):
        angle += bend + rng.normal(0, 0.04)
        x, y = x + math.cos(angle) * step, y + math.sin(angle) * step
        points.append((x, y))
        if depth == 0 and i == steps // 3:
            _vessel(draw, rng, (x, y), angle + rng.choice([-0.7, 0.7]), 0, length * 0.5,
                    max(1, width // 2), colour, depth + 1)
    for i in range(steps):
        w = max(1, round(width * (1 - 0.6 * i / steps)))
        draw.line([points[i], points[i + 1]], fill=colour, width=w)


def make_blank(width: int = 800, height: int = 600, grey: int = 128) -> Image.Image:
    """A flat grey picture: the quality gate must reject it."""
    return Image.new("RGB", (width, height), (grey, grey, grey))


def encode(image: Image.Image, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    if fmt.upper() in ("JPEG", "JPG"):
        image.save(buf, "JPEG", quality=92)
    else:
        image.save(buf, fmt.upper())
    return buf.getvalue()


def fundus_bytes(width: int = 1200, height: int = 1000, fmt: str = "JPEG", seed: int = 0,
                 disc_xy: tuple[int, int] | None = None) -> bytes:
    return encode(make_fundus(width, height, disc_xy, seed), fmt)
