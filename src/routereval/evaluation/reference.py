"""mu_ref, the reference score behind V_R: one definition for benchmarks, sweeps and the scaling study.

In order: a number the user gives; a model the user names (its mean on the
prompts measured); RouterEval's published constant where the benchmark is one
of its twelve; else the best single model, *chosen* on one set of prompts and
*measured* on another. The faithful protocol chooses and measures on the test
prompts, as RouterEval's tables do; the clean protocol chooses on train + val
so that no test prompt informs the reference; the scaling study uses all
prompts for both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from routereval.datasets.router_dataset import benchmark_name
from routereval.errors import ConfigError
from routereval.metrics import ROUTEREVAL_REFERENCE, single_means
from routereval.records import Benchmark


@dataclass(frozen=True)
class Reference:
    """mu_ref for V_R and where it comes from (shown in tables)."""

    value: float
    source: str


def _describe(prompts: np.ndarray | None, label: str) -> str:
    return "all prompts" if prompts is None else label


def _means(bench: Benchmark, prompts: np.ndarray | None, models: np.ndarray | None = None) -> np.ndarray:
    """Models' means over their present records on ``prompts`` (all prompts: counted block by block)."""
    if prompts is None:
        means = bench.model_summary()["mean_score"].to_numpy(dtype=float)
        return means if models is None else means[models]
    return single_means(bench.values(prompts=prompts, models=models))


def resolve_reference(
    bench: Benchmark,
    given: str | float | None = None,
    *,
    choose_on: np.ndarray | None = None,
    measure_on: np.ndarray | None = None,
    choose_label: str = "train + val",
    measure_label: str = "the test prompts",
) -> Reference:
    """The reference score (see the module docstring); ``None`` prompt sets mean all prompts."""
    if given is not None:
        try:
            value = float(given)
        except (TypeError, ValueError):
            value = None
        if value is not None:
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"--reference {given!r}: a number must lie in [0, 1], like the scores")
            return Reference(value, f"given ({value:g})")
        name = str(given)
        if name not in bench.model_names:
            raise ConfigError(f"--reference {name!r} is neither a number nor a model of {bench.name!r}")
        value = float(_means(bench, measure_on, bench.model_index([name]))[0])
        if not math.isfinite(value):
            raise ConfigError(f"--reference {name!r} has no record on {_describe(measure_on, measure_label)}")
        return Reference(value, f"{name} on {_describe(measure_on, measure_label)}")
    key = benchmark_name(bench)
    if key in ROUTEREVAL_REFERENCE:
        return Reference(float(ROUTEREVAL_REFERENCE[key]), f"RouterEval reference for {key}")
    chosen = _means(bench, choose_on)
    if not np.isfinite(chosen).any():
        raise ConfigError(f"{bench.name!r} has no records on {_describe(choose_on, choose_label)}")
    best = int(np.nanargmax(chosen))
    name = bench.model_names[best]
    if choose_on is measure_on or (choose_on is not None and measure_on is not None
                                   and np.array_equal(choose_on, measure_on)):
        return Reference(float(chosen[best]), f"best model on {_describe(measure_on, measure_label)}: {name}")
    value = float(_means(bench, measure_on, np.array([best]))[0])
    return Reference(value, f"best model on {_describe(choose_on, choose_label)} ({name}), "
                            f"on {_describe(measure_on, measure_label)}")
