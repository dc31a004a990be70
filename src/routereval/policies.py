"""Policies: turn quality estimates into choices.

A router estimates each candidate's expected score in [0, 1]; a policy
decides. Keeping them apart lets one fitted router serve several deployments:
the plain argmax, a cost-aware trade-off swept over its cost weight for a
cost-quality curve, a threshold ("the cheapest candidate that is good
enough"), or a cost cap. Every policy gives

* ``rank(quality, costs)``: n x m candidate indices, best first. The first is
  the choice; the rest is the fallback order a proxy tries when a backend
  fails.
* ``choose(quality, costs=..., scores=...)``: n x m rows, the probability of
  sending each prompt to each candidate (one-hot for deterministic policies).
  Metrics read this, so randomised policies are measured exactly.

The *oracle family* (:class:`Oracle`, :class:`OracleMix` = r_o(p),
:class:`Random` = r_o(0)) are policies over the true scores of the test
prompts (``needs_scores``), not learners: they bound what routing can reach.

Ties always go to the lowest candidate index. ``costs`` is one cost per
candidate (length m) or one per prompt and candidate (n x m), in any unit the
caller keeps consistent (dollars per query in routereval's cost tables).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from routereval.errors import ArgumentError
from routereval.routers.base import normalised_scores, one_hot
from routereval.routers.checks import check_matrix

__all__ = [
    "Policy", "Rule", "Oracle", "OracleMix", "Random",
    "argmax", "cost_aware", "cost_cap", "threshold", "tolerance", "oracle", "ro", "random",
    "normalised_scores",
    "Sweep", "cost_sweep", "sweep_points", "Budget", "budget", "CheapestOracle", "oracle_cheapest",
]


def _check_number(name: str, value: object, low: float, high: float | None) -> None:
    """A finite real number in [low, high] (no upper bound when ``high`` is None), else ArgumentError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ArgumentError(f"{name} must be a finite number, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low:g}" if high is None else f"in [{low:g}, {high:g}]"
        raise ArgumentError(f"{name} must be {bound}, got {value!r}")


def _costs(costs: object | None, n: int, m: int) -> np.ndarray | None:
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
        _check_number("cost_weight", self.cost_weight, 0.0, None)
        if self.max_cost is not None:
            _check_number("max_cost", self.max_cost, 0.0, None)
        if self.threshold is not None:
            _check_number("threshold", self.threshold, 0.0, None)
        if self.tolerance is not None:
            _check_number("tolerance", self.tolerance, 0.0, None)
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
        c = _costs(costs, n, m)
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
    """r_o(p)."""
    return OracleMix(p)


def random() -> Random:
    """Random = r_o(0)."""
    return Random()


#: The oracle family by the names the command line uses.
REFERENCE_POLICIES = {"oracle": Oracle, "ro": OracleMix, "random": Random}


# -- costs: the exact lambda sweep, a budget for a whole set, the cost-aware oracle -------


@dataclass(frozen=True)
class Sweep:
    """Every choice the cost-aware rule makes as its cost weight lambda goes from 0 to infinity.

    ``start`` (length n) is the choice at lambda = 0 (the argmax, ties to the
    cheaper candidate, then the lowest index). Each event k says that for lambda above ``lam[k]`` prompt
    ``prompt[k]`` moves from candidate ``old[k]`` to the cheaper ``new[k]``;
    events are sorted by lambda (then prompt). Between two consecutive event
    lambdas the choices are constant, so these are all the operating points.
    """

    start: np.ndarray
    lam: np.ndarray
    prompt: np.ndarray
    old: np.ndarray
    new: np.ndarray

    def choices_at(self, cost_weight: float) -> np.ndarray:
        """The choice of ``cost_aware(cost_weight)`` per prompt, from the events (for lambda off the breakpoints)."""
        out = self.start.copy()
        upto = self.lam < cost_weight
        out[self.prompt[upto]] = self.new[upto]  # events are in lambda order: the last one per prompt wins
        return out


def cost_sweep(quality: np.ndarray, costs: object) -> Sweep:
    """The exact sweep of argmax_i (quality - lambda * cost) over lambda >= 0 (see :class:`Sweep`).

    Per prompt the chosen candidate walks down the upper envelope of the lines
    q_i - lambda c_i: from the current one, the next is the candidate of lower
    cost whose line crosses first (the cheapest of those crossing at the same
    lambda). Vectorised over prompts; at most m - 1 steps.
    """
    q = check_matrix(quality, "quality").astype(float)
    n, m = q.shape
    c = np.asarray(_costs(costs, n, m), dtype=float)
    if np.isnan(c).any():
        raise ValueError("a cost sweep needs a known cost for every candidate (NaN found)")
    rows = np.arange(n)
    current = Rule().rank(q, c)[:, 0]  # the argmax, ties broken as the rule breaks them (cheaper, then first)
    start = current.copy()
    level = np.zeros(n)  # lambda reached so far per prompt
    active = np.ones(n, dtype=bool)
    lam, prompt, old, new = [], [], [], []
    for _ in range(m):
        if not active.any():
            break
        qc, cc = q[rows, current][:, None], c[rows, current][:, None]
        cheaper = c < cc
        with np.errstate(divide="ignore", invalid="ignore"):
            cross = np.where(cheaper, (qc - q) / (cc - c), np.inf)
        cross = np.maximum(cross, level[:, None])  # rounding must not step back in lambda
        first = cross.min(axis=1)
        step = active & np.isfinite(first)
        # Among candidates crossing at the same lambda the cheapest wins beyond it (then the lowest index).
        tied = np.where(cross <= first[:, None], c, np.inf)
        target = np.argmin(tied, axis=1)
        idx = np.flatnonzero(step)
        lam.append(first[idx])
        prompt.append(idx)
        old.append(current[idx])
        new.append(target[idx])
        current = np.where(step, target, current)
        level = np.where(step, first, level)
        active = step
    lam_a = np.concatenate(lam) if lam else np.empty(0)
    order = np.lexsort((np.concatenate(prompt) if prompt else np.empty(0, int), lam_a))
    pick = lambda parts: (np.concatenate(parts) if parts else np.empty(0, dtype=np.int64))[order]  # noqa: E731
    return Sweep(start, lam_a[order], pick(prompt), pick(old), pick(new))


def sweep_points(sweep: Sweep, quality: np.ndarray, costs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lambda, mean cost, mean quality) of every operating point of a sweep, measured with ``quality`` / ``costs``.

    ``quality`` and ``costs`` (n x m) may be the estimates the sweep was made
    from or the true scores and record costs of the same prompts. The first
    point is lambda = 0; each later one holds for lambda just above its value.
    """
    n = len(sweep.start)
    rows = np.arange(n)
    q, c = np.asarray(quality, dtype=float), np.asarray(costs, dtype=float)
    q0, c0 = q[rows, sweep.start].sum(), c[rows, sweep.start].sum()
    dq = q[sweep.prompt, sweep.new] - q[sweep.prompt, sweep.old]
    dc = c[sweep.prompt, sweep.new] - c[sweep.prompt, sweep.old]
    # One point per distinct lambda: the state after every event at that lambda. Crossings of
    # different pairs at one lambda differ by rounding, so lambdas within 1e-9 (relative) are one.
    lam_all = sweep.lam
    if len(lam_all):
        last = np.r_[~np.isclose(lam_all[1:], lam_all[:-1], rtol=1e-9, atol=1e-15), True]
    else:
        last = np.empty(0, dtype=bool)
    lam = np.r_[0.0, sweep.lam[last]]
    mean_q = np.r_[q0, q0 + np.cumsum(dq)[last]] / max(n, 1)
    mean_c = np.r_[c0, c0 + np.cumsum(dc)[last]] / max(n, 1)
    return lam, mean_c, mean_q


@dataclass(frozen=True)
class Budget(Policy):
    """Spend at most ``budget`` per prompt on average over the whole set, as well as the estimates allow.

    The cost-aware rule's operating points over lambda (on the estimates and
    the given costs) are put on their upper hull; the hull segment holding the
    budget has two end points, and each prompt follows the cheaper one with
    probability w and the dearer one with 1 - w, w chosen so that the mean
    expected cost is exactly ``budget``. Above the dearest useful point it is
    that point (the argmax, cheapest among equal estimates); below the
    cheapest possible spend, every prompt takes the cheapest operating point,
    whose mean cost then exceeds the budget (nothing spends less).

    ``costs`` are what the policy can know before answering (e.g. each
    candidate's mean cost per query on the training prompts).
    """

    budget: float = 0.0

    def __post_init__(self) -> None:
        _check_number("budget", self.budget, 0.0, None)

    needs_costs: ClassVar[bool] = True

    @property
    def label(self) -> str:
        return f"budget={self.budget:g}"

    def _mix(self, quality: np.ndarray, costs: object) -> tuple[np.ndarray, np.ndarray, float, float]:
        """(choice a, choice b, weight of a, lambda of the segment)."""
        from routereval.metrics.cost import upper_hull

        q = check_matrix(quality, "quality")
        n, m = q.shape
        c = np.asarray(_costs(costs, n, m), dtype=float)
        sweep = cost_sweep(q, c)
        lam, mean_c, mean_q = sweep_points(sweep, q, c)
        hull = upper_hull(mean_c, mean_q)
        # Map hull vertices back to operating points (the first point with that cost and quality).
        at = [int(np.flatnonzero((mean_c == x) & (mean_q == y))[0]) for x, y in hull]
        if self.budget >= hull[-1, 0]:
            k = at[-1]
            return sweep.choices_at(_between(lam, k)), sweep.choices_at(_between(lam, k)), 1.0, float(lam[k])
        if self.budget <= hull[0, 0]:
            # The cheapest point may still be dearer than the budget: nothing spends less.
            k = at[0]
            return sweep.choices_at(_between(lam, k)), sweep.choices_at(_between(lam, k)), 1.0, float(lam[k])
        s = int(np.searchsorted(hull[:, 0], self.budget))  # hull[s-1, 0] < budget <= hull[s, 0]
        lo, hi = at[s - 1], at[s]
        w = (hull[s, 0] - self.budget) / (hull[s, 0] - hull[s - 1, 0])
        slope = (hull[s, 1] - hull[s - 1, 1]) / (hull[s, 0] - hull[s - 1, 0])
        return sweep.choices_at(_between(lam, lo)), sweep.choices_at(_between(lam, hi)), float(w), float(slope)

    def choose(
        self, quality: np.ndarray | None, *, costs: object | None = None, scores: np.ndarray | None = None,
        prefer: np.ndarray | None = None,
    ) -> np.ndarray:
        if costs is None:
            raise ValueError(f"policy {self.label} needs the candidates' costs")
        cheap, dear, w, _ = self._mix(quality, costs)
        m = check_matrix(quality, "quality").shape[1]
        return w * one_hot(cheap, m) + (1.0 - w) * one_hot(dear, m)

    def rank(
        self, quality: np.ndarray, costs: object | None = None, *, prefer: np.ndarray | None = None,
        allowed: np.ndarray | None = None,
    ) -> np.ndarray:
        """The cost-aware ranking at the lambda of the budget's hull segment (both mixed points are optimal there)."""
        if costs is None:
            raise ValueError(f"policy {self.label} needs the candidates' costs")
        _, _, _, slope = self._mix(quality, costs)
        return Rule(cost_weight=max(slope, 0.0)).rank(quality, costs, prefer=prefer, allowed=allowed)


def _between(lam: np.ndarray, k: int) -> float:
    """A lambda strictly inside operating point k's interval (k = 0 is lambda = 0 itself)."""
    if k == 0:
        return 0.0
    upper = lam[k + 1] if k + 1 < len(lam) else lam[k] * 2 + 1.0
    return float((lam[k] + upper) / 2)


def budget(amount: float) -> Budget:
    """A mean cost per prompt of at most ``amount`` over the routed set, reached exactly by mixing two operating points."""
    return Budget(amount)


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
        c = _costs(costs, n, m)
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
