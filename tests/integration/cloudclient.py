"""Talking to the running local cloud the way clients do: the HTTP API, the presigned S3 POST, polling,
and S3 event messages as S3 itself sends them (used by the integration tests and bench/e2e.py)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from infra.localcloud import LocalCloud, Settings

TERMINAL = {"done", "rejected", "failed"}


class ApiClient:
    """Keeps each screening's secret from its create, and sends it with the calls about it, as the SPA does."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.http = requests.Session()
        self.secrets: dict[str, str] = {}

    def owner(self, screening_id: str) -> dict[str, str]:
        """The header that proves this client made the screening (none if it did not)."""
        secret = self.secrets.get(screening_id)
        return {"X-Screening-Secret": secret} if secret else {}

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def create(self, *, filename: str, content_type: str, data: bytes | None = None, inline: bool = False,
               crop: dict[str, int] | None = None, **extra: Any) -> requests.Response:
        body: dict[str, Any] = {"filename": filename, "content_type": content_type, "consent": True, **extra}
        if data is not None:
            body["size"] = len(data)
            if inline:
                body["image_base64"] = base64.b64encode(data).decode()
        if crop is not None:
            body["crop"] = crop
        r = self.http.post(self.url("/api/screenings"), json=body, timeout=30)
        if r.status_code in (201, 202):
            self.secrets[r.json()["id"]] = r.json()["secret"]
        return r

    def feedback(self, screening_id: str, body: dict[str, Any]) -> requests.Response:
        return self.http.put(self.url(f"/api/screenings/{screening_id}/feedback"), json=body,
                             headers=self.owner(screening_id), timeout=10)

    def rerun(self, screening_id: str, body: dict[str, Any]) -> requests.Response:
        return self.http.post(self.url(f"/api/screenings/{screening_id}/rerun"), json=body,
                              headers=self.owner(screening_id), timeout=10)

    def upload(self, upload: dict[str, Any], data: bytes, filename: str, content_type: str) -> requests.Response:
        """The browser's multipart POST to the presigned S3 form (fields first, the file last)."""
        return requests.post(upload["url"], data=upload["fields"], files={"file": (filename, data, content_type)},
                             timeout=30)

    def get(self, screening_id: str) -> dict[str, Any]:
        r = self.http.get(self.url(f"/api/screenings/{screening_id}"), headers=self.owner(screening_id), timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def wait(self, screening_id: str, statuses: set[str] = TERMINAL, timeout: float = 90) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        record = self.get(screening_id)
        while record["status"] not in statuses:
            assert time.monotonic() < deadline, f"still {record['status']} after {timeout} s: {record}"
            time.sleep(0.2)
            record = self.get(screening_id)
        return record

    def screen_presigned(self, data: bytes, filename: str = "eye.jpg", content_type: str = "image/jpeg",
                         **extra: Any) -> dict[str, Any]:
        r = self.create(filename=filename, content_type=content_type, data=data, **extra)
        assert r.status_code == 201, r.text
        created = r.json()
        up = self.upload(created["upload"], data, filename, content_type)
        assert up.status_code in (200, 201, 204), up.text
        return self.wait(created["id"])



def s3_event(bucket: str, key: str, size: int = 1024) -> str:
    """The body S3 sends to the queue for one ObjectCreated:Post (keys URL-encoded, as AWS does)."""
    from urllib.parse import quote_plus

    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": now,
        "eventName": "ObjectCreated:Post",
        "userIdentity": {"principalId": "AWS:EXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16], "x-amz-id-2": "example"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "integration-test",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "EXAMPLE"}, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": quote_plus(key, safe="/"), "size": size, "eTag": uuid.uuid4().hex,
                       "sequencer": uuid.uuid4().hex[:18].upper()},
        },
    }]})


def wait_queue_drained(sqs: Any, queue_url: str, timeout: float = 60) -> None:
    """Until no message waits or is in flight (checked twice: the counts are approximate)."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 2:
        assert time.monotonic() < deadline, "the inference queue did not drain"
        attrs = sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        busy = int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])
        quiet = quiet + 1 if busy == 0 else 0
        time.sleep(0.5)


@contextlib.contextmanager
def supervised_cloud(base_port: int, state_dir: Path, run_dir: Path, mongo_db: str,
                     tick: float = 0.25) -> Iterator[LocalCloud]:
    """A local cloud on its own ports (base, base+80, 27017/4566/5001 + base-8000) and folders, with the
    supervisor (`LocalCloud.supervise`, what `make up` runs) in a thread, so killing
    its processes never touches another cloud (the resilience and chaos tests, bench/chaos.py)."""
    settings = Settings.from_env(
        api_port=base_port, spa_port=base_port + 80, mongo_port=27017 + base_port - 8000,
        localstack_port=4566 + base_port - 8000, cognito_port=5001 + base_port - 8000,
        state_dir=state_dir, run_dir=run_dir, mongo_db=mongo_db, persist=False, spa=False,
    )
    cloud = LocalCloud(settings)
    cloud.start()
    stop = threading.Event()
    thread = threading.Thread(target=cloud.supervise, args=(stop.is_set, tick), name="supervisor", daemon=True)
    thread.start()
    try:
        yield cloud
    finally:
        stop.set()
        thread.join(timeout=180)
        cloud.stop(save=False)


def papila_model(cloud: Any, *args: str) -> dict[str, Any]:
    """`papila model ARGS --json` against the cloud (its bucket and pointer), as an operator runs it."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"), **cloud.env}
    run = subprocess.run([sys.executable, "-m", "papila.cli", "model", *args, "--json"], env=env,
                         cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=120,
                         check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])
