"""clusters: shrunk per-cluster accuracies and soft assignment worked out by hand on four prompts."""

from __future__ import annotations

import math

import numpy as np
from support.planted_topics import split

from routereval.routers import Prompts, make_router

# Two pairs of unit vectors, at +-ALPHA round the x axis (cluster A) and round the y axis (cluster B).
SIN, COS = 0.1, math.sqrt(1 - 0.01)
TRAIN = np.array([[COS, SIN], [COS, -SIN], [SIN, COS], [-SIN, COS]])
# Candidate 0: right once in A (one record missing), wrong in B; candidate 1: wrong in A, right in B.
LABELS = np.array([[1, 0], [np.nan, 0], [0, 1], [0, 1]], dtype=float)
# Training means 1/3 and 1/2; with shrinkage 2:
#   A: ((1 + 2/3) / 3, (0 + 1) / 4) = (5/9, 1/4);  B: ((0 + 2/3) / 4, (2 + 1) / 4) = (1/6, 3/4).
TABLE_A, TABLE_B = np.array([5 / 9, 1 / 4]), np.array([1 / 6, 3 / 4])
# Centroids (COS, 0) and (0, COS); every prompt is SIN^2 from its own: tau = 0.01.
TAU = SIN**2


def fitted(n_nearest):
    return make_router("clusters", n_clusters=2, shrinkage=2.0, n_nearest=n_nearest).fit(Prompts(embeddings=TRAIN), LABELS)


def test_table_and_centroids_by_hand():
    router = fitted(1)
    order = np.argsort(router.centroids_[:, 1])  # cluster A first
    np.testing.assert_allclose(router.centroids_[order], [[COS, 0], [0, COS]], atol=1e-12)
    np.testing.assert_allclose(router.table_[order], [TABLE_A, TABLE_B], atol=1e-12)
    assert math.isclose(router.tau_, TAU, rel_tol=1e-6)  # embeddings arrive as float32


def test_soft_assignment_by_hand():
    # A prompt at angle phi: d_B^2 - d_A^2 = 2 COS (cos phi - sin phi).
    phi = math.radians(44.8)
    gap = 2 * COS * (math.cos(phi) - math.sin(phi))
    w_b = math.exp(-gap / TAU) / (1 + math.exp(-gap / TAU))
    query = Prompts(embeddings=np.array([[math.cos(phi), math.sin(phi)], [1.0, 0.0]]))
    quality = fitted(2).predict_quality(query)
    np.testing.assert_allclose(quality[0], (1 - w_b) * TABLE_A + w_b * TABLE_B, atol=1e-5)  # float32 embeddings
    # With one nearest cluster a prompt reads its own table only.
    np.testing.assert_allclose(fitted(1).predict_quality(query), [TABLE_A, TABLE_A], atol=1e-12)


def test_k_is_chosen_on_validation():
    # Three topics cannot be told apart by two clusters.
    train, y, val, _, _ = split()
    router = make_router("clusters").fit(train, y, validation=val)
    assert router.n_clusters_ >= 4
    untuned = make_router("clusters").fit(train, y)
    assert (untuned.n_clusters_, untuned.shrinkage_, untuned.n_nearest_) == (8, 5.0, 3)
