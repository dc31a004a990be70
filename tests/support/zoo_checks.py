"""Checks shared by the tests of the zoo routers, on a small planted routing problem.

Three topics (well-separated directions in 8 dimensions); on topic t candidate
t is right 90% of the time and the others 20%. A router that reads the
prompts should send each topic to its own candidate.
"""

from __future__ import annotations

import pickle

import numpy as np

from routereval.routers import Labelled, Prompts, make_router

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


def check_learns_topics(name: str, **params) -> np.ndarray:
    """Fit on the planted problem and check the estimates are in [0, 1] and route most prompts right."""
    train, y, val, test, topic = split()
    router = make_router(name, **params).fit(train, y, validation=val)
    quality = router.predict_quality(test)
    assert quality.shape == (len(topic), N_TOPICS)
    assert np.isfinite(quality).all() and quality.min() >= 0 and quality.max() <= 1
    assert (np.argmax(quality, axis=1) == topic).mean() > 0.9
    return quality


def check_masks_missing(name: str, **params) -> None:
    """Candidate 0 is right wherever it has a record, on half the prompts: missing is not wrong."""
    train, y, val, test, _ = split()
    y = y.copy()
    y[:, 0] = 1.0
    y[np.random.default_rng(5).random(len(y)) < 0.5, 0] = np.nan
    yv = val.labels.copy()
    yv[:, 0] = 1.0
    router = make_router(name, **params).fit(train, y, validation=Labelled(val.prompts, yv))
    quality = router.predict_quality(test)
    # Read as 0, the missing half would pull candidate 0 to about 0.5.
    assert quality[:, 0].mean() > 0.8


def check_deterministic_and_picklable(name: str, **params) -> None:
    """Same seed, same estimates; a pickled and restored router predicts the same."""
    train, y, val, test, _ = split(missing=0.1)
    one = make_router(name, **params).fit(train, y, validation=val)
    two = make_router(name, **params).fit(train, y, validation=val)
    np.testing.assert_array_equal(one.predict_quality(test), two.predict_quality(test))
    restored = pickle.loads(pickle.dumps(one))
    np.testing.assert_array_equal(restored.predict_quality(test), one.predict_quality(test))
