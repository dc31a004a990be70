"""PRknn: cosine k-nearest neighbours over the training prompts.

The quality estimate of a candidate on a prompt is the mean of its labels on
the k training prompts most similar to it (cosine similarity of embeddings);
pi = softmax(estimates), as in RouterEval. Missing labels are left out of the
mean; a candidate with no label among the k neighbours gets its mean over all
training prompts. Cosine similarity is computed here (rows scaled to unit
length inside), so embeddings need no normalisation beforehand. Ties in similarity go to the
training prompt listed first, so duplicate prompts in the training set give the
same neighbours on every run and machine. The training vectors are scaled to
unit length once per fitted or loaded state (:func:`derived`; never saved), so
a prediction scales only its own prompts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from routereval.routers._derived import DerivedState, derived
from routereval.routers.base import Prompts, Router, check_integer, register, softmax
from routereval.routers.checks import check_labels, column_means, embeddings_of

# Test rows per similarity block: 1,024 x 10^4 train float32 is ~40 MB.
_BLOCK_ROWS = 1024

def unit_train_embeddings(router: Any) -> np.ndarray:
    """A fitted neighbour router's ``train_embeddings_`` scaled to unit length, once per fitted or loaded state."""
    return derived(router, "unit_train", (router.train_embeddings_,), unit_rows)


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero), so a dot product is the cosine."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def top_k_columns(sims: np.ndarray, k: int) -> np.ndarray:
    """Column indices (rows x k) of the ``k`` largest entries of each row, in column order.

    Exact ties at the k-th value are broken towards the lower column.
    """
    n = sims.shape[1]
    # The k-th largest value per row: everything at or above it is in, unless ties at it
    # overfill the row (rare: duplicate prompts); such rows keep the first of the tied columns.
    kth = np.partition(sims, n - k, axis=1)[:, n - k : n - k + 1]
    chosen = sims >= kth
    overfull = np.flatnonzero(chosen.sum(axis=1) > k)
    if len(overfull):
        part, cut = sims[overfull], kth[overfull]
        above, tied = part > cut, part == cut
        need = k - above.sum(axis=1, keepdims=True)
        chosen[overfull] = above | (tied & (np.cumsum(tied, axis=1) <= need))
    # Each row has exactly k chosen entries, so the row-major positions reshape cleanly; the flat
    # search is many times faster than a 2-d np.nonzero, which builds the row indices too.
    return np.flatnonzero(chosen).reshape(len(sims), k) % n


def unit_neighbours(query: np.ndarray, base: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosine similarities (both n x k) of the ``k`` rows of ``base`` nearest each query row.

    Both arguments are already unit rows (:func:`unit_rows`), so a fitted router
    scales its training vectors once. Ties as in :func:`nearest_neighbours`.
    """
    idx = np.empty((len(query), k), dtype=np.int64)
    sims_out = np.empty((len(query), k), dtype=np.result_type(query, base))
    for start in range(0, len(query), _BLOCK_ROWS):
        sims = query[start : start + _BLOCK_ROWS] @ base.T
        chosen = top_k_columns(sims, k)
        idx[start : start + len(sims)] = chosen
        sims_out[start : start + len(sims)] = np.take_along_axis(sims, chosen, axis=1)
    return idx, sims_out


def nearest_neighbours(query: np.ndarray, base: np.ndarray, k: int) -> np.ndarray:
    """Indices (n x k) of the ``k`` rows of ``base`` most cosine-similar to each query row.

    Exact ties at the k-th similarity are broken towards the lower base index.
    Neighbour order within a row is unspecified (callers average over them).
    """
    return unit_neighbours(unit_rows(query), unit_rows(base), k)[0]


@register
class KNNRouter(DerivedState, Router):
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
        unit_train_embeddings(self)
        return self

    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        self._check_fitted("train_labels_")
        x = embeddings_of(prompts, self.name, self.train_embeddings_.shape[1])
        base, query = unit_train_embeddings(self), unit_rows(x)
        out = np.empty((len(x), self.train_labels_.shape[1]))
        for start in range(0, len(x), _BLOCK_ROWS):
            idx, _ = unit_neighbours(query[start : start + _BLOCK_ROWS], base, int(self.k))
            # Gather the neighbours' label rows (block x k x m) and average the present ones over k.
            block = self.train_labels_[idx]
            present = ~np.isnan(block)
            counts = present.sum(axis=1)
            sums = np.where(present, block, 0.0).sum(axis=1, dtype=np.float64)
            out[start : start + len(idx)] = np.where(counts > 0, sums / np.maximum(counts, 1), self.train_means_)
        return out

    def predict_proba(self, prompts: Prompts) -> np.ndarray:
        return softmax(self.predict_quality(prompts))
