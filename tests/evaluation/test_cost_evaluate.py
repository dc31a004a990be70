"""Cost columns in evaluation rows and their means, on a pool worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from routereval.datasets.router_dataset import Part, PoolDataset
from routereval.evaluation.aggregate import summarise
from routereval.records.costs import PoolCosts
from routereval.evaluation.evaluate import evaluate_pool
from routereval.evaluation.features import Features
from routereval.evaluation.reference import Reference
from routereval.evaluation.specs import RouterSpec, contender


def pool():
    # Candidate 0 is the dear one, so the plain oracle's ties (lowest index) cost the most.
    train = np.array([[1, 0], [1, 1.0]])
    test = np.array([[1, 1], [1, 0], [0, 0.0]])
    return PoolDataset("toy", "toy", 2, "all", ["dear", "cheap"],
                       Part(np.arange(2), train, train), Part(np.zeros(0, int), np.zeros((0, 2)), np.zeros((0, 2))),
                       Part(np.arange(2, 5), test, test))


COSTS = PoolCosts(train=np.array([[8.0, 2.0], [12.0, 2.0]]), test=np.array([[10.0, 1.0]] * 3))


def run(name, costs=COSTS):
    return evaluate_pool(contender(RouterSpec(name)), pool(), Features(None, None), Reference(1.0, "given"),
                         n_boot=10, costs=costs)


def test_best_single_pays_for_the_dear_model():
    # Train means 1.0 (dear) and 0.5 (cheap): every test prompt goes to "dear" at 10.
    row = run("best-single")
    assert (row["mean_cost"], row["total_cost"], row["cost_per_1k"], row["n_cost_unknown"]) == (10.0, 30.0, 10000.0, 0)


def test_cost_aware_oracle_takes_the_cheapest_correct_model():
    # Prompt 1: both right -> cheap (1); prompt 2: only dear (10); prompt 3: nobody -> cheap (1).
    row = run("oracle-cheapest")
    assert row["mean_score"] == pytest.approx(2 / 3) and row["mean_cost"] == pytest.approx(4.0)
    plain = run("oracle")
    assert plain["mean_score"] == pytest.approx(2 / 3) and plain["mean_cost"] == pytest.approx(10.0)  # ties to "dear"


def test_rows_without_costs_have_no_cost_columns_and_means_average_them():
    assert "mean_cost" not in run("oracle", costs=None)
    rows = [run("oracle-cheapest") | {"seed": 0}, run("oracle-cheapest") | {"seed": 1, "group": "other"}]
    assert summarise(rows)[0]["cost_per_1k"] == pytest.approx(4000.0)
