"""Deterministic rules over estimates: the argmax, a cost-aware trade-off, a cost cap, a threshold, a tolerance."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from routereval.errors import ArgumentError
from routereval.policies.base import Policy, check_number, cost_matrix
from routereval.routers.checks import check_matrix


@dataclass(frozen=True)
class Rule(Policy):
    """The deterministic policy family; each factory below sets some of its fields.

    Per prompt, with q the quality estimates and c the costs:

    1. ``max_cost``: candidates costing more are out (ranked last, cheapest
       first); if every candidate is out, the cheapest leads.
    2. ``threshold`` t / ``tolerance`` tau: a candidate is *good enough* when
       q >= t, or q >= (best q among those in) - tau. Good-enough candidates
       come first, cheapest first (without costs: in ``prefer`` order, then
       candidate order), so a cheap model takes every prompt it can handle.
    3. Everything else by utility q - ``cost_weight`` * c, best first.

    Ties in utility go to the cheaper candidate where costs are known, then to
    the first listed.
    """

    cost_weight: float = 0.0
    max_cost: float | None = None
    threshold: float | None = None
    tolerance: float | None = None

    def __post_init__(self) -> None:
        # Costs, weights, thresholds and tolerances are >= 0. A threshold above 1 (never met: the best
        # estimate is chosen) or a tolerance above 1 (always met: the cheapest) is the end point of a
        # sweep over them, so it stays allowed; a negative one has no meaning.
        check_number("cost_weight", self.cost_weight, 0.0, None)
        if self.max_cost is not None:
            check_number("max_cost", self.max_cost, 0.0, None)
        if self.threshold is not None:
            check_number("threshold", self.threshold, 0.0, None)
        if self.tolerance is not None:
            check_number("tolerance", self.tolerance, 0.0, None)
        if self.threshold is not None and self.tolerance is not None:
            raise ArgumentError("give threshold or tolerance, not both")

    @property
    def needs_costs(self) -> bool:
        return self.cost_weight > 0 or self.max_cost is not None

    @property
    def label(self) -> str:
        parts = []
        if self.cost_weight:
            parts.append(f"cost_weight={self.cost_weight:g}")
        if self.max_cost is not None:
            parts.append(f"max_cost={self.max_cost:g}")
        if self.threshold is not None:
            parts.append(f"threshold={self.threshold:g}")
        if self.tolerance is not None:
            parts.append(f"tolerance={self.tolerance:g}")
        return ",".join(parts) or "argmax"

    def rank(
        self, quality: np.ndarray, costs: object | None = None, *, prefer: np.ndarray | None = None,
        allowed: np.ndarray | None = None,
    ) -> np.ndarray:
        """Candidates best first (see :meth:`Policy.rank`)."""
        q = check_matrix(quality, "quality")
        n, m = q.shape
        c = cost_matrix(costs, n, m)
        if self.needs_costs and c is None:
            raise ValueError(f"policy {self.label} needs the candidates' costs")
        utility = q if c is None or not self.cost_weight else q - self.cost_weight * c
        # Equal utility goes to the cheaper candidate where costs are known (paying more for the
        # same estimate is never the better choice), then to the first listed.
        cheaper = np.zeros((n, m)) if c is None else c
        if self.max_cost is None and self.threshold is None and self.tolerance is None and allowed is None:
            if c is None:  # the common case: a stable sort of -utility puts ties in candidate order
                return np.argsort(-utility, axis=1, kind="stable")
            return np.lexsort((np.broadcast_to(np.arange(m), (n, m)), cheaper, -utility), axis=1)
        index = np.broadcast_to(np.arange(m), (n, m))
        usable = np.ones((n, m), dtype=bool)
        if allowed is not None:
            usable &= np.asarray(allowed, dtype=bool)[None, :]
        if self.max_cost is not None:
            usable &= c <= self.max_cost
        good = np.zeros((n, m), dtype=bool)
        if self.threshold is not None:
            good = usable & (q >= self.threshold)
        elif self.tolerance is not None:
            best = np.where(usable, q, -np.inf).max(axis=1, keepdims=True)
            good = usable & (q >= best - self.tolerance)
        order_key = c if c is not None else np.broadcast_to(
            np.arange(m) if prefer is None else np.asarray(prefer, dtype=float), (n, m))
        tier = np.where(good, 0, np.where(usable, 1, 2))
        second = np.where(tier == 1, 0.0, order_key)
        # lexsort: the last key is the primary one.
        return np.lexsort((index, cheaper, -utility, second, tier), axis=1)


def argmax() -> Rule:
    """The best estimate per prompt (ties: the cheaper where costs are given, then the lowest index). The default policy."""
    return Rule()


def cost_aware(cost_weight: float) -> Rule:
    """argmax of quality - ``cost_weight`` * cost: how much quality one unit of cost is worth."""
    return Rule(cost_weight=cost_weight)


def cost_cap(max_cost: float, cost_weight: float = 0.0) -> Rule:
    """The best estimate among candidates costing at most ``max_cost`` per prompt."""
    return Rule(cost_weight=cost_weight, max_cost=max_cost)


def threshold(t: float) -> Rule:
    """The cheapest candidate whose estimated quality reaches ``t``; the best estimate where none does.

    For a strong/weak pair this is RouteLLM's switch: the weak (cheap) model
    answers when it is estimated good enough, the strong one otherwise.
    """
    return Rule(threshold=t)


def tolerance(tau: float) -> Rule:
    """The cheapest candidate within ``tau`` of the best estimate on the prompt."""
    return Rule(tolerance=tau)


# -- the oracle family -------------------------------------------------------------------
