"""Target: the easy grid over every mirror dataset scales with local workers, and Ray adds
under 20% at this size.

    ROUTEREVAL_MIRROR=../shared/data/github python benchmarks/sweep_executors.py [--runs 3]

Runs ``routereval sweep experiments/routereval-easy.toml`` (the scaling study
switched off, so only the grid is timed) into a fresh results folder, as a user
would, with 1 and 2 local workers and with Ray on 2 workers; wall time of the
whole command, median of the runs. Datasets and embeddings are pulled and
cached once before timing. Writes benchmarks/results/sweep_executors.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _runs import write

REPO = Path(__file__).resolve().parents[1]
SWEEP = REPO / "experiments" / "routereval-easy.toml"
CLI = [sys.executable, "-c", "from routereval.cli import main; main()"]
CONFIGS = (("local", 1), ("local", 2), ("ray", 2))


def run(sweep: Path, out: Path, executor: str, workers: int) -> float:
    started = time.perf_counter()
    subprocess.run(CLI + ["sweep", str(sweep), "--out", str(out), "--executor", executor,
                          "--workers", str(workers), "--quiet"], check=True, capture_output=True, text=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sweep = Path(tmp) / "easy.toml"
        sweep.write_text(SWEEP.read_text().replace("scaling = true", "scaling = false"))
        print("warming the caches (datasets, embeddings) ...", flush=True)
        run(sweep, Path(tmp) / "warm", "local", 2)
        seconds: dict[str, list[float]] = {}
        for i in range(args.runs):
            for executor, workers in CONFIGS:
                key = f"{executor}-{workers}"
                t = run(sweep, Path(tmp) / f"{key}-{i}", executor, workers)
                seconds.setdefault(key, []).append(round(t, 2))
                print(f"run {i + 1}: {key} {t:.1f} s", flush=True)
    med = {k: statistics.median(v) for k, v in seconds.items()}
    write("sweep_executors", {
        "grid": "experiments/routereval-easy.toml without the scaling study",
        "cores": os.cpu_count(),
        "seconds": seconds,
        "median_seconds": med,
        "speedup_local_2_vs_1": round(med["local-1"] / med["local-2"], 3),
        "ray_overhead_vs_local_2": round(med["ray-2"] / med["local-2"] - 1, 3),
        "targets": {"speedup": "near 2 (linear)", "ray_overhead": "< 0.20"},
    })


if __name__ == "__main__":
    main()
