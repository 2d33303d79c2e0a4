"""Quality gate: false rejections on every shared training image (goal 0) and rejections of generated
non-fundus images (goal: all). Also the focus check: the lowest sharpness of a real image against the
threshold, false rejections of JPEG q60 and 512 px wide copies (goal 0), and the share of copies
defocused by a Gaussian blur of 3/5/8/12% of the disc diameter that are refused (the full photo is
blurred before locating, as a defocused camera would; RIM-ONE crops are blurred as crops, disc
diameter ~0.75 x side). Usage: python bench/quality.py [DATASETS_DIR]"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
from papila.imaging import square_crop
from papila.locate import locate
from papila.quality import MIN_SHARPNESS, check_crop, check_photo, sharpness
from PIL import Image, ImageDraw, ImageFilter

root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared/datasets")


BLUR_LEVELS = (0.03, 0.05, 0.08, 0.12)  # Gaussian sigma as a fraction of the disc diameter


def gated(image: Image.Image, crop_only: bool) -> tuple[str | None, Image.Image | None]:
    rejected = check_photo(image)
    if rejected:
        return rejected.code, None
    crop = image if crop_only else square_crop(image, locate(image).crop)
    rejected = check_crop(crop)
    return (rejected.code if rejected else None), crop


def gate(image: Image.Image, crop_only: bool) -> str | None:
    return gated(image, crop_only)[0]


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


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


def blur_rates(results: list[tuple[str, str | None]]) -> dict[str, object]:
    """Share of blurred copies refused (any reason), refused as too_blurred, and refused per data set."""
    codes = [code for _, code in results]
    n = max(len(codes), 1)
    per_set = {}
    for set_name in sorted({name for name, _ in results}):
        mine = [code for name, code in results if name == set_name]
        per_set[set_name] = round(sum(c is not None for c in mine) / len(mine), 3)
    return {"images": len(codes), "rejected": round(sum(c is not None for c in codes) / n, 3),
            "too_blurred": round(sum(c == "too_blurred" for c in codes) / n, 3), "rejected_per_set": per_set}


false_rejections: list[tuple[str, str]] = []
variant_rejections: dict[str, list[tuple[str, str]]] = {"jpeg_q60": [], "width_512": []}
blurred: dict[float, list[tuple[str, str | None]]] = {level: [] for level in BLUR_LEVELS}
lowest: tuple[float, str] = (float("inf"), "")
n_real = 0
discs = {}
if (root / "drishti-gs1-train/discs.json").exists():
    discs = {Path(d["file"]).name: float(d["disc_diameter"]) for d in json.loads((root / "drishti-gs1-train/discs.json").read_text())}
real = [(path, True) for path in sorted((root / "rim-one-dl-hospital-train/images").rglob("*.png"))]
real += [(path, False) for path in sorted((root / "drishti-gs1-train/images").glob("*.jpg"))]
for path, crop_only in real:
    n_real += 1
    image = Image.open(path).convert("RGB")
    code, crop = gated(image, crop_only)
    if code:
        false_rejections.append((path.name, code))
    elif crop is not None:
        score = sharpness(crop)
        if score is not None and score < lowest[0]:
            lowest = (score, path.name)
    small = image.resize((512, round(image.height * 512 / image.width)), Image.Resampling.LANCZOS)
    for name, variant in (("jpeg_q60", jpeg(image, 60)), ("width_512", small)):
        code = gate(variant, crop_only)
        if code:
            variant_rejections[name].append((path.name, code))
    disc = 0.75 * image.width if crop_only else discs.get(path.name)
    if disc:
        for level in BLUR_LEVELS:
            set_name = "rim_one" if crop_only else "drishti"
            blurred[level].append((set_name, gate(image.filter(ImageFilter.GaussianBlur(level * disc)), crop_only)))



others = {name: gate(im, crop_only=False) for name, im in non_fundus().items()}
print(json.dumps({"real_images": n_real, "false_rejections": len(false_rejections), "examples": false_rejections[:10],
                  "non_fundus": len(others), "non_fundus_rejected": sum(v is not None for v in others.values()),
                  "non_fundus_codes": others,
                  "sharpness": {"threshold": MIN_SHARPNESS, "lowest_real": round(lowest[0], 4) if lowest[1] else None,
                                "lowest_real_image": lowest[1] or None,
                                "margin": round(lowest[0] - MIN_SHARPNESS, 4) if lowest[1] else None},
                  "variant_false_rejections": {name: len(v) for name, v in variant_rejections.items()},
                  "variant_examples": {name: v[:5] for name, v in variant_rejections.items()},
                  "blurred": {f"{level:.0%}_of_disc": blur_rates(codes) for level, codes in blurred.items()}}))
