"""One logistic regression per candidate on the prompt embedding.

Source: the per-model classifiers of RouterBench (Hu et al., 2024) and
LLMRouter's classification baselines: for each candidate, P(correct | prompt)
from a linear model of the embedding. Fitted with scikit-learn's
``LogisticRegression`` (L2, lbfgs) on the candidate's present records only;
the embedding is standardised with the training mean and spread first (so one
C suits every embedding width and lbfgs converges quickly). Labels between 0
and 1 (continuous records) enter as two weighted rows, y on class 1 and
1 - y on class 0. A candidate whose records are all one class gets a constant
estimate, (sum + 0.5) / (records + 1), rather than a certainty.

The inverse regularisation strength C is chosen on the validation split from
(0.001, 0.01, 0.1, 1) unless given (without a validation split: 0.1). On pools
of more than ``tune_candidates`` candidates it is judged on a seeded random
subset of that many (routing among them), so tuning costs the same on a pool
of 1,000 as on one of 20; then every candidate is fitted once with the chosen C.

Learned state is plain arrays: the standardisation, an m x d weight matrix and
m intercepts, so prediction needs no scikit-learn.
"""

from __future__ import annotations

import warnings

import numpy as np

from routereval.routers._tuning import best_setting, grid, validation_arrays
from routereval.routers.base import Labelled, Prompts, Router, register, sigmoid
from routereval.routers.checks import check_labels, embeddings_of

C_GRID = (0.001, 0.01, 0.1, 1.0)


def standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and spread (1 where a feature is constant)."""
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


def as_classes(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Rows, 0/1 classes and sample weights for labels in [0, 1] (None when all labels are 0 or 1)."""
    if np.isin(y, (0.0, 1.0)).all():
        return x, y.astype(int), None
    both = np.concatenate([x, x])
    return both, np.r_[np.ones(len(y), int), np.zeros(len(y), int)], np.r_[y, 1.0 - y]


def constant_logit(y: np.ndarray) -> float | None:
    """The logit of (sum + 0.5) / (records + 1) when the present labels are all one class (or none); else None."""
    total, n = float(y.sum()), len(y)
    if n and 0.0 < total < float(n):
        return None
    p = (total + 0.5) / (n + 1.0)
    return float(np.log(p / (1 - p)))


def fit_column(x: np.ndarray, y: np.ndarray, c: float, max_iter: int) -> tuple[np.ndarray, float]:
    """Weights and intercept of one candidate's logistic regression on its present records."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    present = ~np.isnan(y)
    xs, ys = x[present], y[present]
    constant = constant_logit(ys)
    if constant is not None:
        return np.zeros(x.shape[1]), constant
    rows, classes, weights = as_classes(xs, ys)
    with warnings.catch_warnings():
        # A capped iteration count is a deliberate speed/precision trade-off here.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LogisticRegression(C=c, max_iter=max_iter).fit(rows, classes, sample_weight=weights)
    return model.coef_[0].astype(np.float64), float(model.intercept_[0])


def fit_columns(x: np.ndarray, y: np.ndarray, c: float, max_iter: int) -> tuple[np.ndarray, np.ndarray]:
    """m x d weights and m intercepts, one logistic regression per column of ``y``."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        fits = [fit_column(x, y[:, i], c, max_iter) for i in range(y.shape[1])]
    return np.array([w for w, _ in fits]).reshape(y.shape[1], x.shape[1]), np.array([b for _, b in fits])


@register
class LogisticRouter(Router):
    """Per-candidate L2 logistic regression on the standardised embedding; C chosen on validation."""

    name = "logistic"
    inputs = "embeddings"

    def __init__(self, C: float | None = None, max_iter: int = 100, tune_candidates: int = 20, random_state: int = 0) -> None:
        self.C = C
        self.max_iter = max_iter
        self.tune_candidates = tune_candidates
        self.random_state = random_state

    def fit(self, prompts: Prompts, labels: np.ndarray, validation: Labelled | None = None) -> LogisticRouter:
        x = embeddings_of(prompts, self.name).astype(np.float64)
        y = check_labels(labels, len(x))
        if self.C is not None and float(self.C) <= 0:
            raise ValueError(f"C must be positive, got {self.C}")
        mean, scale = standardiser(x)
        z = (x - mean) / scale
        val = validation_arrays(validation, self.name, x.shape[1], y.shape[1])
        values = grid(self.C, C_GRID, 0.1, val is not None)
        if len(values) > 1:
            cols = np.arange(y.shape[1])
            if len(cols) > int(self.tune_candidates):
                cols = np.sort(np.random.default_rng(self.random_state).choice(cols, int(self.tune_candidates), replace=False))
            zv = (val[0].astype(np.float64) - mean) / scale
            fits = [fit_columns(z, y[:, cols], c, int(self.max_iter)) for c in values]
            best = best_setting([sigmoid(zv @ w.T + b) for w, b in fits], val[1][:, cols])
            chosen, fitted = values[best], (fits[best] if len(cols) == y.shape[1] else None)
        else:
            chosen, fitted = values[0], None
        self.C_ = float(chosen)
        self.mean_, self.scale_ = mean, scale
        self.coef_, self.intercept_ = fitted or fit_columns(z, y, self.C_, int(self.max_iter))
        return self

    def decision_function(self, prompts: Prompts) -> np.ndarray:
        """Each candidate's logit of P(correct)."""
        self._check_fitted("coef_")
        x = embeddings_of(prompts, self.name, self.coef_.shape[1]).astype(np.float64)
        return ((x - self.mean_) / self.scale_) @ self.coef_.T + self.intercept_

    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        return sigmoid(self.decision_function(prompts))
