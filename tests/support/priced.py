"""A benchmark with a dollar cost on every record but one, for the cost columns of reports and curves."""

from __future__ import annotations

import numpy as np
import pandas as pd


def costly_benchmark(n: int = 120, m: int = 4, seed: int = 3):
    """Scores that rise with price, and a known dollar cost on every record but one model's first prompt."""
    from routereval.records import Benchmark

    rng = np.random.default_rng(seed)
    skill = np.linspace(0.3, 0.85, m)
    values = (rng.random((n, m)) < skill).astype(np.float32)
    costs = (np.geomspace(1e-4, 1e-2, m)[None, :] * rng.uniform(0.5, 1.5, (n, m))).astype(np.float32)
    costs[0, 1] = np.nan
    prompts = pd.DataFrame({"prompt_id": [f"p{i}" for i in range(n)], "task": ["t"] * n})
    return Benchmark.from_values("priced", values, prompts, [f"model-{k}" for k in range(m)], costs=costs)
