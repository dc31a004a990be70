"""What every policy is: ``rank`` and ``choose`` over quality estimates (and costs), and the checks they share."""

from __future__ import annotations

import math
import numbers
from typing import ClassVar

import numpy as np

from routereval.errors import ArgumentError
from routereval.routers.base import one_hot
from routereval.routers.checks import check_matrix


def check_number(name: str, value: object, low: float, high: float | None) -> None:
    """A finite real number in [low, high] (no upper bound when ``high`` is None), else ArgumentError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ArgumentError(f"{name} must be a finite number, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low:g}" if high is None else f"in [{low:g}, {high:g}]"
        raise ArgumentError(f"{name} must be {bound}, got {value!r}")


def cost_matrix(costs: object | None, n: int, m: int) -> np.ndarray | None:
    """``costs`` (one per candidate, or n x m) as an n x m view of non-negative finite numbers; None stays None."""
    if costs is None:
        return None
    arr = np.asarray(costs, dtype=float)
    if arr.ndim == 1:
        arr = arr[None, :]
    arr = check_matrix(arr, "costs", n_cols=m)
    if (arr < 0).any():
        row, col = np.argwhere(arr < 0)[0]
        raise ArgumentError(f"costs holds {arr[row, col]:g} at row {row}, column {col} (0-based); costs must be >= 0")
    if arr.shape[0] not in (1, n):
        raise ValueError(f"costs has {arr.shape[0]} rows; expected 1 or one per prompt ({n})")
    return np.broadcast_to(arr, (n, m))


class Policy:
    """Base class: a rule from estimates (or, for the oracle family, true scores) to choices."""

    #: True for the oracle family, which reads the true scores of the prompts it routes.
    needs_scores: ClassVar[bool] = False

    def rank(
        self, quality: np.ndarray, costs: object | None = None, *, prefer: np.ndarray | None = None,
        allowed: np.ndarray | None = None,
    ) -> np.ndarray:
        """Candidate indices per prompt, best first (n x m).

        ``prefer`` (length m, lower first) orders candidates where a policy
        wants the cheapest but no costs are known (evaluation passes the
        weakest-on-train first); ``allowed`` (length m, bool) keeps only some
        candidates in play, the others ranked last.
        """
        raise NotImplementedError

    def choose(
        self, quality: np.ndarray | None, *, costs: object | None = None, scores: np.ndarray | None = None,
        prefer: np.ndarray | None = None,
    ) -> np.ndarray:
        """The probability of sending each prompt to each candidate (rows sum to 1)."""
        q = check_matrix(quality, "quality")
        return one_hot(self.rank(q, costs, prefer=prefer)[:, 0], q.shape[1])

    @property
    def label(self) -> str:
        """How tables name this policy."""
        return type(self).__name__.lower()
