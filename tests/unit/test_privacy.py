"""Privacy of the originals (issue 12, defects 6 and 9): no photo is kept in S3 with its metadata,
whatever the outcome; a presigned form uploads once; the form's policy binds the declared size and
lists only the fields we hand out (what AWS enforces, checked here against AWS's documented rules,
since moto checks no POST policy at all)."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
import requests
from papila.adapters.aws import MAX_UPLOAD_BYTES, ImageBucket
from papila.core import imaging, keys, records
from papila.core.records import Status
from papila.usecases.inference import Worker
from PIL import Image, ImageCms, PngImagePlugin

from tests.fundus import make_fundus
from tests.unit.test_worker import CARD, FixedModel

DB = "papila_privacy_unit"  # this module's database (the `store` fixture empties it)

ROOT = Path(__file__).resolve().parents[2]
SECRET = b"SECRET-47.39N"  # planted in every kind of metadata; must not survive in a stored original


def _exif(orientation: int | None = None) -> Image.Exif:
    meta = Image.Exif()
    meta[0x010F] = "Topcon"
    meta[0x010E] = SECRET.decode()  # ImageDescription
    if orientation:
        meta[0x0112] = orientation
    gps = meta.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (47.0, 23.0, 9.0), "E", (8.0, 32.0, 1.0)
    return meta


def _icc() -> bytes:
    # A camera's profile names the device; the secret rides along in the bytes, which no reader checks.
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes() + SECRET


def jpeg_with_everything(image: Image.Image, orientation: int | None = None, **params) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=92, exif=_exif(orientation), icc_profile=_icc(), comment=SECRET,
               xmp=b"<x:xmpmeta><exif:GPSLatitude>" + SECRET + b"</exif:GPSLatitude></x:xmpmeta>", **params)
    return buf.getvalue() + b"appended trailer " + SECRET  # data after the image (MPO, phones)


def png_with_everything(image: Image.Image, orientation: int | None = None) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Location", SECRET.decode())
    info.add_text("Comment", SECRET.decode(), zip=True)
    info.add_itxt("XML:com.adobe.xmp", SECRET.decode())
    buf = io.BytesIO()
    image.save(buf, "PNG", pnginfo=info, exif=_exif(orientation), icc_profile=_icc())
    return buf.getvalue()


def assert_clean(data: bytes, orientation: int | None = None) -> None:
    """No planted secret in the bytes, no metadata Pillow can see beyond the orientation kept."""
    assert SECRET not in data and b"Topcon" not in data
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        exif = dict(im.getexif())
        if im.format != "TIFF":  # a TIFF's tags describe its pixels; none of ours are there (checked above)
            assert exif == ({0x0112: orientation} if orientation else {})
        assert 0x8825 not in exif and not im.getexif().get_ifd(0x8825)
        assert not {"icc_profile", "xmp", "comment", "Location", "Comment", "XML:com.adobe.xmp"} & set(im.info)


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(imaging.decode(data))  # upright, as the pipeline sees it


# ---------------------------------------------------------------- imaging.strip_metadata


@pytest.mark.parametrize("orientation", [None, 6])
@pytest.mark.parametrize("kind", ["jpeg", "progressive-jpeg", "png"])
def test_strip_metadata_drops_everything_but_keeps_pixels_and_orientation(kind, orientation):
    photo = make_fundus(640, 480, seed=1)
    data = (png_with_everything(photo, orientation) if kind == "png" else
            jpeg_with_everything(photo, orientation, progressive=kind == "progressive-jpeg"))
    clean = imaging.strip_metadata(data)
    assert_clean(clean, orientation)
    assert np.array_equal(pixels(clean), pixels(data))  # the very same pixels (no re-encoding), upright alike
    assert imaging.strip_metadata(clean) is clean  # nothing left to take out: the same bytes back


def test_strip_metadata_re_encodes_a_tiff_upright_and_refuses_what_it_cannot_read():
    photo = make_fundus(320, 240, seed=2)
    buf = io.BytesIO()
    photo.save(buf, "TIFF", exif=_exif(6))
    clean = imaging.strip_metadata(buf.getvalue())
    assert_clean(clean)
    assert Image.open(io.BytesIO(clean)).size == (240, 320)  # turned by its orientation
    for junk in (b"ftypheic" + SECRET, b"\xff\xd8\xff\xe1\x00", b"\x89PNG\r\n\x1a\n\x00\x00"):
        with pytest.raises(imaging.ImageError):
            imaging.strip_metadata(junk)


@pytest.mark.parametrize("kind", ["jpeg", "png"])
def test_strip_metadata_keeps_an_orientation_only_xmp_gave(kind):
    """Pillow (so decode) turns a photo by XMP's tiff:Orientation when no EXIF says otherwise: the stripped
    file must show the same upright pixels, so it keeps the orientation as its one EXIF tag."""
    photo = make_fundus(320, 240, seed=4)
    xmp = '<x:xmpmeta><rdf:Description tiff:Orientation="6"/>' + SECRET.decode() + "</x:xmpmeta>"
    buf = io.BytesIO()
    if kind == "jpeg":
        photo.save(buf, "JPEG", quality=92, xmp=xmp.encode())
    else:
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", xmp, zip=True)
        photo.save(buf, "PNG", pnginfo=info)
    clean = imaging.strip_metadata(buf.getvalue())
    assert_clean(clean, 6)
    assert pixels(clean).shape[:2] == (320, 240)
    assert np.array_equal(pixels(clean), pixels(buf.getvalue()))


def _png_without_xmp(image: Image.Image, orientation: int | None) -> bytes:
    """A PNG with text, EXIF and ICC but no XMP, at zlib level 1 (a re-encode would give other bytes)."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Location", SECRET.decode())
    buf = io.BytesIO()
    image.save(buf, "PNG", pnginfo=info, exif=_exif(orientation), icc_profile=_icc(), compress_level=1)
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["jpeg", "progressive-jpeg", "png", "png-with-xmp"])
def test_an_inline_original_is_stripped_losslessly_unless_it_must_be_turned(kind):
    """imaging.clean_original (the inline upload's stored bytes): the same compressed pixels without the
    metadata when nothing needs turning; an oriented photo (or a PNG whose XMP may say so) re-encoded
    upright with no tag at all. Either way the stored file shows the pixels the API decoded."""
    photo = make_fundus(640, 480, seed=1)
    ctype = "image/jpeg" if "jpeg" in kind else "image/png"
    for orientation in (None, 1, 6):
        data = (png_with_everything(photo, orientation) if kind == "png-with-xmp" else
                _png_without_xmp(photo, orientation) if kind == "png" else
                jpeg_with_everything(photo, orientation, progressive=kind == "progressive-jpeg"))
        image = imaging.decode(data)
        stored = imaging.clean_original(data, image, ctype)
        assert_clean(stored)  # upright: no orientation left to apply
        assert imaging.sniff_content_type(stored) == ctype
        assert pixels(stored).shape[:2] == (image.height, image.width)
        lossless = orientation in (None, 1) and kind != "png-with-xmp"
        if kind != "png-with-xmp":  # (that PNG is at Pillow's default level: re-encoded, the same bytes)
            assert (stored == imaging.strip_metadata(data)) is lossless  # the very compressed pixels, or re-encoded
        if lossless or ctype == "image/png":
            assert np.array_equal(pixels(stored), np.asarray(image))
    plain = io.BytesIO()
    photo.save(plain, "PNG")
    assert imaging.clean_original(plain.getvalue(), photo, "image/png") == plain.getvalue()  # nothing to take out


def test_an_inline_tiff_or_unreadable_structure_is_re_encoded_from_its_pixels():
    photo = make_fundus(320, 240, seed=2)
    buf = io.BytesIO()
    photo.save(buf, "TIFF", exif=_exif(6))
    image = imaging.decode(buf.getvalue())
    stored = imaging.clean_original(buf.getvalue(), image, "image/tiff")
    assert_clean(stored)
    assert np.array_equal(pixels(stored), np.asarray(image))
    data = jpeg_with_everything(photo)
    assert imaging.clean_original(data, photo, "image/png")[:8] == b"\x89PNG\r\n\x1a\n"  # declared type wins


# ---------------------------------------------------------------- the worker: clean whatever the outcome


def _screening(store, bucket, data: bytes, *, status=Status.AWAITING_UPLOAD, ext="jpg", ctype="image/jpeg"):
    sid = records.new_id()
    key = keys.original_key(sid, ext)
    store.insert(records.new_record(screening_id=sid, filename=f"eye.{ext}", content_type=ctype, original_key=key,
                                    status=status, crop=None, consent={"accepted": True}, size=len(data)))
    bucket.put(key, data, ctype)
    return sid, key


class BrokenModel(FixedModel):
    def predict(self, batch):
        raise RuntimeError("the model fell over")


def test_a_done_screening_keeps_a_clean_original_with_its_pixels(store, bucket):
    data = jpeg_with_everything(make_fundus(1000, 800, (640, 400), seed=1), 3)
    sid, key = _screening(store, bucket, data)
    assert Worker(store, bucket, FixedModel(), CARD).process(key) == Status.DONE
    stored = bucket.get(key)
    assert_clean(stored, 3)
    assert np.array_equal(pixels(stored), pixels(data))
    identity = store.get(sid)["original_object"]
    assert identity["size"] == len(stored) and identity["etag"] == bucket.etag(key)


def test_a_rejected_photo_is_stripped_before_the_gate_refuses_it(store, bucket):
    sid, key = _screening(store, bucket, jpeg_with_everything(Image.new("RGB", (800, 600), (128, 128, 128))))
    assert Worker(store, bucket, FixedModel(), CARD).process(key) == Status.REJECTED
    assert store.get(sid)["status"] == "rejected"
    assert_clean(bucket.get(key))


def test_a_photo_over_the_decoding_bounds_is_stripped_without_decoding(store, bucket):
    info = PngImagePlugin.PngInfo()
    info.add_text("Location", SECRET.decode())
    buf = io.BytesIO()
    Image.new("L", (20_001, 64)).save(buf, "PNG", pnginfo=info)  # a side over the bounds: never decoded
    sid, key = _screening(store, bucket, buf.getvalue(), ext="png", ctype="image/png")
    assert Worker(store, bucket, FixedModel(), CARD).process(key) == Status.REJECTED
    assert store.get(sid)["error"]["code"] == "image_too_large"
    stored = bucket.get(key)
    assert SECRET not in stored and stored.startswith(b"\x89PNG")


def test_a_file_that_cannot_be_taken_apart_is_not_kept(store, bucket):
    sid, key = _screening(store, bucket, b"\x00\x00\x00\x18ftypheic" + SECRET * 100)  # a HEIC sent as image/jpeg
    assert Worker(store, bucket, FixedModel(), CARD).process(key) == Status.REJECTED
    assert store.get(sid)["status"] == "rejected" and not bucket.exists(key)


def test_a_failed_screening_keeps_no_metadata_either(store, bucket):
    sid, key = _screening(store, bucket, jpeg_with_everything(make_fundus(1000, 800, (640, 400), seed=1)))
    worker = Worker(store, bucket, BrokenModel(), CARD, max_receive_count=1)
    with pytest.raises(RuntimeError):
        worker.process(key, final_attempt=True)
    assert store.get(sid)["status"] == "failed"
    assert_clean(bucket.get(key))


# ---------------------------------------------------------------- a presigned form uploads once


def test_a_second_upload_after_done_is_refused_and_not_kept(store, bucket):
    model = FixedModel()
    worker = Worker(store, bucket, model, CARD)
    sid, key = _screening(store, bucket, jpeg_with_everything(make_fundus(1000, 800, (640, 400), seed=1)))
    assert worker.process(key) == Status.DONE
    done = store.get(sid)
    assert worker.process(key) is None  # the worker's own rewrite (and any duplicate) changes nothing
    assert bucket.exists(key) and store.get(sid) == done

    # The same form used again: another photo, with its GPS, lands on the screened one.
    bucket.put(key, jpeg_with_everything(make_fundus(900, 700, (300, 350), seed=5)), "image/jpeg")
    assert worker.process(key) is None
    assert not bucket.exists(key)  # never screened, never kept
    after = store.get(sid)
    assert after["status"] == "done" and after["result"] == done["result"] and model.calls == 1
    assert after["original_replaced_at"] is not None


def test_a_second_upload_before_a_pending_rerun_fails_the_rerun(store, bucket):
    model = FixedModel()
    worker = Worker(store, bucket, model, CARD)
    sid, key = _screening(store, bucket, jpeg_with_everything(make_fundus(1000, 800, (640, 400), seed=1)))
    assert worker.process(key) == Status.DONE
    # A rerun of the same photo still works (the copy onto itself is the same object) ...
    assert store.move(sid, Status.QUEUED, where={"status": "done"}) is not None
    bucket.touch(key)
    assert worker.process(key) == Status.DONE and model.calls == 2
    # ... but a rerun that meets another photo screens nothing.
    assert store.move(sid, Status.QUEUED, where={"status": "done"}) is not None
    bucket.put(key, jpeg_with_everything(make_fundus(900, 700, (300, 350), seed=7)), "image/jpeg")
    assert worker.process(key) is None
    rec = store.get(sid)
    assert rec["status"] == "failed" and rec["error"]["code"] == "upload_replaced" and model.calls == 2
    assert not bucket.exists(key)


def test_a_replacement_met_by_a_retried_attempt_is_refused(store, bucket):
    worker = Worker(store, bucket, FixedModel(), CARD)
    sid, key = _screening(store, bucket, jpeg_with_everything(make_fundus(1000, 800, (640, 400), seed=1)))
    record = store.claim(sid, key, 60)
    worker._clean_original(sid, key, record)  # a first attempt stripped and recorded it, then died
    store.move(sid, Status.QUEUED, unset=("lease_until",))
    claimed = store.claim(sid, key, 60)
    bucket.put(key, jpeg_with_everything(make_fundus(900, 700, seed=9)), "image/jpeg")  # lands after the check
    assert worker._run(sid, key, claimed) == Status.FAILED
    assert store.get(sid)["error"]["code"] == "upload_replaced" and not bucket.exists(key)


def test_an_event_for_a_screening_ended_before_processing_leaves_no_metadata(store, bucket):
    _, key = _screening(store, bucket, jpeg_with_everything(make_fundus(640, 480, seed=10)), status=Status.FAILED)
    assert Worker(store, bucket, FixedModel(), CARD).process(key) is None
    assert_clean(bucket.get(key))


# ---------------------------------------------------------------- the inline path stores clean images


@pytest.mark.parametrize("kind", ["jpeg", "png"])
def test_inline_uploads_are_stored_without_metadata(api, aws, kind):
    photo = make_fundus(640, 480, seed=11)
    data = png_with_everything(photo, 6) if kind == "png" else jpeg_with_everything(photo, 6)
    ext, ctype = ("png", "image/png") if kind == "png" else ("jpg", "image/jpeg")
    body = {"filename": f"eye.{ext}", "content_type": ctype, "consent": True,
            "image_base64": base64.b64encode(data).decode()}
    r = api.post("/api/screenings", body)
    assert r.status_code == 202, r.body
    stored = aws.s3.get_object(Bucket=aws.bucket, Key=keys.original_key(r.json_body["id"], ext))["Body"].read()
    assert_clean(stored)  # the orientation is applied to the pixels instead
    assert Image.open(io.BytesIO(stored)).size == (480, 640)


# ---------------------------------------------------------------- the presigned POST policy (defect 9)

# Form fields S3 never looks up in the conditions (AWS: "Each form field that you specify in a form (except
# x-amz-signature, file, policy, and field names that have an x-ignore- prefix) must appear in the list of
# conditions"; https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html).
EXEMPT = {"policy", "x-amz-signature", "file"}
SIGNED = {"bucket", "key", "content-type", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-security-token"}


def aws_answer(policy: dict, form: dict[str, str], bucket: str, length: int) -> int:
    """The status S3 answers a browser POST, by AWS's documented policy rules (moto checks none of them
    and LocalStack only the listed conditions)."""
    fields = {k.lower(): v for k, v in form.items()}
    named: set[str] = set()
    for condition in policy["conditions"]:
        if isinstance(condition, dict):
            ((name, value),) = condition.items()
            op, name = "eq", name.lower()
        else:
            op, name, value = condition[0], str(condition[1]), condition[2]
            name = name.lower().lstrip("$")
        if op == "content-length-range":
            if not int(condition[1]) <= length <= int(condition[2]):
                return 400  # EntityTooSmall / EntityTooLarge
            continue
        named.add(name)
        actual = bucket if name == "bucket" else fields.get(name)
        if actual is None or (actual != value if op == "eq" else not actual.startswith(value)):
            return 403
    if any(f not in named and f not in EXEMPT and not f.startswith("x-ignore-") for f in fields):
        return 403  # "Invalid according to Policy: Extra input fields"
    return 204


def test_the_presigned_policy_binds_the_declared_size_and_names_only_our_fields(api, aws):
    size = 2_483_112
    r = api.post("/api/screenings", {"filename": "eye.jpg", "content_type": "image/jpeg", "size": size,
                                     "consent": True})
    assert r.status_code == 201, r.body
    fields = r.json_body["upload"]["fields"]
    policy = json.loads(base64.b64decode(fields["policy"]))
    ranges = [c for c in policy["conditions"] if isinstance(c, list) and c[0] == "content-length-range"]
    assert ranges == [["content-length-range", size, size]]
    names = {(next(iter(c)) if isinstance(c, dict) else c[1].lstrip("$")).lower()
             for c in policy["conditions"] if not (isinstance(c, list) and c[0] == "content-length-range")}
    assert names == SIGNED and not any(n == "acl" or n.startswith("x-amz-meta-") for n in names)
    assert {k.lower() for k in fields} - EXEMPT <= names  # every field we hand out is signed

    # What AWS answers: the form as given, with exactly the declared size, and nothing else.
    assert aws_answer(policy, fields, aws.bucket, size) == 204
    assert aws_answer(policy, fields, aws.bucket, size - 1) == 400
    assert aws_answer(policy, fields, aws.bucket, size + 1) == 400
    assert aws_answer(policy, {**fields, "acl": "public-read"}, aws.bucket, size) == 403
    assert aws_answer(policy, {**fields, "x-amz-meta-gps": "47.39N"}, aws.bucket, size) == 403
    assert aws_answer(policy, {**fields, "Content-Type": "text/html"}, aws.bucket, size) == 403
    assert aws_answer(policy, {**fields, "key": "uploads/other/original.jpg"}, aws.bucket, size) == 403


def test_fields_aws_would_refuse_leave_nothing_behind_where_they_pass(api, aws, service):
    data = imaging.encode(make_fundus(1000, 800, (640, 400), seed=1), "image/jpeg")  # no metadata inside
    r = api.post("/api/screenings", {"filename": "eye.jpg", "content_type": "image/jpeg", "size": len(data),
                                     "consent": True})
    upload, key = r.json_body["upload"], keys.original_key(r.json_body["id"], "jpg")
    posted = requests.post(upload["url"], data={**upload["fields"], "x-amz-meta-gps": "47.39N", "acl": "public-read"},
                           files={"file": ("eye.jpg", data, "image/jpeg")}, timeout=10)
    if posted.status_code == 403:  # an emulator that checks like AWS: nothing was stored
        assert aws.s3.list_objects_v2(Bucket=aws.bucket).get("KeyCount", 0) == 0
        return
    assert posted.status_code in (200, 201, 204), posted.text  # moto (like LocalStack) takes them
    assert Worker(service.store, service.bucket, FixedModel(), CARD).process(key) == Status.DONE
    assert aws.s3.head_object(Bucket=aws.bucket, Key=key)["Metadata"] == {}


def test_the_policy_size_is_the_contracts_and_the_emulators_leniency_is_written_down():
    bucket = ImageBucket("papila-unit-uploads")
    for size in (0, MAX_UPLOAD_BYTES + 1):
        with pytest.raises(ValueError):
            bucket.presigned_post("uploads/x/original.jpg", "image/jpeg", 60, size)
    readme = (ROOT / "infra" / "README.md").read_text()
    section = readme[readme.index("## Presigned uploads"):]
    for words in ("x-amz-meta-", "acl", "LocalStack", "moto", "content-length-range"):
        assert words in section
