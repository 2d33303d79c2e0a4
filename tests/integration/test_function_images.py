"""Each function's image is tested with its own requirements (issue 13): a clean virtual environment gets
only the function's `requirements.txt`, its code is laid out as it is deployed, and that interpreter runs
the handler on real records. The inference image (inference_fn/Dockerfile: `papila/`, `handler.py`, the
model files in the task root) screens a screening's S3 event and only that; the export function (a zip,
export_fn/, with the papila layer on its path as Lambda mounts /opt/python) builds a dataset export in
steps. A module a function lacks (pydantic, TensorFlow, scikit-learn, numpy in the export function) fails
here, as it would in AWS, where the full dev environment of the other tests hides it.

AWS is moto's server and MongoDB an in-memory SecantusDB, both started here (the suite's local cloud
would race its own runner for the same events). The environment is cached in .run/image-venvs by the
requirements' hash; the first run installs from PyPI (a minute or two)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from pymongo import MongoClient

from tests.fundus import encode, make_fundus
from tests.integration.cloudclient import s3_event

ROOT = Path(__file__).resolve().parents[2]
VENVS = ROOT / ".run" / "image-venvs"
BUCKET = "papila-image-test"
DB = "papila_image_test"
pytestmark = pytest.mark.timeout(900)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{proc.args[0]} exited with {proc.returncode}"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port} after {timeout} s")


def image_venv(requirements: Path) -> Path:
    """A venv with exactly these requirements (and pip's own), made once per requirements file content."""
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    target = VENVS / f"{requirements.parent.name}-{digest}"
    if not (target / "installed").exists():
        shutil.rmtree(target, ignore_errors=True)
        base = getattr(sys, "_base_executable", sys.executable)  # the interpreter, not the dev venv's packages
        subprocess.run([base, "-m", "venv", str(target)], check=True, timeout=120)
        subprocess.run([str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "-r", str(requirements)], check=True, timeout=900)
        (target / "installed").write_text(requirements.read_text())
    return target


@pytest.fixture(scope="module")
def inference_image(tmp_path_factory) -> tuple[Path, Path]:
    """(the image's python, its task root): papila and handler.py as the Dockerfile copies them."""
    venv = image_venv(ROOT / "inference_fn" / "requirements.txt")
    task = tmp_path_factory.mktemp("task")
    shutil.copytree(ROOT / "layers" / "papila", task / "papila", ignore=shutil.ignore_patterns("__pycache__"))
    for handler in ("handler.py", "compare.py"):  # the inference and the compare function's commands
        shutil.copy(ROOT / "inference_fn" / handler, task / handler)
    model = task / "opt-model"
    model.mkdir()
    dockerfile = (ROOT / "inference_fn" / "Dockerfile").read_text()
    copied = next(line for line in dockerfile.splitlines() if line.startswith("COPY weights/")).split()[1:-1]
    for name in copied:
        shutil.copy(ROOT / name, model / Path(name).name)
    return venv / "bin" / "python", task


@pytest.fixture(scope="module")
def export_function(tmp_path_factory) -> tuple[Path, Path]:
    """(the function's python, its code folder): export_fn/ as the zip, layers/ as the layer (/opt/python)."""
    venv = image_venv(ROOT / "export_fn" / "requirements.txt")
    task = tmp_path_factory.mktemp("export-task")
    shutil.copy(ROOT / "export_fn" / "exports.py", task / "exports.py")
    layer = task / "opt-python"
    shutil.copytree(ROOT / "layers" / "papila", layer / "papila", ignore=shutil.ignore_patterns("__pycache__"))
    return venv / "bin" / "python", task


@pytest.fixture(scope="module")
def services(tmp_path_factory) -> Any:
    """moto's server (S3, SQS) and an in-memory SecantusDB, on free ports."""
    aws_port, db_port = _free_port(), _free_port()
    bin_dir = Path(sys.executable).parent
    log = tmp_path_factory.mktemp("services")
    moto = subprocess.Popen([str(bin_dir / "moto_server"), "-H", "127.0.0.1", "-p", str(aws_port)],
                            stdout=(log / "moto.log").open("wb"), stderr=subprocess.STDOUT)
    db = subprocess.Popen([str(bin_dir / "secantusd-py"), "--host", "127.0.0.1", "--port", str(db_port),
                           "--storage-path", ":memory:", "--log-level", "WARNING"],
                          stdout=(log / "db.log").open("wb"), stderr=subprocess.STDOUT)
    try:
        _wait_port(aws_port, moto)
        _wait_port(db_port, db)
        endpoint = f"http://127.0.0.1:{aws_port}"
        creds = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "us-east-1"}
        s3 = boto3.client("s3", endpoint_url=endpoint, **creds)
        sqs = boto3.client("sqs", endpoint_url=endpoint, **creds)
        s3.create_bucket(Bucket=BUCKET)
        queue = sqs.create_queue(QueueName="papila-image-test")["QueueUrl"]
        export_queue = sqs.create_queue(QueueName="papila-image-test-exports")["QueueUrl"]
        mongo = MongoClient(f"mongodb://127.0.0.1:{db_port}", tz_aware=True)[DB]
        yield {"endpoint": endpoint, "s3": s3, "sqs": sqs, "queue": queue, "export_queue": export_queue, "mongo": mongo,
               "mongo_uri": f"mongodb://127.0.0.1:{db_port}"}
    finally:
        for proc in (moto, db):
            proc.terminate()
            proc.wait(timeout=15)


def run_handler(python: Path, task: Path, services: dict[str, Any], bodies: list[str], *,
                handler: str = "handler", pythonpath: Path | None = None,
                extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    """The function's interpreter runs `<handler>.handler` on one SQS batch, as Lambda would."""
    event = {"Records": [{
        "messageId": str(uuid.uuid4()), "receiptHandle": "rh", "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0", "SenderId": "test",
                       "ApproximateFirstReceiveTimestamp": "0"},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:papila-image-test", "awsRegion": "us-east-1",
    } for body in bodies]}
    extra_env = extra_env or {}
    script = (f"import json, sys\nimport {handler} as handler\n"
              "class Context:\n"
              "    function_name = 'InferenceFunction'\n"
              "    def get_remaining_time_in_millis(self): return 30000\n"
              "print(json.dumps(handler.handler(json.loads(sys.stdin.read()), Context())))\n")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
           "AWS_ENDPOINT_URL": services["endpoint"], "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "UPLOADS_BUCKET": BUCKET, "INFERENCE_QUEUE_URL": services["queue"],
           "EXPORT_QUEUE_URL": services["export_queue"],
           "MONGODB_URI": services["mongo_uri"], "MONGODB_DB": DB, "FUNCTION_TIMEOUT": "30",
           "MAX_RECEIVE_COUNT": "3", "MODEL_PATH": str(task / "opt-model" / "papila_vgg19_int8.tflite"),
           "POWERTOOLS_SERVICE_NAME": "papila", **({"PYTHONPATH": str(pythonpath)} if pythonpath else {}),
           **extra_env}
    done = subprocess.run([str(python), "-c", script], cwd=task, env=env, input=json.dumps(event),
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _screening(services: dict[str, Any]) -> tuple[str, str, bytes]:
    from papila.core import keys, records

    sid = records.new_id()
    key = keys.original_key(sid, "jpg")
    photo = encode(make_fundus(1000, 800, disc_xy=(700, 400), seed=3))
    services["mongo"].screenings.insert_one(records.new_record(
        screening_id=sid, filename="eye.jpg", content_type="image/jpeg", original_key=key,
        status=records.Status.AWAITING_UPLOAD, crop=None, consent={"accepted": True}, size=len(photo)))
    services["s3"].put_object(Bucket=BUCKET, Key=key, Body=photo, ContentType="image/jpeg")
    return sid, key, photo


def test_the_inference_image_screens_a_photo_with_only_its_requirements(
        inference_image: tuple[Path, Path], services: dict[str, Any]) -> None:
    from papila.core import records

    python, task = inference_image
    imports = subprocess.run([str(python), "-c", "import tensorflow"], capture_output=True, timeout=60, check=False)
    assert imports.returncode != 0, "the image's environment must not have TensorFlow"

    sid, key, photo = _screening(services)
    assert run_handler(python, task, services, [s3_event(BUCKET, key, len(photo))]) == {"batchItemFailures": []}
    record = services["mongo"].screenings.find_one({"_id": sid})
    assert record["status"] == "done", record.get("error")
    assert 0.0 <= record["result"]["probability_glaucoma"] <= 1.0

    # It only screens: an export step that strayed onto its queue is let go, and builds nothing.
    stray = records.new_id()
    services["mongo"].exports.insert_one({"_id": stray, "status": "queued"})
    assert run_handler(python, task, services, [json.dumps({"papila_export": stray})]) == {"batchItemFailures": []}
    assert services["mongo"].exports.find_one({"_id": stray})["status"] == "queued"


def test_the_compare_function_grades_with_both_models_in_the_inference_image(
        inference_image: tuple[Path, Path], services: dict[str, Any]) -> None:
    """The compare function is the inference image with another command: with only the image's requirements
    it grades a confirmed screening with a registered candidate and with the baked model."""
    from papila.core import comparisons, keys, records

    python, task = inference_image
    endpoint = {"endpoint_url": services["endpoint"], "aws_access_key_id": "test", "aws_secret_access_key": "test",
                "region_name": "us-east-1"}
    boto3.client("ssm", **endpoint).put_parameter(Name="papila-image-test-model", Value="baked", Type="String",
                                                  Overwrite=True)
    card = json.loads((ROOT / "weights" / "model.json").read_text())
    for name in ("papila_vgg19_int8.tflite", "papila_disc_cup.tflite"):
        services["s3"].put_object(Bucket=BUCKET, Key=f"models/img-v2/{name}", Body=(ROOT / "weights" / name).read_bytes())
    services["s3"].put_object(Bucket=BUCKET, Key="models/img-v2/model.json",
                              Body=json.dumps({**card, "model_version": "img-v2"}).encode())
    services["s3"].put_object(Bucket=BUCKET, Key="models/img-v2/comparison.json",
                              Body=json.dumps(comparisons.requested("img-v2", "baked")).encode())
    sid = records.new_id()
    key = keys.original_key(sid, "jpg")
    services["s3"].put_object(Bucket=BUCKET, Key=key, Body=encode(make_fundus(1000, 800, seed=9)))
    record = records.new_record(screening_id=sid, filename="eye.jpg", content_type="image/jpeg", original_key=key,
                                status=records.Status.DONE, crop=None, consent={"accepted": True}, size=1)
    services["mongo"].screenings.insert_one({**record, "feedback": {
        "true_label": "glaucoma", "metadata": {"camera": "image-test"}}})

    answer = run_handler(python, task, services, [comparisons.message("img-v2")], handler="compare",
                         extra_env={"MODEL_PARAMETER": "papila-image-test-model"})
    assert answer == {"batchItemFailures": []}
    stored = json.loads(services["s3"].get_object(Bucket=BUCKET, Key="models/img-v2/comparison.json")["Body"].read())
    assert stored["status"] == "done", stored
    assert [m["model_version"] for m in stored["models"]] == ["img-v2", card["model_version"]]
    # the same weights under two names: the same probabilities, so the same figures
    assert stored["models"][0]["by_camera"] == stored["models"][1]["by_camera"]
    assert stored["models"][0]["by_camera"]["image-test"]["n"] >= 1

def test_the_export_function_builds_an_export_in_steps_with_only_its_requirements(
        export_function: tuple[Path, Path], services: dict[str, Any]) -> None:
    from papila.core import keys, records

    python, task = export_function
    for module in ("numpy", "PIL", "pydantic", "tensorflow"):
        imports = subprocess.run([str(python), "-c", f"import {module}"], capture_output=True, timeout=60, check=False)
        assert imports.returncode != 0, f"the export function's environment must not have {module}"

    sid, _key, photo = _screening(services)  # as the inference function leaves it: done, crop stored
    services["s3"].put_object(Bucket=BUCKET, Key=keys.crop_key(sid), Body=photo, ContentType="image/png")
    services["mongo"].screenings.update_one({"_id": sid}, {"$set": {"status": "done", "result": {
        "probability_glaucoma": 0.7, "label": "glaucoma", "model_version": "test"}}})
    run = {"handler": "exports", "pythonpath": task / "opt-python"}
    services["mongo"].screenings.update_one({"_id": sid}, {"$set": {"feedback": {
        "diagnosis_correct": True, "true_label": "glaucoma", "metadata": {"subject_id": "s-1"},
        "given_at": records.now()}}})
    export_id = records.new_id()
    t = records.now()
    services["mongo"].exports.insert_one({"_id": export_id, "status": "queued", "created_at": t, "updated_at": t,
                                          "filters": {}, "requested_by": {"sub": "test"}, "key": None,
                                          "counts": {"screenings": 0, "glaucoma": 0, "normal": 0}})
    bodies = [json.dumps({"papila_export": export_id})]
    for _ in range(10):  # each step may hand the next one to the queue
        assert run_handler(python, task, services, bodies, **run) == {"batchItemFailures": []}
        if services["mongo"].exports.find_one({"_id": export_id})["status"] in ("done", "failed"):
            break
        messages = services["sqs"].receive_message(QueueUrl=services["export_queue"], MaxNumberOfMessages=10,
                                                   WaitTimeSeconds=1).get("Messages", [])
        bodies = [m["Body"] for m in messages]
        assert bodies, "the export is unfinished and no next step was queued"
    export = services["mongo"].exports.find_one({"_id": export_id})
    assert export["status"] == "done", export.get("error")
    assert export["counts"]["screenings"] == 1
    head = services["s3"].head_object(Bucket=BUCKET, Key=export["key"])
    assert head["ContentLength"] > len(photo) // 2
