"""Bounded inputs (issue 12, defects 5 and 7): photo limits read from the header before any pixel is
decoded (API and worker share `imaging.decode`), the API's decoding-memory budget and its measured peak,
Pillow's bomb warning/error never a 500, JSON depth and non-finite numbers refused, and `chalice local`'s
own refusals (a 100,000-character id) in the contract's shape."""

from __future__ import annotations

import functools
import http.client
import importlib.util
import io
import json
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest
from papila.api import requests as schemas
from papila.api.errors import ApiError, reply_for_exception
from papila.core import imaging, pipeline
from PIL import Image, ImageFile, PngImagePlugin, TiffImagePlugin

from bench.api_memory import jpeg, jpeg_header, jpeg_mode, png, tiff_header

ROOT = Path(__file__).resolve().parents[2]

bomb = functools.cache(lambda: png(9990, 9990))  # 291 KB, 99.8 MP
HOSTILE_HEADERS = {
    "png-9990x9990-291kb": bomb,
    "png-100000x100000": lambda: png(100_000, 100_000, rows=4),
    "png-60000x10": lambda: png(60_000, 10),
    "png-7100x7100-just-over-50mp": lambda: png(7100, 7100, color_type=0, rows=4),
    "jpeg-65500x65500": lambda: jpeg_header(65_500, 65_500),
    "jpeg-20001x100": lambda: jpeg_header(20_001, 100),
    "tiff-100000x100000": lambda: tiff_header(100_000, 100_000),
}


@pytest.fixture
def no_decoding(monkeypatch):
    """Any attempt to decode pixels fails the test."""

    def load(self):
        raise AssertionError(f"decoded the pixels of a {self.size} {self.format}")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    monkeypatch.setattr(TiffImagePlugin.TiffImageFile, "load", load)


@pytest.mark.parametrize("make", HOSTILE_HEADERS.values(), ids=HOSTILE_HEADERS.keys())
def test_decode_refuses_oversized_photos_from_the_header_alone(make, no_decoding):
    data = make()
    with pytest.raises(imaging.ImageError) as err:
        imaging.decode(data)
    assert err.value.code == "image_too_large"
    assert "megapixels" in err.value.message


def test_the_worker_rejects_a_bomb_without_decoding_it(no_decoding):
    outcome = pipeline.screen_image(bomb(), None, model=None, card={})
    assert isinstance(outcome, pipeline.Rejected) and outcome.code == "image_too_large"


def test_limits_admit_a_photo_just_inside_them():
    imaging.check_dimensions(7071, 7071)  # 49.99 MP
    with pytest.raises(imaging.ImageError):
        imaging.check_dimensions(7072, 7071)
    image = imaging.decode(png(imaging.MAX_SIDE, 64, color_type=0))
    assert image.size == (imaging.MAX_SIDE, 64) and image.mode == "RGB"


def test_a_bomb_warning_is_never_a_500_whatever_the_warning_filters():
    data = bomb()  # 99.8 MP: Pillow only warns (its error starts at 2 x MAX_IMAGE_PIXELS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # as under `python -W error` or pytest's -W error
        with pytest.raises(imaging.ImageError) as err:
            imaging.decode(data)
    assert err.value.code == "image_too_large"
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(imaging.ImageError):
            imaging.decode(data)
    assert not [w for w in seen if issubclass(w.category, Image.DecompressionBombWarning)]


@pytest.mark.parametrize("exc", [Image.DecompressionBombError("big"), Image.DecompressionBombWarning("big")])
def test_pillows_bomb_guard_met_anywhere_is_a_413(exc):
    status, body, _ = reply_for_exception(exc, route="test")
    assert status == 413 and body["error"]["code"] == "image_too_large"


def _budget_cases() -> dict[str, bytes]:
    exif = Image.Exif()
    exif[0x0112] = 6
    return {
        "rgb-baseline": jpeg(1000, 1000),
        "rgb-progressive-444": jpeg(1000, 1000, progressive=True, subsampling=0),
        "cmyk": jpeg_mode("CMYK", 1000, 1000),
        "rgb-exif-rotated": jpeg(1000, 1000, exif=exif.tobytes()),
        "rgba-png": png(1000, 1000, color_type=6),
    }


def test_decode_cost_counts_what_decoding_holds():
    costs = {}
    for name, data in _budget_cases().items():
        with Image.open(io.BytesIO(data)) as im:
            costs[name] = imaging.decode_cost(im, transposed=name.endswith("rotated"))
    million = 1_000_000
    assert costs == {"rgb-baseline": 4 * million, "rgb-progressive-444": 10 * million, "cmyk": 8 * million,
                     "rgb-exif-rotated": 8 * million, "rgba-png": 8 * million}


def test_the_api_budget_refuses_expensive_photos_the_worker_still_decodes():
    for name, data in _budget_cases().items():
        assert imaging.decode(data).size == (1000, 1000)  # the worker: no budget
        if name == "rgb-baseline":
            assert imaging.decode(data, max_bytes=5_000_000).size == (1000, 1000)
            continue
        with pytest.raises(imaging.ImageError) as err:
            imaging.decode(data, max_bytes=5_000_000)
        assert err.value.code == "image_too_large", name
        assert "presigned" in err.value.message


def test_decode_gives_bare_pixels_and_encode_keeps_no_metadata():
    info = PngImagePlugin.PngInfo()
    info.add_text("Patient", "Jane Doe")
    buf = io.BytesIO()
    Image.new("RGB", (100, 80), (170, 70, 30)).save(buf, "PNG", pnginfo=info, icc_profile=b"\0" * 200)
    assert imaging.has_metadata(buf.getvalue())
    image = imaging.decode(buf.getvalue())
    assert type(image) is Image.Image and image.info == {}
    for content_type in ("image/png", "image/jpeg", "image/tiff"):
        clean = imaging.encode(image, content_type)
        assert b"Jane Doe" not in clean
        # (has_metadata counts a TIFF's own structural tags as EXIF: it is true of every TIFF)
        assert content_type == "image/tiff" or not imaging.has_metadata(clean)


def test_api_peak_memory_on_a_bomb_stays_under_512_mb():
    """bench/api_memory.py, one case: the 291 KB 9990x9990 PNG through POST /api/screenings' use case
    in a fresh process (it took the process to 1.2 GB before the header check)."""
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "api_memory.py"), "--only",
                           "bomb_png_9990x9990_rgb", "--json"], capture_output=True, text=True, check=False,
                          cwd=ROOT, timeout=300)
    row = json.loads(proc.stdout.splitlines()[0])
    assert (row["status"], row["code"]) == (413, "image_too_large"), proc.stdout + proc.stderr
    assert row["peak_mb"] < 512
    assert row["peak_mb"] - row["baseline_mb"] < 50, row
    assert proc.returncode == 0


# ---------------------------------------------------------------- JSON


@pytest.mark.parametrize("raw", [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    b'{"a":' * (schemas.MAX_JSON_DEPTH + 1) + b"1" + b"}" * (schemas.MAX_JSON_DEPTH + 1),
    b'{"a": ' + b"[" * 500 + b"]" * 500 + b"}",
])
def test_deep_json_is_refused(raw):
    with pytest.raises(ApiError) as err:
        schemas.parse_object(raw)
    assert (err.value.status, err.value.code) == (400, "invalid_json")
    assert "nests too deeply" in err.value.message


def test_json_at_the_depth_limit_is_accepted():
    depth = schemas.MAX_JSON_DEPTH
    assert schemas.json_problem(json.loads(b'{"a":' * (depth - 1) + b"1" + b"}" * (depth - 1))) is None


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1E400", "2.5e308"])
def test_non_finite_numbers_are_refused(literal):
    with pytest.raises(ApiError) as err:
        schemas.parse_object(f'{{"x": {{"y": [{literal}]}}}}'.encode())
    assert (err.value.status, err.value.code) == (400, "invalid_json")
    assert "finite" in err.value.message


def test_finite_numbers_still_parse():
    assert schemas.parse_object(b'{"a": 1e308, "b": -0.0, "c": 5e-324, "d": 12}') == {
        "a": 1e308, "b": -0.0, "c": 5e-324, "d": 12}


def test_seed_crop_numbers_are_bounded():
    from pydantic import ValidationError

    for bad in ({"imageWidth": 1e-300}, {"cropData": {"x": 1e308}}, {"cropData": {"width": float("inf")}}):
        with pytest.raises(ValidationError):
            schemas.SeedProcess.model_validate({"imageName": "a.png", "b64Image": "", **bad})


# ---------------------------------------------------------------- `chalice local`'s own refusals


@pytest.fixture
def local_server(service, tmp_path):
    """The API under chalice's own dev server (what `chalice local` runs), on a free port."""
    import chalice.local  # loaded before the app, as the `chalice local` command does
    from chalice.config import Config

    spec = importlib.util.spec_from_file_location("papila_api_app_local", ROOT / "api_app" / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    server = chalice.local.LocalDevServer(module.app, Config.create(project_dir=str(tmp_path)), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server.server_address[1]
    finally:
        server.shutdown()
        server.server.server_close()


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def test_local_server_refusals_are_contract_errors(local_server):
    for path, headers, status, code in [
        ("/api/screenings/" + "a" * 100_000, {}, 414, "uri_too_long"),
        ("/api/health", {"X-Big": "b" * 70_000}, 431, "headers_too_large"),
        ("/api/screenings/" + "a" * 60_000, {}, 400, "invalid_id"),  # under the line limit: the app answers
    ]:
        got, hdrs, body = _get(local_server, path, headers)
        assert got == status, body[:200]
        assert hdrs["content-type"].startswith("application/json")
        error = json.loads(body)["error"]
        assert error["code"] == code and error["message"]
        assert b"a" * 100 not in body  # the request is never echoed


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF"])
@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_exif_orientation_is_applied_once_in_every_format(fmt, orientation):
    """Pillow turns a TIFF upright itself while loading; decode() must not turn it again."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    photo = Image.new("RGB", (130, 90), (170, 70, 30))
    photo.paste((255, 255, 255), (0, 0, 10, 10))  # a white corner, top left as stored
    buf = io.BytesIO()
    photo.save(buf, fmt, exif=exif if fmt == "TIFF" else exif.tobytes())
    upright = imaging.decode(buf.getvalue())
    assert upright.size == ((90, 130) if orientation in (6, 8) else (130, 90))
    corner = {1: (2, 2), 3: (127, 87), 6: (87, 2), 8: (2, 127)}[orientation]
    assert min(upright.getpixel(corner)) > 200, upright.getpixel(corner)


def test_a_flat_picture_has_no_disc_to_locate():
    from papila.core.imaging import ImageError
    from papila.core.locate import locate

    with pytest.raises(ImageError) as caught:
        locate(Image.new("RGB", (800, 600)))
    assert caught.value.code == "disc_not_found"


def test_a_deeply_nested_admin_cursor_is_a_bad_cursor():
    import base64

    from papila.api.admin import decode_cursor
    from papila.api.errors import ApiError

    cursor = base64.urlsafe_b64encode(b"[" * 100_000 + b"]" * 100_000).decode().rstrip("=")
    with pytest.raises(ApiError) as caught:
        decode_cursor(cursor)
    assert caught.value.status == 400 and caught.value.code == "invalid_cursor"
