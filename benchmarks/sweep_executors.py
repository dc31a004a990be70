"""Target: the easy grid over every mirror dataset scales with local workers, and Ray adds
under 20% at this size.

    ROUTEREVAL_MIRROR=../shared/data/github python benchmarks/sweep_executors.py [--runs 3]

Runs ``routereval sweep experiments/routereval-easy.toml`` (the scaling study
switched off) into a fresh results folder, as a user would, with 1 and 2 local
workers, with Ray on 2 workers started by the command (``ray-2``), and on a
running 2-CPU Ray instance joined with ``--address auto`` (``ray-cluster-2``, how
a cluster is used: its start-up is not paid per sweep). Reports the wall time of the whole command
and the part spent running grid points (the command prints it; Ray's start-up
falls in it), medians of the runs. Datasets and embeddings are pulled and
cached once before timing. Writes benchmarks/results/sweep_executors.json.
"""

from __future__ import annotations

import argparse
import os
import re
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
#: (label, executor, workers, address): "ray" starts and stops a local Ray instance inside the
#: command; "ray-cluster" joins one started beforehand, as on a cluster.
CONFIGS = (("local-1", "local", 1, None), ("local-2", "local", 2, None), ("ray-2", "ray", 2, None),
           ("ray-cluster-2", "ray", None, "auto"))


def run(sweep: Path, out: Path, executor: str, workers: int | None, address: str | None) -> tuple[float, float]:
    """Wall time of the command, and the part it reports as running the grid points."""
    args = ["sweep", str(sweep), "--out", str(out), "--executor", executor, "--quiet"]
    args += ["--workers", str(workers)] if workers else []
    args += ["--address", address] if address else []
    started = time.perf_counter()
    proc = subprocess.run(CLI + args, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - started
    grid = re.search(r"of which ([0-9.]+) s running the grid", proc.stdout.replace("\n", " "))
    return wall, float(grid.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sweep = Path(tmp) / "easy.toml"
        sweep.write_text(SWEEP.read_text().replace("scaling = true", "scaling = false"))
        print("warming the caches (datasets, embeddings) ...", flush=True)
        run(sweep, Path(tmp) / "warm", "local", 2, None)
        seconds: dict[str, list[float]] = {}
        grid: dict[str, list[float]] = {}
        ray = Path(sys.executable).with_name("ray")
        subprocess.run([str(ray), "start", "--head", "--num-cpus=2", "--include-dashboard=false"],
                       check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        try:
            # Configurations alternate within a round, so a busy spell on the machine hits all of them.
            for i in range(args.runs):
                for key, executor, workers, address in CONFIGS:
                    wall, in_grid = run(sweep, Path(tmp) / f"{key}-{i}", executor, workers, address)
                    seconds.setdefault(key, []).append(round(wall, 2))
                    grid.setdefault(key, []).append(round(in_grid, 2))
                    print(f"run {i + 1}: {key} {wall:.1f} s (grid {in_grid:.1f} s)", flush=True)
        finally:
            subprocess.run([str(ray), "stop"], capture_output=True)
    med = {k: statistics.median(v) for k, v in seconds.items()}
    med_grid = {k: statistics.median(v) for k, v in grid.items()}
    write("sweep_executors", {
        "grid": "experiments/routereval-easy.toml without the scaling study: 96 grid points",
        "cores": os.cpu_count(),
        "wall_seconds": seconds,
        "grid_seconds": grid,
        "median_wall_seconds": med,
        "median_grid_seconds": med_grid,
        "speedup_local_2_vs_1_wall": round(med["local-1"] / med["local-2"], 3),
        "speedup_local_2_vs_1_grid": round(med_grid["local-1"] / med_grid["local-2"], 3),
        "ray_overhead_vs_local_2_wall": round(med["ray-2"] / med["local-2"] - 1, 3),
        "ray_overhead_vs_local_2_grid": round(med_grid["ray-2"] / med_grid["local-2"] - 1, 3),
        "ray_cluster_overhead_vs_local_2_wall": round(med["ray-cluster-2"] / med["local-2"] - 1, 3),
        "ray_cluster_overhead_vs_local_2_grid": round(med_grid["ray-cluster-2"] / med_grid["local-2"] - 1, 3),
        "targets": {"speedup": "near 2 (linear)", "ray_overhead": "< 0.20"},
    })


if __name__ == "__main__":
    main()
