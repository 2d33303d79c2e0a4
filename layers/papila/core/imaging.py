"""Image decode, validation, metadata stripping, square crops and the model's 224 px input (no AWS)."""

from __future__ import annotations

import io
import warnings
import zlib
from dataclasses import dataclass
from struct import error as struct_error
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

# Bounds checked from the header, before a pixel is decoded (a 291 KB PNG can declare 9990 x 9990):
# 50 MP covers every fundus camera (a 7360 x 4912 DSLR is 36 MP); no camera makes a side over 20,000 px.
MAX_PIXELS = 50_000_000
MAX_SIDE = 20_000
# Pillow's own guard stays as a backstop for every other opener (it warns above this, raises above 2x);
# decode() refuses anything over MAX_PIXELS itself, so here it can only ever bite on a refused image.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
BOMB_ERRORS = (Image.DecompressionBombError, Image.DecompressionBombWarning)
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "TIFF": "image/tiff", "MPO": "image/jpeg"}
MIN_SIDE = 64
# EXIF orientation -> the transpose that displays the photo upright (as PIL.ImageOps.exif_transpose).
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# The API decodes inline photos in a function whose peak must stay under 512 MB, ~70 MB of which is
# Python and its libraries: it refuses photos whose decoding would hold more than this (estimated from
# the header by decode_cost). The worker has 3 GB and needs no such budget.
API_DECODE_BYTES = 320_000_000
TOO_LARGE = "image_too_large"
TOO_LARGE_MESSAGE = (f"The photo has too many pixels; upload one under {MAX_PIXELS // 1_000_000} megapixels "
                     f"and at most {MAX_SIDE:,} pixels a side.")


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


def check_dimensions(width: int, height: int) -> None:
    """ImageError `image_too_large` if a photo of this size is over the pixel or side bounds."""
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise ImageError(TOO_LARGE, TOO_LARGE_MESSAGE)


def decode_cost(im: Image.Image, *, transposed: bool = False) -> int:
    """The bytes decoding `im` (opened, not loaded) to upright RGB holds at its peak, from its header.

    Pillow keeps 1/L/P at 1 byte a pixel, I;16 at 2 and everything else (RGB included) at 4; converting
    to RGB adds 4, turning upright another 4; a progressive JPEG also makes libjpeg hold every DCT
    coefficient of the image (2 bytes a sample, chroma subsampling counted) while it decodes."""
    pixels = im.width * im.height
    stored = 1 if im.mode in ("1", "L", "P") else 2 if im.mode.startswith("I;16") else 4
    peak = pixels * (stored + (0 if im.mode == "RGB" else 4))
    if im.format in ("JPEG", "MPO") and (im.info.get("progressive") or im.info.get("progression")):
        layers = getattr(im, "layer", None) or [("", 1, 1, 0)] * len(im.getbands())
        h_max = max(max(layer[1] for layer in layers), 1)
        v_max = max(max(layer[2] for layer in layers), 1)
        samples = sum(max(layer[1], 1) * max(layer[2], 1) for layer in layers) / (h_max * v_max)
        peak = max(peak, pixels * stored + int(2 * samples * pixels))
    if transposed:
        peak = max(peak, 8 * pixels)
    return peak


def decode(data: bytes, *, max_bytes: int | None = None) -> Image.Image:
    """Decode JPEG/PNG/TIFF bytes into RGB with EXIF orientation applied; ImageError otherwise.

    Pillow opens lazily: the format and the size come from the header, and anything over the bounds
    (MAX_PIXELS, MAX_SIDE and, if given, `max_bytes` of decoding memory, see decode_cost) is refused
    before a pixel is decoded. The result is a plain RGB image without `info` (no EXIF, ICC or text),
    made with as few full-size copies as possible."""
    try:
        with warnings.catch_warnings():
            # A bomb warning is an error here, whatever the process's warning filters say.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
        try:
            if im.format not in FORMATS:
                raise ImageError("unsupported_format", "Upload a JPEG, PNG or TIFF photo.")
            check_dimensions(*im.size)
            # The orientation as the header tells it (a PNG's eXIf chunk may follow its pixels: not read
            # yet), for the budget; the one to apply is read after loading (Pillow turns TIFFs itself).
            late_exif = im.format == "PNG" and "exif" not in im.info
            budgeted = not late_exif and im.getexif().get(0x0112) in _ORIENTATION
            _check_budget(im, budgeted, max_bytes)
            im.load()
            transpose = _ORIENTATION.get(im.getexif().get(0x0112))
            if transpose is not None and not budgeted:
                _check_budget(im, True, max_bytes)
            if im.mode == "RGB":
                rgb = im._new(im.im)  # the same pixels, without the file's info (EXIF, ICC, text); no copy
            else:
                rgb = im.convert("RGB")
        finally:
            im.close()  # the decoded pixels go as soon as nothing else holds them
        rgb.info = {}
        if transpose is not None:
            rgb = rgb.transpose(transpose)
    except ImageError:
        raise
    except BOMB_ERRORS as exc:
        raise ImageError(TOO_LARGE, TOO_LARGE_MESSAGE) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError,
            struct_error, ZeroDivisionError, EOFError) as exc:
        raise ImageError("unreadable_image", "The file is not a readable JPEG, PNG or TIFF image.") from exc
    if min(rgb.size) < MIN_SIDE:
        raise ImageError("image_too_small", f"The photo is too small; it must be at least {MIN_SIDE} pixels a side.")
    return rgb


def _check_budget(im: Image.Image, transposed: bool, max_bytes: int | None) -> None:
    if max_bytes is not None and decode_cost(im, transposed=transposed) > max_bytes:
        raise ImageError(TOO_LARGE, _over_budget_message(im))


def _over_budget_message(im: Image.Image) -> str:
    kind = "progressive JPEG" if im.info.get("progressive") else f"{im.mode} {im.format}"
    return (f"The photo ({im.width} x {im.height} pixels, {kind}) needs too much memory to check here; upload "
            "a smaller one, or a baseline JPEG or RGB PNG, or upload it by presigned POST (without image_base64).")


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
    if type(image) is Image.Image and not image.info:
        clean = image  # decode()'s output: nothing but pixels already, and no full-size copy
    else:
        clean = Image.frombytes(image.mode, image.size, image.tobytes())
    if content_type == "image/jpeg":
        clean.save(buf, "JPEG", quality=95, subsampling=0)
    elif content_type == "image/tiff":
        clean.save(buf, "TIFF", compression="tiff_deflate")
    else:
        clean.save(buf, "PNG", optimize=False, compress_level=6)
    return buf.getvalue()


# zlib level 1 for the results' PNGs (the 224 px crop and heat map): a sixth of level 6's time for about a
# fifth more bytes (~75 KB rather than ~64 KB each); PNG is lossless at every level, the pixels are the same.
RESULT_PNG_LEVEL = 1


def png_bytes(image: Image.Image | np.ndarray) -> bytes:
    """A result image (crop, heat map) as PNG, fast: pixels only (a new image carries no metadata)."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    elif image.info:
        image = Image.frombytes(image.mode, image.size, image.tobytes())
    buf = io.BytesIO()
    image.save(buf, "PNG", optimize=False, compress_level=RESULT_PNG_LEVEL)
    return buf.getvalue()


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
    left, top = max(crop.x, 0), max(crop.y, 0)
    right, bottom = min(crop.x + crop.size, image.width), min(crop.y + crop.size, image.height)
    if (left, top, right, bottom) == (crop.x, crop.y, crop.x + crop.size, crop.y + crop.size) and image.mode == "RGB":
        cut = image.crop((left, top, right, bottom))  # wholly inside: the same pixels, one copy
        cut.info = {}  # as a new canvas: no metadata of the photo's
        return cut
    canvas = Image.new("RGB", (crop.size, crop.size), (0, 0, 0))
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


# ---------------------------------------------------------------- metadata stripping (presigned uploads)

# JPEG segments kept: the JFIF header and Adobe's colour-transform flags (neither says anything about the
# person, the place or the device; dropping Adobe's would change the colours of some files). Every other
# APPn (EXIF/GPS, XMP, ICC, IPTC/Photoshop, MPF, maker notes) and every COM goes.
_JPEG_KEPT_APPS = {0xE0: b"JFIF\x00", 0xEE: b"Adobe"}
# PNG chunks kept: the pixels and how to show them. Text (tEXt, zTXt, iTXt), eXIf, iCCP, tIME and any
# private chunk go.
_PNG_KEPT_CHUNKS = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"sBIT",
                              b"pHYs", b"bKGD", b"acTL", b"fcTL", b"fdAT"})
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CANNOT_STRIP = "The file's structure could not be read, so its metadata could not be removed."


def strip_metadata(data: bytes) -> bytes:
    """The same photo without EXIF (GPS included), XMP, IPTC, ICC profiles, comments or text chunks.

    JPEG and PNG are rewritten segment by segment, without decoding: the compressed pixels are copied as
    they are (no generation loss; a photo over the decoding bounds is stripped too) and a trailer after
    the image (a second MPO picture, a phone's appended data) is dropped. The EXIF orientation is kept as
    a one-tag EXIF, so the photo still shows upright. A TIFF keeps its metadata among the tags that
    describe its pixels: it is decoded and re-encoded upright (pixels only). Bytes without metadata come
    back unchanged (the same object). ImageError: not a JPEG, PNG or TIFF we can take apart."""
    kind = sniff_content_type(data)
    if kind == "image/jpeg":
        return _strip_jpeg(data)
    if kind == "image/png":
        return _strip_png(data)
    if kind == "image/tiff":
        clean = encode(decode(data), "image/tiff")
        return data if clean == data else clean  # our own TIFFs come back as they were
    raise ImageError("unsupported_format", _CANNOT_STRIP)


def clean_original(data: bytes, image: Image.Image, content_type: str) -> bytes:
    """The bytes to store for an upload whose decoded pixels are `image` (decode(data)), without metadata.

    Losslessly when nothing needs turning (strip_metadata: the very compressed pixels, no generation loss
    and no full-size encode, ~1 ms rather than ~35 ms for a 1900 px JPEG); `image` re-encoded (encode) for a
    photo with an orientation to apply (rare: it is stored upright, with no tag at all), a TIFF, a PNG whose
    text may hold an orientation, or bytes that cannot be taken apart. Either way the stored file decodes
    to `image`'s pixels."""
    if content_type == "image/tiff" or sniff_content_type(data) != content_type:
        return encode(image, content_type)
    if content_type == "image/png" and any(source in data for source in _OTHER_ORIENTATION_SOURCES):
        return encode(image, content_type)  # stripping would decode it again for a late orientation (the API's memory)
    try:
        clean = strip_metadata(data)
    except ImageError:
        return encode(image, content_type)
    # strip_metadata keeps an orientation (decode applies it) as the only EXIF left: such a photo is stored
    # upright instead. (A false match in the compressed data only costs a re-encode.)
    turned = (b"Exif\x00\x00" if content_type == "image/jpeg" else b"eXIf") in clean
    return encode(image, content_type) if turned else clean


def _orientation_of(exif: bytes) -> int | None:
    """The EXIF orientation (2..8: something to turn) of an EXIF block, or None."""
    try:
        meta = Image.Exif()
        meta.load(exif)
        value = meta.get(0x0112)
    except Exception:  # noqa: BLE001 - a broken EXIF block simply has no orientation worth keeping
        return None
    return value if value in _ORIENTATION else None


# Where else Pillow finds an orientation when no EXIF block holds one (an EXIF block without the tag, XMP's
# tiff:Orientation, a PNG's "Raw profile type exif" text): decode() applies it, so the stripped file keeps it.
_OTHER_ORIENTATION_SOURCES = (b"Orientation", b"Raw profile type exif", b"XML:com.adobe.xmp")


def _orientation_elsewhere(data: bytes) -> int | None:
    """The orientation decode() would apply to `data` (2..8) when no EXIF block of it holds one, or None.
    Asked of Pillow only when the bytes name such a source (rare); a file over the decoding bounds is
    not loaded for a PNG's late chunks."""
    if not any(source in data for source in _OTHER_ORIENTATION_SOURCES):
        return None
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format == "PNG" and "exif" not in im.info:
                check_dimensions(*im.size)
                im.load()  # text chunks after the pixels are read with them
            value = im.getexif().get(0x0112)
    except Exception:  # noqa: BLE001 - an unreadable source has no orientation worth keeping
        return None
    return value if value in _ORIENTATION else None


def _orientation_exif(orientation: int) -> bytes:
    """A TIFF-structured EXIF block holding the orientation and nothing else (without the Exif\\0\\0 prefix)."""
    meta = Image.Exif()
    meta[0x0112] = orientation
    block = meta.tobytes()
    return block[6:] if block.startswith(b"Exif\x00\x00") else block


def _strip_jpeg(data: bytes) -> bytes:
    out: list[bytes] = []
    orientation: int | None = None
    dropped = False
    n, i = len(data), 2
    while True:
        if i >= n or data[i] != 0xFF:
            raise ImageError("unreadable_image", _CANNOT_STRIP)
        while i < n and data[i] == 0xFF:  # fill bytes may precede a marker
            i += 1
        if i >= n:
            raise ImageError("unreadable_image", _CANNOT_STRIP)
        marker = data[i]
        i += 1
        if marker == 0xD9:  # end of image: whatever follows is not part of it
            dropped = dropped or i < n
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            out.append(bytes((0xFF, marker)))
            continue
        if i + 2 > n:
            raise ImageError("unreadable_image", _CANNOT_STRIP)
        end = i + int.from_bytes(data[i:i + 2], "big")
        if end < i + 2 or end > n:
            raise ImageError("unreadable_image", _CANNOT_STRIP)
        payload = data[i + 2:end]
        ours = False
        if marker == 0xE1 and payload.startswith(b"Exif\x00\x00"):
            orientation = _orientation_of(payload) or orientation
            ours = orientation is not None and payload[6:] == _orientation_exif(orientation)  # stripped before
        metadata = 0xE0 <= marker <= 0xEF or marker == 0xFE
        if metadata and not ours and not payload.startswith(_JPEG_KEPT_APPS.get(marker, b"\x00\x00never")):
            dropped = True
        else:
            out.append(bytes((0xFF, marker)) + data[i:end])
        i = end
        if marker == 0xDA:  # a scan's entropy-coded data runs to the next marker (not a stuffed 00, not RSTn)
            j = i
            while True:
                j = data.find(b"\xff", j)
                if j < 0 or j + 1 >= n:
                    raise ImageError("unreadable_image", _CANNOT_STRIP)
                following = data[j + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                    j += 1 if following == 0xFF else 2
                    continue
                break
            out.append(data[i:j])
            i = j
    if not dropped:
        return data
    orientation = orientation or _orientation_elsewhere(data)
    if orientation is not None and not any(part.startswith(b"\xff\xe1") for part in out):
        block = b"Exif\x00\x00" + _orientation_exif(orientation)
        app1 = b"\xff\xe1" + (len(block) + 2).to_bytes(2, "big") + block
        at = 1 if out and out[0].startswith(b"\xff\xe0") else 0  # after JFIF's APP0, as Pillow writes it
        out.insert(at, app1)
    return b"\xff\xd8" + b"".join(out) + b"\xff\xd9"


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + kind + payload + zlib.crc32(kind + payload).to_bytes(4, "big")


def _strip_png(data: bytes) -> bytes:
    out: list[bytes] = []
    orientation: int | None = None
    dropped = False
    n, i = len(data), len(_PNG_SIGNATURE)
    while True:
        if i + 8 > n:
            raise ImageError("unreadable_image", _CANNOT_STRIP)
        end = i + 12 + int.from_bytes(data[i:i + 4], "big")
        kind = data[i + 4:i + 8]
        if end > n:
            raise ImageError("unreadable_image", _CANNOT_STRIP)
        ours = False
        if kind == b"eXIf":
            orientation = _orientation_of(data[i + 8:end - 4]) or orientation
            ours = orientation is not None and data[i + 8:end - 4] == _orientation_exif(orientation)
        if kind in _PNG_KEPT_CHUNKS or ours:
            out.append(data[i:end])
        else:
            dropped = True
        i = end
        if kind == b"IEND":
            dropped = dropped or i < n
            break
    if not dropped:
        return data
    orientation = orientation or _orientation_elsewhere(data)
    if orientation is not None and not any(part[4:8] == b"eXIf" for part in out):  # before the data: after IHDR
        out.insert(1, _png_chunk(b"eXIf", _orientation_exif(orientation)))
    return _PNG_SIGNATURE + b"".join(out)


def rank_filter(a: np.ndarray, size: int, dilate: bool) -> np.ndarray:
    """Separable size x size grey dilation (max) or erosion (min) over the first two axes (a 2-D image or
    an H x W x C stack; a boolean mask too), edges replicated. A max or min of the same values, whatever
    the order: the result is the plain sliding window's to the bit. The gate and the locator use it."""
    op = np.maximum if dilate else np.minimum
    return _rank_1d(_rank_1d(a, size, op, 0), size, op, 1)


def _rank_1d(a: np.ndarray, size: int, op: Any, axis: int) -> np.ndarray:
    """The max / min over a window of `size` along `axis` (0 or 1), edges replicated: windows of 1, 2, 4,
    ... built by doubling, then one overlapping step (a few passes, not size - 1)."""
    r = size // 2
    n = a.shape[axis]

    def cut(i: int, j: int) -> tuple[slice, ...]:
        return (slice(i, j),) if axis == 0 else (slice(None), slice(i, j))

    m = np.concatenate([np.repeat(a[cut(0, 1)], r, axis=axis), a, np.repeat(a[cut(n - 1, n)], r, axis=axis)],
                       axis=axis)
    span, length = 1, n + 2 * r
    while 2 * span <= size:
        m = op(m[cut(0, length - span)], m[cut(span, length)])
        length -= span
        span *= 2
    if span < size:
        m = op(m[cut(0, n)], m[cut(size - span, size - span + n)])
    return m[cut(0, n)]
