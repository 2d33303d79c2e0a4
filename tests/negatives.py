"""Images that are NOT colour fundus photos, generated in code, in named groups, for the quality gate's
tests and for bench/quality.py. Every group aims at a way a non-fundus picture can look like a fundus
photo to a colour rule: red/orange pictures, red-orange tints inside a dark circular border, round
orange things on black (planets, balls, pizzas, flowers), pink tissue with red vessels (conjunctiva,
skin), grey OCT B-scans, documents and screenshots, fur, natural scenes.

The tests and bench/quality.py use seed 0; bench/fit_gate.py fits the gate's classifier on seeds 1-3
(and never on k = 0, 1, where the natural group's sample photos are the same in every seed).

Where scikit-learn is installed its two bundled sample photos (china.jpg, flower.jpg; public domain
sample images) are added as real photographs; everything else is drawn here, deterministic by seed.

    from tests.negatives import negative_groups
    for group, images in negative_groups().items(): ...
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

PER_GROUP = 8
_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/share/fonts/TTF")


# ---------------------------------------------------------------------------------------------- helpers

def _size(rng: np.random.Generator) -> tuple[int, int]:
    """A varied photo size: 480-1280 px on the long side, landscape, portrait or square."""
    long = int(rng.integers(480, 1280))
    ratio = float(rng.choice([1.0, 4 / 3, 3 / 2, 16 / 9, 3 / 4]))
    return (long, max(64, round(long / ratio))) if ratio >= 1 else (max(64, round(long * ratio)), long)


def fractal(rng: np.random.Generator, w: int, h: int, beta: float = 2.0, octaves: int = 7) -> np.ndarray:
    """1/f-like noise in 0..1: random grids at doubling resolutions, bilinearly upsampled and summed."""
    out = np.zeros((h, w), np.float32)
    for o in range(octaves):
        n = 2 ** (o + 2)
        grid = rng.random((max(2, round(n * h / max(w, h))), max(2, round(n * w / max(w, h))))).astype(np.float32)
        layer = np.asarray(Image.fromarray(grid, "F").resize((w, h), Image.Resampling.BILINEAR))
        out += layer * (0.5 ** (o * beta / 2))
    out -= out.min()
    return out / max(float(out.max()), 1e-6)


def _to_image(a: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def _font(size: int, bold: bool = False, mono: bool = False) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    name = "DejaVuSansMono" if mono else "DejaVuSans"
    name += "-Bold.ttf" if bold else ".ttf"
    for folder in _FONT_DIRS:
        path = Path(folder) / name
        if path.exists():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


_WORDS = ["the", "patient", "was", "seen", "in", "clinic", "today", "for", "a", "routine", "review", "of", "intraocular", "pressure", "visual", "field", "and", "optic", "nerve", "findings", "no", "change", "since", "last", "visit", "plan", "continue", "drops", "and", "review", "in", "six", "months", "report", "results", "table", "figure", "summary", "invoice", "total", "amount", "date", "name", "address", "page", "section", "method"]


def _sentence(rng: np.random.Generator, n: int) -> str:
    return " ".join(str(rng.choice(_WORDS)) for _ in range(n)).capitalize()


def _vignette(w: int, h: int, strength: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rr = np.hypot(xx - w / 2, yy - h / 2) / (0.5 * min(w, h))
    return np.clip(1 - strength * rr**2, 0, 1)


def _circle_mask(w: int, h: int, radius_frac: float, soft: float = 3.0) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = radius_frac * min(w, h)
    return np.clip((r - np.hypot(xx - w / 2, yy - h / 2)) / soft, 0, 1)


def _tint_red_orange(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Map a picture's luminance onto a fundus-like red-orange ramp (the 'tinted photo' attack)."""
    lum = 0.3 * rgb[..., 0] + 0.6 * rgb[..., 1] + 0.1 * rgb[..., 2]
    lum = lum / max(float(np.percentile(lum, 99)), 1.0)
    gain = np.array([rng.uniform(200, 255), rng.uniform(70, 130), rng.uniform(15, 55)], np.float32)
    gamma = rng.uniform(0.7, 1.3)
    return np.clip(lum[..., None], 0, 1.2) ** gamma * gain + rng.uniform(0, 25, 3).astype(np.float32) * (lum[..., None] > 0.02)


def _sample_photos() -> list[np.ndarray]:
    """scikit-learn's two bundled sample photos, when scikit-learn is installed."""
    try:
        from sklearn.datasets import load_sample_images
    except ImportError:
        return []
    return [np.asarray(im, np.float32) for im in load_sample_images().images]


# ------------------------------------------------------------------------------------ natural-like scenes

def landscape(rng: np.random.Generator) -> np.ndarray:
    w, h = _size(rng)
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    sky_top, sky_low = np.array(rng.uniform([20, 60, 150], [90, 140, 255])), np.array(rng.uniform([150, 180, 200], [220, 230, 255]))
    sky = sky_top * (1 - yy[..., None]) + sky_low * yy[..., None]
    sky = np.broadcast_to(sky, (h, w, 3)).copy()
    clouds = fractal(rng, w, h, beta=2.2)
    sky += (np.clip(clouds - 0.55, 0, 1) * 400)[..., None]
    ridge = (0.35 + 0.25 * fractal(rng, w, 2, beta=2.5)[0]) * h
    ground_col = np.array(rng.uniform([40, 80, 20], [120, 160, 70]))
    tex = fractal(rng, w, h, beta=1.2)
    ground = ground_col * (0.6 + 0.8 * tex)[..., None]
    mask = (np.arange(h)[:, None] > ridge[None, :]).astype(np.float32)[..., None]
    img = sky * (1 - mask) + ground * mask
    im = _to_image(img)
    d = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(3, 12))):  # trees
        x, y = float(rng.uniform(0, w)), float(rng.uniform(0.45 * h, h))
        s = float(rng.uniform(0.04, 0.15)) * h
        d.rectangle((x - s * 0.08, y - s * 0.2, x + s * 0.08, y + s * 0.5), fill=(70, 45, 25))
        d.ellipse((x - s * 0.5, y - s * 1.1, x + s * 0.5, y), fill=tuple(int(v) for v in rng.integers([10, 60, 10], [60, 130, 50])))
    return np.asarray(im.filter(ImageFilter.GaussianBlur(0.7)), np.float32)


def street(rng: np.random.Generator) -> np.ndarray:
    w, h = _size(rng)
    im = Image.new("RGB", (w, h), tuple(int(v) for v in rng.integers([120, 150, 180], [200, 210, 250])))
    d = ImageDraw.Draw(im)
    x = 0
    while x < w:  # buildings with windows
        bw, bh = int(rng.integers(w // 10, w // 4)), int(rng.integers(h // 4, int(h * 0.8)))
        col = tuple(int(v) for v in rng.integers(60, 230, 3))
        d.rectangle((x, h * 0.7 - bh, x + bw, h * 0.7), fill=col)
        for wy in range(int(h * 0.7 - bh) + 10, int(h * 0.7) - 20, 28):
            for wx in range(x + 8, x + bw - 14, 22):
                d.rectangle((wx, wy, wx + 10, wy + 14), fill=(40, 50, 70) if rng.random() < 0.7 else (240, 220, 150))
        x += bw + int(rng.integers(0, 20))
    d.polygon([(0, h), (w, h), (w * 0.6, h * 0.7), (w * 0.4, h * 0.7)], fill=(70, 70, 75))
    d.rectangle((0, h * 0.7, w * 0.4, h), fill=(150, 150, 140))
    for k in range(5):
        y0 = h * (0.72 + 0.06 * k)
        d.rectangle((w * 0.49, y0, w * 0.51, y0 + h * 0.03), fill=(240, 240, 240))
    for _ in range(int(rng.integers(2, 6))):  # cars, often red
        cx, cy = float(rng.uniform(0.1, 0.9)) * w, float(rng.uniform(0.75, 0.95)) * h
        s = float(rng.uniform(0.06, 0.14)) * w
        col = (200, 30, 30) if rng.random() < 0.5 else tuple(int(v) for v in rng.integers(20, 240, 3))
        d.rounded_rectangle((cx - s, cy - s * 0.35, cx + s, cy + s * 0.15), radius=int(s * 0.15), fill=col)
        d.ellipse((cx - s * 0.8, cy, cx - s * 0.4, cy + s * 0.35), fill=(15, 15, 15))
        d.ellipse((cx + s * 0.4, cy, cx + s * 0.8, cy + s * 0.35), fill=(15, 15, 15))
    a = np.asarray(im, np.float32) + rng.normal(0, 4, (h, w, 3))
    return a


def food(rng: np.random.Generator) -> np.ndarray:
    """A pizza or a tomato dish seen from above: a round red-orange thing on a darker table."""
    w, h = _size(rng)
    wood = fractal(rng, w, h, beta=1.5)
    stripes = 0.5 + 0.5 * np.sin(np.linspace(0, rng.uniform(20, 60), w)[None, :] + 6 * wood)
    base = np.array(rng.uniform([60, 30, 15], [140, 90, 50]))
    a = base * (0.6 + 0.5 * stripes)[..., None]
    im = _to_image(a)
    d = ImageDraw.Draw(im)
    cx, cy, r = w / 2, h / 2, 0.42 * min(w, h)
    d.ellipse((cx - r * 1.15, cy - r * 1.15, cx + r * 1.15, cy + r * 1.15), fill=(235, 235, 230))  # plate
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(205, 140, 60))  # crust
    d.ellipse((cx - r * 0.88, cy - r * 0.88, cx + r * 0.88, cy + r * 0.88), fill=(200, 60, 30))  # sauce
    for _ in range(int(rng.integers(6, 14))):  # toppings
        a_, rr = rng.uniform(0, 2 * math.pi), rng.uniform(0, 0.75) * r
        x, y, s = cx + rr * math.cos(a_), cy + rr * math.sin(a_), float(rng.uniform(0.06, 0.12)) * r
        d.ellipse((x - s, y - s, x + s, y + s), fill=tuple(int(v) for v in rng.integers([150, 20, 10], [200, 50, 40])))
    for _ in range(int(rng.integers(20, 60))):  # cheese, herbs
        x, y = cx + float(rng.normal(0, 0.4)) * r, cy + float(rng.normal(0, 0.4)) * r
        s = float(rng.uniform(0.02, 0.06)) * r
        d.ellipse((x - s, y - s * 0.6, x + s, y + s * 0.6), fill=(250, 230, 160) if rng.random() < 0.7 else (40, 110, 30))
    return np.asarray(im.filter(ImageFilter.GaussianBlur(1.0)), np.float32) + rng.normal(0, 3, (h, w, 3))


def cat(rng: np.random.Generator) -> np.ndarray:
    """Orange tabby fur, a round head with ears, green eyes with slit pupils, a pink nose."""
    w, h = _size(rng)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, math.pi)
    along = xx * math.cos(angle) + yy * math.sin(angle)
    fine = fractal(rng, w, h, beta=0.6, octaves=8)
    stripes = 0.5 + 0.5 * np.sin(along / rng.uniform(15, 40) * 2 * math.pi + 4 * fractal(rng, w, h, beta=2))
    fur = np.array(rng.uniform([190, 110, 40], [240, 160, 90]))
    a = fur * (0.45 + 0.35 * stripes + 0.4 * fine)[..., None]
    bg = np.array(rng.uniform(30, 200, 3)) * (0.7 + 0.3 * fractal(rng, w, h))[..., None]
    cx, cy, r = w / 2, h * 0.55, 0.33 * min(w, h)
    head = np.clip((r - np.hypot(xx - cx, (yy - cy) * 1.1)) / 4, 0, 1)
    for side in (-1, 1):  # ears
        ex, ey = cx + side * r * 0.6, cy - r * 0.8
        ear = (yy > ey - r * 0.5) & (yy < ey + r * 0.3) & (np.abs(xx - ex) < (yy - (ey - r * 0.5)) * 0.6)
        head = np.maximum(head, ear.astype(np.float32))
    img = a * head[..., None] + bg * (1 - head[..., None])
    im = _to_image(img)
    d = ImageDraw.Draw(im)
    for side in (-1, 1):
        ex, ey, s = cx + side * r * 0.38, cy - r * 0.1, r * 0.16
        d.ellipse((ex - s, ey - s * 0.7, ex + s, ey + s * 0.7), fill=tuple(int(v) for v in rng.integers([120, 150, 30], [180, 200, 80])))
        d.ellipse((ex - s * 0.15, ey - s * 0.65, ex + s * 0.15, ey + s * 0.65), fill=(10, 10, 10))
    d.polygon([(cx - r * 0.08, cy + r * 0.2), (cx + r * 0.08, cy + r * 0.2), (cx, cy + r * 0.3)], fill=(230, 140, 150))
    for side in (-1, 1):
        for k in range(3):  # whiskers
            d.line((cx + side * r * 0.15, cy + r * 0.3, cx + side * r * 0.9, cy + r * (0.15 + 0.12 * k)), fill=(245, 245, 240), width=2)
    return np.asarray(im.filter(ImageFilter.GaussianBlur(0.8)), np.float32)


def flower(rng: np.random.Generator) -> np.ndarray:
    """A red or orange flower: petals round a bright yellow centre, on dark foliage."""
    w, h = _size(rng)
    leaves = np.array([20, 60, 20]) * (0.3 + 1.2 * fractal(rng, w, h))[..., None]
    im = _to_image(leaves)
    d = ImageDraw.Draw(im)
    cx, cy, r = w * rng.uniform(0.35, 0.65), h * rng.uniform(0.35, 0.65), 0.4 * min(w, h)
    petal = np.array(rng.uniform([190, 20, 10], [255, 120, 40]))
    n = int(rng.integers(5, 14))
    for k in range(n):
        a = 2 * math.pi * k / n + rng.uniform(-0.1, 0.1)
        px, py = cx + 0.55 * r * math.cos(a), cy + 0.55 * r * math.sin(a)
        s = r * 0.45
        col = tuple(int(v) for v in petal * rng.uniform(0.8, 1.05))
        d.ellipse((px - s, py - s * 0.6, px + s, py + s * 0.6), fill=col)
    s = r * rng.uniform(0.12, 0.25)
    d.ellipse((cx - s, cy - s, cx + s, cy + s), fill=(250, 210, 60))
    a = np.asarray(im.filter(ImageFilter.GaussianBlur(2.0)), np.float32)
    veins = fractal(rng, w, h, beta=0.8, octaves=8)
    return a * (0.8 + 0.3 * veins)[..., None]


def sunset(rng: np.random.Generator) -> np.ndarray:
    w, h = _size(rng)
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    top, low = np.array(rng.uniform([60, 10, 30], [140, 40, 80])), np.array(rng.uniform([230, 100, 20], [255, 170, 60]))
    a = np.broadcast_to(top * (1 - yy) + low * yy, (h, w, 3)).copy()
    a *= (0.85 + 0.3 * fractal(rng, w, h))[..., None]
    im = _to_image(a)
    d = ImageDraw.Draw(im)
    sx, sy, s = w * rng.uniform(0.3, 0.7), h * rng.uniform(0.45, 0.7), min(w, h) * rng.uniform(0.05, 0.12)
    d.ellipse((sx - s, sy - s, sx + s, sy + s), fill=(255, 235, 160))
    horizon = (0.7 + 0.1 * fractal(rng, w, 2)[0]) * h
    a = np.asarray(im.filter(ImageFilter.GaussianBlur(3)), np.float32)
    a[np.arange(h)[:, None] > horizon[None, :]] = (20, 10, 10)
    return a


# ------------------------------------------------------------------------------------- the groups

def _natural(rng: np.random.Generator, k: int) -> np.ndarray:
    photos = _sample_photos()
    if k < len(photos):
        return photos[k]
    return [landscape, street, food, cat, flower, sunset][k % 6](rng)


def group_natural(rng: np.random.Generator, k: int) -> np.ndarray:
    """Natural photos: scikit-learn's samples and drawn landscapes, streets, food, cats, flowers, sunsets."""
    return _natural(rng, k)


def group_red_orange(rng: np.random.Generator, k: int) -> np.ndarray:
    """Red and orange photos: flowers, sunsets, pizzas, orange cats, and natural photos shifted to red."""
    maker = [flower, sunset, food, cat][k % 4]
    if k >= 4:
        base = _natural(rng, k)
        lum = base.mean(axis=2, keepdims=True)
        shift = np.array(rng.uniform([1.2, 0.55, 0.2], [1.6, 0.9, 0.5]), np.float32)
        return 0.4 * base * shift + 0.6 * lum * shift
    return maker(rng)


def group_tinted_circle(rng: np.random.Generator, k: int) -> np.ndarray:
    """Any photo tinted red-orange, vignetted, inside a dark circular field like a fundus camera's."""
    base = _natural(rng, k)
    h, w = base.shape[:2]
    a = _tint_red_orange(base, rng) * _vignette(w, h, rng.uniform(0.2, 0.5))[..., None]
    mask = _circle_mask(w, h, rng.uniform(0.42, 0.5), soft=rng.uniform(1, 6))
    return a * mask[..., None] + rng.normal(4, 1.5, a.shape) * (1 - mask[..., None])


def group_red_on_black(rng: np.random.Generator, k: int) -> np.ndarray:
    """Red or orange things on black: a planet, a ball, glowing shapes, red text, a plain orange disc."""
    w, h = _size(rng)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy, r = w / 2 + rng.uniform(-0.1, 0.1) * w, h / 2, rng.uniform(0.3, 0.46) * min(w, h)
    rr = np.hypot(xx - cx, yy - cy) / r
    inside = np.clip((1 - rr) * r / 2, 0, 1)[..., None]
    colour = np.array(rng.uniform([180, 50, 10], [255, 130, 50]), np.float32)
    kind = k % 4
    if kind == 0:  # planet: cratered, banded orange sphere
        tex = fractal(rng, w, h, beta=1.6)
        shade = np.sqrt(np.clip(1 - rr**2, 0, 1))
        a = colour * (0.3 + 0.8 * tex[..., None]) * (0.3 + 0.7 * shade[..., None])
        return a * inside
    if kind == 1:  # shaded ball with a highlight
        lx, ly = cx - 0.4 * r, cy - 0.4 * r
        spec = np.exp(-((xx - lx) ** 2 + (yy - ly) ** 2) / (2 * (0.15 * r) ** 2))
        shade = np.sqrt(np.clip(1 - rr**2, 0, 1))
        a = colour * (0.25 + 0.75 * shade[..., None]) + 200 * spec[..., None]
        return a * inside
    if kind == 2:  # red text and lines on black
        im = Image.new("RGB", (w, h))
        d = ImageDraw.Draw(im)
        col = tuple(int(v) for v in colour)
        y = 20
        while y < h - 40:
            size = int(rng.integers(18, 60))
            d.text((20, y), _sentence(rng, int(rng.integers(2, 7))), fill=col, font=_font(size, bold=bool(rng.random() < 0.5)))
            y += int(size * 1.5)
        return np.asarray(im, np.float32)
    # a plain orange-red disc, darker to its rim, with a paler spot: a fundus with no anatomy
    a = colour * np.clip(1 - 0.45 * rr**2, 0, 1)[..., None]
    spot = np.exp(-((xx - cx - 0.3 * r) ** 2 + (yy - cy) ** 2) / (2 * (0.08 * r) ** 2))
    a = a + np.array([40, 90, 80]) * spot[..., None]
    return a * inside + rng.normal(0, 2, a.shape)


def group_conjunctiva(rng: np.random.Generator, k: int) -> np.ndarray:
    """External eye and pink tissue: sclera and conjunctiva with red vessels, eyelid skin, an iris."""
    w, h = _size(rng)
    base = np.array(rng.uniform([215, 170, 160], [250, 215, 205]), np.float32)
    a = base * (0.85 + 0.2 * fractal(rng, w, h, beta=1.4))[..., None]
    im = _to_image(a)
    d = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(8, 25))):  # tortuous red vessels
        x, y = float(rng.uniform(0, w)), float(rng.uniform(0, h))
        ang = rng.uniform(0, 2 * math.pi)
        width = int(rng.integers(1, 5))
        col = tuple(int(v) for v in rng.integers([160, 20, 30], [220, 70, 80]))
        for _ in range(int(rng.integers(20, 60))):
            ang += rng.normal(0, 0.35)
            nx, ny = x + 8 * math.cos(ang), y + 8 * math.sin(ang)
            d.line((x, y, nx, ny), fill=col, width=width)
            x, y = nx, ny
    if k % 2 == 0:  # external eye: iris and pupil, skin round the lids
        cx, cy, r = w / 2, h / 2, 0.22 * min(w, h)
        iris = tuple(int(v) for v in rng.integers([60, 40, 20], [140, 120, 110]))
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=iris)
        d.ellipse((cx - r * 0.4, cy - r * 0.4, cx + r * 0.4, cy + r * 0.4), fill=(10, 10, 10))
        d.ellipse((cx - r * 0.25, cy - r * 0.3, cx - r * 0.1, cy - r * 0.15), fill=(250, 250, 250))
        skin = np.array(rng.uniform([170, 110, 90], [230, 170, 140]))
        arr = np.asarray(im, np.float32)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        eye = ((xx - cx) / (0.45 * w)) ** 2 + ((yy - cy) / (0.3 * h)) ** 2 < 1
        lid = skin * (0.8 + 0.3 * fractal(rng, w, h, beta=1.0))[..., None]
        arr = np.where(eye[..., None], arr, lid)
        return np.asarray(_to_image(arr).filter(ImageFilter.GaussianBlur(1.2)), np.float32)
    return np.asarray(im.filter(ImageFilter.GaussianBlur(1.5)), np.float32) + rng.normal(0, 3, (h, w, 3))


def group_skin(rng: np.random.Generator, k: int) -> np.ndarray:
    """Close-ups of skin, a wound or a mouth: pink to red textures with pores and blotches."""
    w, h = _size(rng)
    base = np.array(rng.uniform([180, 90, 80], [240, 160, 140]), np.float32)
    blotch = fractal(rng, w, h, beta=2.0)
    pores = fractal(rng, w, h, beta=0.5, octaves=8)
    red = np.array([1.0, 0.6, 0.6], np.float32)
    a = base * (0.75 + 0.35 * pores)[..., None] * (1 - 0.35 * blotch[..., None] * (1 - red))
    if k % 2:
        a = a * _vignette(w, h, 0.6)[..., None]
    im = _to_image(a)
    d = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(0, 40))):  # hairs
        x, y, ang = float(rng.uniform(0, w)), float(rng.uniform(0, h)), rng.uniform(0, math.pi)
        L = float(rng.uniform(10, 60))
        d.line((x, y, x + L * math.cos(ang), y + L * math.sin(ang)), fill=(60, 40, 30), width=1)
    return np.asarray(im.filter(ImageFilter.GaussianBlur(0.8)), np.float32)


def group_fur(rng: np.random.Generator, k: int) -> np.ndarray:
    """Cats and fur close-ups (orange tabby, brown, grey)."""
    if k % 2 == 0:
        return cat(rng)
    w, h = _size(rng)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    flow = fractal(rng, w, h, beta=2.5) * 6
    along = xx * np.cos(flow) + yy * np.sin(flow)
    hair = 0.5 + 0.5 * np.sin(along * rng.uniform(0.5, 1.5))
    fur = np.array(rng.uniform([120, 70, 30], [240, 170, 110]))
    a = fur * (0.4 + 0.4 * hair + 0.4 * fractal(rng, w, h, beta=0.6, octaves=8))[..., None]
    return np.asarray(_to_image(a).filter(ImageFilter.GaussianBlur(0.6)), np.float32)


def group_oct(rng: np.random.Generator, k: int) -> np.ndarray:
    """OCT B-scans: grey speckled retinal layers following a curve with a foveal dip, on black."""
    w, h = _size(rng)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    centre = h * rng.uniform(0.35, 0.55) + h * 0.08 * ((xx - w / 2) / w) ** 2 * rng.uniform(-4, 4)
    dip = h * rng.uniform(0.02, 0.06) * np.exp(-((xx - w / 2) ** 2) / (2 * (0.06 * w) ** 2))
    depth = (yy - centre + dip) / h
    layers = np.zeros_like(depth)
    for off, thick, level in ((0.0, 0.012, 0.9), (0.04, 0.03, 0.45), (0.09, 0.02, 0.6), (0.13, 0.015, 1.0), (0.16, 0.05, 0.55)):
        layers += level * np.exp(-((depth - off) ** 2) / (2 * thick**2))
    speckle = rng.gamma(2.0, 0.5, (h, w)).astype(np.float32)
    grey = 255 * np.clip(layers * speckle * rng.uniform(0.7, 1.0), 0, 1)
    a = np.repeat(grey[..., None], 3, axis=2)
    if k % 4 == 3:  # a scanner's false-colour display
        a = np.stack([np.clip(grey * 1.5, 0, 255), np.clip(grey * 1.2 - 60, 0, 255), np.clip(255 - np.abs(grey - 128) * 2, 0, 255) * (grey > 20)], -1)
    return a


def group_document(rng: np.random.Generator, k: int) -> np.ndarray:
    """Rendered documents: a letter, a report with a table, a scanned page (grey paper, tilted)."""
    w = int(rng.integers(600, 1100))
    h = round(w * 1.414)
    paper = (250, 250, 245) if k % 3 else tuple(int(v) for v in rng.integers(200, 235, 3))
    im = Image.new("RGB", (w, h), paper)
    d = ImageDraw.Draw(im)
    margin = w // 12
    y = margin
    d.text((margin, y), _sentence(rng, 4).upper(), fill=(20, 20, 60), font=_font(w // 22, bold=True))
    y += w // 12
    size = int(rng.integers(max(10, w // 70), max(12, w // 40)))
    font = _font(size, mono=bool(k % 4 == 1))
    while y < h - margin:
        if rng.random() < 0.12:  # a table
            rows, cols = int(rng.integers(3, 7)), int(rng.integers(2, 5))
            cw = (w - 2 * margin) // cols
            for r in range(rows):
                for c in range(cols):
                    box = (margin + c * cw, y, margin + (c + 1) * cw, y + size * 2)
                    d.rectangle(box, outline=(0, 0, 0), fill=(220, 230, 250) if r == 0 else None)
                    d.text((box[0] + 4, box[1] + 3), f"{rng.uniform(0, 100):.1f}", fill=(0, 0, 0), font=font)
                y += size * 2
            y += size
        else:
            d.text((margin, y), _sentence(rng, int(rng.integers(5, 11))), fill=(25, 25, 25), font=font)
            y += int(size * 1.6)
    if k % 3 == 0:  # scanned: tilted, soft, noisy
        im = im.rotate(float(rng.uniform(-3, 3)), expand=True, fillcolor=(40, 40, 40)).filter(ImageFilter.GaussianBlur(0.6))
        return np.asarray(im, np.float32) + rng.normal(0, 5, (im.height, im.width, 3))
    return np.asarray(im, np.float32)


def group_screenshot(rng: np.random.Generator, k: int) -> np.ndarray:
    """Screenshots: a window with a title bar, sidebar, buttons and text; light, dark and red themes."""
    w, h = (1280, 800) if k % 2 else (int(rng.integers(700, 1920)), int(rng.integers(500, 1080)))
    theme = k % 3
    bg = [(245, 245, 247), (30, 30, 35), (120, 20, 20)][theme]
    fg = [(30, 30, 30), (220, 220, 220), (255, 220, 200)][theme]
    im = Image.new("RGB", (w, h), bg)
    d = ImageDraw.Draw(im)
    d.rectangle((0, 0, w, 36), fill=tuple(max(0, c - 25) for c in bg))
    for i, col in enumerate(((255, 95, 87), (255, 189, 46), (40, 200, 64))):
        d.ellipse((12 + 22 * i, 11, 26 + 22 * i, 25), fill=col)
    side = int(w * rng.uniform(0.15, 0.25))
    d.rectangle((0, 36, side, h), fill=tuple(min(255, c + 12) for c in bg))
    font = _font(int(rng.integers(12, 18)))
    for i in range(12):
        d.text((16, 56 + 30 * i), _sentence(rng, 2), fill=fg, font=font)
    y = 60
    while y < h - 60:
        if rng.random() < 0.25:
            bx = side + 30
            d.rounded_rectangle((bx, y, bx + 140, y + 36), radius=8, fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
            d.text((bx + 14, y + 9), "Upload", fill=(255, 255, 255), font=font)
            y += 50
        elif rng.random() < 0.15:  # an image placeholder or chart
            bw, bh = int(rng.integers(150, 400)), int(rng.integers(80, 220))
            d.rectangle((side + 30, y, side + 30 + bw, y + bh), fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
            y += bh + 20
        else:
            d.text((side + 30, y), _sentence(rng, int(rng.integers(4, 12))), fill=fg, font=font)
            y += 26
    return np.asarray(im, np.float32)


def group_uniform(rng: np.random.Generator, k: int) -> np.ndarray:
    """Blank, black, white, flat colours, gradients and pure noise."""
    w, h = _size(rng)
    kind = k % 6
    if kind == 0:
        return np.full((h, w, 3), float(rng.integers(60, 200)), np.float32)
    if kind == 1:
        return np.zeros((h, w, 3), np.float32) + rng.normal(2, 1, (h, w, 3))
    if kind == 2:
        return np.full((h, w, 3), 255.0, np.float32)
    if kind == 3:
        return np.broadcast_to(np.array(rng.uniform([150, 40, 10], [255, 110, 60]), np.float32), (h, w, 3)).copy()
    if kind == 4:
        xx = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
        return np.broadcast_to(np.array([255, 120, 40]) * xx + np.array([20, 0, 0]) * (1 - xx), (h, w, 3)).copy()
    return rng.integers(0, 256, (h, w, 3)).astype(np.float32)


GROUPS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "natural": group_natural,
    "red_orange": group_red_orange,
    "tinted_circle": group_tinted_circle,
    "red_on_black": group_red_on_black,
    "conjunctiva_eye": group_conjunctiva,
    "skin": group_skin,
    "fur": group_fur,
    "oct": group_oct,
    "document": group_document,
    "screenshot": group_screenshot,
    "uniform": group_uniform,
}


def make_negative(group: str, k: int, seed: int = 0) -> Image.Image:
    """The k-th image of a group (deterministic)."""
    rng = np.random.default_rng([seed, k, sorted(GROUPS).index(group)])
    return _to_image(GROUPS[group](rng, k))


@lru_cache(maxsize=4)
def negative_groups(per_group: int = PER_GROUP, seed: int = 0) -> dict[str, tuple[Image.Image, ...]]:
    """Every group, `per_group` images each (cached: the images are only read)."""
    return {g: tuple(make_negative(g, k, seed) for k in range(per_group)) for g in GROUPS}
