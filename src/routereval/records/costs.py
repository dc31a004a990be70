"""The cost of each record, from what a benchmark stores (units and formulas: docs/costs.md).

A record's cost in dollars is

* its stored cost (``Benchmark.costs``) where one is given, else
* input_tokens x input_price + output_tokens x output_price, prices in $ per
  1M tokens (``Benchmark.models``), where the tokens and both prices are known,
* else missing (NaN). Missing stays missing: nothing here guesses a cost.

Where replies are not recorded (output tokens unknown), :func:`input_costs`
offers the prompt's cost alone, input_tokens x input price, named as such.

Where a model has a parameter count but no price, :func:`compute_costs` offers
a *compute cost* instead: 2 x parameters x (input + output tokens) FLOPs, the
usual estimate of a dense transformer's forward passes. It is in FLOPs, not
dollars, and is never mixed with dollar costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from routereval.errors import RouterEvalError
from routereval.records.benchmark import Benchmark

PER_MILLION = 1e6


@dataclass(frozen=True)
class RecordCosts:
    """Per-record costs and how each was obtained.

    ``values`` is N x M (NaN = unknown); ``stored``, ``from_tokens`` and
    ``missing`` count the records whose cost came from each place.
    """

    values: np.ndarray
    unit: str
    stored: int
    from_tokens: int
    missing: int

    def describe(self) -> str:
        """One line saying where the costs came from (for notes and ``data info``)."""
        return (f"{self.unit}: {self.stored} stored, {self.from_tokens} from tokens x prices, "
                f"{self.missing} unknown (left out of cost metrics)")


def has_cost_data(bench: Benchmark) -> bool:
    """True when some record can get a dollar cost (stored, or tokens with a priced model)."""
    if bench.costs is not None:
        return True
    priced = bench.models[["input_price", "output_price"]].notna().all(axis=1).any()
    return bool(priced) and bench.input_tokens is not None and bench.output_tokens is not None


def record_costs(bench: Benchmark, prompts: np.ndarray | slice | None = None) -> RecordCosts:
    """Dollar cost of every record (rows ``prompts``, all models): stored, else tokens x prices."""
    rows = slice(None) if prompts is None else prompts
    n = len(np.arange(bench.n_prompts)[rows])
    out = np.full((n, bench.n_models), np.nan)
    stored = np.zeros((n, bench.n_models), dtype=bool)
    if bench.costs is not None:
        out = np.asarray(bench.costs, dtype=float)[rows].copy()
        stored = ~np.isnan(out)
    from_tokens = np.zeros_like(stored)
    if bench.input_tokens is not None and bench.output_tokens is not None:
        price_in = bench.models["input_price"].to_numpy(dtype=float) / PER_MILLION
        price_out = bench.models["output_price"].to_numpy(dtype=float) / PER_MILLION
        tokens = (np.asarray(bench.input_tokens, dtype=float)[rows] * price_in
                  + np.asarray(bench.output_tokens, dtype=float)[rows] * price_out)
        from_tokens = ~stored & ~np.isnan(tokens)
        out = np.where(from_tokens, tokens, out)
    return RecordCosts(out, "$", int(stored.sum()), int(from_tokens.sum()),
                       int(out.size - stored.sum() - from_tokens.sum()))


def input_costs(bench: Benchmark, prompts: np.ndarray | slice | None = None) -> RecordCosts:
    """Prompt cost only: input_tokens x input price; a lower bound of the dollar cost where replies are not recorded."""
    rows = slice(None) if prompts is None else prompts
    n = len(np.arange(bench.n_prompts)[rows])
    if bench.input_tokens is None:
        values = np.full((n, bench.n_models), np.nan)
    else:
        price_in = bench.models["input_price"].to_numpy(dtype=float) / PER_MILLION
        values = np.asarray(bench.input_tokens, dtype=float)[rows] * price_in
    known = int((~np.isnan(values)).sum())
    return RecordCosts(values, "$ (input tokens only)", 0, known, int(values.size - known))


def compute_costs(bench: Benchmark, prompts: np.ndarray | slice | None = None) -> RecordCosts:
    """Compute cost in FLOPs: 2 x parameters x (input + output tokens); NaN where either is unknown."""
    rows = slice(None) if prompts is None else prompts
    n = len(np.arange(bench.n_prompts)[rows])
    if bench.input_tokens is None or bench.output_tokens is None:
        values = np.full((n, bench.n_models), np.nan)
    else:
        tokens = np.asarray(bench.input_tokens, dtype=float)[rows] + np.asarray(bench.output_tokens, dtype=float)[rows]
        values = 2.0 * bench.models["n_params"].to_numpy(dtype=float) * tokens
    known = int((~np.isnan(values)).sum())
    return RecordCosts(values, "FLOPs", 0, known, int(values.size - known))


def with_prices(bench: Benchmark, prices: pd.DataFrame) -> Benchmark:
    """``bench`` with the prices of the models named in ``prices`` set or replaced.

    ``prices`` has columns ``model``, ``input``, ``output`` ($ per 1M tokens;
    NaN clears a price). Models it does not name keep theirs; names that are
    not models of the benchmark raise KeyError naming them; a price that is not
    a finite number in [0, MAX_PRICE] (or a model named twice) raises ValueError.
    """
    from routereval.records.prices import check_price_table

    prices = check_price_table(prices)
    unknown = sorted(set(prices["model"]) - set(bench.model_names))
    if unknown:
        raise KeyError(f"prices name model(s) not in {bench.name!r}: {', '.join(unknown[:5])}")
    models = bench.models.copy()
    at = {name: i for i, name in enumerate(bench.model_names)}
    for row in prices.itertuples(index=False):
        models.loc[at[row.model], ["input_price", "output_price"]] = [float(row.input), float(row.output)]
    return Benchmark(
        name=bench.name, scores=bench.scores, kind=bench.kind, prompts=bench.prompts, models=models,
        costs=bench.costs, embeddings=bench.embeddings, provenance=dict(bench.provenance),
        input_tokens=bench.input_tokens, output_tokens=bench.output_tokens,
    )


def mean_costs_per_model(costs: np.ndarray) -> np.ndarray:
    """Each model's mean cost per query over the records whose cost is known (NaN for none)."""
    c = np.asarray(costs, dtype=float)
    known = ~np.isnan(c)
    counts = known.sum(axis=0)
    return np.where(counts > 0, np.where(known, c, 0.0).sum(axis=0) / np.maximum(counts, 1), np.nan)


def model_cost_summary(bench: Benchmark) -> pd.DataFrame:
    """Per model: ``cost_per_1k`` ($ per 1,000 queries over its records with a known cost, NaN for none)
    and mean ``input_tokens`` / ``output_tokens`` per record (NaN where not counted)."""
    def mean_of(values: np.ndarray | None) -> np.ndarray:
        return np.full(bench.n_models, np.nan) if values is None else mean_costs_per_model(values)

    return pd.DataFrame({
        "name": bench.model_names,
        "cost_per_1k": 1000.0 * mean_costs_per_model(record_costs(bench).values),
        "input_tokens": mean_of(bench.input_tokens),
        "output_tokens": mean_of(bench.output_tokens),
    })


class PoolCosts(NamedTuple):
    """Record costs of a pool's candidates on its training and test prompts (n x m each, NaN = unknown).

    ``routereval.evaluation.evaluate.evaluate_pool`` weighs each
    candidate's mean training cost when a policy chooses and charges the test
    costs; the oracle family is given the test costs themselves.
    """

    train: np.ndarray
    test: np.ndarray

    @classmethod
    def for_pool(cls, costs: np.ndarray, model_names: list[str], pool: Any) -> PoolCosts:
        """Cut a benchmark's N x M record costs (columns in ``model_names`` order) to a pool."""
        col = {name: j for j, name in enumerate(model_names)}
        cols = np.array([col[name] for name in pool.models], dtype=np.int64)
        costs = np.asarray(costs, dtype=float)
        return cls(costs[np.ix_(pool.train.positions, cols)], costs[np.ix_(pool.test.positions, cols)])


#: Cost units of a study: dollars from the records, input-dollars (prompt tokens x input price only, where
#: replies are not recorded), compute (FLOPs), or calls to the strong model of a pair.
UNITS = ("dollars", "input-dollars", "compute", "calls")


def study_costs(bench: Benchmark, unit: str = "dollars") -> tuple[np.ndarray, str]:
    """N x M per-record costs in ``unit`` and a note on where they came from (see :data:`UNITS`).

    ``auto`` takes the first unit that gives at least two models a cost:
    dollars, then calls to the strong model (a pair), then input dollars, then
    compute.
    """
    if unit == "auto":
        unit = resolve_unit(bench, unit)

    if unit == "dollars":
        got = record_costs(bench)
        return got.values, got.describe()
    if unit == "input-dollars":
        got = input_costs(bench)
        return got.values, got.describe() + " (prompt tokens x input price; replies not counted)"
    if unit == "compute":
        got = compute_costs(bench)
        return got.values, got.describe() + " (compute cost: 2 x parameters x tokens)"
    if unit == "calls":
        if bench.n_models != 2:
            raise ValueError(f"the 'calls' cost needs a strong/weak pair; {bench.name!r} has {bench.n_models} models")
        means = bench.model_summary()["mean_score"].to_numpy()
        strong = int(np.argmax(means))
        values = np.zeros((bench.n_prompts, 2))
        values[:, strong] = 1.0
        return values, f"calls: 1 per query sent to the strong model ({bench.model_names[strong]}), 0 to the weak"
    raise ValueError(f"unknown cost unit {unit!r}; choose from {', '.join(UNITS)}")


def resolve_unit(bench: Benchmark, unit: str = "auto") -> str:
    """``unit`` itself, or for ``auto`` the first of dollars, calls (a pair), input-dollars, compute
    that gives at least two models a cost."""
    if unit != "auto":
        return unit
    for candidate in ("dollars", "calls", "input-dollars", "compute"):
        try:
            values, _ = study_costs(bench, candidate)
        except (ValueError, RouterEvalError):
            continue
        if (~np.isnan(np.asarray(values, dtype=float)).all(axis=0)).sum() >= 2:
            return candidate
    raise ValueError(f"{bench.name!r} has no cost for two or more models in any unit ({', '.join(UNITS)})")
