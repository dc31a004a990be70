"""Cost-quality sweeps: every operating point of a cost-aware rule, exactly, and the budget policy built on them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from routereval.policies.base import Policy, check_number, cost_matrix
from routereval.policies.rules import Rule
from routereval.routers.base import one_hot
from routereval.routers.checks import check_matrix


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
    c = np.asarray(cost_matrix(costs, n, m), dtype=float)
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
        check_number("budget", self.budget, 0.0, None)

    needs_costs: ClassVar[bool] = True

    @property
    def label(self) -> str:
        return f"budget={self.budget:g}"

    def _mix(self, quality: np.ndarray, costs: object) -> tuple[np.ndarray, np.ndarray, float, float]:
        """(choice a, choice b, weight of a, lambda of the segment)."""
        from routereval.metrics.cost import upper_hull

        q = check_matrix(quality, "quality")
        n, m = q.shape
        c = np.asarray(cost_matrix(costs, n, m), dtype=float)
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
