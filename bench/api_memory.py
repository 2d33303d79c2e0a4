"""Peak memory of the API on hostile inputs: decompression bombs, huge-dimension headers, truncated
files, deep or non-finite JSON, oversized bodies.

Each case runs in a fresh Python process through the API's own use case (`ScreeningService`, the code
behind POST /api/screenings, /api/process and /api/locate; only the database and S3 are in-memory
stubs), and reports the answer (status, error code), the time taken, and the process's peak resident
set size (VmHWM) against the 512 MB target. Photos over 50 MP or 20,000 px a side are refused from
their header; under that, the API refuses what would need over `imaging.API_DECODE_BYTES` to decode
(progressive and CMYK JPEGs, alpha, EXIF rotation cost more), so the "admitted" rows are the worst
photos it decodes. The baseline row is the same process after its imports
and one ordinary 640x480 screening, so the growth a case causes is `peak - baseline`.

Usage: python bench/api_memory.py [--only NAME ...] [--json]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

TARGET_MB = 512
ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- hostile files, made without decoding


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int, height: int, *, color_type: int = 2, depth: int = 8, rows: int | None = None,
        truncate: int | None = None, extra: bytes = b"") -> bytes:
    """A PNG of zero pixels streamed through zlib row by row (a 9990x9990 RGB one is ~291 KB);
    `rows` stops the data early (a lying header), `truncate` cuts the file."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    row = b"\x00" * (1 + width * channels * depth // 8)
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row) for _ in range(height if rows is None else rows)) + z.flush()
    head = _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0))
    data = b"\x89PNG\r\n\x1a\n" + head + extra + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    return data[:truncate] if truncate else data


def jpeg(width: int, height: int, **params: object) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (170, 70, 30)).save(buf, "JPEG", **params)
    return buf.getvalue()


def noisy_jpeg(width: int, height: int, limit: int = 7 * 1024 * 1024, **params: object) -> bytes:
    """Random pixels at the best JPEG quality that still fits the 7 MiB inline limit (big output too)."""
    import numpy as np
    from PIL import Image

    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8))
    for quality in (50, 30, 20, 12, 8, 5, 3, 1):
        buf = io.BytesIO()
        noise.save(buf, "JPEG", quality=quality, **params)
        if buf.tell() <= limit:
            return buf.getvalue()
    raise ValueError("no quality fits")


def jpeg_mode(mode: str, width: int, height: int, **params: object) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new(mode, (width, height)).save(buf, "JPEG", **params)
    return buf.getvalue()


def jpeg_header(width: int, height: int) -> bytes:
    """A small valid JPEG whose SOF claims width x height (the data cannot fill it)."""
    data = bytearray(jpeg(64, 64))
    i = 2
    while i < len(data):
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
        if 0xC0 <= marker <= 0xC3:
            data[i + 5:i + 9] = struct.pack(">HH", height, width)
            break
        i += 2 + length
    return bytes(data)


def tiff_header(width: int, height: int) -> bytes:
    """A little-endian grey TIFF whose one strip claims width x height pixels (a few bytes of data)."""
    entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 0),
               (277, 3, 1), (278, 4, height), (279, 4, width * height & 0xFFFFFFFF)]
    ifd_offset = 8
    data_offset = ifd_offset + 2 + 12 * len(entries) + 4
    out = bytearray(b"II*\x00" + struct.pack("<I", ifd_offset) + struct.pack("<H", len(entries)))
    for tag, kind, value in entries:
        value = data_offset if tag == 273 else value
        packed = struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
        out += packed
    return bytes(out + struct.pack("<I", 0) + b"\x00" * 64)


def ztxt_bomb(megabytes: int = 512) -> bytes:
    """A small PNG with a zTXt chunk that inflates to `megabytes` MB of text."""
    z = zlib.compressobj(9)
    block = b"A" * (1 << 20)
    text = b"".join(z.compress(block) for _ in range(megabytes)) + z.flush()
    return png(640, 480, extra=_chunk(b"zTXt", b"Comment\x00\x00" + text))


def _rotated() -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees to display
    return exif.tobytes()


def cases() -> dict[str, tuple[str, str, Callable[[], bytes]]]:
    """name -> (route, file name, a maker of the bytes); route "raw:" means the bytes are the request body."""
    from PIL import Image

    ordinary = io.BytesIO()
    Image.new("RGB", (640, 480), (170, 70, 30)).save(ordinary, "PNG")
    return {
        "ordinary_640x480_png": ("create", "eye.png", lambda: ordinary.getvalue()),
        "bomb_png_9990x9990_rgb": ("create", "eye.png", lambda: png(9990, 9990)),
        "bomb_png_9990x9990_seed": ("process", "eye.png", lambda: png(9990, 9990)),
        "bomb_png_9990x9990_locate": ("locate", "eye.png", lambda: png(9990, 9990)),
        "bomb_png_7000x7000_rgba16": ("create", "eye.png", lambda: png(7000, 7000, color_type=6, depth=16)),
        "png_7000x7000_rgba_at_limit": ("create", "eye.png", lambda: png(7000, 7000, color_type=6)),
        "png_7000x7000_grey_at_limit": ("create", "eye.png", lambda: png(7000, 7000, color_type=0)),
        "header_png_100000x100000": ("create", "eye.png", lambda: png(100_000, 100_000, rows=4)),
        "header_png_60000x10": ("create", "eye.png", lambda: png(60_000, 10)),
        "header_png_65535x65535_seed": ("process", "eye.png", lambda: png(65_535, 65_535, rows=4)),
        "header_jpeg_65500x65500": ("create", "eye.jpg", lambda: jpeg_header(65_500, 65_500)),
        "header_jpeg_30000x30000_locate": ("locate", "eye.jpg", lambda: jpeg_header(30_000, 30_000)),
        "header_tiff_100000x100000": ("create", "eye.tif", lambda: tiff_header(100_000, 100_000)),
        "jpeg_7000x7000_progressive_444": ("create", "eye.jpg", lambda: jpeg(7000, 7000, progressive=True, subsampling=0,
                                                                        quality=30)),
        "jpeg_7000x7000_cmyk_progressive": ("create", "eye.jpg", lambda: jpeg_mode("CMYK", 7000, 7000, progressive=True,
                                                                           quality=30)),
        # the largest of each kind that the API's decoding budget admits: the real peaks
        "png_7000x7000_grey16": ("create", "eye.png", lambda: png(7000, 7000, color_type=0, depth=16)),
        "png_6300x6300_rgba_admitted": ("create", "eye.png", lambda: png(6300, 6300, color_type=6)),
        "jpeg_7000x7000_baseline_420": ("create", "eye.jpg", lambda: jpeg(7000, 7000, quality=30)),
        "jpeg_6500x6500_progressive_420": ("create", "eye.jpg", lambda: jpeg(6500, 6500, progressive=True, quality=30)),
        "jpeg_5600x5600_progressive_444": ("create", "eye.jpg", lambda: jpeg(5600, 5600, progressive=True, subsampling=0,
                                                                        quality=30)),
        "jpeg_5100x5100_cmyk_progressive": ("create", "eye.jpg", lambda: jpeg_mode("CMYK", 5100, 5100, progressive=True,
                                                                           quality=30)),
        "jpeg_6300x6300_exif_rotated": ("create", "eye.jpg", lambda: jpeg(6300, 6300, quality=30, exif=_rotated())),
        "jpeg_7000x7000_exif_rotated": ("create", "eye.jpg", lambda: jpeg(7000, 7000, quality=30, exif=_rotated())),
        "jpeg_7000x7000_baseline_locate": ("locate", "eye.jpg", lambda: jpeg(7000, 7000, quality=30)),
        "jpeg_5600x5600_prog444_noise_7mib": ("create", "eye.jpg", lambda: noisy_jpeg(5600, 5600, progressive=True,
                                                                              subsampling=0)),
        "jpeg_7000x7000_noise_7mib_seed": ("process", "eye.jpg", lambda: noisy_jpeg(7000, 7000)),
        "truncated_png_4000x3000": ("create", "eye.png", lambda: png(4000, 3000, truncate=2000)),
        "truncated_jpeg_4000x3000": ("create", "eye.jpg", lambda: jpeg(4000, 3000)[:3000]),
        "png_ztxt_bomb_512mb": ("create", "eye.png", lambda: ztxt_bomb()),
        "json_depth_100000": ("raw:create", "", lambda: b"[" * 100_000 + b"]" * 100_000),
        "json_nan_cropdata": ("raw:process", "", lambda: b'{"cropData": {"x": NaN, "y": 0, "width": 1e999, "height": 9}, '
                              b'"imageName": "a.png", "b64Image": "%s"}' % base64.b64encode(ordinary.getvalue())),
        "body_30mb_base64": ("raw:create", "", lambda: json.dumps({
            "filename": "a.png", "content_type": "image/png", "consent": True,
            "image_base64": base64.b64encode(b"\x00" * 22_000_000).decode()}).encode()),
    }


# ---------------------------------------------------------------- one case, in its own process


def _peak_mb() -> float:
    """This process's peak resident set (VmHWM). Not ru_maxrss: Linux carries that over fork + exec,
    so a child would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


class _Store:
    def insert(self, record: dict) -> None:
        self.record = record

    def delete(self, screening_id: str) -> None:
        self.record = None


class _Bucket:
    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.stored = len(body)


def _request(route: str, name: str, data: bytes) -> tuple[str, bytes]:
    if route.startswith("raw:"):
        return route[4:], data
    encoded = base64.b64encode(data).decode("ascii")
    content_type = {".png": "image/png", ".jpg": "image/jpeg", ".tif": "image/tiff"}[Path(name).suffix]
    if route == "create":
        body = {"filename": name, "content_type": content_type, "image_base64": encoded, "consent": True}
    elif route == "process":
        body = {"imageName": name, "b64Image": encoded, "imageWidth": 640, "imageHeight": 480,
                "cropData": {"x": 10, "y": 10, "width": 100, "height": 100}}
    else:
        body = {"image_base64": encoded}
    return route, json.dumps(body).encode()


def run_one(path: Path, route: str, name: str) -> dict:
    from papila.api.errors import reply_for_exception
    from papila.api.screenings import ScreeningService
    from papila.config import Settings

    svc = ScreeningService(Settings.from_env(), store=_Store(), bucket=_Bucket(), queue=object())
    call = {"create": svc.create_screening, "process": svc.seed_process, "locate": svc.locate}
    warm = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (640, 480), (170, 70, 30)).save(warm, "PNG")
    svc.create_screening(_request("create", "warm.png", warm.getvalue())[1])  # every import made
    baseline = _peak_mb()
    kind, body = _request(route, name, path.read_bytes())
    start = time.perf_counter()
    try:
        reply = call[kind](body)
        status, code = reply.status, ""
    except Exception as exc:  # noqa: BLE001 - mapped as the API maps it
        status, answer, _ = reply_for_exception(exc, route=kind)
        code = answer["error"]["code"]
    return {"status": status, "code": code, "seconds": round(time.perf_counter() - start, 2),
            "baseline_mb": round(baseline, 1), "peak_mb": round(_peak_mb(), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="case names to run (default: all)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    parser.add_argument("--one", nargs=3, metavar=("FILE", "ROUTE", "NAME"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(Path(args.one[0]), args.one[1], args.one[2])))
        return

    worst, crashes = 0.0, 0
    with tempfile.TemporaryDirectory() as tmp:
        if not args.json:
            print(f"{'case':34} {'bytes':>10} {'status':>6} {'code':22} {'s':>6} {'base MB':>8} {'peak MB':>8}")
        for case, (route, name, make) in cases().items():
            if args.only and case not in args.only:
                continue
            data = make()
            path = Path(tmp) / case
            path.write_bytes(data)
            proc = subprocess.run([sys.executable, __file__, "--one", str(path), route, name or "x"],
                                  check=False, capture_output=True, text=True, cwd=ROOT)
            if proc.returncode != 0:
                crashes += 1
                row = {"status": "crash", "code": proc.stderr.strip().splitlines()[-1][:60] if proc.stderr else "",
                       "seconds": 0, "baseline_mb": 0, "peak_mb": 0}
            else:
                row = json.loads(proc.stdout.strip().splitlines()[-1])
            worst = max(worst, row["peak_mb"])
            if args.json:
                print(json.dumps({"case": case, "bytes": len(data), **row}))
            else:
                print(f"{case:34} {len(data):>10} {row['status']!s:>6} {row['code']:22} {row['seconds']:>6} "
                      f"{row['baseline_mb']:>8} {row['peak_mb']:>8}", flush=True)
    verdict = "under" if worst < TARGET_MB else "OVER"
    print(f"worst peak RSS {worst:.1f} MB: {verdict} the {TARGET_MB} MB target"
          + (f"; {crashes} case(s) crashed" if crashes else ""))
    if worst >= TARGET_MB or crashes:
        sys.exit(1)


if __name__ == "__main__":
    main()
