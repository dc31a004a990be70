"""Shared by the benchmark scripts: run a measurement in fresh processes, take medians."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def run_child(script: str, args: list[str]) -> dict[str, Any]:
    """Run ``script --child ARGS`` in a new interpreter; it prints one JSON line last."""
    proc = subprocess.run([sys.executable, script, "--child", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"measurement failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_cases(script: str, cases: Sequence[str], child: Callable[[str], None], runs: int = 3) -> dict[str, Any] | None:
    """The command line of a benchmark measured case by case.

    With ``--child CASE`` this process runs one measurement (``child(CASE)``,
    which prints its JSON line) and None is returned; otherwise each case runs
    ``--runs`` times, each in a fresh interpreter, and its medians are returned by case.
    """
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=runs)
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return None
    results = {}
    for case in cases:
        results[case] = medians([run_child(script, [case]) for _ in range(args.runs)])
        print(f"{case}: {results[case]['seconds']} s", flush=True)
    return results


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


def write_json(path: Path, document: dict[str, Any], **dumps: Any) -> Path:
    """Write ``document`` to ``path`` whole or not at all (a temporary file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, indent=2, **dumps) + "\n")
    os.replace(tmp, path)
    return path


def write(name: str, document: dict[str, Any]) -> Path:
    """Write benchmarks/results/<name>.json and print it."""
    path = write_json(RESULTS / f"{name}.json", document)
    print(json.dumps(document, indent=2))
    print(f"wrote {path}")
    return path
