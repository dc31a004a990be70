"""Multidimensional item response theory: prompt difficulty and discrimination, model ability.

Source: IRT-Router (Song et al., 2025), after multidimensional IRT in
psychometrics: a prompt j is an item with a discrimination vector a_j >= 0
and a difficulty b_j, both predicted from its embedding; a candidate i is a
test-taker with an ability vector theta_i, and

    P(i answers j correctly) = sigmoid(a_j . theta_i - b_j),
    a_j = softplus(A x_j + a_0),  b_j = w . x_j + c.

Discrimination is kept non-negative (softplus), as in IRT: more ability never
lowers the chance of a right answer, so with ``dim = 1`` the candidates are
ordered by ability on every prompt, and each ability dimension reads as a
skill the prompt calls on (weighted by a_j).

Trained on every present (prompt, candidate) record at once by
:mod:`routereval.routers._latent` (full-batch AdamW, learning rate 0.002, early stopping on the
validation loss) on the standardised embedding. ``dim`` is chosen on the
validation split from (1, 4) unless given (without a validation split: 2).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from routereval.routers._latent import fit_latent, logit_means
from routereval.routers.base import Labelled, Prompts, Router, register, sigmoid
from routereval.routers.checks import embeddings_of

DIM_GRID = (1, 4)


def softplus(v: np.ndarray) -> np.ndarray:
    """log(1 + e^v), stable for large |v|."""
    return np.logaddexp(0.0, v)


def build_irt(dim: int, mean_logit: float):
    """The module factory for :func:`train_latent`."""

    def build(torch: Any, d: int, m: int) -> Any:
        class MIRT(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.disc = torch.nn.Linear(d, dim)
                self.diff = torch.nn.Linear(d, 1)
                self.ability = torch.nn.Parameter(0.1 * torch.randn(m, dim))
                with torch.no_grad():
                    self.disc.weight.mul_(0.1)
                    self.disc.bias.fill_(0.5)
                    self.diff.weight.mul_(0.1)
                    self.diff.bias.fill_(-mean_logit)

            def forward(self, x: Any) -> Any:
                a = torch.nn.functional.softplus(self.disc(x))
                return a @ self.ability.T - self.diff(x)

        return MIRT()

    return build


@register
class IRTRouter(Router):
    """MIRT: sigmoid(a(x) . theta_i - b(x)) with a(x) >= 0 from the embedding and an ability vector per candidate."""

    name = "irt"
    inputs = "embeddings"
    requires = ("torch",)

    def __init__(
        self, dim: int | None = None, lr: float = 0.002, weight_decay: float = 1e-4, max_steps: int = 500,
        random_state: int = 0, n_threads: int = 1,
    ) -> None:
        self.dim = dim
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_steps = max_steps
        self.random_state = random_state
        self.n_threads = n_threads

    def fit(self, prompts: Prompts, labels: np.ndarray, validation: Labelled | None = None) -> IRTRouter:
        fit = fit_latent(self, prompts, labels, validation, lambda dim, y: build_irt(dim, float(np.mean(logit_means(y)))),
                         self._logits, DIM_GRID, 2)
        weights = fit.weights
        self.dim_, self.mean_, self.scale_ = fit.dim, fit.mean, fit.scale
        self.disc_weight_, self.disc_bias_ = weights["disc.weight"], weights["disc.bias"]
        self.diff_weight_, self.diff_bias_ = weights["diff.weight"][0], float(weights["diff.bias"][0])
        self.ability_ = weights["ability"]
        self.steps_ = fit.steps
        return self

    @staticmethod
    def _logits(z: np.ndarray, w: dict[str, np.ndarray]) -> np.ndarray:
        a = softplus(z @ w["disc.weight"].T + w["disc.bias"])
        return a @ w["ability"].T - (z @ w["diff.weight"].T + w["diff.bias"])

    def item_parameters(self, prompts: Prompts) -> tuple[np.ndarray, np.ndarray]:
        """Each prompt's discrimination vector (n x dim, >= 0) and difficulty (n)."""
        self._check_fitted("ability_")
        x = embeddings_of(prompts, self.name, self.mean_.shape[0]).astype(np.float64)
        z = (x - self.mean_) / self.scale_
        return softplus(z @ self.disc_weight_.T + self.disc_bias_), z @ self.diff_weight_ + self.diff_bias_

    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        a, b = self.item_parameters(prompts)
        return sigmoid(a @ self.ability_.T - b[:, None])
