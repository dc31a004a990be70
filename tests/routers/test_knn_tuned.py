"""knn-tuned: weighted, shrunk neighbour means worked out by hand, and k chosen on validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from routereval.routers import Labelled, Prompts, make_router

# Six unit vectors in the plane (angles 0, 36.87, 53.13, 90, 180, 270 degrees) and labels on two candidates.
TRAIN = np.array([[1, 0], [0.8, 0.6], [0.6, 0.8], [0, 1], [-1, 0], [0, -1]], dtype=np.float32)
LABELS = np.array([[1, 0], [1, 1], [0, 1], [0, 1], [1, 0], [0, 0]], dtype=float)


def fitted(**params):
    return make_router("knn-tuned", **params).fit(Prompts(embeddings=TRAIN), LABELS)


def test_uniform_shrunk_estimate_by_hand():
    # (0, 1): neighbours A3, A2, A1. Candidate 0 labels 0, 0, 1; candidate 1: 1, 1, 1.
    # Training means 3/6 and 3/6; shrinkage 3: (1 + 1.5) / 6 and (3 + 1.5) / 6.
    quality = fitted(k=3, weights="uniform", shrinkage=3.0).predict_quality(Prompts(embeddings=np.array([[0, 1.0]])))
    np.testing.assert_allclose(quality, [[2.5 / 6, 4.5 / 6]], atol=1e-9)


def test_distance_weights_by_hand():
    # The query at atan(0.2) from the x axis: nearest A0 (angle 0) then A1 (angle atan(0.75)).
    q = math.atan(0.2)
    w0 = 1 / (1 - math.cos(q) + 1e-6)
    w1 = 1 / (1 - math.cos(math.atan(0.75) - q) + 1e-6)
    quality = fitted(k=2, weights="distance", shrinkage=0.0).predict_quality(Prompts(embeddings=np.array([[1, 0.2]])))
    # Candidate 0 is right on both; candidate 1 only on A1.
    np.testing.assert_allclose(quality, [[1.0, w1 / (w0 + w1)]], atol=1e-6)


def test_k_is_chosen_on_validation():
    # 200 prompts round a circle in arcs of 10; candidate 0 is right on even arcs, candidate 1 on odd ones.
    # Reading 50 or 100 neighbours mixes arcs; 5 or 10 do not.
    def circle(n, offset):
        angle = 2 * math.pi * (np.arange(n) + offset) / n
        arc = (np.arange(n) // (n // 20)) % 2
        return np.c_[np.cos(angle), np.sin(angle)].astype(np.float32), np.c_[arc == 0, arc == 1].astype(float)

    x, y = circle(200, 0.0)
    xv, yv = circle(200, 0.5)
    router = make_router("knn-tuned").fit(Prompts(embeddings=x), y, validation=Labelled(Prompts(embeddings=xv), yv))
    assert router.k_ in (5, 10)
    untuned = make_router("knn-tuned").fit(Prompts(embeddings=x), y)
    assert (untuned.k_, untuned.weights_, untuned.shrinkage_) == (20, "uniform", 0.0)


def test_refuses_bad_settings():
    with pytest.raises(ValueError, match="weights must be one of"):
        fitted(weights="gaussian")
    with pytest.raises(ValueError, match="k must lie in 1..6"):
        fitted(k=7)
