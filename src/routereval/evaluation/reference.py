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
from typing import Any

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


def reference_number(given: Any) -> float | None:
    """``given`` as a number (a TOML number or a flag's text), or None where it is a model's name."""
    if isinstance(given, bool):
        return None
    try:
        return float(given)
    except (TypeError, ValueError):
        return None


def reference_problem(given: Any, name: str = "--reference") -> str | None:
    """Why ``given`` cannot be a reference (a number outside (0, 1]), or None; model names are checked on the data.

    0 is refused with the rest: V_R divides by the reference.
    """
    value = reference_number(given)
    if value is not None and not (math.isfinite(value) and 0.0 < value <= 1.0):
        return f"{name} must be a model name or a score in (0, 1], got {given!r}"
    return None


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
        if why := reference_problem(given):
            raise ConfigError(why)
        value = reference_number(given)
        if value is not None:
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
