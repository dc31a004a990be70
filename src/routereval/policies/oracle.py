"""The oracle family: policies over the true scores of the test prompts, which bound what routing can reach.

:class:`Oracle`, :class:`OracleMix` (r_o(p): the oracle with probability p, else a uniform random
candidate) and :class:`Random` (r_o(0)); and :class:`CheapestOracle`, the cheapest correct candidate.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from routereval.errors import ArgumentError
from routereval.policies.base import Policy, cost_matrix
from routereval.routers.base import normalised_scores, one_hot
from routereval.routers.checks import check_matrix


@dataclass(frozen=True)
class OracleMix(Policy):
    """r_o(p): the oracle's pick with probability ``p``, else a uniformly random candidate.

    ``choose`` returns exact expectations (p * oracle + (1 - p) / m per cell),
    so mu_o(r_o(p)) = p * mu_o(oracle) + (1 - p) * mu_o(random) without
    sampling noise; :meth:`sample` draws concrete runs for a Monte Carlo check.
    """

    p: float = 0.5
    needs_scores: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if isinstance(self.p, bool) or not isinstance(self.p, numbers.Real) or not 0.0 <= self.p <= 1.0:
            raise ArgumentError(f"p must lie in [0, 1], got {self.p!r}")

    @property
    def label(self) -> str:
        return f"ro({self.p:g})"

    def _scores(self, scores: np.ndarray | None) -> np.ndarray:
        if scores is None:
            raise ValueError(f"{self.label} needs the true scores of the prompts it routes")
        return check_matrix(scores, "scores")

    def rank(
        self, quality: np.ndarray, costs: object | None = None, *, prefer: np.ndarray | None = None,
        allowed: np.ndarray | None = None,
    ) -> np.ndarray:
        """Best true score first (here ``quality`` is the true scores)."""
        return np.argsort(-check_matrix(quality, "scores"), axis=1, kind="stable")

    def choose(
        self, quality: np.ndarray | None = None, *, costs: object | None = None, scores: np.ndarray | None = None,
        prefer: np.ndarray | None = None,
    ) -> np.ndarray:
        s = self._scores(scores)
        m = s.shape[1]
        return self.p * one_hot(np.argmax(s, axis=1), m) + (1.0 - self.p) / m

    def proba(self, scores: np.ndarray) -> np.ndarray:
        """pi for E_p: p * normalised scores + (1 - p) / m."""
        s = self._scores(scores)
        return self.p * normalised_scores(s) + (1.0 - self.p) / s.shape[1]

    def sample(self, scores: np.ndarray, runs: int = 1000, seed: int = 0) -> np.ndarray:
        """``runs`` Monte Carlo runs: a concrete choice per (run, prompt), runs x n."""
        s = self._scores(scores)
        n, m = s.shape
        rng = np.random.default_rng(seed)
        follow = rng.random((runs, n)) < self.p
        uniform = rng.integers(0, m, size=(runs, n))
        return np.where(follow, np.argmax(s, axis=1)[None, :], uniform)


@dataclass(frozen=True)
class Oracle(OracleMix):
    """The best candidate on each prompt by its true score (first one on ties): an upper bound."""

    p: float = field(default=1.0, init=False)

    @property
    def label(self) -> str:
        return "oracle"


@dataclass(frozen=True)
class Random(OracleMix):
    """A uniformly random candidate = r_o(0); its metrics are exact expectations."""

    p: float = field(default=0.0, init=False)

    @property
    def label(self) -> str:
        return "random"


def oracle() -> Oracle:
    """The oracle r_o."""
    return Oracle()


def ro(p: float = 0.5) -> OracleMix:
    """The oracle mix r_o(p): with probability ``p`` the oracle's choice, otherwise a uniformly random candidate."""
    return OracleMix(p)


def random() -> Random:
    """Random = r_o(0)."""
    return Random()


#: The oracle family by the names the command line uses.
REFERENCE_POLICIES = {"oracle": Oracle, "ro": OracleMix, "random": Random}


# -- costs: the exact lambda sweep, a budget for a whole set, the cost-aware oracle -------


@dataclass(frozen=True)
class CheapestOracle(Policy):
    """The cost-aware oracle: on each prompt the cheapest candidate with the best true score.

    For binary records: the cheapest correct model, or the cheapest model when
    none is correct (no one answers it, so nothing is worth paying for).
    Without costs it is the plain oracle. Ties in cost go to the lowest index.
    """

    needs_scores: ClassVar[bool] = True

    @property
    def label(self) -> str:
        return "oracle-cheapest"

    def rank(
        self, quality: np.ndarray, costs: object | None = None, *, prefer: np.ndarray | None = None,
        allowed: np.ndarray | None = None,
    ) -> np.ndarray:
        """Best true score first, cheaper first among equal scores (``quality`` is the true scores)."""
        s = check_matrix(quality, "scores")
        n, m = s.shape
        c = cost_matrix(costs, n, m)
        index = np.broadcast_to(np.arange(m), (n, m))
        cost_key = np.zeros((n, m)) if c is None else np.asarray(c, dtype=float)
        return np.lexsort((index, cost_key, -s), axis=1)

    def choose(
        self, quality: np.ndarray | None = None, *, costs: object | None = None, scores: np.ndarray | None = None,
        prefer: np.ndarray | None = None,
    ) -> np.ndarray:
        if scores is None:
            raise ValueError(f"{self.label} needs the true scores of the prompts it routes")
        s = check_matrix(scores, "scores")
        return one_hot(self.rank(s, costs)[:, 0], s.shape[1])

    def proba(self, scores: np.ndarray, costs: object | None = None) -> np.ndarray:
        """pi for E_p: the one-hot of its choice (it is deterministic)."""
        return self.choose(scores=scores, costs=costs)


def oracle_cheapest() -> CheapestOracle:
    """The cost-aware oracle (cheapest correct model)."""
    return CheapestOracle()


REFERENCE_POLICIES["oracle-cheapest"] = CheapestOracle
