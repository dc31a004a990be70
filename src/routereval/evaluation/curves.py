"""Cost-quality curves: every operating point of a router's cost-aware policy, and what they reach.

For a fitted router, :func:`router_curve` sweeps the cost weight lambda of
argmax_i (quality_i - lambda * cost_i) over *every* value at which a choice
changes (:func:`routereval.policies.cost_sweep`, exact, no grid) and measures
each operating point on the test prompts: (mean record cost, mean true
score). The curve's non-decreasing upper convex hull
(:func:`routereval.metrics.cost.upper_hull`) is what a deployment can reach,
by randomising between two operating points.

What the policy knows when it decides is each candidate's *mean cost per
query on the training prompts* (a price list and typical lengths); what it is
charged is the record's own cost on the test prompt. The oracle family knows
both the true scores and the true costs: the cost-aware oracle's curve sweeps
the true scores against the true costs, so it lies above every router's (for
each lambda it maximises mean(score - lambda * cost) over all choices).

:func:`cost_quality` runs the whole study on one benchmark: the split of
RouterEval's per-task 80/10/10 split (seed 42), one pool of every model whose cost is known, each
router fitted once on the training prompts, the single models' points and
their Pareto front, and the metrics of :mod:`routereval.metrics.cost`.

Missing data: models with no known cost on any prompt are left out (named in
``dropped_models``); test prompts where a kept model lacks a score or a cost
are left out (counted in ``n_dropped_prompts``). Curves and single models are
measured on the same remaining prompts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from routereval.datasets.splits import SPLIT_SEED
from routereval.metrics import cost as cm
from routereval.records.costs import resolve_unit, study_costs
from routereval.records.costs import mean_costs_per_model as cm_mean_costs
from routereval.policies import cost_sweep, sweep_points

#: CPT levels reported for a pair (RouteLLM's).
CPT_LEVELS = (0.2, 0.5, 0.8)


@dataclass
class Curve:
    """One router's operating points and their hull (costs in the study's unit per query)."""

    name: str
    lam: np.ndarray
    cost: np.ndarray
    quality: np.ndarray
    hull: np.ndarray
    seconds: float = 0.0  # sweeping and measuring the curve
    fit_seconds: float = 0.0  # fitting and predicting (all folds)

    def to_dict(self) -> dict[str, Any]:
        return {
            "router": self.name,
            "points": [{"lambda": float(a), "cost": float(b), "quality": float(c)}
                       for a, b, c in zip(self.lam, self.cost, self.quality)],
            "hull": [{"cost": float(a), "quality": float(b)} for a, b in self.hull],
            "seconds": self.seconds,
            "fit_seconds": self.fit_seconds,
        }


def router_curve(
    name: str, quality: np.ndarray, decision_costs: np.ndarray, scores: np.ndarray, costs: np.ndarray
) -> Curve:
    """The exact curve of ``argmax(quality - lambda * decision_costs)``, measured with true ``scores`` and ``costs``.

    ``quality`` is the router's n x m estimates; ``decision_costs`` (length m
    or n x m) what it weighs; ``scores`` / ``costs`` (n x m) the truth.
    """
    started = time.perf_counter()
    sweep = cost_sweep(quality, decision_costs)
    lam, mean_c, mean_q = sweep_points(sweep, scores, costs)
    hull = cm.upper_hull(mean_c, mean_q)
    return Curve(name, lam, mean_c, mean_q, hull, time.perf_counter() - started)


def oracle_curve(scores: np.ndarray, costs: np.ndarray, name: str = "oracle-cheapest") -> Curve:
    """The cost-aware oracle's curve: true scores against true costs (its lambda = 0+ point is the cheapest correct model)."""
    return router_curve(name, scores, costs, scores, costs)


def random_point(scores: np.ndarray, costs: np.ndarray, name: str = "random") -> Curve:
    """The uniformly random router: one operating point (exact expectation)."""
    q, c = float(np.mean(scores)), float(np.mean(costs))
    return Curve(name, np.zeros(1), np.array([c]), np.array([q]), np.array([[c, q]]))


def single_models(names: list[str], scores: np.ndarray, costs: np.ndarray) -> pd.DataFrame:
    """Each model's (mean cost, mean score) and whether it is on the Pareto front (no model cheaper and better)."""
    cost, quality = costs.mean(axis=0), scores.mean(axis=0)
    front = []
    for i in range(len(names)):
        dominated = (cost <= cost[i]) & (quality >= quality[i]) & ((cost < cost[i]) | (quality > quality[i]))
        front.append(not dominated.any())
    return pd.DataFrame({"model": names, "cost": cost, "quality": quality, "pareto": front})


def curve_metrics(curve: Curve, singles: pd.DataFrame, cost_range: tuple[float, float]) -> dict[str, Any]:
    """AIQ over the shared range, cost to reach the best single model (and the saving), quality at the cheapest's cost."""
    best = singles.loc[singles["quality"].idxmax()]
    # The cheapest model; among equal costs the better one.
    cheapest = singles.sort_values(["cost", "quality"], ascending=[True, False]).iloc[0]
    reach = cm.cost_to_reach(curve.hull, float(best["quality"]))
    out = {
        "router": curve.name,
        "n_points": len(curve.cost),
        "max_quality": float(curve.hull[-1, 1]) if len(curve.hull) else float("nan"),
        "cost_at_max_quality": float(curve.hull[-1, 0]) if len(curve.hull) else float("nan"),
        "min_cost": float(curve.hull[0, 0]) if len(curve.hull) else float("nan"),
        **{"AIQ" if k == "aiq" else f"AIQ_{k}": v for k, v in cm.aiq(curve.hull, *cost_range).items()},
        "best_single": str(best["model"]),
        "best_single_quality": float(best["quality"]),
        "best_single_cost": float(best["cost"]),
        "cost_to_best_single": reach,
        "saving_vs_best_single": cm.saving(reach, float(best["cost"])),
        "cheapest_single": str(cheapest["model"]),
        "quality_at_cheapest_cost": float(cm.hull_height(curve.hull, float(cheapest["cost"]))),
    }
    return out


def pair_metrics(curve: Curve, weak: tuple[float, float], strong: tuple[float, float], unit: str) -> dict[str, Any]:
    """RouteLLM's APGR and CPT(20/50/80%) of a curve on a pair, with ``unit`` in the column names."""
    out: dict[str, Any] = {"router": curve.name, f"APGR_{unit}": cm.apgr(curve.hull, weak, strong)}
    for level in CPT_LEVELS:
        value = cm.cpt(curve.hull, level, weak, strong)
        if unit == "calls":
            # RouteLLM states CPT as the share of calls to the strong model, in %.
            value = 100.0 * (value - weak[0]) / (strong[0] - weak[0]) if strong[0] > weak[0] else float("nan")
        out[f"CPT{int(level * 100)}_{unit}"] = value
    return out


@dataclass
class Study:
    """A cost-quality study of one benchmark (see :func:`cost_quality`)."""

    dataset: str
    unit: str
    cost_note: str
    models: list[str]
    dropped_models: list[str]
    n_test: int
    n_dropped_prompts: int
    singles: pd.DataFrame
    curves: list[Curve]
    cost_range: tuple[float, float]
    metrics: list[dict[str, Any]] = field(default_factory=list)
    pair: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset, "unit": self.unit, "cost_note": self.cost_note, "models": self.models,
            "dropped_models": self.dropped_models, "n_test": self.n_test,
            "n_dropped_prompts": self.n_dropped_prompts,
            "aiq_cost_range": list(self.cost_range),
            "singles": self.singles.to_dict(orient="records"),
            "curves": [c.to_dict() for c in self.curves],
            "metrics": self.metrics, "pair": self.pair,
        }


def study_splits(bench: Any, split_seed: int = SPLIT_SEED, folds: int | None = None) -> list[Any]:
    """The splits a study fits on: RouterEval's per-task split (test = 10% per task) or ``folds`` cross-fitting folds.

    With ``folds`` k, the prompts are shuffled (legacy RandomState(split_seed))
    and cut into k folds; each fold is tested once by routers fitted on the
    other k - 1, so every prompt gets an out-of-sample estimate and the curve
    is measured on all of them.
    """
    from routereval.datasets.splits import Split, split_by_task

    from routereval.errors import ArgumentError

    if folds is not None and (isinstance(folds, bool) or not isinstance(folds, (int, np.integer))
                              or not 1 <= folds <= bench.n_prompts):
        # Decision: 0 or a negative count was once read as 1; more folds than prompts leaves folds empty.
        raise ArgumentError(f"folds must be None or an integer in 1..{bench.n_prompts} (the prompts), got {folds!r}")
    rng = np.random.RandomState(split_seed)
    if not folds or folds < 2:
        return [split_by_task(bench.prompts["task"].to_numpy(), rng)]
    order = rng.permutation(bench.n_prompts)
    empty = np.zeros(0, dtype=np.int64)
    return [Split(np.sort(np.setdiff1d(order, part)), empty, np.sort(part)) for part in np.array_split(order, folds)]


def cost_quality(
    bench: Any,
    routers: list[Any],
    *,
    unit: str = "dollars",
    embeddings: np.ndarray | None = None,
    split_seed: int = SPLIT_SEED,
    folds: int | None = None,
    seed: int = 0,
    costs: np.ndarray | None = None,
    cost_note: str | None = None,
) -> Study:
    """Fit each router and measure its exact cost-quality curve on held-out prompts of ``bench``.

    ``routers`` are :class:`~routereval.evaluation.specs.RouterSpec` (or names):
    ``oracle`` gives the cost-aware oracle's curve, ``random`` its point;
    ``embeddings`` (N x d) feed the routers that read them. ``folds`` chooses
    cross-fitting (see :func:`study_splits`). ``costs`` (N x M) overrides
    :func:`study_costs`.
    """
    from routereval.datasets.router_dataset import pool_dataset
    from routereval.evaluation.evaluate import checked_quality, fit_on_pool, seeded
    from routereval.evaluation.features import Features
    from routereval.evaluation.specs import contender, parse_routers

    if costs is None:
        unit = resolve_unit(bench, unit)  # the study records the unit it used, never "auto"
        costs, note = study_costs(bench, unit)
    else:
        note = cost_note or "given"
    costs = np.asarray(costs, dtype=float)
    known = ~np.isnan(costs).all(axis=0)
    cols = np.flatnonzero(known)
    if len(cols) < 2:
        raise ValueError(f"{bench.name!r}: fewer than two models have a known cost ({note})")
    specs = [parse_routers(r)[0] if isinstance(r, str) else r for r in routers]
    features = Features(embeddings, None)
    parts: dict[str, list[np.ndarray]] = {"scores": [], "costs": [], "decision": [], "positions": []}
    estimates: dict[str, list[np.ndarray]] = {}
    fit_seconds: dict[str, float] = {}
    n_dropped = 0
    models: list[str] = []
    for split in study_splits(bench, split_seed, folds):
        pool = pool_dataset(bench, split, tuple(int(c) for c in cols), len(cols), "all")
        models = list(pool.models)
        test_costs = costs[np.ix_(pool.test.positions, cols)]
        complete = ~(np.isnan(pool.test.scores).any(axis=1) | np.isnan(test_costs).any(axis=1))
        n_dropped += int((~complete).sum())
        positions = pool.test.positions[complete]
        # What the policy weighs: each model's mean cost per query on this split's training prompts.
        decision = cm_mean_costs(costs[np.ix_(pool.train.positions, cols)])
        if np.isnan(decision).any():
            raise ValueError(f"{bench.name!r}: some models have no known cost on any training prompt")
        parts["scores"].append(pool.test.scores[complete].astype(float))
        parts["costs"].append(test_costs[complete])
        parts["decision"].append(np.broadcast_to(decision, (len(positions), len(cols))))
        parts["positions"].append(positions)
        for spec in specs:
            if spec.name in ("oracle", "oracle-cheapest", "random"):
                continue
            entry = contender(spec)
            if entry.router is None:
                raise ValueError(f"{spec.label}: only oracle and random of the oracle family have a cost-quality curve")
            seeded(entry.router, seed, spec.params)
            started = time.perf_counter()
            fit_on_pool(entry.router, pool, features)
            quality = checked_quality(entry.router, features.prompts(positions), spec.label, pool.m)
            fit_seconds[spec.label] = fit_seconds.get(spec.label, 0.0) + time.perf_counter() - started
            estimates.setdefault(spec.label, []).append(quality)

    scores, test_costs = np.concatenate(parts["scores"]), np.concatenate(parts["costs"])
    decision = np.concatenate(parts["decision"])
    singles = single_models(models, scores, test_costs)
    cost_range = (float(singles["cost"].min()), float(singles["cost"].max()))
    curves = []
    for spec in specs:
        if spec.name in ("oracle", "oracle-cheapest"):
            curves.append(oracle_curve(scores, test_costs, name=spec.label))
        elif spec.name == "random":
            curves.append(random_point(scores, test_costs, name=spec.label))
        else:
            curve = router_curve(spec.label, np.concatenate(estimates[spec.label]), decision, scores, test_costs)
            curve.fit_seconds = fit_seconds[spec.label]
            curves.append(curve)

    study = Study(bench.name, unit, note, models, [bench.model_names[i] for i in np.flatnonzero(~known)],
                  len(scores), n_dropped, singles, curves, cost_range)
    if cost_range[1] > cost_range[0]:
        study.metrics = [curve_metrics(c, singles, cost_range) for c in curves]
    if len(cols) == 2:
        by_quality = singles.sort_values("quality")
        weak, strong = by_quality.iloc[0], by_quality.iloc[1]
        study.pair = [pair_metrics(c, (float(weak["cost"]), float(weak["quality"])),
                                   (float(strong["cost"]), float(strong["quality"])), unit) for c in curves]
    return study
