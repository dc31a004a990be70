"""kNN with its settings chosen on the validation split.

Source: the kNN baselines that independent studies found hard to beat when
tuned ("kNN beats complex routers"; RouterEval's PRknn, which fixes k = 5 and
stays available as ``knn``). Three settings are chosen on the validation split
(:mod:`routereval.routers._tuning`), each from a short grid unless given:

* ``k``, the neighbours read (5, 10, 20, 50, 100; capped at the training prompts);
* ``weights``: ``"uniform"`` or ``"distance"`` (1 / (cosine distance + 1e-6),
  scikit-learn's ``weights="distance"`` on the cosine metric);
* ``shrinkage`` s: the estimate of candidate i on a prompt is
  (sum_k w_k y_ki + s * mean_i) / (sum_k w_k + s) over the neighbours with a
  record for i, where mean_i is its training mean and the weights are scaled to
  sum to k (so s counts in neighbours). s = 0 is plain kNN; a larger s pulls
  thinly supported estimates towards the best-single view.

Without a validation split the defaults are k = 20, uniform, s = 0. The
neighbours are the cosine-nearest training prompts, most similar first, found
and tied as in :mod:`routereval.neighbours` (as for ``knn``).
"""

from __future__ import annotations

import numpy as np

from routereval.neighbours import BLOCK_ROWS, sorted_neighbours, unit_rows
from routereval.routers._derived import DerivedState
from routereval.routers._tuning import grid, pick, setting_sums, validation_arrays
from routereval.routers.base import Labelled, Prompts, Router, register
from routereval.routers.checks import check_labels, column_means, embeddings_of
from routereval.routers.knn import unit_train_embeddings

K_GRID = (5, 10, 20, 50, 100)
WEIGHTS = ("uniform", "distance")
SHRINKAGE_GRID = (0.0, 1.0, 5.0)
# Keeps an exact duplicate's weight finite.
_DISTANCE_EPS = 1e-6


def neighbour_estimates(
    labels: np.ndarray, means: np.ndarray, idx: np.ndarray, sims: np.ndarray, weights: str, shrinkage: float
) -> np.ndarray:
    """Shrunk, weighted means of the neighbours' labels (n x m); see the module docstring."""
    k = idx.shape[1]
    if weights == "distance":
        w = 1.0 / (1.0 - sims.astype(np.float64) + _DISTANCE_EPS)
        w *= k / w.sum(axis=1, keepdims=True)
    else:
        w = np.ones(idx.shape)
    block = labels[idx]  # n x k x m
    present = ~np.isnan(block)
    num = np.einsum("nk,nkm->nm", w, np.where(present, block, 0.0)) + shrinkage * means
    den = np.einsum("nk,nkm->nm", w, present.astype(np.float64)) + shrinkage
    out = np.divide(num, den, out=np.broadcast_to(means, num.shape).copy(), where=den > 0)
    return np.clip(out, 0.0, 1.0)


@register
class TunedKNNRouter(DerivedState, Router):
    """kNN whose k, distance weighting and shrinkage to the training mean are chosen on validation."""

    name = "knn-tuned"
    inputs = "embeddings"

    def __init__(self, k: int | None = None, weights: str | None = None, shrinkage: float | None = None) -> None:
        self.k = k
        self.weights = weights
        self.shrinkage = shrinkage

    def fit(self, prompts: Prompts, labels: np.ndarray, validation: Labelled | None = None) -> TunedKNNRouter:
        x = embeddings_of(prompts, self.name)
        y = check_labels(labels, len(x))
        if self.weights is not None and self.weights not in WEIGHTS:
            raise ValueError(f"weights must be one of {', '.join(WEIGHTS)}, got {self.weights!r}")
        if self.k is not None and not 1 <= int(self.k) <= len(x):
            raise ValueError(f"k must lie in 1..{len(x)} (the number of training prompts), got {self.k}")
        if self.shrinkage is not None and float(self.shrinkage) < 0:
            raise ValueError(f"shrinkage must be >= 0, got {self.shrinkage}")
        self.train_embeddings_ = x
        self.train_labels_ = y.astype(np.float32)
        self.train_means_ = column_means(y)
        base = unit_train_embeddings(self)
        val = validation_arrays(validation, self.name, x.shape[1], y.shape[1])
        ks = sorted({min(int(k), len(x)) for k in grid(self.k, K_GRID, 20, val is not None)})
        settings = [(k, w, float(s)) for k in ks
                    for w in grid(self.weights, WEIGHTS, "uniform", val is not None)
                    for s in grid(self.shrinkage, SHRINKAGE_GRID, 0.0, val is not None)]
        if len(settings) > 1:
            sums = np.zeros((len(settings), 4))
            # Blocks small enough that a block's labels of every neighbour (rows x k x m) stay in memory.
            rows = max(1, min(BLOCK_ROWS, 2_000_000 // (max(ks) * y.shape[1])))
            for start in range(0, len(val[0]), rows):
                idx, sims = sorted_neighbours(unit_rows(val[0][start : start + rows]), base, max(ks))
                for i, (k, w, s) in enumerate(settings):
                    quality = neighbour_estimates(self.train_labels_, self.train_means_, idx[:, :k], sims[:, :k], w, s)
                    sums[i] += setting_sums(quality, val[1][start : start + rows])
            chosen = settings[pick(sums)]
        else:
            chosen = settings[0]
        self.k_, self.weights_, self.shrinkage_ = int(chosen[0]), str(chosen[1]), float(chosen[2])
        return self

    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        self._check_fitted("train_labels_")
        x = embeddings_of(prompts, self.name, self.train_embeddings_.shape[1])
        base, query = unit_train_embeddings(self), unit_rows(x)
        out = np.empty((len(x), self.train_labels_.shape[1]))
        rows = max(1, min(BLOCK_ROWS, 2_000_000 // (self.k_ * out.shape[1])))
        for start in range(0, len(x), rows):
            idx, sims = sorted_neighbours(query[start : start + rows], base, self.k_)
            out[start : start + len(idx)] = neighbour_estimates(
                self.train_labels_, self.train_means_, idx, sims, self.weights_, self.shrinkage_)
        return out
