"""Can the records store hold RouterEval's full scale? Save, open and summarise ~200M records.

Builds a synthetic binary benchmark the size of RouterEval's data (8,567 models
x 23,400 prompts = 200.5M records, ~5% missing, each model with its own
accuracy), saves it with ``save_benchmark``, then, in a fresh subprocess per
run, opens it with ``load_benchmark`` and computes ``model_summary()`` (the mean
of every model over all its records). Reports, as medians of ``--runs`` runs:

* save time; open (load) time; summary time; peak RSS of the subprocess
  (``VmHWM``, which counts the memory-mapped score pages it touched; see
  :func:`peak_rss` for why not ``getrusage`` alone);
* "cold" runs, whose store files were first evicted from the page cache with
  ``posix_fadvise(DONTNEED)`` (Linux), and "warm" runs straight after.

The means are checked against the per-model counts made while generating.
Targets: open in under 10 s, peak memory under 1.5 x the score bytes.
Writes ``benchmarks/results/store_scale.json``.

    python benchmarks/store_scale.py              # full scale, ~5 minutes
    python benchmarks/store_scale.py --scale 0.1  # 1% of the records, seconds
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FULL_MODELS, FULL_PROMPTS = 8_567, 23_400
MISSING_RATE = 0.05
TARGET_LOAD_S = 10.0
TARGET_RSS_RATIO = 1.5


def generate(n_prompts: int, n_models: int, seed: int = 0):
    """A binary benchmark with per-model accuracy, plus its exact per-model counts."""
    import pandas as pd

    from routereval.records import Benchmark
    from routereval.records.benchmark import MISSING_U8

    rng = np.random.default_rng(seed)
    accuracy = rng.uniform(0.05, 0.95, n_models)
    scores = np.empty((n_prompts, n_models), dtype=np.uint8, order="F")
    correct = np.zeros(n_models, dtype=np.int64)
    present = np.zeros(n_models, dtype=np.int64)
    step = max(1, (32 * 2**20) // (4 * n_prompts))  # ~32 MB of uniforms at a time
    for a in range(0, n_models, step):
        b = min(a + step, n_models)
        # One uniform per record: below the missing rate -> missing; the rest,
        # rescaled to [0, 1), is correct with the model's accuracy.
        u = rng.random((n_prompts, b - a), dtype=np.float32)
        missing = u < MISSING_RATE
        right = (u - MISSING_RATE) < accuracy[a:b] * (1 - MISSING_RATE)
        block = np.where(missing, MISSING_U8, right).astype(np.uint8)
        scores[:, a:b] = block
        present[a:b] = (~missing).sum(axis=0)
        correct[a:b] = (right & ~missing).sum(axis=0)
    tasks = ["arc", "hellaswag", "mmlu", "truthfulqa", "winogrande", "gsm8k",
             "ifeval", "bbh", "gpqa", "musr", "math", "mmlu_pro"]  # fmt: skip
    prompts = pd.DataFrame(
        {
            "prompt_id": [f"p{i}" for i in range(n_prompts)],
            "task": [tasks[i * len(tasks) // n_prompts] for i in range(n_prompts)],
            "text": [f"synthetic prompt {i}" for i in range(n_prompts)],
        }
    )
    models = pd.DataFrame({"name": [f"model-{k:05d}" for k in range(n_models)]})
    bench = Benchmark(name="synthetic-scale", scores=scores, kind="binary", prompts=prompts, models=models)
    return bench, correct, present


def evict(store: Path) -> bool:
    """Drop the store's files from the page cache so the next read comes from disk."""
    if not hasattr(os, "posix_fadvise"):
        return False
    for path in store.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
    return True


def peak_rss() -> int:
    """This process's peak resident memory in bytes.

    Linux's ``VmHWM`` belongs to the process's own address space. ``getrusage``
    maxrss is kept as well, but after fork + exec it starts from the parent's
    resident size, so a child started by a large parent reports the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def uint8_block_means(store: Path, n_prompts: int, n_models: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference for comparison only: per-model means counted on the stored bytes.

    Reads ``scores.bin`` (model-major, one contiguous column per model) in
    ~16 MB blocks into one reused buffer and counts 0s, 1s and missing (255)
    without decoding to floats. Plain reads, unlike a memory map, leave the file
    in the page cache rather than in the process's resident memory.
    """
    step = max(1, (16 * 2**20) // n_prompts)
    buffer = np.empty(step * n_prompts, dtype=np.uint8)
    correct = np.zeros(n_models, dtype=np.int64)
    present = np.zeros(n_models, dtype=np.int64)
    with open(store / "scores.bin", "rb", buffering=0) as f:
        for a in range(0, n_models, step):
            k = min(step, n_models - a)
            view = buffer[: k * n_prompts]
            if f.readinto(memoryview(view)) != view.size:
                raise SystemExit("scores.bin is shorter than its manifest says")
            block = view.reshape(k, n_prompts)
            present[a : a + k] = n_prompts - np.count_nonzero(block == 255, axis=1)
            correct[a : a + k] = np.count_nonzero(block == 1, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(present > 0, correct / np.maximum(present, 1), np.nan)
    return means, present


def child(store: Path, out: Path, method: str) -> None:
    """Runs in a fresh interpreter: open the store, summarise it, report to ``out``."""
    t0 = time.perf_counter()
    from routereval.records import load_benchmark

    import_s = time.perf_counter() - t0
    rss_after_import = peak_rss()
    t0 = time.perf_counter()
    bench = load_benchmark(store)
    load_s = time.perf_counter() - t0
    rss_after_load = peak_rss()
    t0 = time.perf_counter()
    if method == "model_summary":
        summary = bench.model_summary()
        means, counts = summary["mean_score"].to_numpy(), summary["n_records"].to_numpy()
    else:
        means, counts = uint8_block_means(store, bench.n_prompts, bench.n_models)
    summary_s = time.perf_counter() - t0
    np.save(out.with_suffix(".means.npy"), means)
    np.save(out.with_suffix(".counts.npy"), counts)
    out.write_text(
        json.dumps(
            {
                "import_s": import_s,
                "load_s": load_s,
                "summary_s": summary_s,
                "peak_rss_bytes": peak_rss(),
                "getrusage_maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                "rss_after_import_bytes": rss_after_import,
                "rss_after_load_bytes": rss_after_load,
            }
        )
    )


def run_child(store: Path, workdir: Path, tag: str, method: str = "model_summary") -> dict:
    out = workdir / f"child-{tag}.json"
    subprocess.run([sys.executable, __file__, "--child", str(store), str(out), method], check=True)
    result = json.loads(out.read_text())
    result["means"] = np.load(out.with_suffix(".means.npy"))
    result["counts"] = np.load(out.with_suffix(".counts.npy"))
    return result


def median_of(runs: list[dict], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of models and of prompts (1.0 = full)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None, help="where the stores go (default: a temp folder)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "store_scale.json")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]), args.child[2])
        return

    from routereval.records import save_benchmark

    n_models = max(2, round(FULL_MODELS * args.scale))
    n_prompts = max(2, round(FULL_PROMPTS * args.scale))
    workdir = Path(tempfile.mkdtemp(prefix="routereval-store-scale-", dir=args.workdir))
    try:
        t0 = time.perf_counter()
        bench, correct, present = generate(n_prompts, n_models)
        gen_s = time.perf_counter() - t0
        score_bytes = bench.scores.nbytes
        print(f"{n_models} models x {n_prompts} prompts = {n_models * n_prompts:,} records "
              f"({score_bytes / 2**20:.0f} MiB of scores), generated in {gen_s:.1f} s")  # fmt: skip

        save_times = []
        store = workdir / "store"
        for run in range(args.runs):
            target = workdir / f"store-{run}"
            t0 = time.perf_counter()
            save_benchmark(bench, target)
            save_times.append(time.perf_counter() - t0)
            if run == 0:
                target.rename(store)
            else:
                shutil.rmtree(target)
        del bench
        store_bytes = sum(p.stat().st_size for p in store.rglob("*") if p.is_file())
        print(f"save: median {statistics.median(save_times):.2f} s  {[round(t, 2) for t in save_times]}")

        cold, warm, reference = [], [], []
        for run in range(args.runs):
            evicted = evict(store)
            cold.append(run_child(store, workdir, f"cold-{run}"))
            warm.append(run_child(store, workdir, f"warm-{run}"))
            evict(store)
            reference.append(run_child(store, workdir, f"reference-{run}", "uint8_blocks"))
        expected = correct / np.maximum(present, 1)
        everything = cold + warm + reference
        max_err = max(float(np.max(np.abs(r["means"] - expected))) for r in everything)
        counts_ok = all(np.array_equal(r["counts"], present) for r in everything)

        def block(runs: list[dict]) -> dict:
            rss = median_of(runs, "peak_rss_bytes")
            return {
                "load_s": median_of(runs, "load_s"),
                "summary_s": median_of(runs, "summary_s"),
                "import_s": median_of(runs, "import_s"),
                "peak_rss_bytes": rss,
                "peak_rss_over_score_bytes": rss / score_bytes,
                "rss_after_import_bytes": median_of(runs, "rss_after_import_bytes"),
                "rss_after_load_bytes": median_of(runs, "rss_after_load_bytes"),
                # What the data costs on top of the interpreter and its libraries.
                "peak_rss_above_import_over_score_bytes": statistics.median(
                    (r["peak_rss_bytes"] - r["rss_after_import_bytes"]) / score_bytes for r in runs
                ),
                # What computing the means costs once the store is open.
                "peak_rss_above_open_over_score_bytes": statistics.median(
                    (r["peak_rss_bytes"] - r["rss_after_load_bytes"]) / score_bytes for r in runs
                ),
                "runs": [{k: v for k, v in r.items() if k not in ("means", "counts")} for r in runs],
            }

        results = {
            "n_models": n_models,
            "n_prompts": n_prompts,
            "n_records": n_models * n_prompts,
            "missing_rate_target": MISSING_RATE,
            "missing_fraction": float(1 - present.sum() / (n_models * n_prompts)),
            "score_bytes": score_bytes,
            "store_bytes": store_bytes,
            "runs": args.runs,
            "generate_s": gen_s,
            "save_s": float(statistics.median(save_times)),
            "save_runs_s": save_times,
            "cold_evicted": evicted,
            "cold": block(cold),
            "warm": block(warm),
            # Not the product: per-model means counted on the stored bytes, read
            # in 16 MB blocks (cold cache), to show what the store format allows.
            "reference_uint8_blocks": block(reference),
            "summary_max_abs_error": max_err,
            "summary_counts_exact": counts_ok,
            "targets": {"load_s": TARGET_LOAD_S, "peak_rss_over_score_bytes": TARGET_RSS_RATIO},
            "machine": {
                "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
                "platform": platform.platform(),
                "python": platform.python_version(),
                "load_average_at_end": os.getloadavg() if hasattr(os, "getloadavg") else None,
            },
        }
        for label in ("cold", "warm", "reference_uint8_blocks"):
            r = results[label]
            print(
                f"{label}: open {r['load_s']:.3f} s, per-model means {r['summary_s']:.2f} s, "
                f"peak RSS {r['peak_rss_bytes'] / 2**20:.0f} MiB = {r['peak_rss_over_score_bytes']:.2f} x scores "
                f"(after imports {r['rss_after_import_bytes'] / 2**20:.0f} MiB, after open "
                f"{r['rss_after_load_bytes'] / 2**20:.0f} MiB; the means add "
                f"{r['peak_rss_above_open_over_score_bytes']:.2f} x scores)"
            )
        print(f"means check: max |error| {max_err:.2e}, counts exact: {counts_ok}")
        meets = results["cold"]["load_s"] < TARGET_LOAD_S
        fits = results["cold"]["peak_rss_over_score_bytes"] < TARGET_RSS_RATIO
        fits_above = results["cold"]["peak_rss_above_import_over_score_bytes"] < TARGET_RSS_RATIO
        print(f"targets: open < {TARGET_LOAD_S:.0f} s: {'met' if meets else 'MISSED'}; "
              f"peak RSS < {TARGET_RSS_RATIO} x scores: {'met' if fits else 'MISSED'} in total, "
              f"{'met' if fits_above else 'MISSED'} above the imports")  # fmt: skip
        if max_err > 1e-9 or not counts_ok:
            raise SystemExit("model_summary disagrees with the counts made while generating")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2, default=float) + "\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
