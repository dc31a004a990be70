"""PRknn: cosine k-nearest neighbours over the training prompts.

The quality estimate of a candidate on a prompt is the mean of its labels on
the k training prompts most similar to it (cosine similarity of embeddings);
pi = softmax(estimates), as in RouterEval. Missing labels are left out of the
mean; a candidate with no label among the k neighbours gets its mean over all
training prompts. Cosine similarity is computed here (rows scaled to unit
length inside), so embeddings need no normalisation beforehand. The search
and its rule for ties (to the training prompt listed first) are those of
:mod:`routereval.neighbours`. The training vectors are scaled to
unit length once per fitted or loaded state (:func:`derived`; never saved), so
a prediction scales only its own prompts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from routereval.neighbours import BLOCK_ROWS, unit_neighbours, unit_rows
from routereval.routers._derived import DerivedState, derived
from routereval.routers.base import Prompts, Router, check_integer, register, softmax
from routereval.routers.checks import check_labels, column_means, embeddings_of


def unit_train_embeddings(router: Any) -> np.ndarray:
    """A fitted neighbour router's ``train_embeddings_`` scaled to unit length, once per fitted or loaded state."""
    return derived(router, "unit_train", (router.train_embeddings_,), unit_rows)


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
        for start in range(0, len(x), BLOCK_ROWS):
            idx, _ = unit_neighbours(query[start : start + BLOCK_ROWS], base, int(self.k))
            # Gather the neighbours' label rows (block x k x m) and average the present ones over k.
            block = self.train_labels_[idx]
            present = ~np.isnan(block)
            counts = present.sum(axis=1)
            sums = np.where(present, block, 0.0).sum(axis=1, dtype=np.float64)
            out[start : start + len(idx)] = np.where(counts > 0, sums / np.maximum(counts, 1), self.train_means_)
        return out

    def predict_proba(self, prompts: Prompts) -> np.ndarray:
        return softmax(self.predict_quality(prompts))
