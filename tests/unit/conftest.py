"""Unit fixtures: moto's in-process AWS, an in-process SecantusDB (MongoDB wire protocol) and the
Chalice app behind `chalice.test.Client`. Nothing here talks to the network or the local cloud."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "papila-unit-uploads"
QUEUE = "papila-unit-inference"
EXPORT_QUEUE = "papila-unit-exports"
DB = "papila_unit"
UUID_IN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@pytest.fixture(scope="session")
def mongo_uri():
    from secantus import SecantusDBServer

    server = SecantusDBServer(storage_path=":memory:")
    server.start()
    try:
        yield server.uri
    finally:
        server.stop()


@pytest.fixture
def aws(monkeypatch):
    """moto's mock AWS with the uploads bucket, the inference queue and the export queue; no endpoint override."""
    from moto import mock_aws
    from papila.adapters import aws as storage

    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    storage._s3.cache_clear()
    storage._sqs.cache_clear()
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        monkeypatch.setenv("UPLOADS_BUCKET", BUCKET)
        export_url = sqs.create_queue(QueueName=EXPORT_QUEUE)["QueueUrl"]
        monkeypatch.setenv("INFERENCE_QUEUE_URL", url)
        monkeypatch.setenv("EXPORT_QUEUE_URL", export_url)
        yield SimpleNamespace(s3=s3, sqs=sqs, queue_url=url, export_queue_url=export_url, bucket=BUCKET)
    storage._s3.cache_clear()
    storage._sqs.cache_clear()


@pytest.fixture
def service(aws, mongo_uri, monkeypatch):
    """A fresh ScreeningService on an empty collection (the app's per-container one)."""
    from papila.api import screenings as svc

    monkeypatch.setenv("MONGODB_URI", mongo_uri)
    monkeypatch.setenv("MONGODB_DB", DB)
    svc.reset()
    current = svc.service()
    current.store.col.delete_many({})
    yield current
    svc.reset()


@pytest.fixture(scope="session")
def chalice_app():
    spec = importlib.util.spec_from_file_location("papila_api_app", ROOT / "api_app" / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


class Api:
    """chalice.test's HTTP client with JSON conveniences. Like the SPA, it keeps the secret each create
    returned and sends it with every later call about that screening (`own=False`: a stranger's call,
    knowing only the id)."""

    def __init__(self, http: Any) -> None:
        self.http = http
        self.secrets: dict[str, str] = {}

    def request(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
                headers: dict[str, str] | None = None, own: bool = True) -> Any:
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        about = UUID_IN.search(path) or (isinstance(body, dict) and UUID_IN.fullmatch(str(body.get("uuid", ""))))
        if own and about and about.group(0) in self.secrets:
            hdrs.setdefault("X-Screening-Secret", self.secrets[about.group(0)])
        response = self.http.request(method, path, headers=hdrs, body=data)
        self._keep_secret(path, response)
        return response

    def _keep_secret(self, path: str, response: Any) -> None:
        if path == "/api/process" and response.status_code == 200:
            self.secrets[response.body.decode()] = response.headers["X-Screening-Secret"]
        elif path == "/api/screenings" and response.status_code in (201, 202):
            created = json.loads(response.body)
            self.secrets[created["id"]] = created["secret"]

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PUT", path, body, **kw)


@pytest.fixture
def api(service, chalice_app, tmp_path):
    from chalice.test import Client

    # project_dir without a .chalice/config.json: no stage environment is patched in.
    with Client(chalice_app, project_dir=str(tmp_path)) as client:
        yield Api(client.http)


# ---------------------------------------------------------------- images


def fundus(width: int = 640, height: int = 480, disc: tuple[int, int] | None = None) -> Image.Image:
    """A plausible fundus photo: black surround, orange field, a bright disc and a few vessels."""
    im = Image.new("RGB", (width, height), (0, 0, 0))
    draw = ImageDraw.Draw(im)
    r = int(min(width, height) * 0.46)
    cx, cy = width // 2, height // 2
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(170, 70, 30))
    dx, dy = disc or (cx + r // 2, cy)
    dr = max(6, r // 7)
    for angle_dx, angle_dy in ((-r, -r // 2), (-r, r // 2), (-r // 2, -r), (-r // 2, r)):
        draw.line((dx, dy, dx + angle_dx, dy + angle_dy), fill=(110, 30, 15), width=max(2, r // 40))
    draw.ellipse((dx - dr, dy - dr, dx + dr, dy + dr), fill=(250, 220, 160))
    return im


def encode(image: Image.Image, fmt: str = "JPEG", **params: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def png_bytes(width: int = 640, height: int = 480) -> bytes:
    return encode(fundus(width, height), "PNG")


def jpeg_bytes(width: int = 640, height: int = 480) -> bytes:
    return encode(fundus(width, height), "JPEG", quality=90)


@pytest.fixture
def images():
    return SimpleNamespace(fundus=fundus, encode=encode, b64=b64, png=png_bytes, jpeg=jpeg_bytes)


# ---------------------------------------------------------------- the worker's part, simulated

RESULT = {
    "probability_glaucoma": 0.913,
    "label": "glaucoma",
    "threshold": 0.42,
    "referral": "Refer to an ophthalmologist for a full glaucoma work-up.",
    "model_version": "vgg19-test",
    "crop": {"x": 300, "y": 140, "size": 200, "source": "auto"},
    "inference_ms": 23.1,
}


@pytest.fixture
def store(mongo_uri, request):
    """An emptied screenings collection in the test module's own database (its `DB`, else one named
    after the module), for tests that drive the worker or the sweep directly."""
    from papila.adapters.mongo import ScreeningStore

    name = getattr(request.module, "DB", "papila_" + request.module.__name__.rsplit(".", 1)[-1])
    s = ScreeningStore.connect(mongo_uri, name)
    s.col.delete_many({})
    return s


@pytest.fixture
def bucket(aws):
    from papila.adapters.aws import ImageBucket

    return ImageBucket(aws.bucket)


@pytest.fixture
def worker(service, aws):
    """Plays the inference function: moves a record on and writes its derived images."""
    from papila.core import keys
    from papila.core.records import Status

    def finish(screening_id: str, result: dict[str, Any] | None = None, *, heatmap: bool = True) -> dict[str, Any]:
        assert service.store.move(screening_id, Status.PROCESSING) is not None
        record = service.store.move(screening_id, Status.DONE, set_fields={"result": result or dict(RESULT)})
        assert record is not None
        aws.s3.put_object(Bucket=aws.bucket, Key=keys.crop_key(screening_id), Body=png_bytes(224, 224),
                          ContentType="image/png")
        if heatmap:
            aws.s3.put_object(Bucket=aws.bucket, Key=keys.heatmap_key(screening_id), Body=png_bytes(224, 224),
                              ContentType="image/png")
        return record

    def reject(screening_id: str, code: str = "not_fundus", message: str = "This is not a fundus photo.") -> None:
        assert service.store.move(screening_id, Status.PROCESSING) is not None
        assert service.store.move(
            screening_id, Status.REJECTED, set_fields={"error": {"code": code, "message": message}}
        ) is not None

    return SimpleNamespace(finish=finish, reject=reject, result=RESULT)


@pytest.fixture
def events(aws):
    """The template's S3 -> SQS notification on `uploads/`, and a drain of what arrived."""
    import urllib.parse

    arn = aws.sqs.get_queue_attributes(QueueUrl=aws.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.s3.put_bucket_notification_configuration(
        Bucket=aws.bucket,
        NotificationConfiguration={"QueueConfigurations": [{
            "QueueArn": arn,
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}},
        }]},
    )

    def drain() -> list[tuple[str, str]]:
        seen: list[tuple[str, str]] = []
        while True:
            messages = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10,
                                               WaitTimeSeconds=0).get("Messages", [])
            if not messages:
                return seen
            for message in messages:
                body = json.loads(message["Body"])
                for record in body.get("Records", []):  # s3:TestEvent has none
                    seen.append((record["eventName"], urllib.parse.unquote_plus(record["s3"]["object"]["key"])))
                aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=message["ReceiptHandle"])

    drain()
    return SimpleNamespace(drain=drain)
