"""Synthetic fundus-like photos for plumbing tests and benchmarks (not for judging the model).

A dark surround, an orange-red circular field of view (~90% of the shorter side) darker towards its
rim, a bright yellowish optic disc (~1/6 of the field's diameter) with a paler cup, darker red vessels
radiating from the disc, a darker macula, mild noise and a slight blur, as a camera gives.

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


def _draw_fundus(width: int, height: int, disc_xy: tuple[int, int] | None, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    cx, cy = width / 2, height / 2
    field_r = 0.45 * min(width, height)
    dx, dy = disc_xy if disc_xy is not None else default_disc_xy(width, height)
    disc_r = field_r * 2 / 6 / 2  # diameter = 1/6 of the field's diameter

    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    rr = np.hypot(xx - cx, yy - cy) / field_r  # 0 at the centre, 1 at the field's rim
    # Orange-red retina, vignetted towards the rim; a slow random tint so no two photos are equal.
    shade = np.clip(1.0 - 0.45 * rr**2, 0, 1)
    tint = rng.uniform(0.9, 1.1, size=3)
    rgb = np.stack([205 * shade * tint[0], 92 * shade * tint[1], 38 * shade * tint[2]], axis=-1)
    # Darker macula about 2.5 disc diameters to the temporal side of the disc.
    mx, my = dx - (dx - cx) / max(abs(dx - cx), 1) * 5 * disc_r, dy + 0.3 * disc_r
    macula = np.exp(-(((xx - mx) ** 2 + (yy - my) ** 2) / (2 * (1.3 * disc_r) ** 2)))
    rgb *= (1 - 0.35 * macula)[..., None]

    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    # Vessels: arcs leaving the disc, thick near it and thinner as they go, branching once.
    vessel = tuple(int(v) for v in rng.integers([95, 15, 8], [125, 30, 18]))
    for k in range(10):
        angle = 2 * math.pi * k / 10 + rng.uniform(-0.25, 0.25)
        _vessel(draw, rng, (dx, dy), angle, disc_r * 0.6, field_r * rng.uniform(0.7, 1.2),
                width=max(2, round(disc_r * 0.13)), colour=vessel)
    # The disc (bright, yellowish) and its cup (paler), with soft edges.
    disc = Image.new("L", image.size, 0)
    ImageDraw.Draw(disc).ellipse([dx - disc_r, dy - disc_r * 1.08, dx + disc_r, dy + disc_r * 1.08], fill=255)
    disc = disc.filter(ImageFilter.GaussianBlur(disc_r * 0.12))
    image = Image.composite(Image.new("RGB", image.size, (232, 118, 66)), image, disc)
    cup_r = disc_r * rng.uniform(0.35, 0.55)
    cup = Image.new("L", image.size, 0)
    ImageDraw.Draw(cup).ellipse([dx - cup_r, dy - cup_r * 1.1, dx + cup_r, dy + cup_r * 1.1], fill=210)
    cup = cup.filter(ImageFilter.GaussianBlur(cup_r * 0.25))
    image = Image.composite(Image.new("RGB", image.size, (246, 160, 96)), image, cup)
    # Vessels cross the disc rim too (drawn again over the disc, thinner).
    draw = ImageDraw.Draw(image)
    for k in range(4):
        a = math.pi / 2 * k + 0.4
        draw.line([(dx + math.cos(a) * cup_r, dy + math.sin(a) * cup_r),
                   (dx + math.cos(a) * disc_r * 1.2, dy + math.sin(a) * disc_r * 1.2)],
                  fill=vessel, width=max(2, round(disc_r * 0.09)))

    arr = np.asarray(image.filter(ImageFilter.GaussianBlur(1.2)), np.float32)
    arr += rng.normal(0, 3.0, arr.shape)
    # The camera's circular aperture: black outside the field, with a soft edge.
    edge = np.clip((1.0 - rr) * field_r / 3.0, 0, 1)
    arr = arr * edge[..., None] + rng.normal(4, 1.5, arr.shape) * (1 - edge[..., None])
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _vessel(draw: ImageDraw.ImageDraw, rng: np.random.Generator, start: tuple[float, float], angle: float,
            offset: float, length: float, width: int, colour: tuple[int, ...], depth: int = 0) -> None:
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
