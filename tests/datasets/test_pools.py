"""Candidate pools: thresholds, regions, windows, draws, missing records."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from routereval.datasets.pools import OracleScorer, ranked_models, select_pools
from routereval.datasets.router_dataset import labels_from_scores, router_datasets
from routereval.records import Benchmark


def bench_from(values: np.ndarray, tasks=None, name="toy") -> Benchmark:
    n, m = values.shape
    prompts = {"prompt_id": [f"p{i}" for i in range(n)]}
    if tasks is not None:
        prompts["task"] = tasks
    import pandas as pd

    return Benchmark.from_values(name, values, pd.DataFrame(prompts), [f"m{k}" for k in range(m)])


def hand_matrix() -> np.ndarray:
    """20 prompts x 6 models with means 0.05, 0.2, 0.4, 0.6, 0.8, 0.95.

    Model 1 is right on prompts 0-3, model 2 on 0-7, model 3 on 8-19,
    model 4 on 4-19; model 0 on prompt 0; model 5 on all but prompt 19.
    """
    v = np.zeros((20, 6), dtype=np.float32)
    v[0, 0] = 1
    v[0:4, 1] = 1
    v[0:8, 2] = 1
    v[8:20, 3] = 1
    v[4:20, 4] = 1
    v[0:19, 5] = 1
    return v


def test_scorer_means_and_oracle_by_hand():
    scorer = OracleScorer(bench_from(hand_matrix()))
    np.testing.assert_allclose(scorer.means, [0.05, 0.2, 0.4, 0.6, 0.8, 0.95])
    assert scorer.oracle([1, 3]) == pytest.approx(16 / 20)  # prompts 0-3 and 8-19
    assert scorer.oracle([2, 3]) == pytest.approx(1.0)
    assert scorer.oracle([0]) == pytest.approx(1 / 20)


def test_ranking_thresholds_by_hand():
    order, first, last = ranked_models(np.array([0.95, 0.05, 0.2, 0.9, 0.1, 0.5]))
    assert order.tolist() == [1, 4, 2, 5, 3, 0]
    assert first == 2  # 0.05 and 0.1 are <= 0.1
    assert last == 5  # 0.9 stays in; 0.95 is out


def test_pools_by_hand():
    scorer = OracleScorer(bench_from(hand_matrix()))
    pools, skipped = select_pools(scorer, [3], np.random.RandomState(0), n_draws=50)
    by_group = {p.group: p for p in pools}
    # first = 1, last = 5, L = max(6 // 5, 3) = 3.
    assert by_group["all_weak"].models == (1, 2, 3)  # sorted[1:4], one window
    assert by_group["all_strong"].models == (2, 3, 4)  # sorted[2:5]
    # Groups [1, 2], [3], [4]: with 3 (8-19) and 4 (4-19), either 1 (0-3) or 2 (0-7) covers
    # every prompt, so the first draw is kept and its oracle is 1.0.
    assert by_group["strong_to_weak"].oracle == pytest.approx(1.0)
    assert by_group["strong_to_weak"].models[1:] == (3, 4)
    assert skipped == {}


def test_size_beyond_reach_is_skipped_with_reason():
    scorer = OracleScorer(bench_from(hand_matrix()))
    pools, skipped = select_pools(scorer, [5], np.random.RandomState(0))
    assert pools == []
    assert "m = 5 needs 5 models" in skipped[5] and "has 4" in skipped[5]


def brute_force_pools(values: np.ndarray, m: int, rng: np.random.RandomState, n_draws: int):
    """A second, plain implementation of the published procedure (float loops, no bit tricks)."""
    means = [float(np.nanmean(values[:, k])) for k in range(values.shape[1])]
    order = sorted(range(len(means)), key=lambda k: (means[k], k))
    first = next(i for i, k in enumerate(order) if means[k] > 0.1)
    last = next((i for i, k in enumerate(order) if means[k] > 0.9), len(order))
    width = max(len(order) // 5, m)

    def oracle(pool):
        best = np.nanmax(values[:, list(pool)], axis=1)
        return float(np.nanmean(best))

    def window(region):
        best, score = None, -1.0
        for s in range(len(region) - m + 1):
            o = oracle(region[s : s + m])
            if o > score:
                best, score = tuple(region[s : s + m]), o
        return best

    strong = window(order[max(last - width, 0) : last])
    weak = window(order[first : first + width])
    reach = order[first:last]
    q, r = divmod(len(reach), m)
    groups, start = [], 0
    for g in range(m):
        size = q + (1 if g < r else 0)
        groups.append(reach[start : start + size])
        start += size
    best, score = None, -1.0
    for _ in range(n_draws):
        draw = tuple(int(rng.choice(g)) for g in groups)
        o = oracle(draw)
        if o > score:
            best, score = draw, o
    return {"all_strong": strong, "all_weak": weak, "strong_to_weak": best}


@pytest.mark.parametrize("kind", ["binary", "continuous"])
def test_pools_match_a_plain_implementation(kind):
    gen = np.random.default_rng(7)
    n, n_models = 120, 37
    skill = np.sort(gen.uniform(0.02, 0.98, n_models))
    gen.shuffle(skill)
    if kind == "binary":
        values = (gen.random((n, n_models)) < skill).astype(np.float32)
    else:
        values = np.clip(gen.normal(skill, 0.2, (n, n_models)), 0, 1).astype(np.float32)
    values[gen.random((n, n_models)) < 0.05] = np.nan  # missing records
    scorer = OracleScorer(bench_from(values))
    rng_a, rng_b = np.random.RandomState(42), np.random.RandomState(42)
    for m in (3, 5):
        pools, _ = select_pools(scorer, [m], rng_a, n_draws=200)
        expected = brute_force_pools(values, m, rng_b, 200)
        for p in pools:
            assert p.models == expected[p.group], (m, p.group)


def test_faithful_draws_do_not_depend_on_what_is_asked():
    gen = np.random.default_rng(3)
    values = (gen.random((200, 30)) < gen.uniform(0.15, 0.85, 30)).astype(np.float32)
    bench = bench_from(values, tasks=["a"] * 120 + ["b"] * 80)
    all_pools = router_datasets(bench, [3, 5], n_draws=100).pools
    only5 = router_datasets(bench, [5], groups=["strong_to_weak"], n_draws=100).pools
    want = next(p for p in all_pools if p.m == 5 and p.group == "strong_to_weak")
    assert only5[0].models == want.models


def test_split_seed_draws_the_split_and_the_former_seed_keyword_still_reads_with_a_warning():
    gen = np.random.default_rng(4)
    values = (gen.random((200, 12)) < gen.uniform(0.2, 0.8, 12)).astype(np.float32)
    bench = bench_from(values)
    one = router_datasets(bench, [3], protocol="clean", split_seed=1, n_draws=20)
    other = router_datasets(bench, [3], protocol="clean", split_seed=2, n_draws=20)
    assert not np.array_equal(one.split.test, other.split.test)
    with pytest.warns(FutureWarning, match="split_seed"):
        old = router_datasets(bench, [3], protocol="clean", seed=1, n_draws=20)
    assert np.array_equal(old.split.test, one.split.test)
    assert [p.models for p in old.pools] == [p.models for p in one.pools]


def test_clean_protocol_selects_on_train_and_val_only():
    gen = np.random.default_rng(5)
    values = (gen.random((300, 12)) < gen.uniform(0.2, 0.8, 12)).astype(np.float32)
    bench = bench_from(values)
    data = router_datasets(bench, [3], protocol="clean", n_draws=50)
    split, clean = data.split, data.pools
    # Changing every test record must not change the clean pools; it may change faithful ones.
    altered = values.copy()
    altered[split.test] = 1 - altered[split.test]
    clean2 = router_datasets(bench_from(altered), [3], protocol="clean", n_draws=50).pools
    assert [p.models for p in clean] == [p.models for p in clean2]


def test_pool_parts_keep_prompts_with_missing_records_as_missing():
    values = hand_matrix()
    values[[0, 5, 12], 2] = np.nan
    bench = bench_from(values)
    built = router_datasets(bench, [3], groups=["all_weak"], n_draws=10)
    data = built.pools[0]
    assert data.models == ["m1", "m2", "m3"]
    for name in ("train", "val", "test"):
        part = data.part(name)
        positions = getattr(built.split, name)
        # Every prompt stays; the missing records are NaN in scores and labels, nowhere else.
        assert part.positions.tolist() == positions.tolist()
        missing = np.isin(positions, [0, 5, 12])
        # Benchmark column 2 is "m2", the pool's second candidate.
        assert np.isnan(part.scores[:, 1]).tolist() == missing.tolist()
        assert np.isnan(part.labels[:, 1]).tolist() == missing.tolist()
        assert not np.isnan(part.scores[:, [0, 2]]).any()
        assert part.n_missing == int(missing.sum())


def test_continuous_labels_by_hand():
    scores = np.array([[0.5, 0.48, 0.2], [0.0, 0.0, 0.0], [1.0, 0.96, 0.94], [0.4, np.nan, 0.39]])
    labels = labels_from_scores(scores, "continuous")
    # Row 1: every candidate scores 0, so none is correct (0.95 x 0 would mark all of them right).
    # Row 3: the missing record stays missing; the best present score (0.4) sets the bar (0.38).
    assert np.nan_to_num(labels, nan=-1).tolist() == [[1, 1, 0], [0, 0, 0], [1, 1, 0], [1, -1, 1]]
    assert labels_from_scores(np.array([[1.0, 0.0]]), "binary").tolist() == [[1, 0]]


def test_all_pairs_oracle_agrees_with_direct_max():
    gen = np.random.default_rng(11)
    values = (gen.random((70, 6)) < 0.4).astype(np.float32)
    values[gen.random((70, 6)) < 0.1] = np.nan
    scorer = OracleScorer(bench_from(values))
    for pool in itertools.combinations(range(6), 3):
        direct = np.nanmean(np.nanmax(values[:, list(pool)], axis=1))
        assert scorer.oracle(pool) == pytest.approx(direct)
