"""The managed training job (issue 14, item 5) on moto's S3 and SSM: a dataset export in the bucket goes
through `papila train` (the command line itself) and comes out as a registered candidate with the ids it
was trained on, the pointer untouched; an export that would write outside its folder is refused before
anything is written; `papila model train-job` hands its options to the job."""

from __future__ import annotations

import csv
import io
import json
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
from papila.adapters import registry as registry_mod
from papila.adapters.aws import ImageBucket
from papila.adapters.registry import BAKED, ModelRegistry
from papila.cli import main as papila
from papila.core.exports import LABELS_COLUMNS
from papila.model.serving.card import DISC_CUP_NAME
from papila.model.training import job
from papila.model.training.job import TRAINING_SET, JobError, run_job
from PIL import Image, ImageDraw

from tests.fundus import make_fundus

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = ROOT / "weights"
# One final fit, no cross-validation (about 40 s on 2 cores): `--folds 2` adds two more VGG19 fits, their
# int8 copies and two fold U-Nets (minutes), none of which is the job's concern (test_model.py trains so).
TINY = ["--epochs", "1", "--folds", "1", "--size", "32", "--batch", "4", "--seg-epochs", "1"]


@pytest.fixture
def registry(aws, monkeypatch) -> ModelRegistry:
    """The registry on the moto bucket and the pointer template.yaml makes (initially "baked")."""
    import boto3

    registry_mod._ssm.cache_clear()
    boto3.client("ssm").put_parameter(Name="papila-model-version", Value=BAKED, Type="String")
    monkeypatch.setenv("MODEL_PARAMETER", "papila-model-version")
    yield ModelRegistry(ImageBucket(aws.bucket), "papila-model-version")
    registry_mod._ssm.cache_clear()


def _png(cup: float, seed: int) -> bytes:
    """A served-square crop: a disc with a small (normal) or large (glaucoma) pale cup."""
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", (96, 96), (150, 60, 30))
    d = ImageDraw.Draw(im)
    r = 30 + int(rng.integers(-3, 3))
    d.ellipse((48 - r, 48 - r, 48 + r, 48 + r), fill=(230, 170, 100))
    c = int(r * cup)
    d.ellipse((48 - c, 48 - c, 48 + c, 48 + c), fill=(250, 235, 200))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def export_zip(per_class: int = 6, extra: dict[str, bytes] | None = None) -> tuple[bytes, list[dict[str, str]]]:
    """A dataset export as the export function writes it (papila.core.exports): crops under glaucoma/ and
    normal/, labels.csv, originals/ and metadata.jsonl; two eyes per person."""
    rows, files = [], {}
    for label, cup in (("normal", 0.3), ("glaucoma", 0.75)):
        for i in range(per_class):
            sid = f"{label[0]}{i:03d}-0000-4000-8000-000000000000"
            files[f"{label}/{sid}.png"] = _png(cup, i + (100 if cup > 0.5 else 0))
            files[f"originals/{label}/{sid}.png"] = b"not read by training"
            rows.append({"file": f"{label}/{sid}.png", "label": label, "screening_id": sid, "model_version": "baked",
                         "subject_id": f"{label}-person-{i // 2}" if i < 4 else "", "camera": "Topcon"})
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=LABELS_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    files["labels.csv"] = table.getvalue().encode()
    files["metadata.jsonl"] = b"".join(json.dumps({"id": r["screening_id"]}).encode() + b"\n" for r in rows)
    files.update(extra or {})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, body in files.items():
            zf.writestr(name, body)
    return buf.getvalue(), rows


def disc_centres_zip(n: int = 4) -> bytes:
    """Whole photos with expert disc centres (Drishti-GS1 layout): what the release's fold U-Nets learn
    from, since an export carries no expert masks."""
    buf, items = io.BytesIO(), []
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(n):
            w, h, disc = 480, 400, (330 - 10 * i, 190 + 8 * i)
            photo = io.BytesIO()
            make_fundus(w, h, disc_xy=disc, seed=i).save(photo, "JPEG")
            zf.writestr(f"images/p{i}.jpg", photo.getvalue())
            items.append({"file": f"images/p{i}.jpg", "width": w, "height": h, "disc_center_x": disc[0],
                          "disc_center_y": disc[1], "disc_diameter": 0.45 * h * 2 / 6,
                          "cdr_experts": [0.4 + 0.1 * i, 0.42 + 0.1 * i]})
        zf.writestr("discs.json", json.dumps(items))
    return buf.getvalue()


def _keys(aws, prefix: str) -> set[str]:
    return {o["Key"] for o in aws.s3.list_objects_v2(Bucket=aws.bucket, Prefix=prefix).get("Contents", [])}


def test_the_job_trains_on_an_export_and_registers_a_candidate(registry, aws, tmp_path):
    body, rows = export_zip()
    aws.s3.put_object(Bucket=aws.bucket, Key="exports/e1.zip", Body=body)
    aws.s3.put_object(Bucket=aws.bucket, Key="training/disc-centres.zip", Body=disc_centres_zip())

    out = run_job("exports/e1.zip", registry.bucket, registry, tmp_path / "work", TINY, WEIGHTS,
                  disc_centres_key="training/disc-centres.zip")

    version = out["registered"]
    assert out["export"] == "exports/e1.zip" and out["images"] == len(rows) == 12 and out["train_seconds"] > 0
    assert registry.versions() == [version] and registry.card(version)["model_version"] == version
    card = registry.card(version)
    keys = _keys(aws, f"models/{version}/")
    assert {f"models/{version}/{name}" for name in ("model.json", card["files"]["serving"], DISC_CUP_NAME,
                                                     TRAINING_SET)} <= keys
    assert not any(k.endswith(".npz") for k in keys)  # the training master stays out
    # The base weights' U-Net is kept (as `papila train` keeps the one OUT has), not refitted.
    kept = aws.s3.get_object(Bucket=aws.bucket, Key=f"models/{version}/{DISC_CUP_NAME}")["Body"].read()
    assert kept == (WEIGHTS / DISC_CUP_NAME).read_bytes()
    trained_on = json.loads(aws.s3.get_object(Bucket=aws.bucket, Key=f"models/{version}/{TRAINING_SET}")["Body"].read())
    assert trained_on["export"] == "exports/e1.zip"
    assert trained_on["screening_ids"] == sorted(r["screening_id"] for r in rows)
    assert trained_on["subject_ids"] == sorted({r["subject_id"] for r in rows if r["subject_id"]})
    assert card["training_data"]  # the card says what it learned from
    # A candidate: the pointer still names what served before.
    assert registry.current() == BAKED
    # Only what training reads was extracted (not the originals).
    assert not (tmp_path / "work" / "data" / "originals").exists()


def _zip(members: dict[str, bytes], link: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, body in members.items():
            zf.writestr(name, body)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


@pytest.mark.parametrize("unsafe", ["../escaped.txt", "glaucoma/../../escaped.txt", "/tmp/escaped.txt",
                                    "link", "C:/escaped.txt"])
def test_an_export_that_would_write_outside_its_folder_is_refused(registry, aws, tmp_path, unsafe):
    body, _ = export_zip(per_class=2)
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    if unsafe == "link":
        hostile = _zip(members, link="glaucoma/evil.png")
    else:
        hostile = _zip({**members, unsafe: b"pwned"})
    aws.s3.put_object(Bucket=aws.bucket, Key="exports/bad.zip", Body=hostile)
    work = tmp_path / "deep" / "work"
    with pytest.raises(JobError, match="zip"):
        run_job("exports/bad.zip", registry.bucket, registry, work, TINY, WEIGHTS)
    assert not list(tmp_path.rglob("escaped.txt")) and not (work / "data" / "glaucoma").exists()
    assert registry.versions() == [] and registry.current() == BAKED


def test_the_same_archive_without_the_hostile_member_extracts(tmp_path):
    """The refusal above is about the member, not the archive: the checker lets a plain export through."""
    body, rows = export_zip(per_class=2)
    (tmp_path / "e.zip").write_bytes(body)
    written = job.safe_extract(tmp_path / "e.zip", tmp_path / "data", ("labels.csv", "glaucoma/", "normal/"))
    assert sorted(p.relative_to(tmp_path / "data").as_posix() for p in written) == sorted(
        ["labels.csv", *(r["file"] for r in rows)])


def test_a_disc_centres_zip_without_discs_json_is_an_error(registry, aws, tmp_path):
    aws.s3.put_object(Bucket=aws.bucket, Key="exports/e2.zip", Body=export_zip(per_class=2)[0])
    aws.s3.put_object(Bucket=aws.bucket, Key="training/other.zip", Body=_zip({"images/p0.jpg": b"jpeg"}))
    with pytest.raises(JobError, match="discs.json"):
        run_job("exports/e2.zip", registry.bucket, registry, tmp_path, TINY, WEIGHTS,
                disc_centres_key="training/other.zip")
    with pytest.raises(JobError, match="training/none.zip"):
        run_job("exports/e2.zip", registry.bucket, registry, tmp_path, TINY, WEIGHTS,
                disc_centres_key="training/none.zip")
    (tmp_path / "empty").mkdir()
    with pytest.raises(JobError, match=DISC_CUP_NAME):  # base weights without the U-Net to keep
        run_job("exports/e2.zip", registry.bucket, registry, tmp_path / "w", TINY, tmp_path / "empty")
    assert registry.versions() == []


def test_a_missing_export_or_not_an_export_is_an_error(registry, aws, tmp_path):
    with pytest.raises(JobError, match="exports/none.zip"):
        run_job("exports/none.zip", registry.bucket, registry, tmp_path, TINY, WEIGHTS)
    with pytest.raises(JobError, match="not a dataset export key"):
        run_job("models/v1/model.json", registry.bucket, registry, tmp_path, TINY, WEIGHTS)
    aws.s3.put_object(Bucket=aws.bucket, Key="exports/plain.zip", Body=_zip({"glaucoma/a.png": _png(0.7, 1)}))
    with pytest.raises(JobError, match="labels.csv"):
        run_job("exports/plain.zip", registry.bucket, registry, tmp_path, TINY, WEIGHTS)
    assert registry.versions() == []


def test_the_command_hands_its_options_to_the_job(registry, aws, monkeypatch, tmp_path, capsys):
    calls = []

    def fake(key, bucket, reg, work, train_args, base_weights, *, disc_centres_key=None):
        calls.append((key, bucket.bucket, reg.parameter, train_args, base_weights, disc_centres_key))
        return {"registered": "v9", "export": key, "images": 3, "train_seconds": 1.0}

    monkeypatch.setattr(job, "run_job", fake)
    monkeypatch.setenv("MODEL_PATH", str(WEIGHTS / "papila_vgg19_int8.tflite"))
    assert papila(["model", "train-job", "--export-id", "e7", "--epochs", "3", "--folds", "2", "--size", "64",
                   "--json"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed == {"registered": "v9", "export": "exports/e7.zip", "images": 3, "train_seconds": 1.0,
                       "serving": BAKED}
    # No disc-centres zip in the bucket: none is asked for.
    assert calls[-1] == ("exports/e7.zip", aws.bucket, "papila-model-version",
                         ["--epochs", "3", "--folds", "2", "--size", "64"], WEIGHTS, None)
    aws.s3.put_object(Bucket=aws.bucket, Key="training/disc-centres.zip", Body=b"zip")
    assert papila(["model", "train-job", "--export-id", "e8", "--json"]) == 0
    assert calls[-1][3] == [] and calls[-1][5] == "training/disc-centres.zip"
    assert papila(["model", "train-job", "--json"]) == 2  # which export?
    assert len(calls) == 2


def test_the_command_reports_a_missing_export(registry, capsys, tmp_path):
    assert papila(["model", "train-job", "--export-id", "nope", "--work", str(tmp_path), "--json"]) == 2
    assert "exports/nope.zip" in capsys.readouterr().err
