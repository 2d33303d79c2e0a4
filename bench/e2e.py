"""End-to-end latency of the running local cloud (`make up`), as a client sees it.

    .venv/bin/python bench/e2e.py [--api http://127.0.0.1:8000] [--sequential 50] [--burst 100] [--json]

1. Sequential: N presigned uploads one after another (POST /api/screenings, multipart POST to S3, poll
   GET /api/screenings/{id} every 50 ms); prints p50 / p95 / max of upload->done (from the start of the
   S3 POST to the first poll that sees `done`) and of the whole create->done.
2. Burst: M screenings created, then all uploaded at once; prints the drain time (first upload start ->
   last screening finished) and the throughput.

Targets for later (not gates): p50 <= 0.5 s, p95 <= 1.5 s. Only loopback traffic; bounded in count
and time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fundus import fundus_bytes
from tests.integration.cloudclient import TERMINAL, ApiClient

POLL_S = 0.05


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
    r = client.create(filename="bench.jpg", content_type="image/jpeg", data=data)
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


def burst(client: ApiClient, photos: list[bytes], m: int, timeout: float) -> dict[str, Any]:
    with ThreadPoolExecutor(max_workers=16) as pool:
        created = list(pool.map(lambda i: create(client, photos[i % len(photos)]), range(m)))
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=min(m, 100)) as pool:
        starts = list(pool.map(lambda i: upload(client, created[i], photos[i % len(photos)]), range(m)))
    uploaded = time.monotonic()
    pending = {c["id"]: s for c, s in zip(created, starts, strict=True)}
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    deadline = t0 + timeout
    while pending and time.monotonic() < deadline:
        for sid in list(pending):
            status = client.get(sid)["status"]
            if status in TERMINAL:
                latencies.append(time.monotonic() - pending.pop(sid))
                statuses[status] = statuses.get(status, 0) + 1
        time.sleep(POLL_S)
    drained = time.monotonic()
    if pending:
        statuses["timeout"] = len(pending)
    return {"n": m, "statuses": statuses, "uploads_s": round(uploaded - t0, 3), "drain_s": round(drained - t0, 3),
            "per_second": round(m / (drained - t0), 2), "upload_to_done_s": summary(latencies)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    parser.add_argument("--sequential", type=int, default=50)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=600, help="seconds per phase, at most")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    client = ApiClient(args.api)
    health = client.http.get(client.url("/api/health"), timeout=10)
    if health.status_code != 200:
        raise SystemExit(f"{args.api}/api/health answered {health.status_code}: is `make up` running?")
    # A few different photos (1200 x 1000 JPEG, ~100 kB), reused round-robin.
    photos = [fundus_bytes(1200, 1000, seed=s) for s in range(5)]
    out: dict[str, Any] = {"api": args.api, "photo_bytes": len(photos[0])}
    # One warm-up screening, so a cold start does not count.
    sequential(client, photos, 1, args.timeout)
    if args.sequential:
        out["sequential"] = sequential(client, photos, args.sequential, args.timeout)
    if args.burst:
        out["burst"] = burst(client, photos, args.burst, args.timeout)

    if args.json:
        print(json.dumps(out))
        return 0
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
        print(f"  upload->done  p50 {u['p50']:.3f} s  p95 {u['p95']:.3f} s  max {u['max']:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
