"""C-RoBERTa: route by cluster of the prompt embedding.

KMeans groups the training prompts; each cluster sends its prompts to the
candidate with the highest mean label on the training prompts it holds (ties:
lowest index). A new prompt goes where its nearest centroid sends it.

pi (for E_p) follows RouterEval: inverse-distance weights to the centroids,
1 / (dist + 1e-10), normalised, then summed per candidate that the clusters
choose (two clusters with the same best candidate add up).

The quality estimate is the mean label vector of the nearest cluster (missing
labels left out; a candidate with none in a cluster gets its overall training
mean): its argmax is exactly the cluster's best candidate (same tie rule), so
the choice, policies and metrics agree, and a cost-aware policy can trade the
cluster's mean quality against cost.

K-means runs once (``n_init=1``, k-means++ seeding), as scikit-learn's default
does and so as RouterEval's code gets it; ``n_init`` exposes restarts. The
embeddings are clustered as given (RouterEval clusters its raw RoBERTa
vectors), not scaled to unit length.
"""

from __future__ import annotations

import numpy as np

from routereval.routers.base import Prompts, Router, check_integer, register
from routereval.routers.checks import check_labels, column_means, embeddings_of, masked_mean

# RouterEval's inverse-distance smoothing constant.
_EPS = 1e-10


def centroid_distances(x: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Euclidean distance of each row of ``x`` to each centroid (n x K)."""
    sq = (x**2).sum(axis=1)[:, None] - 2.0 * x @ centroids.T + (centroids**2).sum(axis=1)[None, :]
    return np.sqrt(np.maximum(sq, 0.0))


def inverse_distance_pi(distances: np.ndarray, cluster_best: np.ndarray, m: int) -> np.ndarray:
    """pi over m candidates: normalised 1/(dist+eps) weights summed per cluster's best candidate."""
    w = 1.0 / (distances + _EPS)
    w /= w.sum(axis=1, keepdims=True)
    pi = np.zeros((len(w), m))
    for k, cand in enumerate(cluster_best):
        pi[:, cand] += w[:, k]
    return pi


@register
class ClusterRouter(Router):
    """C-RoBERTa: KMeans on training embeddings, each cluster -> its best candidate on train."""

    name = "cluster"
    inputs = "embeddings"

    def __init__(self, n_clusters: int = 3, random_state: int = 0, n_init: int = 1) -> None:
        self.n_clusters = n_clusters
        self.random_state = random_state
        self.n_init = n_init

    def check_params(self) -> None:
        check_integer(self.name, "n_clusters", self.n_clusters, 1)
        check_integer(self.name, "n_init", self.n_init, 1)
        check_integer(self.name, "random_state", self.random_state, 0, 2**32 - 1)

    def fit(self, prompts: Prompts, labels: np.ndarray) -> ClusterRouter:
        from sklearn.cluster import KMeans

        self.check_params()
        x = embeddings_of(prompts, self.name).astype(np.float64)
        y = check_labels(labels, len(x))
        if not 1 <= int(self.n_clusters) <= len(x):
            raise ValueError(f"n_clusters must lie in 1..{len(x)} (the training prompts), got {self.n_clusters}")
        from threadpoolctl import threadpool_limits

        km = KMeans(n_clusters=int(self.n_clusters), random_state=self.random_state, n_init=int(self.n_init))
        # One BLAS thread: on small CPUs the default thread pool oversubscribes the
        # cores and makes KMeans ~5x slower (measured on 2 cores).
        with threadpool_limits(limits=1):
            assignment = km.fit_predict(x)
        overall = column_means(y)
        # KMeans can leave a cluster empty when points repeat; it then falls back
        # to the overall training mean (the best single model).
        means = np.array([masked_mean(y, np.flatnonzero(assignment == k), overall) for k in range(int(self.n_clusters))])
        self.centroids_ = km.cluster_centers_.copy()
        self.cluster_means_ = means
        self.cluster_best_ = np.argmax(means, axis=1)
        return self

    def _distances(self, prompts: Prompts) -> np.ndarray:
        self._check_fitted("centroids_")
        x = embeddings_of(prompts, self.name, self.centroids_.shape[1]).astype(np.float64)
        return centroid_distances(x, self.centroids_)

    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        nearest = np.argmin(self._distances(prompts), axis=1)
        return self.cluster_means_[nearest]

    def predict_proba(self, prompts: Prompts) -> np.ndarray:
        return inverse_distance_pi(self._distances(prompts), self.cluster_best_, self.cluster_means_.shape[1])
