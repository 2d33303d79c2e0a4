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


@pytest.mark.timeout(900)
def test_the_whole_loop_train_compare_promote_roll_back(cloud: Any, api_url: str, admin_credentials: dict[str, str],
                                                        tmp_path: Path) -> None:
    """Issue 14 at small scale: labelled photos screened and confirmed, exported, a tiny model trained on the
    export and registered, compared with the serving model on the people held out of its training, promoted
    (the next screening is graded by it) and rolled back; the monitoring figures equal `papila evaluate`'s."""
    dataset = tmp_path / "dataset"
    (dataset / "images").mkdir(parents=True)
    rows = ["file,label,patient_group,quality_score"]
    for person in range(8):
        label = "glaucoma" if person in (1, 2, 3, 4) else "normal"  # held out (every 4th): 3 and 7
        for eye in range(2):
            name = f"images/{person}_{eye}.jpg"
            (dataset / name).write_bytes(encode(make_fundus(1000, 840, seed=100 + 2 * person + eye), "JPEG"))
            rows.append(f"{name},{label},{person},6.0")
    (dataset / "labels.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "export"
    env = {**os.environ, "PAPILA_STATE_DIR": str(cloud.handle.settings.state_dir),
           "PAPILA_ADMIN_USER": admin_credentials["username"], "PAPILA_ADMIN_PASSWORD": admin_credentials["password"]}
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "data_loop.py"), "--api", api_url, "--dataset", str(dataset),
         "--out", str(out), "--workers", "2", "--env-file", str(cloud.handle.env_file), "--loop",
         "--hold-out", "0.25", "--train-args", "--epochs 1 --folds 1 --size 32", "--switch-timeout", "120"],
        check=False, capture_output=True, text=True, timeout=840, env=env, cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    steps = {line["step"]: line for line in map(json.loads, run.stdout.splitlines())}
    assert steps["screen"]["done"] == 16, steps["screen"]
    assert steps["feedback"]["given"] == 12 and steps["export"]["exported_images"] == 12  # 2 people held out
    assert steps["monitoring"]["equal"], steps["monitoring"]
    candidate = steps["train"]["registered"]
    assert steps["held_out_feedback"]["given"] == 4

    compare = steps["compare"]
    assert compare["status"] == "done", compare
    assert compare["cases"]["excluded_training"] == 12 and compare["cases"]["held_out"] >= 4
    assert compare["candidate"]["model_version"] == candidate and compare["current"]["model_version"] != candidate
    assert compare["candidate"]["n"] == compare["current"]["n"] == compare["cases"]["graded"]

    assert steps["promote"]["serving"] == candidate and steps["promote"]["graded_by"] == candidate
    assert steps["rollback"]["previous"] == candidate
    assert steps["rollback"]["graded_by"] not in (None, candidate)
