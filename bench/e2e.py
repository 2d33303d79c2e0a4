"""End-to-end latency of the running local cloud (`make up`), as a client sees it.

    .venv/bin/python bench/e2e.py [--api http://127.0.0.1:8000 | --start] [--sequential 50] [--burst 100] [--json]

1. Sequential: N presigned uploads one after another (POST /api/screenings, multipart POST to S3, poll
   GET /api/screenings/{id} every 50 ms); prints p50 / p95 / max of upload->done (from the start of the
   S3 POST to the first poll that sees `done`) and of the whole create->done.
2. Burst: M screenings created, then all uploaded at once; prints the drain time (first upload start ->
   the last screening's final `updated_at`), the drain rate (screenings/s), the runner's CPU seconds per
   screening (user + system time of the runner and its worker processes over the burst, from /proc) and
   the drain ratio: drain rate / (cores / CPU per screening), i.e. how much of the machine's cores the
   burst turned into screenings. Target: ratio >= 0.7. Also printed: what the rest of the local cloud
   (LocalStack, SecantusDB, the API) and this client spent per screening, and the runner's share of all
   of it (with those on the same cores, the ratio cannot pass it), and the load average (other work on
   the machine takes cores too).

Against a running `make up` (the default) the runner is found by its pid file (`PAPILA_RUN_DIR`, .run);
`--start` starts a local cloud of its own on other ports (as `make test` does) and stops it at the end.
With `--json` the last line is one JSON object (`drain_per_s`, `drain_ratio`, `cpu_s_per_screening` at
its top level). Targets for later (not gates): p50 <= 0.5 s, p95 <= 1.5 s. Only loopback traffic;
bounded in count and time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fundus import fundus_bytes
from tests.integration.cloudclient import TERMINAL, ApiClient

POLL_S = 0.05
BURST_POLL_S = 0.5  # between rounds of GETs in the burst: the finish time comes from `updated_at`
CLK_TCK = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": round(percentile(values, 0.5), 3), "p95": round(percentile(values, 0.95), 3),
            "max": round(max(values), 3) if values else float("nan"),
            "mean": round(statistics.fmean(values), 3) if values else float("nan")}


def create(client: ApiClient, data: bytes) -> dict[str, Any]:
    for attempt in range(3):  # `chalice local` resets a connection now and then under 16 clients
        try:
            r = client.create(filename="bench.jpg", content_type="image/jpeg", data=data)
            break
        except requests.ConnectionError:
            if attempt == 2:
                raise
            time.sleep(0.5)
    if r.status_code != 201:
        raise SystemExit(f"POST /api/screenings answered {r.status_code}: {r.text[:300]}")
    return r.json()


def upload(client: ApiClient, created: dict[str, Any], data: bytes) -> float:
    started = time.monotonic()
    r = client.upload(created["upload"], data, "bench.jpg", "image/jpeg")
    if r.status_code not in (200, 201, 204):
        raise SystemExit(f"S3 POST answered {r.status_code}: {r.text[:300]}")
    return started


def wait_done(client: ApiClient, screening_id: str, timeout: float) -> tuple[str, float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(screening_id)["status"]
        if status in TERMINAL:
            return status, time.monotonic()
        time.sleep(POLL_S)
    return "timeout", time.monotonic()


def sequential(client: ApiClient, photos: list[bytes], n: int, timeout: float) -> dict[str, Any]:
    upload_to_done: list[float] = []
    create_to_done: list[float] = []
    statuses: dict[str, int] = {}
    for i in range(n):
        data = photos[i % len(photos)]
        t0 = time.monotonic()
        created = create(client, data)
        started = upload(client, created, data)
        status, finished = wait_done(client, created["id"], timeout)
        statuses[status] = statuses.get(status, 0) + 1
        if status == "done":
            upload_to_done.append(finished - started)
            create_to_done.append(finished - t0)
    return {"statuses": statuses, "upload_to_done_s": summary(upload_to_done),
            "create_to_done_s": summary(create_to_done)}


# ---------------------------------------------------------------------- the runner's CPU time
def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system CPU seconds) of a live process, from /proc/PID/stat."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) "
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def process_tree(root: int) -> dict[int, float]:
    """CPU seconds of `root` and every live descendant (the runner and its workers), by pid."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
            stats[int(entry.name)] = st
    tree: dict[int, float] = {}
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        if pid in stats and pid not in tree:
            tree[pid] = stats[pid][1]
            frontier += [p for p, (ppid, _) in stats.items() if ppid == pid]
    return tree


def memory_mb(pid: int) -> dict[str, float]:
    """RSS (shared library pages counted in full) and PSS (shared pages split between their users) of a
    live process, in MB, from /proc."""
    out = {}
    for file, key in (("status", "VmRSS:"), ("status", "VmHWM:"), ("smaps_rollup", "Pss:")):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
                if line.startswith(key):
                    out[key.rstrip(":").lower()] = round(int(line.split()[1]) / 1024, 1)
                    break
    return out


SERVICES = ("runner", "export-runner", "api", "localstack", "mongo", "cognito", "spa")


def service_pids(run_dir: Path) -> dict[str, int]:
    """The cloud's live services by name, from their pid files (`runner.pid`, ...)."""
    out = {}
    for name in SERVICES:
        try:
            pid = int((run_dir / f"{name}.pid").read_text().strip())
        except (OSError, ValueError):
            continue
        if _stat(pid) is not None:
            out[name] = pid
    return out


def cloud_cpu(services: dict[str, int]) -> dict[str, dict[int, float]]:
    return {name: process_tree(pid) for name, pid in services.items()}


def _delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(after[p] - before.get(p, 0.0) for p in after)


def _self_cpu() -> float:
    t = os.times()
    return t.user + t.system


def _epoch(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso).timestamp() if iso else None


def burst(client: ApiClient, photos: list[bytes], m: int, timeout: float, services: dict[str, int]) -> dict[str, Any]:
    with ThreadPoolExecutor(max_workers=16) as pool:
        created = list(pool.map(lambda i: create(client, photos[i % len(photos)]), range(m)))
    cpu_before, bench_before = cloud_cpu(services), _self_cpu()
    t0, t0_wall = time.monotonic(), time.time()
    with ThreadPoolExecutor(max_workers=min(m, 100)) as pool:
        starts = list(pool.map(lambda i: upload(client, created[i], photos[i % len(photos)]), range(m)))
    uploaded = time.monotonic()
    pending = {c["id"]: s for c, s in zip(created, starts, strict=True)}
    latencies: list[float] = []
    finished_wall: list[float] = []
    statuses: dict[str, int] = {}
    deadline = t0 + timeout
    while pending and time.monotonic() < deadline:
        time.sleep(BURST_POLL_S)  # few GETs: the API shares the cores with the runner
        for sid in list(pending):
            record = client.get(sid)
            if record["status"] in TERMINAL:
                latencies.append(time.monotonic() - pending.pop(sid))
                statuses[record["status"]] = statuses.get(record["status"], 0) + 1
                if (t := _epoch(record.get("updated_at"))) is not None:
                    finished_wall.append(t)
    polled = time.monotonic()
    cpu_after, bench_cpu = cloud_cpu(services), _self_cpu() - bench_before
    if pending:
        statuses["timeout"] = len(pending)
    # The drain ends when the last screening was finished (its record's updated_at), not when a poll saw it.
    drain_s = max(finished_wall) - t0_wall if finished_wall and not pending else polled - t0
    finished = m - len(pending)
    out: dict[str, Any] = {
        "n": m, "statuses": statuses, "uploads_s": round(uploaded - t0, 3), "drain_s": round(drain_s, 3),
        "per_second": round(finished / drain_s, 2), "upload_to_done_s": summary(latencies),
        "cores": os.cpu_count() or 1,
        # Other work on the machine takes cores from the runner: the ratio means little when this is high.
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    if "runner" in services and finished:
        # Processes there before and after (a worker started meanwhile counts from zero).
        cpu = _delta(cpu_before["runner"], cpu_after["runner"])
        runner_tree = cpu_after["runner"]
        # Everything else the burst cost on this machine, per screening: the other services and this client.
        others = {name: round(_delta(cpu_before[name], cpu_after[name]) / finished, 4)
                  for name in cpu_after if name != "runner"}
        others["bench_client"] = round(bench_cpu / finished, 4)
        out.update(runner_pids=sorted(runner_tree), runner_cpu_s=round(cpu, 2),
                   other_cpu_s_per_screening=others,
                   runner_share=round(cpu / (cpu + sum(others.values()) * finished), 3),
                   runner_memory_mb={str(p): memory_mb(p) for p in sorted(runner_tree)},
                   cpu_s_per_screening=round(cpu / finished, 4))
        ideal = out["cores"] / (cpu / finished)
        out.update(ideal_per_s=round(ideal, 2), ratio=round(out["per_second"] / ideal, 3))
    return out


@contextlib.contextmanager
def own_cloud() -> Iterator[tuple[str, Path]]:
    """A local cloud of the bench's own (ports BENCH_*_PORT, a temporary data folder, logs in .run/bench)."""
    from infra.localcloud import LocalCloud, Settings

    env = os.environ
    with tempfile.TemporaryDirectory(prefix="papila-bench-") as state:
        settings = Settings.from_env(
            api_port=int(env.get("BENCH_API_PORT", 8200)), spa_port=int(env.get("BENCH_SPA_PORT", 8280)),
            mongo_port=int(env.get("BENCH_MONGO_PORT", 27217)),
            localstack_port=int(env.get("BENCH_LOCALSTACK_PORT", 4766)),
            cognito_port=int(env.get("BENCH_COGNITO_PORT", 5201)),
            state_dir=Path(state), run_dir=ROOT / ".run" / "bench", mongo_db="papila_bench", persist=False,
            spa=False,
        )
        cloud = LocalCloud(settings)
        t0 = time.monotonic()
        cloud.start()
        print(f"bench cloud up in {time.monotonic() - t0:.1f} s (logs in {settings.run_dir})", file=sys.stderr)
        try:
            yield settings.api_url, settings.run_dir
        finally:
            cloud.stop(save=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    parser.add_argument("--start", action="store_true", help="start a local cloud of its own (other ports)")
    parser.add_argument("--concurrency", type=int,
                        help="with --start: the runner's worker processes (PAPILA_RUNNER_CONCURRENCY) instead "
                             "of min(MaximumConcurrency, cores); 1 = one batch at a time, as before issue 13")
    parser.add_argument("--run-dir", type=Path, default=Path(os.environ.get("PAPILA_RUN_DIR", ROOT / ".run")),
                        help="where the running cloud's runner.pid is (without --start)")
    parser.add_argument("--sequential", type=int, default=50)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=600, help="seconds per phase, at most")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.concurrency:
        if not args.start:
            parser.error("--concurrency needs --start (a running cloud's runner keeps its own)")
        os.environ["PAPILA_RUNNER_CONCURRENCY"] = str(args.concurrency)
    if args.start:
        with own_cloud() as (api, run_dir):
            out = measure(args, api, run_dir)
    else:
        out = measure(args, args.api, args.run_dir)
    # Printed once the bench's own cloud has stopped (its stop logs on stdout): the JSON is the last line.
    report(out, args.json)
    return 0


def measure(args: argparse.Namespace, api: str, run_dir: Path) -> dict[str, Any]:
    client = ApiClient(api)
    health = client.http.get(client.url("/api/health"), timeout=10)
    if health.status_code != 200:
        raise SystemExit(f"{api}/api/health answered {health.status_code}: is `make up` running?")
    # A few different photos (1200 x 1000 JPEG, ~100 kB), reused round-robin.
    photos = [fundus_bytes(1200, 1000, seed=s) for s in range(5)]
    out: dict[str, Any] = {"api": api, "photo_bytes": len(photos[0])}
    services = service_pids(run_dir)
    if "runner" not in services:
        print(f"no live runner named by {run_dir / 'runner.pid'}: no CPU per screening", file=sys.stderr)
    # One warm-up screening, so a cold start does not count.
    sequential(client, photos, 1, args.timeout)
    if args.sequential:
        out["sequential"] = sequential(client, photos, args.sequential, args.timeout)
    if args.burst:
        out["burst"] = b = burst(client, photos, args.burst, args.timeout, services)
        out.update(drain_per_s=b["per_second"], drain_ratio=b.get("ratio"),
                   cpu_s_per_screening=b.get("cpu_s_per_screening"), cores=b["cores"])
    return out


def report(out: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(out))
        return
    if "sequential" in out:
        s = out["sequential"]
        u, c = s["upload_to_done_s"], s["create_to_done_s"]
        print(f"sequential {u['n']} presigned uploads ({s['statuses']}):")
        print(f"  upload->done  p50 {u['p50']:.3f} s  p95 {u['p95']:.3f} s  max {u['max']:.3f} s   (targets: p50 <= 0.5, p95 <= 1.5)")
        print(f"  create->done  p50 {c['p50']:.3f} s  p95 {c['p95']:.3f} s  max {c['max']:.3f} s")
    if "burst" in out:
        b = out["burst"]
        u = b["upload_to_done_s"]
        print(f"burst of {b['n']} concurrent uploads ({b['statuses']}):")
        print(f"  uploads sent in {b['uploads_s']:.2f} s; drained in {b['drain_s']:.2f} s ({b['per_second']:.2f} screenings/s)")
        if "ratio" in b:
            print(f"  runner CPU {b['runner_cpu_s']:.1f} s in {len(b['runner_pids'])} processes = "
                  f"{b['cpu_s_per_screening']:.3f} s per screening; {b['cores']} cores / that = "
                  f"{b['ideal_per_s']:.2f} screenings/s; drain ratio {b['ratio']:.2f}   (target >= 0.7; "
                  f"load average {b['load_avg_1m']:.1f} on {b['cores']} cores)")
            print(f"  the rest of the cloud, CPU s per screening: {b['other_cpu_s_per_screening']}; the runner's share "
                  f"of all of it {b['runner_share']:.2f} (the ratio's ceiling on an otherwise idle machine)")
            print("  runner memory (MB): " + "; ".join(
                f"pid {p}: " + ", ".join(f"{k} {v:.0f}" for k, v in m.items()) for p, m in b["runner_memory_mb"].items()))
        print(f"  upload->done  p50 {u['p50']:.3f} s  p95 {u['p95']:.3f} s  max {u['max']:.3f} s")


if __name__ == "__main__":
    sys.exit(main())
