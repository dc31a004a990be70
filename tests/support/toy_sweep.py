"""A toy long-format benchmark for sweeps, and rows compared without their wall time."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from routereval.results import grid_key

TOPICS = ("algebra", "biology", "history", "poetry")


def write_toy_csv(path: Path, n_models: int = 12, per_topic: int = 60, seed: int = 0) -> Path:
    """A long-format benchmark whose models are good at different topics, with prompt texts."""
    rng = np.random.default_rng(seed)
    ability = rng.normal(0, 1, (n_models, len(TOPICS)))
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["prompt_id", "model", "score", "prompt", "task"])
        for t, topic in enumerate(TOPICS):
            for i in range(per_topic):
                text = f"a {topic} question number {i} about {topic} {rng.choice(['x', 'y', 'z'])}"
                for k in range(n_models):
                    p = 1 / (1 + np.exp(-(ability[k, t] + rng.normal(0, 0.5))))
                    out.writerow([f"{topic}-{i}", f"model-{k:02d}", int(rng.random() < p), text, topic])
    return path


def comparable(rows: list[dict]) -> dict:
    """Rows by grid key, without the wall time (the only field that may differ between runs)."""
    return {grid_key(r): {k: v for k, v in r.items() if k != "seconds"} for r in rows}
