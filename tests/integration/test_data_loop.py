"""The data loop on the isolated local cloud: bench/data_loop.py screens two photos through the presigned
path, gives feedback with a pseudonymous subject_id, and the admin export it downloads carries that
subject_id and the camera in labels.csv (what the trainer groups folds and splits domains by)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fundus import encode, make_blank, make_fundus

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]


def test_feedback_subject_id_reaches_the_export(cloud: Any, api_url: str, admin_credentials: dict[str, str],
                                                 tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    (dataset / "images").mkdir(parents=True)
    (dataset / "images" / "7_0.jpg").write_bytes(encode(make_fundus(1200, 1000, seed=7), "JPEG"))
    (dataset / "images" / "8_0.jpg").write_bytes(encode(make_blank(800, 600), "JPEG"))  # the gate refuses it
    (dataset / "labels.csv").write_text("file,label,patient_group,quality_score\n"
                                        "images/7_0.jpg,glaucoma,7,6.1\nimages/8_0.jpg,normal,8,5.0\n")
    out = tmp_path / "export"
    env = {**os.environ, "PAPILA_STATE_DIR": str(cloud.handle.settings.state_dir),
           "PAPILA_ADMIN_USER": admin_credentials["username"], "PAPILA_ADMIN_PASSWORD": admin_credentials["password"]}
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "data_loop.py"), "--api", api_url, "--dataset", str(dataset),
         "--out", str(out), "--workers", "2", "--env-file", str(cloud.handle.env_file)],
        check=False, capture_output=True, text=True, timeout=240, env=env, cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    steps = {line["step"]: line for line in map(json.loads, run.stdout.splitlines())}
    assert steps["screen"]["screened"] == 2 and steps["screen"]["done"] == 1, steps["screen"]
    assert sum(steps["screen"]["rejected"].values()) == 1
    assert steps["feedback"]["given"] == 1 and steps["feedback"]["refused"] == {"not_ready": 1}
    assert steps["export"]["exported_images"] == 1 and steps["train"]["data"] == str(out)

    with (out / "labels.csv").open(newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["file", "label", "screening_id", "model_version", "subject_id", "camera"]
        rows = list(reader)
    assert [(r["label"], r["subject_id"], r["camera"]) for r in rows] == [
        ("glaucoma", "hygd-7", "Topcon DRI OCT Triton")]
    assert (out / rows[0]["file"]).is_file() and rows[0]["model_version"]
    meta = json.loads((out / "metadata.jsonl").read_text().splitlines()[0])
    assert meta["feedback"]["metadata"]["subject_id"] == "hygd-7"
    loop = [json.loads(line) for line in (out / "data_loop.jsonl").read_text().splitlines()]
    assert {(p["file"], p["status"], p["feedback"]) for p in loop} == {
        ("images/7_0.jpg", "done", "given"), ("images/8_0.jpg", "rejected", "not_ready")}
