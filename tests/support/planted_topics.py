"""A small planted routing problem, shared by the tests of the zoo routers and the contract suite.

Three topics (well-separated directions in 8 dimensions); on topic t candidate
t is right 90% of the time and the others 20%. A router that reads the
prompts should send each topic to its own candidate.
"""

from __future__ import annotations

import numpy as np

from routereval.routers import Labelled, Prompts

N_TOPICS = 3


def topics(n: int, seed: int, *, missing: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Embeddings, labels (NaN where missing), topic per prompt and the true P(correct), for ``n`` prompts."""
    rng = np.random.default_rng(seed)
    topic = rng.integers(0, N_TOPICS, n)
    centres = np.eye(8)[:N_TOPICS] * 3.0
    x = (centres[topic] + rng.normal(scale=0.6, size=(n, 8))).astype(np.float32)
    p = np.where(np.arange(N_TOPICS)[None, :] == topic[:, None], 0.9, 0.2)
    y = (rng.random(p.shape) < p).astype(float)
    if missing:
        y[rng.random(y.shape) < missing] = np.nan
    return x, y, topic, p


def split(seed: int = 0, missing: float = 0.0) -> tuple[Prompts, np.ndarray, Labelled, Prompts, np.ndarray]:
    """Train prompts and labels, a validation split, test prompts and their topics."""
    x, y, _, _ = topics(300, seed, missing=missing)
    xv, yv, _, _ = topics(120, seed + 1)
    xt, _, tt, _ = topics(150, seed + 2)
    return Prompts(embeddings=x), y, Labelled(Prompts(embeddings=xv), yv), Prompts(embeddings=xt), tt
