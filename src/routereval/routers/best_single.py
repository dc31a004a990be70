"""Best single model: always the candidate with the best mean on the training prompts."""

from __future__ import annotations

import numpy as np

from routereval.routers.base import Labelled, Prompts, Router, one_hot, register
from routereval.routers.checks import check_labels, column_means


@register
class BestSingleRouter(Router):
    """Routes every prompt to the candidate with the highest training mean (ties: lowest index).

    The mean is over the raw training scores where they are given (continuous
    benchmarks), else the labels, each over the candidate's present records.
    The quality estimate of every candidate is that mean, the same on every
    prompt, so any policy sees what this router knows.
    """

    name = "best-single"
    inputs = "none"

    def fit(self, prompts: Prompts, labels: np.ndarray, validation: Labelled | None = None) -> BestSingleRouter:
        source = prompts.scores if prompts.scores is not None else labels
        self.train_means_ = column_means(check_labels(source, len(np.asarray(source))))
        self.best_ = int(np.argmax(self.train_means_))
        return self

    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        self._check_fitted("train_means_")
        return np.tile(self.train_means_, (len(prompts), 1))

    def predict_proba(self, prompts: Prompts) -> np.ndarray:
        """pi = the one-hot of the chosen candidate (as RouterEval defines it)."""
        self._check_fitted("best_")
        return one_hot(np.full(len(prompts), self.best_), len(self.train_means_))
