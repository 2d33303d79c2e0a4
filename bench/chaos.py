"""Issue 12's chaos run at scale: N presigned uploads (default 500) into a local cloud of its own while the
runner is killed, the database is paused 10 s, duplicate S3 events arrive and poison is queued.

    .venv/bin/python bench/chaos.py [--n 500] [--clients 6] [--rate 4] [--pause 10] [--base-port 8500] [--per-upload 1.5]

Starts its own supervised cloud (ports --base-port, +80, 27017/4566/5001 + base-8000; logs in
.run/bench-chaos/, data in a temporary folder), so a running `make up` or test cloud is never touched,
runs the scenario of tests/integration/chaos.py (the same as tests/integration/test_chaos.py at about 60)
and stops the cloud. Prints JSON lines: `start` (the cloud's timing and the bound), `chaos` (the counts:
acknowledged, done, rejected and failed by code, lost, stuck, doubles, key_doubles, unexplained, retries
made by clients, the drain time) and `verdict`. Exits 1 when anything was lost, stuck past the bound or
screened twice, or a failure has no reason. Not part of `make test` (several minutes on two cores: one
local runner screens the uploads one after another).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.chaos import message_life_s, run_chaos
from tests.integration.cloudclient import supervised_cloud


def emit(step: str, **fields: Any) -> None:
    print(json.dumps({"step": step, **fields}, sort_keys=True, default=str), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500, help="uploads (default 500)")
    parser.add_argument("--clients", type=int, default=6, help="client threads (default 6)")
    parser.add_argument("--rate", type=float, default=4.0,
                        help="uploads started per second (default 4; 0: as fast as the clients go)")
    parser.add_argument("--pause", type=float, default=10.0, help="seconds the database is stopped (default 10)")
    parser.add_argument("--base-port", type=int, default=8500, help="the API's port; the others follow from it")
    parser.add_argument("--per-upload", type=float, default=1.5,
                        help="backlog allowance per upload in the bound, seconds (default 1.5: one local runner)")
    parser.add_argument("--ids", action="store_true", help="also print the ids behind each non-zero count")
    args = parser.parse_args(argv)
    if args.n < 10:
        parser.error("--n must be at least 10")

    def log(message: str) -> None:
        print(f"[chaos] {message}", file=sys.stderr, flush=True)

    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="papila-chaos-") as state, \
            supervised_cloud(args.base_port, Path(state), ROOT / ".run" / "bench-chaos", "papila_chaos") as cloud:
        s = cloud.settings
        emit("start", n=args.n, clients=args.clients, rate=args.rate, pause_s=args.pause, cloud_start_s=round(time.monotonic() - t0, 1),
             function_timeout=s.function_timeout, visibility_timeout=s.visibility_timeout,
             max_receive_count=s.max_receive_count, message_life_s=message_life_s(s),
             bound="message_life_s + uploads * per_upload_s after the last message sent")
        report = run_chaos(cloud, n=args.n, clients=args.clients, rate=args.rate or None, pause_s=args.pause, per_upload_s=args.per_upload,
                           log=log)
    emit("chaos", **report.counts())
    if args.ids:
        emit("ids", lost=report.lost, stuck=report.stuck, doubles=report.doubles, key_doubles=report.key_doubles,
             unexplained=report.unexplained, not_uploaded=report.not_uploaded, normal_not_done=report.normal_not_done,
             orphan_results=report.orphan_results)
    emit("verdict", ok=report.ok, lost=len(report.lost), stuck=len(report.stuck), doubles=len(report.doubles),
         key_doubles=len(report.key_doubles), unexplained=len(report.unexplained), drained=report.drained,
         drain_s=report.drain_s, bound_s=report.bound_s)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
