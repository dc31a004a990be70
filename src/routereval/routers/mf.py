"""Matrix factorisation: a vector per candidate against a projection of the prompt embedding.

Source: RouteLLM's matrix-factorisation router (Ong et al., 2024) and
EmbedLLM's TextMF (Zhuang et al., 2024): the prompt embedding is projected to
``dim`` latent factors, each candidate has a vector of ``dim`` factors and a
bias, and logit P(correct) = v_i . (P x) + b_i. All candidates share P, so one
fit learns from every present (prompt, candidate) record at once (missing
records are left out of the loss), and a candidate with few records borrows
the structure the others revealed.

Prediction reads the weights multiplied out once per fitted or loaded state
(:func:`folded_weights`; never saved), so a prompt costs one or two small
matrix products. Trained by :mod:`routereval.routers._latent` (full-batch AdamW, learning rate 0.002, weight decay
1e-4, early stopping on the validation split's loss) on the standardised
embedding. ``dim`` is chosen on the validation split from (8, 32) unless given
(without a validation split: 16).

:meth:`MFRouter.add_candidate` adds a model from its own records without
retraining the others: P stays fixed and the new (v, b) is an L2-regularised
logistic regression on the projected prompts (Newton's method, penalty
``add_l2`` on v), as EmbedLLM adds a model to a trained embedding space.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from routereval.routers._latent import fit_latent, logit_means
from routereval.routers.base import Labelled, Prompts, Router, register, sigmoid
from routereval.routers.checks import check_labels, embeddings_of
from routereval.routers._derived import DerivedState, derived

DIM_GRID = (8, 32)


def build_mf(dim: int, intercepts: np.ndarray):
    """The module factory for :func:`train_latent`: x -> (x P^T) V^T + b."""

    def build(torch: Any, d: int, m: int) -> Any:
        class MF(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.proj = torch.nn.Parameter(torch.randn(dim, d) / np.sqrt(d))
                self.models = torch.nn.Parameter(0.1 * torch.randn(m, dim))
                self.bias = torch.nn.Parameter(torch.from_numpy(intercepts.astype(np.float32)))

            def forward(self, x: Any) -> Any:
                return (x @ self.proj.T) @ self.models.T + self.bias

        return MF()

    return build


def penalised_logistic(z: np.ndarray, y: np.ndarray, l2: float, iters: int = 100) -> tuple[np.ndarray, float]:
    """Weights and intercept maximising the log-likelihood of labels ``y`` in [0, 1] minus l2/2 |w|^2.

    Newton's method (the objective is strictly concave with l2 > 0); the intercept is not penalised.
    """
    design = np.c_[z, np.ones(len(z))]
    penalty = np.full(design.shape[1], float(l2))
    penalty[-1] = 0.0
    w = np.zeros(design.shape[1])
    # Start the intercept at the smoothed mean so a one-class column needs few steps.
    p0 = (y.sum() + 0.5) / (len(y) + 1.0)
    w[-1] = np.log(p0 / (1 - p0))
    for _ in range(iters):
        p = sigmoid(design @ w)
        grad = design.T @ (p - y) + penalty * w
        hess = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return w[:-1], float(w[-1])


def folded_weights(
    mean: np.ndarray, scale: np.ndarray, proj: np.ndarray, models: np.ndarray, bias: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """The logits' map x -> ((x - mean) / scale) P^T V^T + b with everything but x multiplied out.

    Returns ``(weights, offset, factors, bias)`` with logits = (x weights - offset) factors + bias.
    Standardising is folded into the projection: ((x - mean) / scale) P^T = x A - c with
    A = (P / scale)^T and c = (mean / scale) P^T, and ``factors`` is V^T. When there are
    no more candidates than factors, V^T is folded in too (weights A V^T, offset c V^T,
    ``factors`` None): one d x m product per prompt instead of d x dim plus dim x m.
    """
    scaled = (proj / scale).T
    offset = (mean / scale) @ proj.T
    if len(models) <= proj.shape[0]:
        return scaled @ models.T, offset @ models.T, None, bias
    return scaled, offset, np.ascontiguousarray(models.T), bias


@register
class MFRouter(DerivedState, Router):
    """Low-rank logit model: shared prompt projection, one factor vector and bias per candidate."""

    name = "mf"
    inputs = "embeddings"
    requires = ("torch",)

    def __init__(
        self, dim: int | None = None, lr: float = 0.002, weight_decay: float = 1e-4, max_steps: int = 500,
        add_l2: float = 1.0, random_state: int = 0, n_threads: int = 1,
    ) -> None:
        self.dim = dim
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_steps = max_steps
        self.add_l2 = add_l2
        self.random_state = random_state
        self.n_threads = n_threads

    def fit(self, prompts: Prompts, labels: np.ndarray, validation: Labelled | None = None) -> MFRouter:
        fit = fit_latent(self, prompts, labels, validation, lambda dim, y: build_mf(dim, logit_means(y)),
                         lambda z, w: self._logits(z, w["proj"], w["models"], w["bias"]), DIM_GRID, 16)
        self.dim_, self.mean_, self.scale_ = fit.dim, fit.mean, fit.scale
        self.proj_, self.models_, self.bias_ = fit.weights["proj"], fit.weights["models"], fit.weights["bias"]
        self.steps_ = fit.steps
        self._folded()
        return self

    def _folded(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
        """:func:`folded_weights` of the learned state, computed once per fitted or loaded state."""
        return derived(self, "folded", (self.mean_, self.scale_, self.proj_, self.models_, self.bias_), folded_weights)

    @staticmethod
    def _logits(z: np.ndarray, proj: np.ndarray, models: np.ndarray, bias: np.ndarray) -> np.ndarray:
        return (z @ proj.T) @ models.T + bias

    def _standardised(self, prompts: Prompts) -> np.ndarray:
        self._check_fitted("proj_")
        x = embeddings_of(prompts, self.name, self.mean_.shape[0]).astype(np.float64)
        return (x - self.mean_) / self.scale_

    def decision_function(self, prompts: Prompts) -> np.ndarray:
        """Each candidate's logit of P(correct)."""
        self._check_fitted("proj_")
        x = embeddings_of(prompts, self.name, self.mean_.shape[0]).astype(np.float64)
        weights, offset, factors, bias = self._folded()
        z = x @ weights - offset
        return (z if factors is None else z @ factors) + bias

    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        return sigmoid(self.decision_function(prompts))

    def add_candidate(self, prompts: Prompts, labels: np.ndarray) -> MFRouter:
        """Append a candidate learned from its records on ``prompts`` (NaN = none); the others stay as they are."""
        z = self._standardised(prompts) @ self.proj_.T
        y = check_labels(np.asarray(labels, dtype=float).reshape(len(z), 1), len(z))[:, 0]
        present = ~np.isnan(y)
        if not present.any():
            raise ValueError("add_candidate needs at least one record of the new candidate")
        v, b = penalised_logistic(z[present], y[present], float(self.add_l2))
        self.models_ = np.vstack([self.models_, v[None, :]])
        self.bias_ = np.append(self.bias_, b)
        self._folded()
        return self
