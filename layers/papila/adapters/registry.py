"""The model registry (adapter): every trained version under `models/<version>/` in the uploads bucket
(the serving files its card names, `model.json`, the card and its plots, the gate's numbers), and one
"current" pointer, an SSM parameter (template.yaml: ModelVersionParameter, MODEL_PARAMETER), saying which
version serves. "baked" (the parameter's initial value) means the version built into the inference image."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import boto3

from papila.adapters.aws import ImageBucket
from papila.config import BAKED_MODEL as BAKED

MODELS_PREFIX = "models/"
# The card, the gate's numbers, and which screenings/subjects trained it (so a comparison can hold them out).
EXTRA_FILES = ("MODEL_CARD.md", "fundus_gate.json", "training_set.json")
COMPARISON = "comparison.json"  # the latest comparison with the serving model (papila.usecases.compare)


@cache
def _ssm() -> Any:
    return boto3.client("ssm")


class RegistryError(ValueError):
    """A version that cannot be registered or promoted (no card, unknown version)."""


class ModelRegistry:
    def __init__(self, bucket: ImageBucket, parameter: str) -> None:
        self.bucket, self.parameter = bucket, parameter

    @staticmethod
    def files_of(card: dict[str, Any]) -> list[str]:
        """The files a version is made of: what its card names, the card, and the extras present."""
        names = [name for name in (card.get("files") or {}).values() if name]
        names += [name for name in (card.get("plots") or {}).values() if name]
        return ["model.json", *dict.fromkeys(names), *EXTRA_FILES]

    def register(self, folder: Path) -> str:
        """Upload a trained version (a release folder: model.json and its files); its version. The serving
        files must be there; a master file (training only) is left out."""
        card_file = folder / "model.json"
        if not card_file.exists():
            raise RegistryError(f"{folder} has no model.json")
        card = json.loads(card_file.read_text())
        version = card.get("model_version")
        if not isinstance(version, str) or not version or "/" in version or version == BAKED:
            raise RegistryError("model.json has no usable model_version")
        serving = (card.get("files") or {}).get("serving")
        if not serving or not (folder / serving).exists():
            raise RegistryError(f"{folder} lacks the serving model its card names ({serving})")
        master = (card.get("files") or {}).get("master")
        for name in self.files_of(card):
            path = folder / name
            if name != master and path.exists():
                self.bucket.put(f"{MODELS_PREFIX}{version}/{name}", path.read_bytes(), "application/octet-stream")
        return version

    def card(self, version: str) -> dict[str, Any] | None:
        data = self.bucket.get_if_exists(f"{MODELS_PREFIX}{version}/model.json")
        return None if data is None else json.loads(data)

    def versions(self) -> list[str]:
        return sorted({key[len(MODELS_PREFIX):].split("/", 1)[0] for key, _ in self.bucket.listing(MODELS_PREFIX)})

    def current(self) -> str:
        """The serving version (BAKED: the image's own)."""
        return _ssm().get_parameter(Name=self.parameter)["Parameter"]["Value"]

    def previous(self) -> str | None:
        """What the pointer held before its latest change (what a roll-back restores); None: never changed."""
        values: list[str] = []
        kwargs: dict[str, Any] = {"Name": self.parameter, "MaxResults": 50}
        while True:  # oldest first, paged
            page = _ssm().get_parameter_history(**kwargs)
            values += [entry["Value"] for entry in page.get("Parameters", [])]
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
        return values[-2] if len(values) >= 2 else None

    def training_set(self, version: str) -> dict[str, Any] | None:
        """{"screening_ids": [...], "subject_ids": [...]} the version was trained on, when it says."""
        data = self.bucket.get_if_exists(f"{MODELS_PREFIX}{version}/training_set.json")
        return None if data is None else json.loads(data)

    def comparison(self, version: str) -> dict[str, Any] | None:
        data = self.bucket.get_if_exists(f"{MODELS_PREFIX}{version}/{COMPARISON}")
        return None if data is None else json.loads(data)

    def save_comparison(self, version: str, body: dict[str, Any]) -> None:
        self.bucket.put(f"{MODELS_PREFIX}{version}/{COMPARISON}", json.dumps(body).encode(), "application/json")

    def promote(self, version: str) -> str:
        """Point the inference function at `version` (or BAKED); the version it pointed at before."""
        if version != BAKED and self.card(version) is None:
            raise RegistryError(f"no registered version {version!r}")
        previous = self.current()
        _ssm().put_parameter(Name=self.parameter, Value=version, Type="String", Overwrite=True)
        return previous

    def fetch(self, version: str, into: Path) -> Path:
        """The version's files under `into/<version>/` (downloaded once); the path of its serving model."""
        card = self.card(version)
        if card is None:
            raise RegistryError(f"no registered version {version!r}")
        folder = into / version
        folder.mkdir(parents=True, exist_ok=True)
        master = (card.get("files") or {}).get("master")
        for name in self.files_of(card):
            target = folder / name
            if name == master or target.exists():
                continue
            data = self.bucket.get_if_exists(f"{MODELS_PREFIX}{version}/{name}")
            if data is not None:  # whole or not at all: another process may be reading the same folder
                partial = target.with_name(f".{name}.{os.getpid()}")
                partial.write_bytes(data)
                partial.replace(target)
        return folder / card["files"]["serving"]
