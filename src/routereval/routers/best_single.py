"""Best single model: always the candidate with the best mean on the training prompts."""

from __future__ import annotations

import numpy as np

from routereval.routers.base import Prompts, Router, register


@register
class BestSingleRouter(Router):
    """Routes every prompt to the candidate with the highest training mean (ties: lowest index)."""

    name = "best-single"
    inputs = "none"

    def fit(self, prompts: Prompts, labels: np.ndarray) -> BestSingleRouter:
        # The raw training scores when given (continuous benchmarks), else the labels.
        source = prompts.scores if prompts.scores is not None else labels
        self.train_means_ = np.nanmean(np.asarray(source, dtype=float), axis=0)
        self.best_ = int(np.argmax(self.train_means_))
        return self

    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        self._check_fitted("train_means_")
        return np.tile(self.train_means_, (len(prompts), 1))
