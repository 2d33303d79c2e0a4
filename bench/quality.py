"""Quality gate: false rejections on every shared training image (goal 0) and rejections of generated
non-fundus images (goal: all). Usage: python bench/quality.py [DATASETS_DIR]"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from papila.imaging import square_crop
from papila.locate import locate
from papila.quality import check_crop, check_photo
from PIL import Image, ImageDraw, ImageFilter

root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared/datasets")


def gate(image: Image.Image, crop_only: bool) -> str | None:
    rejected = check_photo(image)
    if rejected:
        return rejected.code
    crop = image if crop_only else square_crop(image, locate(image).crop)
    rejected = check_crop(crop)
    return rejected.code if rejected else None


def non_fundus() -> dict[str, Image.Image]:
    rng = np.random.default_rng(7)
    out = {"blank_grey": Image.new("RGB", (800, 600), (128, 128, 128)), "black": Image.new("RGB", (800, 600)),
           "white": Image.new("RGB", (800, 600), (255, 255, 255))}
    sky = np.zeros((600, 800, 3), np.uint8)
    sky[..., 2] = np.linspace(255, 150, 600)[:, None]
    sky[..., 1] = np.linspace(200, 120, 600)[:, None]
    sky[350:, :, :] = (60, 140, 50)  # grass
    out["landscape"] = Image.fromarray(sky)
    doc = Image.new("RGB", (850, 1100), (250, 250, 245))
    draw = ImageDraw.Draw(doc)
    for y in range(80, 1000, 28):
        draw.line((60, y, 60 + int(rng.integers(300, 720)), y), fill=(30, 30, 30), width=6)
    out["document"] = doc
    out["noise"] = Image.fromarray(rng.integers(0, 255, (600, 800, 3), dtype=np.uint8))
    face = Image.new("RGB", (600, 800), (90, 110, 160))
    d = ImageDraw.Draw(face)
    d.ellipse((120, 120, 480, 600), fill=(224, 172, 140))
    d.ellipse((200, 300, 250, 330), fill=(60, 40, 30))
    d.ellipse((350, 300, 400, 330), fill=(60, 40, 30))
    out["face"] = face
    out["blurred_text"] = doc.filter(ImageFilter.GaussianBlur(8))
    return out


false_rejections: list[tuple[str, str]] = []
n_real = 0
for path in sorted((root / "rim-one-dl-hospital-train/images").rglob("*.png")):
    n_real += 1
    code = gate(Image.open(path).convert("RGB"), crop_only=True)
    if code:
        false_rejections.append((path.name, code))
for path in sorted((root / "drishti-gs1-train/images").glob("*.jpg")):
    n_real += 1
    code = gate(Image.open(path).convert("RGB"), crop_only=False)
    if code:
        false_rejections.append((path.name, code))
others = {name: gate(im, crop_only=False) for name, im in non_fundus().items()}
print(json.dumps({"real_images": n_real, "false_rejections": len(false_rejections), "examples": false_rejections[:10],
                  "non_fundus": len(others), "non_fundus_rejected": sum(v is not None for v in others.values()),
                  "non_fundus_codes": others}))
