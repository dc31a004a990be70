"""PRknn: cosine k-nearest neighbours over the training prompts.

The quality estimate of a candidate on a prompt is the mean of its labels on
the k training prompts most similar to it (cosine similarity of embeddings);
pi = softmax(estimates), as in RouterEval. Missing labels are left out of the
mean; a candidate with no label among the k neighbours gets its mean over all
training prompts. Cosine similarity is computed here (rows scaled to unit
length inside), so embeddings need no normalisation beforehand. Ties in similarity go to the
training prompt listed first, so duplicate prompts in the training set give the
same neighbours on every run and machine.
"""

from __future__ import annotations

import numpy as np

from routereval.routers.base import Prompts, Router, check_integer, register, softmax
from routereval.routers.checks import check_labels, column_means, embeddings_of

# Test rows per similarity block: 1,024 x 10^4 train float32 is ~40 MB.
_BLOCK_ROWS = 1024


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero), so a dot product is the cosine."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def nearest_neighbours(query: np.ndarray, base: np.ndarray, k: int) -> np.ndarray:
    """Indices (n x k) of the ``k`` rows of ``base`` most cosine-similar to each query row.

    Exact ties at the k-th similarity are broken towards the lower base index.
    Neighbour order within a row is unspecified (callers average over them).
    """
    q, b = unit_rows(query), unit_rows(base)
    out = np.empty((len(q), k), dtype=np.int64)
    for start in range(0, len(q), _BLOCK_ROWS):
        sims = q[start : start + _BLOCK_ROWS] @ b.T
        # The k-th largest similarity per row; everything above it is in,
        # and as many of the rows equal to it as are still needed, first ones first.
        kth = -np.partition(-sims, k - 1, axis=1)[:, k - 1 : k]
        above = sims > kth
        tied = sims == kth
        need = k - above.sum(axis=1, keepdims=True)
        chosen = above | (tied & (np.cumsum(tied, axis=1) <= need))
        # Each row has exactly k chosen entries, so the row-major nonzero reshapes cleanly.
        out[start : start + len(sims)] = np.nonzero(chosen)[1].reshape(len(sims), k)
    return out


@register
class KNNRouter(Router):
    """PRknn: mean label of the ``k`` cosine-nearest training prompts per candidate."""

    name = "knn"
    inputs = "embeddings"

    def __init__(self, k: int = 5) -> None:
        self.k = k

    def check_params(self) -> None:
        check_integer(self.name, "k", self.k, 1)

    def fit(self, prompts: Prompts, labels: np.ndarray) -> KNNRouter:
        self.check_params()
        x = embeddings_of(prompts, self.name)
        y = check_labels(labels, len(x))
        if not 1 <= int(self.k) <= len(x):
            raise ValueError(f"k must lie in 1..{len(x)} (the number of training prompts), got {self.k}")
        self.train_embeddings_ = x
        self.train_labels_ = y.astype(np.float32)
        self.train_means_ = column_means(y)
        return self

    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        self._check_fitted("train_labels_")
        x = embeddings_of(prompts, self.name, self.train_embeddings_.shape[1])
        out = np.empty((len(x), self.train_labels_.shape[1]))
        for start in range(0, len(x), _BLOCK_ROWS):
            idx = nearest_neighbours(x[start : start + _BLOCK_ROWS], self.train_embeddings_, int(self.k))
            # Gather the neighbours' label rows (block x k x m) and average the present ones over k.
            block = self.train_labels_[idx]
            present = ~np.isnan(block)
            counts = present.sum(axis=1)
            sums = np.where(present, block, 0.0).sum(axis=1, dtype=np.float64)
            out[start : start + len(idx)] = np.where(counts > 0, sums / np.maximum(counts, 1), self.train_means_)
        return out

    def predict_proba(self, prompts: Prompts) -> np.ndarray:
        return softmax(self.predict_quality(prompts))
