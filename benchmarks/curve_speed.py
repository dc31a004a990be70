"""Target: a router's full cost-quality curve for 48 models x 800 prompts in under 2 s once it is fitted.

    python benchmarks/curve_speed.py [--runs 5]

"Full" means the exact sweep over every cost weight at which a choice changes
(:func:`routereval.policies.cost_sweep`), every operating point measured on
true scores and costs, the upper hull and the curve metrics (AIQ, cost to
reach the best single model, quality at the cheapest's cost). Cases, each in
a fresh process:

* ``random-48x800``: quality estimates drawn uniformly (all distinct, so the
  most breakpoints: up to n (m - 1)), per-prompt decision costs (n x m);
* ``knn-like-48x800``: estimates that are means of 5 labels (many ties, as kNN gives),
  one cost per candidate.

Baseline in the same process: a fixed grid of 200 cost weights, each choice
made with :func:`routereval.policies.cost_aware` (what a grid sweep costs, and
it still misses operating points). Writes benchmarks/results/curve_speed.json.
"""

from __future__ import annotations

import json
import time

from _runs import measure_cases, peak_rss_mb, write

CASES = ("random-48x800", "knn-like-48x800")
N, M, GRID = 800, 48, 200


def child(case: str) -> None:
    import numpy as np

    from routereval import policies
    from routereval.evaluation.curves import curve_metrics, router_curve, single_models

    rng = np.random.default_rng(0)
    skill = rng.uniform(0.2, 0.95, M)
    scores = (rng.random((N, M)) < skill).astype(float)
    price = np.exp(rng.uniform(np.log(0.05), np.log(60.0), M)) * 1e-6
    tokens = rng.integers(100, 1500, (N, M))
    costs = price * tokens
    if case.startswith("random"):
        quality = rng.random((N, M))
        decision = costs * rng.uniform(0.8, 1.2, (N, M))
    else:
        quality = (rng.random((N, M, 5)) < skill[None, :, None]).mean(axis=2)
        decision = costs.mean(axis=0)
    singles = single_models([f"m{j}" for j in range(M)], scores, costs)
    cost_range = (float(singles["cost"].min()), float(singles["cost"].max()))

    started = time.perf_counter()
    curve = router_curve("r", quality, decision, scores, costs)
    row = curve_metrics(curve, singles, cost_range)
    seconds = time.perf_counter() - started

    started = time.perf_counter()
    rows = np.arange(N)
    grid_points = []
    for lam in np.r_[0.0, np.geomspace(1e-2, 1e6, GRID - 1)]:
        pick = policies.cost_aware(lam).rank(quality, decision)[:, 0]
        grid_points.append((costs[rows, pick].mean(), scores[rows, pick].mean()))
    grid_seconds = time.perf_counter() - started
    print(json.dumps({
        "case": case, "seconds": round(seconds, 4), "grid_200_seconds": round(grid_seconds, 4),
        "speedup_vs_grid": round(grid_seconds / seconds, 1), "operating_points": int(len(curve.cost)),
        "grid_distinct_points": int(len(set(grid_points))), "hull_vertices": int(len(curve.hull)),
        "AIQ": round(row["AIQ"], 4), "peak_rss_mb": round(peak_rss_mb(), 1),
    }))


def main() -> None:
    results = measure_cases(__file__, CASES, child, runs=5)
    if results is not None:
        write("curve_speed", {"target_seconds": 2.0, "n_prompts": N, "n_models": M, "cases": results})


if __name__ == "__main__":
    main()
