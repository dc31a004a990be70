"""The oracle family: Oracle, r_o(p) and Random (RouterEval, section 5 of SPEC).

These routers look at the true scores of the test prompt; they bound what any
router can reach (Oracle) and interpolate down to chance (Random = r_o(0)).
r_o(p) routes each prompt to the oracle's pick with probability p and to a
uniformly random candidate otherwise. Its metrics are reported as exact
expectations through :meth:`choice_distribution`: mu_o(r_o(p)) is exactly
p * mu_o(Oracle) + (1 - p) * mu_o(Random).
"""

from __future__ import annotations

import numpy as np

from routereval.routers.base import Prompts, Router, argmax_choice, one_hot, register


def _true_scores(prompts: Prompts) -> np.ndarray:
    if prompts.scores is None:
        raise ValueError("the oracle family needs the true scores of the prompts (Prompts.scores)")
    return np.asarray(prompts.scores, dtype=float)


def normalised_scores(scores: np.ndarray) -> np.ndarray:
    """Scores divided by their row sum; uniform where a row is all zero (Oracle's pi)."""
    m = scores.shape[1]
    total = scores.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(total > 0, scores / np.where(total > 0, total, 1), 1.0 / m)
    return out


@register
class OracleMixRouter(Router):
    """r_o(p): the oracle's choice with probability ``p``, else a uniform random candidate."""

    name = "ro"
    inputs = "none"
    uses_true_scores = True

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def fit(self, prompts: Prompts, labels: np.ndarray) -> OracleMixRouter:
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"p must lie in [0, 1], got {self.p}")
        self.n_candidates_ = labels.shape[1]
        return self

    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        scores = _true_scores(prompts)
        return self.p * scores + (1 - self.p) * scores.mean(axis=1, keepdims=True)

    def choice_distribution(self, prompts: Prompts) -> np.ndarray:
        scores = _true_scores(prompts)
        m = scores.shape[1]
        return self.p * one_hot(argmax_choice(scores), m) + (1 - self.p) / m

    def predict_proba(self, prompts: Prompts) -> np.ndarray:
        scores = _true_scores(prompts)
        return self.p * normalised_scores(scores) + (1 - self.p) / scores.shape[1]

    def sample_choices(self, prompts: Prompts, seed: int = 0) -> np.ndarray:
        """One Monte Carlo run: a concrete choice per prompt."""
        rng = np.random.default_rng(seed)
        dist = self.choice_distribution(prompts)
        u = rng.random((len(dist), 1))
        return np.minimum((dist.cumsum(axis=1) < u).sum(axis=1), dist.shape[1] - 1)


@register
class OracleRouter(OracleMixRouter):
    """Oracle r_o: the best candidate on each test prompt (first one on ties)."""

    name = "oracle"

    def __init__(self) -> None:
        super().__init__(p=1.0)


@register
class RandomRouter(OracleMixRouter):
    """Random = r_o(0): a uniformly random candidate (its metrics are expectations)."""

    name = "random"

    def __init__(self) -> None:
        super().__init__(p=0.0)
