"""Settings, from environment variables only (the same names locally and in AWS).

`AWS_ENDPOINT_URL` is read by boto3 itself; no code here branches on "local"."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")

# The checkout this package runs from (layers/papila/): its weights/ are the defaults outside the image.
REPOSITORY = Path(__file__).resolve().parents[2]
DEFAULT_MODEL_PATH = REPOSITORY / "weights" / "papila_vgg19_int8.tflite"

# Timing of the inference function, the queue and the worker's lease, from one number: the function
# timeout (template.yaml's InferenceTimeout, given to the function as FUNCTION_TIMEOUT). An attempt cannot
# outlive its invocation, so a lease of the timeout plus a margin outlasts any live attempt; the queue hides
# a message for at least VISIBILITY_FACTOR times the timeout (AWS guidance for SQS event sources), so the
# next receive of a message whose attempt died always finds the lease run out and takes it over.
LEASE_MARGIN_S = 5
# The model registry's pointer value (template.yaml: ModelVersionParameter) when the image's own model serves.
BAKED_MODEL = "baked"
VISIBILITY_FACTOR = 6


def lease_seconds(function_timeout_s: float) -> int:
    """The processing lease for an attempt of a function with this timeout (or remaining time)."""
    return math.ceil(function_timeout_s) + LEASE_MARGIN_S


def visibility_timeout(function_timeout_s: int) -> int:
    """The smallest queue visibility timeout that fits a function with this timeout."""
    return VISIBILITY_FACTOR * function_timeout_s


@dataclass(frozen=True)
class Settings:
    uploads_bucket: str
    inference_queue_url: str
    mongodb_uri: str
    mongodb_db: str
    model_path: Path
    max_receive_count: int
    presign_expires: int
    function_timeout: int | None = None  # seconds; None: not given, the Lambda context's remaining time stands in
    export_queue_url: str = ""  # the dataset exports' own queue; empty: exports are not offered (503)
    compare_queue_url: str = ""  # the model comparisons' own queue; empty: comparisons are not offered (503)
    model_parameter: str = ""  # the registry's "current" pointer (an SSM parameter); empty: the baked model only
    model_check_seconds: int = 300  # how often the inference function looks at the pointer

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            uploads_bucket=env.get("UPLOADS_BUCKET", "papila-uploads"),
            inference_queue_url=env.get("INFERENCE_QUEUE_URL", ""),
            mongodb_uri=env.get("MONGODB_URI", "mongodb://127.0.0.1:27017"),
            mongodb_db=env.get("MONGODB_DB", "papila"),
            model_path=Path(env.get("MODEL_PATH") or DEFAULT_MODEL_PATH),
            max_receive_count=int(env.get("MAX_RECEIVE_COUNT", "3")),
            presign_expires=int(env.get("PRESIGN_EXPIRES", "900")),
            function_timeout=int(env["FUNCTION_TIMEOUT"]) if env.get("FUNCTION_TIMEOUT") else None,
            export_queue_url=env.get("EXPORT_QUEUE_URL", ""),
            compare_queue_url=env.get("COMPARE_QUEUE_URL", ""),
            model_parameter=env.get("MODEL_PARAMETER", ""),
            model_check_seconds=int(env.get("MODEL_CHECK_SECONDS") or 300),
        )


class PerContainer(Generic[T]):
    """One object per container (process), made on first use: `service()` returns it, `service.reset()`
    forgets it (tests, a changed environment)."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._value: T | None = None

    def __call__(self) -> T:
        if self._value is None:
            self._value = self._make()
        return self._value

    def reset(self) -> None:
        self._value = None
