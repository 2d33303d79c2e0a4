"""The data loop, run for real: labelled photos enter through the product itself and leave as a training export.

    .venv/bin/python bench/data_loop.py [--api http://127.0.0.1:8000] [--dataset ../shared/datasets/hygd-dev]
        [--out .localdata/exports/hygd] [--limit N] [--workers 4] [--loop [--hold-out 0.2] [--train-args ARGS]]

Against a running local cloud (`make up`). For every photo of the dataset (HYGD dev: `labels.csv` with
`file,label,patient_group,quality_score`):
1. screen: POST /api/screenings in presigned mode (filename, content_type, size, consent), the multipart
   POST of the file to the returned S3 form, then polls GET /api/screenings/{id} until done | rejected |
   failed. Rejected and failed screenings are counted by their error code.
2. feedback: PUT /api/screenings/{id}/feedback with `true_label` = the dataset's label,
   `diagnosis_correct` = (the model's label == the truth), null when not done, and metadata
   `{"subject_id": "hygd-<patient_group>", "camera": "Topcon DRI OCT Triton"}`, so training folds can be
   grouped by person and metrics split by camera. The API accepts feedback on done screenings only; the
   refusals are counted by their error code.
3. export: signed in as the local admin (the code path of `python -m infra.cognito token`: the cloud's
   `.run/env` and the admin password of `make up`), POST /api/admin/exports for the screenings created
   by this run, polls it until done, downloads the zip and unpacks it into `--out` (its previous
   contents are replaced, when they are an earlier export).

With `--loop`, the rest of the loop as an administrator runs it (issue 14), each step through the product:
4. train: `papila model train-job --export-id ID` (the managed training job's command, here on this
   machine: `--train-args` passes e.g. a tiny `--epochs 1 --size 32`) trains on the export and registers a
   candidate. The photos of `--hold-out` of the people get their feedback only now, after the export.
5. compare: POST /api/admin/models/{candidate}/comparison, polled until the compare function is done: both
   models on the confirmed cases held out from the candidate's training (AUC, sensitivity, specificity).
6. promote: POST .../promote, then one photo screened again until a result says the candidate graded it
   (the inference function follows the pointer within MODEL_CHECK_SECONDS); 7. rollback: the same back.
Before the held-out feedback, `monitoring` compares GET /api/admin/monitoring's figures for this run's
confirmed cases with `papila evaluate --export` on the export (the stored probabilities, by camera).

Prints one JSON line per step (counts and seconds), then the folder to pass to `papila train --data`.
The screen step also gives the served path's figures on these photos: `auc_done` (graded photos),
`sensitivity` (refused glaucoma photos count as misses), `specificity` (graded normal photos).
`data_loop.jsonl` in the output folder holds one line per photo (file, truth, subject, screening id,
status, error code, probability, label). Exits 2 when the dataset folder or the API is absent.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATASET = ROOT.parent / "shared" / "datasets" / "hygd-dev"
DEFAULT_OUT = ROOT / ".localdata" / "exports" / "hygd"
CAMERA = "Topcon DRI OCT Triton"
SUBJECT_PREFIX = "hygd-"
TERMINAL = ("done", "rejected", "failed")
CONTENT_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".tif": "image/tiff",
                 ".tiff": "image/tiff"}
POLL_S = 0.25
EXPORT_MARKERS = ("labels.csv", "metadata.jsonl", "data_loop.jsonl", "glaucoma", "normal", "originals")


class Absent(SystemExit):
    """Something the loop needs is not there: say what, exit 2."""

    def __init__(self, message: str) -> None:
        print(f"data_loop: {message}", file=sys.stderr)
        super().__init__(2)


@dataclass
class Photo:
    file: str
    path: Path
    label: str
    subject_id: str
    screening_id: str | None = None
    secret: str | None = None  # the screening's secret from its create: feedback needs it
    status: str | None = None
    error_code: str | None = None
    probability: float | None = None
    result_label: str | None = None
    feedback: str | None = None  # "given" or the API's error code


def emit(step: str, started: float, **fields: Any) -> None:
    print(json.dumps({"step": step, **fields, "seconds": round(time.monotonic() - started, 2)}), flush=True)


def read_dataset(folder: Path, limit: int | None) -> list[Photo]:
    labels = folder / "labels.csv"
    if not labels.is_file():
        raise Absent(f"no dataset at {folder} (expected labels.csv and images/; see ../shared/datasets/README.md)")
    photos = []
    with labels.open(newline="") as f:
        for row in csv.DictReader(f):
            path = folder / row["file"]
            if row["label"] not in ("glaucoma", "normal"):
                continue
            if not path.is_file():
                raise Absent(f"{path} is listed in {labels} but missing")
            photos.append(Photo(row["file"], path, row["label"], f"{SUBJECT_PREFIX}{row['patient_group']}"))
    if not photos:
        raise Absent(f"{labels} lists no glaucoma/normal photos")
    return photos[:limit] if limit else photos


# ---------------------------------------------------------------- HTTP


class Api:
    def __init__(self, base: str, timeout: float) -> None:
        self.base = base.rstrip("/")
        self.timeout = timeout
        self._local = threading.local()

    @property
    def http(self) -> requests.Session:  # one session per thread: requests' Session is not thread-safe
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def check(self) -> dict[str, Any]:
        try:
            r = self.http.get(self.url("/api/health"), timeout=10)
        except requests.ConnectionError:
            raise Absent(f"no API answers at {self.base}: start the local cloud with `make up` (or pass --api URL)") \
                from None
        if r.status_code != 200:
            raise Absent(f"{self.base}/api/health answered {r.status_code}: {r.text[:300]}")
        return r.json()

    def screen(self, photo: Photo) -> Photo:
        data = photo.path.read_bytes()
        content_type = CONTENT_TYPES[photo.path.suffix.lower()]
        name = photo.path.name
        # The Idempotency-Key makes a retried create (a lost answer) the same screening.
        r = self.http.post(self.url("/api/screenings"), json={
            "filename": name, "content_type": content_type, "size": len(data), "consent": True},
            headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=30)
        if r.status_code != 201:
            photo.status, photo.error_code = "not_created", _code(r)
            return photo
        created = r.json()
        photo.screening_id, photo.secret = created["id"], created["secret"]
        form = created["upload"]
        up = requests.post(form["url"], data=form["fields"], files={"file": (name, data, content_type)}, timeout=60)
        if up.status_code not in (200, 201, 204):
            photo.status, photo.error_code = "upload_failed", f"s3_{up.status_code}"
            return photo
        deadline = time.monotonic() + self.timeout
        while True:
            record = self.http.get(self.url(f"/api/screenings/{photo.screening_id}"), timeout=30).json()
            if record.get("status") in TERMINAL:
                break
            if time.monotonic() > deadline:
                photo.status = "timeout"
                return photo
            time.sleep(POLL_S)
        photo.status = record["status"]
        if photo.status == "done":
            photo.probability = record["result"]["probability_glaucoma"]
            photo.result_label = record["result"]["label"]
        else:
            photo.error_code = (record.get("error") or {}).get("code") or photo.status
        return photo

    def give_feedback(self, photo: Photo) -> Photo:
        body = {
            "diagnosis_correct": (photo.result_label == photo.label) if photo.status == "done" else None,
            "true_label": photo.label,
            "metadata": {"subject_id": photo.subject_id, "camera": CAMERA},
        }
        r = self.http.put(self.url(f"/api/screenings/{photo.screening_id}/feedback"), json=body,
                          headers={"X-Screening-Secret": photo.secret or ""}, timeout=30)
        photo.feedback = "given" if r.status_code == 200 else _code(r)
        return photo


def _code(r: requests.Response) -> str:
    try:
        return str(r.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return f"http_{r.status_code}"


# ---------------------------------------------------------------- admin sign-in and the export


def admin_token(env_file: Path) -> str:
    """A fresh access token of the running cloud's admin, as `python -m infra.cognito token` makes it."""
    if not env_file.is_file():
        raise Absent(f"no {env_file}: the local cloud writes it on `make up` (or pass --env-file)")
    sys.path.insert(0, str(ROOT))
    from infra import cognito

    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    if "COGNITO_ENDPOINT" not in env or "COGNITO_APP_CLIENT_ID" not in env:
        raise Absent(f"{env_file} names no Cognito endpoint / app client: is `make up` running?")
    state_dir = Path(os.environ.get("PAPILA_STATE_DIR", ROOT / ".localdata"))
    username = os.environ.get("PAPILA_ADMIN_USER", cognito.DEFAULT_ADMIN_USER)
    tokens = cognito.sign_in(env["COGNITO_ENDPOINT"], env["COGNITO_APP_CLIENT_ID"], username,
                             cognito.admin_password(state_dir), env.get("COGNITO_REGION", cognito.REGION))
    return tokens["AccessToken"]


def run_export(api: Api, token: str, since: datetime, timeout: float) -> tuple[dict[str, Any], bytes]:
    headers = {"Authorization": f"Bearer {token}"}
    body = {"from": since.isoformat(timespec="seconds").replace("+00:00", "Z")}
    r = api.http.post(api.url("/api/admin/exports"), json=body, headers=headers, timeout=30)
    if r.status_code != 202:
        raise SystemExit(f"data_loop: POST /api/admin/exports answered {r.status_code}: {r.text[:300]}")
    export_id = r.json()["id"]
    deadline = time.monotonic() + timeout
    while True:
        r = api.http.get(api.url(f"/api/admin/exports/{export_id}"), headers=headers, timeout=30)
        if r.status_code != 200:
            raise SystemExit(f"data_loop: GET /api/admin/exports/{export_id} answered {r.status_code}: {r.text[:300]}")
        status = r.json()
        if status["status"] in ("done", "failed", "expired"):
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"data_loop: export {export_id} still {status['status']} after {timeout:.0f} s")
        time.sleep(0.5)
    if status["status"] != "done":
        raise SystemExit(f"data_loop: export {export_id} ended {status['status']}: {status.get('error')}")
    download = requests.get(status["download_url"], timeout=600)
    if download.status_code != 200:
        raise SystemExit(f"data_loop: the export download answered {download.status_code}")
    return status, download.content


def check_out(out: Path) -> None:
    """Before any work: `--out` is absent, empty, or an earlier export (which the new one replaces)."""
    if out.exists() and (not out.is_dir() or not all(p.name in EXPORT_MARKERS for p in out.iterdir())):
        raise SystemExit(f"data_loop: {out} holds files that are not an earlier export; choose another --out")


def unpack(data: bytes, out: Path) -> dict[str, int]:
    check_out(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    root = out.resolve()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if not (root / name).resolve().is_relative_to(root):
                raise SystemExit(f"data_loop: the export holds an unsafe path {name!r}")
        archive.extractall(out)
    with (out / "labels.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    return {
        "rows": len(rows),
        "glaucoma": len(list((out / "glaucoma").glob("*.png"))),
        "normal": len(list((out / "normal").glob("*.png"))),
        "originals": sum(1 for p in (out / "originals").rglob("*") if p.is_file()) if (out / "originals").is_dir()
        else 0,
        "subjects": len({r["subject_id"] for r in rows if r.get("subject_id")}),
        "without_subject": sum(1 for r in rows if not r.get("subject_id")),
    }


# ---------------------------------------------------------------- figures of the served path


def auc(scores: list[tuple[float, bool]]) -> float | None:
    """Mann-Whitney AUC (ties count half) of probability vs glaucoma; None without both classes."""
    pos = [s for s, y in scores if y]
    neg = [s for s, y in scores if not y]
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return round(wins / (len(pos) * len(neg)), 4)


def served_figures(photos: list[Photo]) -> dict[str, Any]:
    """The served path on these photos: AUC over the graded ones, sensitivity with refused glaucoma photos
    counted as misses, specificity over the graded normal ones (as `papila evaluate --photos` counts)."""
    done = [p for p in photos if p.status == "done"]
    glaucoma = [p for p in photos if p.label == "glaucoma"]
    graded_normal = [p for p in done if p.label == "normal"]
    return {
        "auc_done": auc([(p.probability, p.label == "glaucoma") for p in done if p.probability is not None]),
        "agree": sum(p.result_label == p.label for p in done),
        "sensitivity": round(sum(p.result_label == "glaucoma" for p in glaucoma) / len(glaucoma), 4)
        if glaucoma else None,
        "specificity": round(sum(p.result_label == "normal" for p in graded_normal) / len(graded_normal), 4)
        if graded_normal else None,
    }


# ---------------------------------------------------------------- the rest of the loop (--loop)


def held_out_subjects(photos: list[Photo], fraction: float) -> set[str]:
    """Every 1/fraction-th person (sorted, so a rerun holds out the same people)."""
    if fraction <= 0:
        return set()
    subjects = sorted({p.subject_id for p in photos})
    step = max(1, round(1 / fraction))
    return set(subjects[step - 1::step])


def cloud_env(env_file: Path) -> dict[str, str]:
    """This process's environment plus the local cloud's (bucket, pointer, endpoint) for `papila`."""
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    return {**os.environ, **env}


def papila(args: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    run = subprocess.run([sys.executable, "-m", "papila.cli", *args, "--json"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=timeout, check=False)
    if run.returncode != 0:
        raise SystemExit(f"data_loop: papila {' '.join(args[:3])} failed: {run.stderr[-2000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


class Admin:
    """The admin API with a bearer token."""

    def __init__(self, api: Api, token: str) -> None:
        self.api, self.headers = api, {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, expect: int = 200, **kw: Any) -> dict[str, Any]:
        r = self.api.http.request(method, self.api.url(path), headers=self.headers, timeout=60, **kw)
        if r.status_code != expect:
            raise SystemExit(f"data_loop: {method} {path} answered {r.status_code}: {r.text[:300]}")
        return r.json()


def monitoring_matches_evaluate(admin: Admin, since: datetime, out: Path, env: dict[str, str]) -> dict[str, Any]:
    """This run's confirmed cases, as the monitoring endpoint and as `papila evaluate --export` see them."""
    q = since.isoformat(timespec="seconds").replace("+00:00", "Z")
    monitored = admin.call("GET", f"/api/admin/monitoring?from={q}")["by_version"]
    evaluated = papila(["evaluate", "--export", str(out), "--stored", "--by", "camera"], env, 600)
    pairs = []
    for row in monitored:
        offline = (evaluated.get("by") or {}).get(row["camera"]) or {}
        pairs.append({"model_version": row["model_version"], "camera": row["camera"], "confirmed": row["confirmed"],
                      **{k: [row[k], offline.get(k)] for k in ("auc", "sensitivity", "specificity")}})
    def same(a: float | None, b: float | None) -> bool:
        return a is None and b is None or (a is not None and b is not None and abs(a - b) < 1e-9)

    equal = bool(pairs) and all(same(*p[k]) for p in pairs for k in ("auc", "sensitivity", "specificity"))
    return {"equal": equal, "figures": pairs}


def wait_comparison(admin: Admin, version: str, timeout: float) -> dict[str, Any]:
    admin.call("POST", f"/api/admin/models/{version}/comparison", expect=202)
    deadline = time.monotonic() + timeout
    while True:
        state = admin.call("GET", f"/api/admin/models/{version}/comparison")
        if state["status"] in ("done", "failed") or time.monotonic() > deadline:
            return state
        time.sleep(1)


def graded_by(api: Api, probe: Photo, version: str, timeout: float) -> tuple[str | None, int]:
    """Screen the probe photo again until a result names `version` (the pointer is followed within the
    inference function's check interval); the last version seen and how many screenings it took."""
    deadline, tries, seen = time.monotonic() + timeout, 0, None
    while time.monotonic() < deadline:
        tries += 1
        again = api.screen(Photo(probe.file, probe.path, probe.label, probe.subject_id))
        r = api.http.get(api.url(f"/api/screenings/{again.screening_id}"), timeout=30).json()
        seen = (r.get("result") or {}).get("model_version")
        if seen == version:
            break
        time.sleep(2)
    return seen, tries


def rest_of_loop(api: Api, token: str, args: argparse.Namespace, export_id: str, held: list[Photo],
                 baked_version: str) -> None:
    admin, env = Admin(api, token), cloud_env(args.env_file)
    started = time.monotonic()
    trained = papila(["model", "train-job", "--export-id", export_id, *shlex.split(args.train_args)], env,
                     args.train_timeout)
    emit("train", started, **trained)
    candidate = trained["registered"]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        list(pool.map(api.give_feedback, [p for p in held if p.status in TERMINAL]))
    emit("held_out_feedback", started, given=sum(p.feedback == "given" for p in held),
         subjects=len({p.subject_id for p in held}))

    started = time.monotonic()
    state = wait_comparison(admin, candidate, args.export_timeout)
    models = {m["role"]: {"model_version": m["model_version"], **m["overall"]} for m in state.get("models") or []}
    emit("compare", started, status=state["status"], cases=state.get("cases"), error=state.get("error"), **models)

    probe = next((p for p in held if p.status == "done"), None)
    if probe is None:
        raise SystemExit("data_loop: no held-out photo was graded: nothing to probe the serving model with")
    for step, path, version in (("promote", f"/api/admin/models/{candidate}/promote", candidate),
                                ("rollback", "/api/admin/models/rollback", baked_version)):
        started = time.monotonic()
        answer = admin.call("POST", path)
        seen, tries = graded_by(api, probe, version, args.switch_timeout)
        emit(step, started, **answer, graded_by=seen, screenings=tries)


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", default="http://127.0.0.1:8000", help="the running API (default: make up's)")
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="labels.csv + images/ (HYGD dev)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the export is unpacked")
    parser.add_argument("--limit", type=int, default=None, help="only the first N photos (a quick run)")
    parser.add_argument("--workers", type=int, default=4, help="concurrent screenings (default 4)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds one screening may take (default 300)")
    parser.add_argument("--export-timeout", type=float, default=1800, help="seconds the export may take")
    parser.add_argument("--env-file", type=Path, default=ROOT / ".run" / "env",
                        help="the local cloud's environment (written by make up)")
    parser.add_argument("--loop", action="store_true",
                        help="then train, register, compare, promote and roll back (see the module's docstring)")
    parser.add_argument("--hold-out", type=float, default=0.2,
                        help="with --loop: the share of people whose feedback waits until after the export")
    parser.add_argument("--train-args", default="", help="with --loop: more `papila train` options, one string")
    parser.add_argument("--train-timeout", type=float, default=7200, help="seconds the training may take")
    parser.add_argument("--switch-timeout", type=float, default=900,
                        help="seconds a promotion may take to reach a screening (MODEL_CHECK_SECONDS and more)")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    if args.workers < 1:
        parser.error("--workers must be at least 1")

    photos = read_dataset(args.dataset, args.limit)
    out = args.out if args.out.is_absolute() else Path.cwd() / args.out
    check_out(out)
    api = Api(args.api, args.timeout)
    api.check()
    since = datetime.now(UTC).replace(microsecond=0)  # the export takes the screenings of this run only

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        photos = list(pool.map(api.screen, photos))
    statuses = Counter(p.status for p in photos)
    emit("screen", started, dataset=str(args.dataset), photos=len(photos), screened=sum(
        p.screening_id is not None for p in photos), done=statuses["done"],
        rejected=dict(Counter(p.error_code for p in photos if p.status == "rejected")),
        failed=dict(Counter(p.error_code for p in photos if p.status == "failed")),
        other={s: n for s, n in statuses.items() if s not in TERMINAL}, **served_figures(photos))

    started = time.monotonic()
    later = held_out_subjects(photos, args.hold_out) if args.loop else set()
    held = [p for p in photos if p.subject_id in later]
    finished = [p for p in photos if p.status in TERMINAL and p.subject_id not in later]
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        list(pool.map(api.give_feedback, finished))
    outcomes = Counter(p.feedback for p in finished)
    emit("feedback", started, given=outcomes.pop("given", 0), refused=dict(outcomes),
         subjects=len({p.subject_id for p in finished if p.feedback == "given"}))

    started = time.monotonic()
    token = admin_token(args.env_file)
    status, data = run_export(api, token, since, args.export_timeout)
    unpacked = unpack(data, out)
    with (out / "data_loop.jsonl").open("w") as f:
        for p in photos:
            f.write(json.dumps({k: v for k, v in asdict(p).items() if k != "path"}) + "\n")
    emit("export", started, export_id=status["id"], counts=status.get("counts"), zip_bytes=len(data),
         exported_images=unpacked["glaucoma"] + unpacked["normal"], unpacked=unpacked, folder=str(out))

    if args.loop:
        started = time.monotonic()
        emit("monitoring", started, **monitoring_matches_evaluate(Admin(api, token), since, out,
                                                                   cloud_env(args.env_file)))
        baked = api.http.get(api.url("/api/model"), timeout=30).json()["model_version"]
        rest_of_loop(api, token, args, status["id"], held, baked)
        return 0

    rim_one = ROOT.parent / "shared" / "datasets" / "rim-one-dl-hospital-train" / "images"
    print(json.dumps({"step": "train", "data": str(out),
                      "command": f".venv/bin/papila train --data {rim_one} --data {out} --out weights/"}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
