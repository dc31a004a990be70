"""Target: in the hard setting, no router's cost grows worse than linearly in m.

Real mirror data has at most 29 models (m <= 10), so this uses a synthetic
benchmark at RouterEval's scale of candidates: 2,000 models x 5,000 prompts
(binary records, per-model skill varying, 384-d embeddings with task
structure). For m in {10, 100, 1000} it times pool selection (the three groups,
1,000 strong_to_weak draws) and each router's fit + predict + metrics on the
all_weak pool, and reports the log-log slope of time against m per router
(1.0 = linear). Median of --runs processes; writes benchmarks/results/bench_hard.json.

    python benchmarks/bench_hard.py [--runs 3] [--models 2000] [--prompts 5000]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from _runs import medians, peak_rss_mb, run_child, write

SIZES = (10, 100, 1000)
ROUTERS = "oracle,ro,random,best-single,knn,cluster,linear,mlp"


def synthetic(n_models: int, n_prompts: int, dim: int = 384, seed: int = 0):
    from routereval.records import Benchmark

    rng = np.random.default_rng(seed)
    n_tasks = 12
    task = rng.integers(0, n_tasks, n_prompts)
    centres = rng.standard_normal((n_tasks, dim))
    emb = centres[task] + 0.8 * rng.standard_normal((n_prompts, dim))
    emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
    skill = rng.uniform(0.05, 0.95, n_models)
    affinity = rng.normal(0, 1.0, (n_tasks, n_models))
    logit = np.log(skill / (1 - skill))[None, :] + affinity[task]
    values = (rng.random((n_prompts, n_models)) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    prompts = {"prompt_id": [f"p{i}" for i in range(n_prompts)], "task": [f"t{t}" for t in task]}
    import pandas as pd

    bench = Benchmark.from_values("synthetic-hard", values, pd.DataFrame(prompts),
                                  [f"model-{k}" for k in range(n_models)], embeddings={"synthetic": emb})
    return bench


def child(n_models: int, n_prompts: int) -> None:
    from routereval.datasets.router_dataset import router_datasets
    from routereval.evaluation.evaluate import evaluate_pool
    from routereval.evaluation.features import Features
    from routereval.evaluation.reference import Reference
    from routereval.evaluation.specs import contender, parse_routers

    bench = synthetic(n_models, n_prompts)
    feats = Features(embeddings=np.asarray(bench.embeddings["synthetic"]), texts=None)
    ref = Reference(1.0, "1.0")
    out: dict = {"pools_s": {}, "routers_s": {}}
    # Warm-up (not timed): the first fit of a router pays for imports (torch, sklearn).
    warm = router_datasets(bench, [SIZES[0]], groups=["all_weak"], n_draws=10).pools
    for spec in parse_routers(ROUTERS):
        evaluate_pool(contender(spec), warm[0], feats, ref, n_boot=10)
    for m in SIZES:
        t0 = time.perf_counter()
        pools = router_datasets(bench, [m], n_draws=1000).pools
        out["pools_s"][str(m)] = round(time.perf_counter() - t0, 3)
        weak = next(p for p in pools if p.group == "all_weak")
        for spec in parse_routers(ROUTERS):
            t0 = time.perf_counter()
            evaluate_pool(contender(spec), weak, feats, ref, n_boot=200)
            out["routers_s"].setdefault(spec.label, {})[str(m)] = round(time.perf_counter() - t0, 3)
    out["peak_rss_mb"] = round(peak_rss_mb())
    print(json.dumps(out))


def slope(times: dict[str, float]) -> float:
    """Log-log slope of time against m from the smallest to the largest m."""
    ms = sorted(int(m) for m in times)
    lo, hi = ms[0], ms[-1]
    t_lo, t_hi = max(times[str(lo)], 1e-3), max(times[str(hi)], 1e-3)
    return float(np.log(t_hi / t_lo) / np.log(hi / lo))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--models", type=int, default=2000)
    parser.add_argument("--prompts", type=int, default=5000)
    args = parser.parse_args()
    if args.child:
        child(args.models, args.prompts)
        return
    runs = [run_child(__file__, ["--models", str(args.models), "--prompts", str(args.prompts)])
            for _ in range(args.runs)]
    result = {"models": args.models, "prompts": args.prompts, "sizes": list(SIZES), "n_runs": len(runs)}
    result["pools_s"] = medians([r["pools_s"] for r in runs])
    result["routers_s"] = {name: medians([r["routers_s"][name] for r in runs]) for name in runs[0]["routers_s"]}
    for block in [result["pools_s"], *result["routers_s"].values()]:
        block.pop("n_runs", None)
    result["slope_vs_m"] = {"pools": round(slope(result["pools_s"]), 2)}
    result["slope_vs_m"].update({k: round(slope(v), 2) for k, v in result["routers_s"].items()})
    result["peak_rss_mb"] = medians([{"x": r["peak_rss_mb"]} for r in runs])["x"]
    result["meets_target"] = all(s <= 1.15 for s in result["slope_vs_m"].values())
    write("bench_hard", result)


if __name__ == "__main__":
    main()
