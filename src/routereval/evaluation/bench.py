"""Run routers on pool datasets and measure them: the engine behind ``routereval bench``.

For every pool dataset and router: fit on the training part, predict on the
test part, and compute the metrics of :mod:`routereval.metrics` from the
router's choice distribution. One result row per (dataset, benchmark, m,
group, router), plus a ``mean`` row per (m, router) averaged over groups, as
RouterEval's tables report.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from routereval import metrics
from routereval.datasets.router_dataset import PoolDataset
from routereval.errors import ConfigError
from routereval.routers.base import Prompts, Router, make_router

ROW_KEYS = (
    "dataset", "benchmark", "m", "group", "router", "mu_o", "mu_o_lo", "mu_o_hi",
    "V_R", "V_B", "E_p", "E_sel", "n_test",
)


@dataclass(frozen=True)
class RouterSpec:
    """A router by name with hyper-parameters, and the label it is reported under."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        if self.name == "ro" and "p" in self.params:
            return f"ro({self.params['p']:g})"
        if self.name == "ro":
            return "ro(0.5)"
        extra = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.name}[{extra}]" if extra else self.name

    def make(self) -> Router:
        return make_router(self.name, **self.params)


def parse_value(text: str) -> Any:
    """'3' -> 3, '0.5' -> 0.5, 'true' -> True, anything else stays text."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_routers(text: str) -> list[RouterSpec]:
    """``knn,ro:p=0.3,mlp:setting=faithful:epochs=5`` -> router specs."""
    specs = []
    for item in filter(None, (t.strip() for t in text.split(","))):
        name, *params = item.split(":")
        kwargs = {}
        for p in params:
            if "=" not in p:
                raise ConfigError(f"router parameter {p!r} in {item!r} must be written key=value")
            key, value = p.split("=", 1)
            kwargs[key] = parse_value(value)
        specs.append(RouterSpec(name, kwargs))
    return specs


@dataclass(frozen=True)
class Reference:
    """mu_ref for V_R and where it comes from (shown in tables)."""

    value: float
    source: str


@dataclass
class PoolResult:
    """Metrics of one router on one pool, with its per-prompt scores for joint intervals."""

    row: dict[str, Any]
    positions: np.ndarray
    per_prompt: np.ndarray
    selection: np.ndarray


@dataclass(frozen=True)
class Features:
    """Per-prompt inputs for routers, indexed by benchmark prompt position."""

    embeddings: np.ndarray | None
    texts: Sequence[str] | None

    def prompts(self, positions: np.ndarray, scores: np.ndarray | None = None) -> Prompts:
        emb = None if self.embeddings is None else np.asarray(self.embeddings[positions], dtype=np.float32)
        texts = None if self.texts is None else [self.texts[i] for i in positions]
        return Prompts(embeddings=emb, texts=texts, scores=scores)


def evaluate_router(
    spec: RouterSpec,
    data: PoolDataset,
    features: Features,
    reference: Reference,
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> PoolResult:
    """Fit ``spec`` on the pool's train part and measure it on its test part."""
    router = spec.make()
    if hasattr(router, "seed") and "seed" not in spec.params:
        router.seed = seed
    started = time.perf_counter()
    train = features.prompts(data.train.positions, scores=data.train.scores)
    router.fit(train, data.train.labels)
    test_scores = data.test.scores
    test = features.prompts(data.test.positions, scores=test_scores if router.uses_true_scores else None)
    choice = router.choice_distribution(test)
    pi = router.predict_proba(test)
    seconds = time.perf_counter() - started
    per_prompt = metrics.per_prompt_score(test_scores, choice)
    mu = float(per_prompt.mean()) if len(per_prompt) else float("nan")
    lo, hi = metrics.bootstrap_interval(per_prompt, n_boot=n_boot, seed=seed)
    row = {
        "dataset": data.dataset,
        "benchmark": data.benchmark,
        "m": data.m,
        "group": data.group,
        "router": spec.label,
        "mu_o": mu,
        "mu_o_lo": lo,
        "mu_o_hi": hi,
        "V_R": metrics.v_r(mu, reference.value),
        "V_B": metrics.v_b(test_scores, choice),
        "E_p": metrics.e_p(pi),
        "E_sel": metrics.e_sel(choice),
        "n_test": len(per_prompt),
        "reference": reference.source,
        "mu_ref": reference.value,
        "best_single_test": metrics.best_single_mean(test_scores),
        "models": data.models,
        "selection": metrics.selection_histogram(choice).tolist(),
        "n_dropped_test": data.n_dropped.get("test", 0),
        "seconds": seconds,
    }
    return PoolResult(row, data.test.positions, per_prompt, metrics.selection_histogram(choice))


def mean_rows(results: list[PoolResult], *, n_boot: int = 1000, seed: int = 0) -> list[dict[str, Any]]:
    """One ``group = "mean"`` row per (dataset, benchmark, m, router).

    mu_o, V_R, V_B, E_p and E_sel are means over the groups (V_B as the mean of
    the per-pool ratios, as published). The interval resamples the test prompts
    jointly for all groups, so it is the interval of the mean itself.
    """
    by_key: dict[tuple, list[PoolResult]] = {}
    for r in results:
        key = (r.row["dataset"], r.row["benchmark"], r.row["m"], r.row["router"])
        by_key.setdefault(key, []).append(r)
    rows = []
    for (dataset, benchmark, m, router), group in by_key.items():
        row = {"dataset": dataset, "benchmark": benchmark, "m": m, "group": "mean", "router": router}
        for k in ("mu_o", "V_R", "V_B", "E_p", "E_sel"):
            row[k] = float(np.mean([g.row[k] for g in group]))
        row["mu_o_lo"], row["mu_o_hi"] = _joint_interval(group, n_boot=n_boot, seed=seed)
        row["n_test"] = int(np.mean([g.row["n_test"] for g in group]))
        row["reference"] = group[0].row["reference"]
        row["mu_ref"] = group[0].row["mu_ref"]
        row["groups"] = list(dict.fromkeys(g.row["group"] for g in group))
        if "seed" in group[0].row:
            row["seeds"] = sorted({int(g.row["seed"]) for g in group})
        rows.append(row)
    return rows


def _joint_interval(group: list[PoolResult], *, n_boot: int, seed: int) -> tuple[float, float]:
    universe = np.unique(np.concatenate([g.positions for g in group]))
    if len(universe) == 0:
        return float("nan"), float("nan")
    table = np.full((len(group), len(universe)), np.nan)
    for i, g in enumerate(group):
        table[i, np.searchsorted(universe, g.positions)] = g.per_prompt
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for b in range(n_boot):
        pick = table[:, rng.integers(0, len(universe), len(universe))]
        means[b] = np.mean(np.nanmean(pick, axis=1))
    lo, hi = np.quantile(means, [0.025, 0.975])
    return float(lo), float(hi)


def run_pools(
    pools: list[PoolDataset],
    routers: list[RouterSpec],
    features: Features,
    reference: Reference,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Every router on every pool; returns per-group rows followed by mean rows."""
    results = []
    for data in pools:
        for spec in routers:
            result = evaluate_router(spec, data, features, reference, n_boot=n_boot, seed=seed)
            results.append(result)
            if on_result is not None:
                on_result(result.row)
    return [r.row for r in results] + mean_rows(results, n_boot=n_boot, seed=seed)
