"""Image decode, validation, metadata stripping, square crops and the model's 224 px input (no AWS)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Decompression-bomb guard: 50 MP covers every fundus camera (a 7360 x 4912 DSLR is 36 MP).
Image.MAX_IMAGE_PIXELS = 50_000_000
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "TIFF": "image/tiff", "MPO": "image/jpeg"}
MIN_SIDE = 64


class ImageError(ValueError):
    """An image we cannot use; `code` and `message` go to the user as they are."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Crop:
    """A square in original pixels: top-left corner and side (may reach past the border)."""

    x: int
    y: int
    size: int

    def as_dict(self) -> dict[str, int]:
        return {"x": self.x, "y": self.y, "size": self.size}


def decode(data: bytes) -> Image.Image:
    """Decode JPEG/PNG/TIFF bytes into RGB with EXIF orientation applied; ImageError otherwise."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format not in FORMATS:
                raise ImageError("unsupported_format", "Upload a JPEG, PNG or TIFF photo.")
            im.load()
            rgb = ImageOps.exif_transpose(im).convert("RGB")
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError("image_too_large", "The photo has too many pixels; upload one under 50 megapixels.") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageError("unreadable_image", "The file is not a readable JPEG, PNG or TIFF image.") from exc
    if min(rgb.size) < MIN_SIDE:
        raise ImageError("image_too_small", f"The photo is too small; it must be at least {MIN_SIDE} pixels a side.")
    return rgb


def sniff_content_type(data: bytes) -> str | None:
    """The content type the bytes really are (JPEG/PNG/TIFF), or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    return None


def encode(image: Image.Image, content_type: str) -> bytes:
    """Re-encode pixels only: no EXIF, ICC, XMP or text chunks survive."""
    buf = io.BytesIO()
    clean = Image.frombytes(image.mode, image.size, image.tobytes())
    if content_type == "image/jpeg":
        clean.save(buf, "JPEG", quality=95, subsampling=0)
    elif content_type == "image/tiff":
        clean.save(buf, "TIFF", compression="tiff_deflate")
    else:
        clean.save(buf, "PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def png_bytes(image: Image.Image | np.ndarray) -> bytes:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    return encode(image, "image/png")


def has_metadata(data: bytes) -> bool:
    """True if the file carries EXIF/XMP/ICC/text metadata that must not be stored."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            info_keys = set(im.info) - {"dpi", "jfif", "jfif_version", "jfif_unit", "jfif_density", "compression",
                                         "progressive", "progression", "resolution", "aspect"}
            return bool(im.getexif()) or bool(info_keys)
    except (UnidentifiedImageError, OSError):
        return False


def clamp_crop(crop: Crop, width: int, height: int) -> Crop:
    """Keep a requested square usable: at least 32 px, at most the longer side, overlapping the image."""
    size = int(max(32, min(crop.size, max(width, height))))
    x = int(min(max(crop.x, -size // 2), width - size // 2))
    y = int(min(max(crop.y, -size // 2), height - size // 2))
    return Crop(x, y, size)


def square_crop(image: Image.Image, crop: Crop) -> Image.Image:
    """Cut the square; parts outside the photo are padded black (the fundus background)."""
    canvas = Image.new("RGB", (crop.size, crop.size), (0, 0, 0))
    left, top = max(crop.x, 0), max(crop.y, 0)
    right, bottom = min(crop.x + crop.size, image.width), min(crop.y + crop.size, image.height)
    if right > left and bottom > top:
        canvas.paste(image.crop((left, top, right, bottom)), (left - crop.x, top - crop.y))
    return canvas


def model_input(crop_image: Image.Image, size: int = 224) -> np.ndarray:
    """The crop as the network expects it: size x size RGB float32 0..255 (scaling is in the model)."""
    resized = crop_image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.float32)


def downscale(image: Image.Image, longest: int) -> tuple[Image.Image, float]:
    """A copy no longer than `longest` px, and the factor to map its pixels back to the original."""
    scale = max(image.size) / longest
    if scale <= 1:
        return image, 1.0
    small = image.resize((round(image.width / scale), round(image.height / scale)), Image.Resampling.BILINEAR)
    return small, image.width / small.width
