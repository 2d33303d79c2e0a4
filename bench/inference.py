"""Serving benchmark: batch-1 latency (p50/p95), cold start to first prediction, peak RSS, installed size
of the inference deps; LiteRT int8 next to the Keras full-precision baseline, in the same run.

Usage: python bench/inference.py [--model weights/papila_vgg19_int8.tflite] [--runs 100]
Targets (issue 3): p50 <= 25 ms, cold start <= 0.3 s, inference deps <= 350 MB."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import numpy as np
from papila.model.serving.runtime import load
model = load(sys.argv[1])
x = np.random.default_rng(0).uniform(0, 255, (1, model.input_size, model.input_size, 3)).astype("float32")
model.predict(x)
cold = time.perf_counter() - t0
times = []
for _ in range(int(sys.argv[2])):
    t = time.perf_counter(); model.predict(x); times.append((time.perf_counter() - t) * 1000)
times.sort()
print(json.dumps({"cold_start_s": round(cold, 3), "p50_ms": round(times[len(times) // 2], 2),
                  "p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""


def installed_size_mb(requirements: Path) -> float:
    """Bytes on disk of the requirement distributions and everything they pull in (this venv's copies)."""
    seen: set[str] = set()
    todo = [re.split(r"[=<>\[ ;]", line.strip())[0] for line in requirements.read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    total = 0
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        total += sum((f.locate().stat().st_size for f in dist.files or [] if f.locate().exists()), 0)
        for req in dist.requires or []:
            if "extra ==" not in req:
                todo.append(re.split(r"[=<>\[ ;(!~]", req.strip())[0])
    return round(total / 1e6, 1)


def run(model: Path, runs: int) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, str(model), str(runs)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(ROOT / "weights/papila_vgg19_int8.tflite"))
    parser.add_argument("--master", default=str(ROOT / "weights/papila_vgg19_master.npz"))
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    rows = {"litert_int8": run(Path(args.model), args.runs)}
    rows["litert_int8"]["deps_mb"] = installed_size_mb(ROOT / "inference_fn/requirements.txt")
    if Path(args.master).exists():
        rows["keras_fp32"] = run(Path(args.master), max(10, args.runs // 5))
        rows["keras_fp32"]["deps_mb"] = installed_size_mb(ROOT / "bench/keras-deps.txt")
    print(f"{'runtime':<13}{'p50 ms':>9}{'p95 ms':>9}{'cold s':>9}{'RSS MB':>9}{'deps MB':>9}")
    for name, r in rows.items():
        print(f"{name:<13}{r['p50_ms']:>9}{r['p95_ms']:>9}{r['cold_start_s']:>9}{r['peak_rss_mb']:>9}{r['deps_mb']:>9}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
