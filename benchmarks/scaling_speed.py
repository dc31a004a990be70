"""Target: the model-level scaling study (1,000 random pools per m, p = 0..1) of a
RouterEval-sized benchmark in well under a minute, and of MMLU-Pro in about a second.

    ROUTEREVAL_MIRROR=../shared/data/github python benchmarks/scaling_speed.py [--runs 3]

Cases: 2,000 synthetic models x 5,000 prompts (binary; binary with 1% of records
missing; continuous) on the default size grid up to m = 2,000, and MMLU-Pro
(29 models). Each run is a fresh process that builds or loads the benchmark and
times only the study. Writes benchmarks/results/scaling_speed.json.
"""

from __future__ import annotations

import json
import time

from _runs import measure_cases, peak_rss_mb, write

CASES = ("binary", "binary-missing", "continuous", "mmlu-pro")


def child(case: str) -> None:
    import numpy as np

    from routereval.evaluation.scaling import scaling_study
    from routereval.records import Benchmark

    if case == "mmlu-pro":
        from routereval.sources.catalog import load_dataset

        bench = load_dataset("mmlu-pro", progress=False)
    else:
        rng = np.random.default_rng(0)
        ability = rng.uniform(0.1, 0.9, 2000)
        values = (rng.random((5000, 2000)) < ability).astype(float)
        if case == "continuous":
            values = np.clip(values * 0.7 + rng.random((5000, 2000)) * 0.3, 0, 1)
        if case == "binary-missing":
            values[rng.random(values.shape) < 0.01] = np.nan
        bench = Benchmark.from_values(case, values, [f"p{i}" for i in range(5000)], [f"m{j}" for j in range(2000)])
    started = time.perf_counter()
    doc = scaling_study(bench)
    seconds = time.perf_counter() - started
    top = max(pt["m"] for pt in doc["points"])
    oracle = next(pt["mean"] for pt in doc["points"] if pt["m"] == top and pt["p"] == 1.0)
    print(json.dumps({"case": case, "seconds": round(seconds, 3), "peak_rss_mb": round(peak_rss_mb(), 1),
                      "largest_m": top, "oracle_at_largest_m": round(oracle, 4)}))


def main() -> None:
    results = measure_cases(__file__, CASES, child, runs=3)
    if results is not None:
        write("scaling_speed", {"cases": results, "target": "synthetic 2,000 x 5,000 < 60 s; mmlu-pro ~1 s"})


if __name__ == "__main__":
    main()
