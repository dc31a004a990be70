"""Cluster routing with soft assignment and shrinkage (Avengers; UniRoute's cluster features).

Source: Avengers (Zhang et al., 2025) and UniRoute (Jitkrittum et al., 2025):
K-means on the training prompt embeddings; each model is described by its
accuracy on each cluster; a new prompt reads the accuracy tables of its
nearest clusters.

What it learns: centroids (K-means on the training embeddings scaled to unit
length, since sentence embeddings compare by angle) and, per cluster c and
candidate i, the shrunk accuracy

    A[c, i] = (sum of i's labels in c + s * mean_i) / (i's records in c + s)

where mean_i is i's training mean: a cluster with few records says little,
so its estimate leans on the global one (s = 0: the raw cluster mean).

A prompt's estimate is sum_c w_c A[c, i] over its ``n_nearest`` nearest
centroids, w_c proportional to exp(-(d_c^2 - d_min^2) / tau), where tau is the
mean squared distance of the training prompts to their own centroid (so the
softness does not depend on the embedding's scale).

Chosen on the validation split unless given: K (2, 4, 8, 16, 32; at most the
training prompts), s (0, 5, 20) and ``n_nearest`` (1, 3). Without a validation
split: K = 8, s = 5, n_nearest = 3.
"""

from __future__ import annotations

import numpy as np

from routereval.neighbours import unit_rows
from routereval.routers._tuning import best_setting, grid, validation_arrays
from routereval.routers.base import Labelled, Prompts, Router, register
from routereval.routers.checks import check_labels, column_means, embeddings_of
from routereval.routers.cluster_baseline import centroid_distances

K_GRID = (2, 4, 8, 16, 32)
SHRINKAGE_GRID = (0.0, 5.0, 20.0)
NEAREST_GRID = (1, 3)


def cluster_table(labels: np.ndarray, assignment: np.ndarray, k: int, means: np.ndarray, shrinkage: float) -> np.ndarray:
    """K x m shrunk accuracies (see the module docstring); an empty cell is the global mean."""
    present = ~np.isnan(labels)
    onehot = np.zeros((len(labels), k))
    onehot[np.arange(len(labels)), assignment] = 1.0
    sums = onehot.T @ np.where(present, labels, 0.0)
    counts = onehot.T @ present.astype(np.float64)
    num, den = sums + shrinkage * means, counts + shrinkage
    return np.divide(num, den, out=np.broadcast_to(means, num.shape).copy(), where=den > 0)


def soft_weights(sq_dist: np.ndarray, n_nearest: int, tau: float) -> np.ndarray:
    """n x K weights: exp(-(d^2 - d_min^2) / tau) on the ``n_nearest`` nearest centroids, 0 elsewhere, rows summing to 1."""
    n_nearest = min(int(n_nearest), sq_dist.shape[1])
    # The n_nearest-th smallest squared distance per row (ties at the cut are all kept).
    cut = np.partition(sq_dist, n_nearest - 1, axis=1)[:, n_nearest - 1 : n_nearest]
    rel = sq_dist - sq_dist.min(axis=1, keepdims=True)
    w = np.where(sq_dist <= cut, np.exp(-rel / tau), 0.0)
    return w / w.sum(axis=1, keepdims=True)


@register
class SoftClusterRouter(Router):
    """K-means on train embeddings; a prompt reads the shrunk accuracy tables of its nearest clusters."""

    name = "clusters"
    inputs = "embeddings"

    def __init__(
        self, n_clusters: int | None = None, shrinkage: float | None = None, n_nearest: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.shrinkage = shrinkage
        self.n_nearest = n_nearest
        self.random_state = random_state

    def fit(self, prompts: Prompts, labels: np.ndarray, validation: Labelled | None = None) -> SoftClusterRouter:
        from sklearn.cluster import KMeans
        from threadpoolctl import threadpool_limits

        x = unit_rows(embeddings_of(prompts, self.name).astype(np.float64))
        y = check_labels(labels, len(x))
        if self.n_clusters is not None and not 1 <= int(self.n_clusters) <= len(x):
            raise ValueError(f"n_clusters must lie in 1..{len(x)} (the training prompts), got {self.n_clusters}")
        if self.shrinkage is not None and float(self.shrinkage) < 0:
            raise ValueError(f"shrinkage must be >= 0, got {self.shrinkage}")
        if self.n_nearest is not None and int(self.n_nearest) < 1:
            raise ValueError(f"n_nearest must be at least 1, got {self.n_nearest}")
        val = validation_arrays(validation, self.name, x.shape[1], y.shape[1])
        tuned = val is not None
        xv = None if val is None else unit_rows(val[0].astype(np.float64))
        means = column_means(y)
        candidates = []  # (centroids, tau, table, n_nearest, k, s)
        estimates = []
        for k in sorted({min(int(k), len(x)) for k in grid(self.n_clusters, K_GRID, 8, tuned)}):
            # One BLAS thread: the default pool oversubscribes small CPUs (see routers/cluster_baseline.py).
            with threadpool_limits(limits=1):
                km = KMeans(n_clusters=k, random_state=self.random_state, n_init=1).fit(x)
            centroids = km.cluster_centers_
            # Guard against all prompts identical (zero spread): any positive tau gives the same weights then.
            tau = max(float(km.inertia_) / len(x), 1e-12)
            sq_val = None if xv is None else centroid_distances(xv, centroids) ** 2
            for s in grid(self.shrinkage, SHRINKAGE_GRID, 5.0, tuned):
                table = cluster_table(y, km.labels_, k, means, float(s))
                for near in grid(self.n_nearest, NEAREST_GRID, 3, tuned):
                    candidates.append((centroids, tau, table, int(near), k, float(s)))
                    if sq_val is not None:
                        estimates.append(soft_weights(sq_val, int(near), tau) @ table)
        chosen = candidates[best_setting(estimates, val[1])] if len(candidates) > 1 else candidates[0]
        self.centroids_, self.tau_, self.table_, self.n_nearest_, self.n_clusters_, self.shrinkage_ = chosen
        return self

    def cluster_weights(self, prompts: Prompts) -> np.ndarray:
        """n x K soft assignment of the prompts to the clusters."""
        self._check_fitted("centroids_")
        x = unit_rows(embeddings_of(prompts, self.name, self.centroids_.shape[1]).astype(np.float64))
        return soft_weights(centroid_distances(x, self.centroids_) ** 2, self.n_nearest_, self.tau_)

    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        return np.clip(self.cluster_weights(prompts) @ self.table_, 0.0, 1.0)
