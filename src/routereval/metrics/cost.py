"""Cost metrics, defined once (formulas: docs/costs.md).

Inputs: record costs ``c`` (n x m, dollars or any unit kept consistent, NaN =
unknown) and a choice distribution ``d`` (n x m, rows summing to 1) from a
policy; for curve metrics, a cost-quality *hull* from :func:`upper_hull`.

Per routed system:

* :func:`per_prompt_cost`  sum_i d[j, i] c[j, i]; NaN where a possible choice (d > 0) has no cost.
* :func:`cost_summary`     mean cost over the prompts whose cost is known, total cost (sum over
  them), cost per 1,000 queries (1000 x mean) and how many prompts had an unknown cost (left out).

On a curve of operating points (mean cost, mean quality):

* :func:`upper_hull`       the non-decreasing upper convex hull: what a user can reach by
  randomising between operating points and never paying for a loss of quality.
* :func:`hull_height`      the hull's quality at a cost (NaN below its cheapest point).
* :func:`aiq`              RouterBench's AIQ: the hull's mean height over a stated cost range
  [lo, hi], shared by every router compared; below a router's cheapest point its height is 0
  (it cannot run on that budget) and the share of the range it covers is returned beside it.
* :func:`cost_to_reach`    the least cost at which the hull reaches a quality (NaN if never);
  with the best single model's quality, ``saving`` = 1 - cost / that model's cost.
* :func:`pgr`, :func:`apgr`, :func:`cpt`  RouteLLM's performance gap recovered for a
  strong/weak pair: PGR = (q - q_weak) / (q_strong - q_weak); APGR = the mean of PGR over the
  cost range from the weak model's cost to the strong model's cost (exact integral of the
  piecewise-linear hull, with both models' own points added); CPT(x) = the least cost at which
  PGR reaches x on that hull. With cost = the share
  of calls to the strong model these are RouteLLM's numbers; with dollars, their $ form.
"""

from __future__ import annotations

import numpy as np

from routereval.metrics.core import per_prompt_expectation

#: Queries per "cost per 1k queries".
PER_QUERIES = 1000
#: Relative tolerance for "the same cost / quality" when means were summed in different orders.
_REL = 1e-9


def per_prompt_cost(costs: np.ndarray, choice: np.ndarray) -> np.ndarray:
    """Expected cost of the routed system on each prompt; NaN where a possible choice has no known cost."""
    return per_prompt_expectation(costs, choice)


def cost_summary(costs: np.ndarray, choice: np.ndarray) -> dict[str, float | int]:
    """``mean_cost``, ``total_cost``, ``cost_per_1k`` over prompts with a known cost; ``n_cost_unknown`` left out."""
    per_prompt = per_prompt_cost(costs, choice)
    known = ~np.isnan(per_prompt)
    mean = float(per_prompt[known].mean()) if known.any() else float("nan")
    return {
        "mean_cost": mean,
        "total_cost": float(per_prompt[known].sum()) if known.any() else float("nan"),
        "cost_per_1k": PER_QUERIES * mean,
        "n_cost_unknown": int((~known).sum()),
    }


def upper_hull(cost: np.ndarray, quality: np.ndarray) -> np.ndarray:
    """Vertices (k x 2: cost, quality) of the non-decreasing upper convex hull of the points.

    Starts at the cheapest point (the best of those that cost the same), rises
    along the upper concave envelope and ends at the best-quality point (the
    cheapest of those): beyond it the hull is flat, since a larger budget can
    always be left unspent. Points with a NaN coordinate are ignored.
    """
    pts = np.column_stack([np.asarray(cost, dtype=float), np.asarray(quality, dtype=float)])
    pts = pts[~np.isnan(pts).any(axis=1)]
    if not len(pts):
        return np.empty((0, 2))
    # Sort by cost, then quality descending; keep the best quality per cost.
    pts = pts[np.lexsort((-pts[:, 1], pts[:, 0]))]
    keep = np.r_[True, pts[1:, 0] != pts[:-1, 0]]
    pts = pts[keep]
    # Only points that improve on every cheaper one can be on a non-decreasing hull.
    pts = pts[np.r_[True, pts[1:, 1] > np.maximum.accumulate(pts[:, 1])[:-1]]]
    hull: list[np.ndarray] = []
    for p in pts:
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            # Drop the middle point when it lies on or under the chord from hull[-2] to p.
            if (y2 - y1) * (p[0] - x1) <= (p[1] - y1) * (x2 - x1):
                hull.pop()
            else:
                break
        hull.append(p)
    return np.array(hull)


def hull_height(hull: np.ndarray, cost: float | np.ndarray) -> np.ndarray | float:
    """Quality on the hull at ``cost`` (linear between vertices, flat after the last; NaN before the first)."""
    x = np.asarray(cost, dtype=float)
    if len(hull) == 0:
        return np.full_like(x, np.nan) if x.ndim else float("nan")
    # Means summed in another order differ in the last bits: a cost that equals the first vertex's is on the hull.
    x = np.where(np.isclose(x, hull[0, 0], rtol=_REL, atol=0.0), np.maximum(x, hull[0, 0]), x)
    y = np.interp(x, hull[:, 0], hull[:, 1], left=np.nan, right=hull[-1, 1])
    return y if x.ndim else float(y)


def _area(hull: np.ndarray, lo: float, hi: float) -> float:
    """Integral of the hull's height over [lo, hi], counting 0 below its cheapest point."""
    if hi <= lo or len(hull) == 0:
        return 0.0
    start = max(lo, hull[0, 0])
    if start >= hi:
        return 0.0
    xs = np.concatenate([[start], hull[(hull[:, 0] > start) & (hull[:, 0] < hi), 0], [hi]])
    ys = np.asarray(hull_height(hull, xs))
    return float(np.sum((xs[1:] - xs[:-1]) * (ys[1:] + ys[:-1]) / 2.0))


def aiq(hull: np.ndarray, lo: float, hi: float) -> dict[str, float]:
    """RouterBench's AIQ over the cost range [lo, hi]: ``aiq`` and ``covered`` (share of the range the hull reaches)."""
    if not hi > lo:
        raise ValueError(f"AIQ needs a cost range with hi > lo, got [{lo}, {hi}]")
    covered = 0.0 if len(hull) == 0 else float(np.clip((hi - max(lo, hull[0, 0])) / (hi - lo), 0.0, 1.0))
    return {"aiq": _area(hull, lo, hi) / (hi - lo), "covered": covered, "cost_lo": float(lo), "cost_hi": float(hi)}


def cost_to_reach(hull: np.ndarray, quality: float) -> float:
    """The least cost at which the hull reaches ``quality`` (NaN if it never does)."""
    if len(hull) == 0 or np.isnan(quality):
        return float("nan")
    # A vertex within rounding of the target reaches it (means summed in another order differ in the last bits).
    reached = (hull[:, 1] >= quality) | np.isclose(hull[:, 1], quality, rtol=_REL, atol=0.0)
    if not reached.any():
        return float("nan")
    k = int(np.argmax(reached))
    if k == 0 or hull[k, 1] <= quality or np.isclose(hull[k, 1], quality, rtol=_REL, atol=0.0):
        return float(hull[k, 0])
    (x1, y1), (x2, y2) = hull[k - 1], hull[k]
    return float(x1 + (quality - y1) * (x2 - x1) / (y2 - y1))


def saving(cost: float, reference_cost: float) -> float:
    """1 - cost / reference_cost: the share of the reference's cost saved (NaN without a reference)."""
    if not reference_cost > 0:
        return float("nan")
    if np.isclose(cost, reference_cost, rtol=_REL, atol=0.0):
        return 0.0  # the same cost, up to the rounding of means summed in another order
    return 1.0 - cost / reference_cost


def pgr(quality: float | np.ndarray, weak: float, strong: float) -> np.ndarray | float:
    """Performance gap recovered: (q - q_weak) / (q_strong - q_weak) (NaN when strong is not above weak)."""
    gap = strong - weak
    q = np.asarray(quality, dtype=float)
    out = (q - weak) / gap if gap > 0 else np.full_like(q, np.nan)
    return out if q.ndim else float(out)


def _pair_hull(hull: np.ndarray, weak: tuple[float, float], strong: tuple[float, float]) -> np.ndarray:
    """The hull with the weak and strong models' own points added: every router on a pair can send
    everything to one of them (RouteLLM's thresholds at 0 and 1)."""
    pts = np.vstack([hull.reshape(-1, 2), [weak, strong]])
    return upper_hull(pts[:, 0], pts[:, 1])


def apgr(hull: np.ndarray, weak: tuple[float, float], strong: tuple[float, float]) -> float:
    """Average PGR over costs from the weak model's to the strong model's (each a (cost, quality) point).

    ``hull`` is the router's non-decreasing hull; the two models' own points
    are added to it (any deployment can send everything to one of them), so a
    router that only mixes the two at random scores exactly 0.5.
    """
    (c_w, q_w), (c_s, q_s) = weak, strong
    if not c_s > c_w or not q_s > q_w:
        return float("nan")
    full = _pair_hull(hull, weak, strong)
    mean_q = _area(full, c_w, c_s) / (c_s - c_w)
    return float(pgr(mean_q, q_w, q_s))


def cpt(hull: np.ndarray, x: float, weak: tuple[float, float], strong: tuple[float, float]) -> float:
    """Cost at which PGR first reaches ``x`` (a fraction, e.g. 0.5 for CPT(50%)) on the pair hull; NaN if never."""
    (_, q_w), (_, q_s) = weak, strong
    if not q_s > q_w:
        return float("nan")
    return cost_to_reach(_pair_hull(hull, weak, strong), q_w + x * (q_s - q_w))
