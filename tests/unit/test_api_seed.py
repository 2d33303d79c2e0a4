"""The seed-compatible routes (the 2020 client's calls) and their crop arithmetic."""

from __future__ import annotations

import base64
import io
import uuid

import pytest
from papila.api.requests import SeedCropData
from papila.api.screenings import seed_crop
from papila.core import keys
from papila.core.imaging import Crop
from PIL import Image

UNKNOWN = str(uuid.uuid4())


def process_body(images, *, data=None, name="fundus.jpg", crop=None, displayed=(320, 240), data_url=True):
    data = images.jpeg() if data is None else data
    b64 = images.b64(data)
    return {
        "cropData": crop if crop is not None else {"x": 150, "y": 70, "width": 100, "height": 100, "unit": "px",
                                                   "aspect": 1},
        "imageName": name,
        "imageWidth": displayed[0],
        "imageHeight": displayed[1],
        "b64Image": ("data:image/jpeg;base64," + b64) if data_url else b64,
    }


def test_process_stores_rescaled_crop_and_answers_the_id_as_text(api, images, aws, service):
    r = api.post("/api/process", process_body(images))
    assert r.status_code == 200, r.body
    assert r.headers["Content-Type"].startswith("text/plain")
    sid = r.body.decode()
    assert uuid.UUID(sid).version == 4
    record = service.store.get(sid)
    # 640x480 original shown at 320x240: everything doubles.
    assert record["crop_request"] == {"x": 300, "y": 140, "size": 200}
    assert record["status"] == "queued"
    assert record["consent"]["accepted"] is True and record["consent"]["via"] == "seed-client"
    assert record["filename"] == "fundus.jpg"
    obj = aws.s3.get_object(Bucket=aws.bucket, Key=keys.original_key(sid, "jpg"))
    assert obj["ContentType"] == "image/jpeg"


def test_process_accepts_text_plain_bodies_and_png_named_jpg(api, images, aws, service):
    import json

    body = process_body(images, data=images.png(), name="photo.JPG", data_url=False)
    r = api.post("/api/process", raw=json.dumps(body).encode(), headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert r.status_code == 200, r.body
    sid = r.body.decode()
    # Stored by what the bytes really are.
    assert service.store.get(sid)["original_key"] == keys.original_key(sid, "png")


@pytest.mark.parametrize("name", ["fundus.gif", "fundus.bmp", "fundus", "x.jpg.exe"])
def test_process_bad_extension_is_406(api, images, aws, service, name):
    r = api.post("/api/process", process_body(images, name=name))
    assert r.status_code == 406
    assert r.json_body["error"]["code"] == "unsupported_format"
    assert service.store.col.count_documents({}) == 0


def test_process_bad_image_and_body(api, images, aws, service):
    r = api.post("/api/process", process_body(images, data=b"GIF89a not what we take" * 5))
    assert r.status_code == 415 and r.json_body["error"]["code"] == "unsupported_format"
    body = process_body(images)
    body["b64Image"] = "data:image/jpeg;base64,@@@"
    r = api.post("/api/process", body)
    assert r.status_code == 400 and r.json_body["error"]["code"] == "invalid_base64"
    del body["imageName"]
    r = api.post("/api/process", body)
    assert r.status_code == 400 and r.json_body["error"]["code"] == "invalid_request"
    assert service.store.col.count_documents({}) == 0


def test_process_without_a_crop_locates_automatically(api, images, aws, service):
    body = process_body(images, crop={})
    sid = api.post("/api/process", body).body.decode()
    assert service.store.get(sid)["crop_request"] is None


def test_get_diagnosis_empty_before_then_probability(api, images, aws, worker):
    sid = api.post("/api/process", process_body(images)).body.decode()
    r = api.get(f"/api/getDiagnosis/{sid}")
    assert r.status_code == 200 and r.body == b""
    worker.finish(sid)
    r = api.get(f"/api/getDiagnosis/{sid}")
    assert r.status_code == 200 and r.json_body == {"diagnosisResult": 0.913}


def test_get_diagnosis_of_rejected_is_an_error(api, images, aws, worker):
    sid = api.post("/api/process", process_body(images)).body.decode()
    worker.reject(sid)
    r = api.get(f"/api/getDiagnosis/{sid}")
    assert r.status_code == 422 and r.json_body["error"]["code"] == "not_fundus"


def test_download_crop_as_base64(api, images, aws, worker):
    sid = api.post("/api/process", process_body(images)).body.decode()
    r = api.get(f"/api/download/{sid}")
    assert r.status_code == 409 and r.json_body["error"]["code"] == "not_ready"
    worker.finish(sid)
    r = api.get(f"/api/download/{sid}")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    with Image.open(io.BytesIO(base64.b64decode(r.body))) as im:
        assert im.format == "PNG" and im.size == (224, 224)


@pytest.mark.parametrize("path", ["/api/getDiagnosis/{}", "/api/download/{}"])
def test_seed_gets_unknown_and_malformed(api, aws, path):
    r = api.get(path.format(UNKNOWN))
    assert r.status_code == 404 and r.json_body["error"]["code"] == "not_found"
    r = api.get(path.format("nope"))
    assert r.status_code == 400 and r.json_body["error"]["code"] == "invalid_id"


def test_metadata_stored_as_feedback_metadata(api, images, aws, service):
    sid = api.post("/api/process", process_body(images)).body.decode()
    r = api.post("/api/metadata", {"uuid": sid, "age": 70, "sex": "male", "eye": "right", "iop_mmhg": 19.5})
    assert r.status_code == 200, r.body
    assert r.json_body == {"uuid": sid, "metadata": {"age": 70, "sex": "male", "eye": "right", "iop_mmhg": 19.5}}
    record = service.store.get(sid)
    assert record["feedback"]["metadata"]["age"] == 70
    assert api.get(f"/api/screenings/{sid}").json_body["feedback"]["metadata"]["eye"] == "right"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"age": 70}, 400, "invalid_id"),
        ({"uuid": "abc", "age": 70}, 400, "invalid_id"),
        ({"uuid": UNKNOWN, "age": 70}, 404, "not_found"),
        ({"uuid": "SID", "age": 170}, 400, "invalid_request"),
        ({"uuid": "SID", "favourite_colour": "blue"}, 400, "invalid_request"),
        ({"uuid": "SID", "notes": "x" * 2001}, 400, "invalid_request"),
    ],
)
def test_metadata_errors(api, images, aws, service, body, status, code):
    sid = api.post("/api/process", process_body(images)).body.decode()
    body = {k: (sid if v == "SID" else v) for k, v in body.items()}
    r = api.post("/api/metadata", body)
    assert r.status_code == status and r.json_body["error"]["code"] == code
    assert "feedback" not in service.store.get(sid)


# ---------------------------------------------------------------- the arithmetic


def crop(**kw):
    return SeedCropData(**kw)


def test_seed_crop_square_in_displayed_pixels():
    assert seed_crop(crop(x=150, y=70, width=100, height=100), (320, 240), (640, 480)) == Crop(300, 140, 200)
    # Non-integral display sizes (CSS pixels) round to whole original pixels.
    assert seed_crop(crop(x=10.5, y=20.25, width=50.5, height=50.5), (800.0, 600.0), (3000, 2250)) == \
        Crop(round((10.5 + 25.25) * 3.75 - 50.5 * 3.75 / 2), round((20.25 + 25.25) * 3.75 - 50.5 * 3.75 / 2),
             round(50.5 * 3.75))


def test_seed_crop_rectangle_becomes_centred_square_on_the_longer_side():
    # 200x100 displayed rectangle at (100, 100) on a 2x display -> 400x200 at (200, 200) original, centre (400, 300).
    assert seed_crop(crop(x=100, y=100, width=200, height=100), (500, 400), (1000, 800)) == Crop(200, 100, 400)


def test_seed_crop_anisotropic_display_scale():
    # Width scaled x3, height x2: the square covers the larger scaled side.
    got = seed_crop(crop(x=10, y=10, width=100, height=100), (100, 100), (300, 200))
    assert got == Crop(30 + 150 - 150, 20 + 100 - 150, 300)


def test_seed_crop_percent_units_and_missing_sizes():
    assert seed_crop(crop(x=25, y=25, width=50, height=50, unit="%"), (None, None), (400, 400)) == Crop(100, 100, 200)
    # No displayed size: the crop is already in original pixels.
    assert seed_crop(crop(x=5, y=6, width=70, height=70), (None, None), (640, 480)) == Crop(5, 6, 70)
    assert seed_crop(None, (320, 240), (640, 480)) is None
    assert seed_crop(crop(x=5, y=6, width=0, height=0), (320, 240), (640, 480)) is None
    # A tiny crop grows to the 32 px minimum around its centre.
    assert seed_crop(crop(x=100, y=100, width=10, height=10), (640, 480), (640, 480)) == Crop(89, 89, 32)
