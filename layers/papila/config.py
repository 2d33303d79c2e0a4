"""Settings, from environment variables only (the same names locally and in AWS).

`AWS_ENDPOINT_URL` is read by boto3 itself; no code here branches on "local"."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[2] / "weights" / "papila_vgg19_int8.tflite"


@dataclass(frozen=True)
class Settings:
    uploads_bucket: str
    inference_queue_url: str
    mongodb_uri: str
    mongodb_db: str
    model_path: Path
    max_receive_count: int
    presign_expires: int

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            uploads_bucket=env.get("UPLOADS_BUCKET", "papila-uploads"),
            inference_queue_url=env.get("INFERENCE_QUEUE_URL", ""),
            mongodb_uri=env.get("MONGODB_URI", "mongodb://127.0.0.1:27017"),
            mongodb_db=env.get("MONGODB_DB", "papila"),
            model_path=Path(env.get("MODEL_PATH") or DEFAULT_MODEL_PATH),
            max_receive_count=int(env.get("MAX_RECEIVE_COUNT", "3")),
            presign_expires=int(env.get("PRESIGN_EXPIRES", "900")),
        )
