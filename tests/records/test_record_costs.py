"""Costs in the records: stored cost, else tokens x prices; compute cost; price files; store round trip."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from routereval.errors import DataError
from routereval.records import Benchmark, load_benchmark, save_benchmark
from routereval.records.costs import compute_costs, has_cost_data, model_cost_summary, record_costs, with_prices
from routereval.sources.prices import read_prices


def bench(costs=None, priced=True):
    models = pd.DataFrame({
        "name": ["a", "b"],
        "n_params": [1e9, np.nan],
        "input_price": [2.0, 10.0] if priced else [np.nan, np.nan],
        "output_price": [4.0, np.nan] if priced else [np.nan, np.nan],
    })
    return Benchmark.from_values(
        "t", np.array([[1, 0], [0, 1.0]]), ["p0", "p1"], models, costs=costs,
        input_tokens=np.array([[100, 100], [1000, 1000.0]]),
        output_tokens=np.array([[50, 60], [np.nan, 10.0]]),
    )


def test_cost_from_tokens_and_prices_by_hand():
    out = record_costs(bench())
    # a on p0: 100 x 2/1e6 + 50 x 4/1e6 = 0.0004; p1: output tokens unknown -> NaN.
    # b: no output price -> NaN everywhere.
    assert out.values[0, 0] == pytest.approx(4e-4)
    assert np.isnan(out.values[1, 0]) and np.isnan(out.values[:, 1]).all()
    assert (out.stored, out.from_tokens, out.missing) == (0, 1, 3)
    assert "3 unknown" in out.describe()


def test_stored_cost_wins_over_tokens():
    costs = np.array([[0.5, np.nan], [np.nan, 0.25]])
    out = record_costs(bench(costs=costs))
    assert out.values[0, 0] == 0.5 and out.values[1, 1] == 0.25
    assert (out.stored, out.from_tokens, out.missing) == (2, 0, 2)


def test_compute_cost_is_two_params_tokens_in_flops():
    out = compute_costs(bench())
    assert out.unit == "FLOPs"
    assert out.values[0, 0] == 2 * 1e9 * 150
    assert np.isnan(out.values[1, 0]) and np.isnan(out.values[:, 1]).all()


def test_prices_override(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text("model,input,output\nb,1.0,3.0\n")
    priced = with_prices(bench(priced=False), read_prices(path))
    assert priced.models.set_index("name").loc["b", "output_price"] == 3.0
    assert math.isnan(priced.models.set_index("name").loc["a", "input_price"])
    # b on p0: 100 x 1 + 60 x 3 = 280 micro-dollars.
    assert record_costs(priced).values[0, 1] == pytest.approx(280e-6)
    jpath = tmp_path / "prices.json"
    jpath.write_text(json.dumps({"a": {"input": 1, "output": 1}}))
    assert read_prices(jpath)["model"].tolist() == ["a"]
    assert not has_cost_data(bench(priced=False)) and has_cost_data(priced)
    with pytest.raises(KeyError, match="zz"):
        with_prices(bench(), pd.DataFrame({"model": ["zz"], "input": [1.0], "output": [1.0]}))


@pytest.mark.parametrize("text, message", [
    ("model,input\na,1\n", "no column"),
    ("model,input,output\na,cheap,1\n", "row 2"),
    ("model,input,output\na,-1,1\n", "not a number >= 0"),
    ("model,input,output\na,1,1\na,2,2\n", "listed twice"),
])
def test_bad_price_files_say_where(tmp_path, text, message):
    path = tmp_path / "p.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        read_prices(path)


def test_tokens_survive_the_store_and_select(tmp_path):
    b = bench()
    back = load_benchmark(save_benchmark(b, tmp_path / "s"))
    np.testing.assert_array_equal(back.input_tokens, b.input_tokens)
    np.testing.assert_array_equal(back.output_tokens, b.output_tokens)
    sub = back.select(prompts=[1], models=[1])
    assert sub.input_tokens.tolist() == [[1000.0]] and sub.output_tokens.tolist() == [[10.0]]
    with pytest.raises(ValueError, match="input_tokens"):
        Benchmark(name="x", scores=b.scores, kind=b.kind, prompts=b.prompts, models=b.models,
                  input_tokens=np.zeros((3, 2), dtype=np.float32))


def test_model_cost_summary_for_data_info():
    out = model_cost_summary(bench()).set_index("name")
    # a: one known cost (0.0004 $) -> 0.4 $ per 1,000 queries; b has no output price -> unknown.
    assert out.loc["a", "cost_per_1k"] == pytest.approx(0.4) and math.isnan(out.loc["b", "cost_per_1k"])
    assert out.loc["a", "input_tokens"] == 550 and out.loc["a", "output_tokens"] == 50
    assert out.loc["b", "output_tokens"] == 35
