"""Property tests: invariants of splits, pools and metrics on random matrices with missing records."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

hypothesis = pytest.importorskip("hypothesis", reason="property tests need hypothesis (pip install 'routereval[test]')")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from routereval import metrics, policies  # noqa: E402
from routereval.datasets.pools import GROUPS, OracleScorer, ranked_models  # noqa: E402
from routereval.datasets.router_dataset import router_datasets  # noqa: E402
from routereval.datasets.splits import split_by_task  # noqa: E402
from routereval.records import Benchmark  # noqa: E402

SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def matrices(draw, min_models: int = 4, max_models: int = 12):
    """A binary or continuous score matrix with some missing records, and task labels."""
    n = draw(st.integers(30, 120))
    m = draw(st.integers(min_models, max_models))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    skill = rng.uniform(0.05, 0.95, m)
    binary = draw(st.booleans())
    values = (rng.random((n, m)) < skill).astype(np.float32) if binary else rng.random((n, m)).astype(np.float32)
    values[rng.random((n, m)) < draw(st.sampled_from([0.0, 0.05, 0.2]))] = np.nan
    values[:, 0] = np.where(np.isnan(values[:, 0]), 1.0, values[:, 0])  # no model without records
    tasks = rng.choice(["a", "b", "c"], n)
    return values, tasks


def bench_of(values: np.ndarray, tasks: np.ndarray) -> Benchmark:
    prompts = pd.DataFrame({"prompt_id": [f"p{i}" for i in range(len(values))], "task": tasks})
    return Benchmark.from_values("prop", values, prompts, [f"m{k}" for k in range(values.shape[1])])


@SETTINGS
@given(data=matrices(), seed=st.integers(0, 1000))
def test_splits_partition_every_task_80_10_10(data, seed):
    _, tasks = data
    split = split_by_task(tasks, np.random.RandomState(seed))
    everything = np.concatenate([split.train, split.val, split.test])
    assert sorted(everything.tolist()) == list(range(len(tasks)))
    for task in set(tasks):
        n = int((tasks == task).sum())
        in_task = lambda part: int((tasks[part] == task).sum())  # noqa: E731
        assert in_task(split.train) == math.floor(0.8 * n)
        assert in_task(split.train) + in_task(split.val) == math.floor(0.9 * n)


@SETTINGS
@given(data=matrices(min_models=6), protocol=st.sampled_from(["faithful", "clean"]))
def test_pools_hold_distinct_models_in_reach_and_keep_every_prompt(data, protocol):
    values, tasks = data
    bench = bench_of(values, tasks)
    built = router_datasets(bench, sizes=[3], protocol=protocol, n_draws=20)
    # Reach is judged on the prompts pools are chosen on: all (faithful) or train + val (clean).
    chosen_on = None if protocol == "faithful" else np.sort(np.concatenate([built.split.train, built.split.val]))
    scorer = OracleScorer(bench, chosen_on)
    order, first, last = ranked_models(scorer.means)
    in_reach = set(order[first:last].tolist())
    for pool in built.pools:
        cols = [bench.model_names.index(name) for name in pool.models]
        assert len(set(cols)) == 3 and set(cols) <= in_reach
        assert pool.group in GROUPS
        # No prompt is dropped for a missing record, and the parts are the split's.
        assert pool.test.positions.tolist() == built.split.test.tolist()
        # Labels are missing exactly where scores are.
        assert (np.isnan(pool.train.labels) == np.isnan(pool.train.scores)).all()
        labels = pool.train.labels[~np.isnan(pool.train.labels)]
        assert set(np.unique(labels).tolist()) <= {0.0, 1.0}


@SETTINGS
@given(data=matrices(), seed=st.integers(0, 1000))
def test_metrics_bounds_and_the_oracle_beats_every_choice(data, seed):
    values, _ = data
    complete = values[~np.isnan(values).any(axis=1)]
    if len(complete) < 2:
        return
    n, m = complete.shape
    rng = np.random.default_rng(seed)
    oracle = policies.oracle().choose(None, scores=complete)
    quality = rng.random((n, m))
    for choice in (policies.argmax().choose(quality), policies.random().choose(None, scores=complete),
                   policies.ro(0.3).choose(None, scores=complete)):
        assert metrics.mean_score(complete, oracle) >= metrics.mean_score(complete, choice) - 1e-12
        assert 0.0 <= metrics.choice_entropy(choice) <= math.log2(m) + 1e-9
        np.testing.assert_allclose(choice.sum(axis=1), 1.0)
    pi = np.abs(rng.standard_normal((n, m)))
    pi /= pi.sum(axis=1, keepdims=True)
    assert 0.0 <= metrics.proba_entropy(pi) <= math.log2(m) + 1e-9
    best = metrics.best_single_mean(complete)
    assert metrics.vs_best_single(complete, oracle) >= 1.0 - 1e-12 or best == 0
    lo, hi = metrics.bootstrap_interval(metrics.per_prompt_score(complete, oracle), n_boot=50, seed=seed)
    assert lo <= metrics.mean_score(complete, oracle) + 1e-12 and hi >= lo
