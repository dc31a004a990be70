"""Shared by the benchmark scripts: run a measurement in fresh processes, take medians."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def run_child(script: str, args: list[str]) -> dict[str, Any]:
    """Run ``script --child ARGS`` in a new interpreter; it prints one JSON line last."""
    proc = subprocess.run([sys.executable, script, "--child", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"measurement failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of every numeric field over runs (other fields from the first run)."""
    out = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = statistics.median(r[key] for r in runs)
    out["n_runs"] = len(runs)
    return out


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write(name: str, document: dict[str, Any]) -> Path:
    """Write benchmarks/results/<name>.json and print it."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(document, indent=2))
    print(f"wrote {path}")
    return path
