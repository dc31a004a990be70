"""The joint bootstrap interval of a table cell, against the definition written out one resample at a time."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from routereval.evaluation import aggregate
from routereval.evaluation.aggregate import joint_interval


def _one_resample_at_a_time(rows, n_boot=1000, seed=0):
    """The definition: draw prompt positions, take each row's mean over them (unscored ones left out),
    then the mean over rows; 2.5% and 97.5% quantiles of those means."""
    universe = np.unique(np.concatenate([r["positions"] for r in rows]))
    table = np.full((len(rows), len(universe)), np.nan)
    for i, r in enumerate(rows):
        table[i, np.searchsorted(universe, r["positions"])] = r["per_prompt"]
    rng = np.random.default_rng(seed)
    means = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(n_boot):
            pick = table[:, rng.integers(0, len(universe), len(universe))]
            means.append(np.nanmean(np.nanmean(pick, axis=1)))
    means = np.array(means)
    return tuple(np.quantile(means[~np.isnan(means)], [0.025, 0.975]))


def _rows(seed: int, n_rows: int = 3, n_prompts: int = 300):
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n_rows):
        # Rows score overlapping but different prompts, with some unscored (NaN), as pools do.
        positions = np.sort(rng.choice(n_prompts + 40, n_prompts, replace=False))
        per_prompt = rng.random(n_prompts).round(2)
        per_prompt[rng.random(n_prompts) < 0.1] = np.nan
        rows.append({"positions": positions, "per_prompt": per_prompt})
    return rows


@pytest.mark.parametrize("cells", [aggregate._BOOT_CELLS, 1000])  # one block, and many uneven blocks
def test_interval_is_the_one_at_a_time_definition(monkeypatch, cells):
    monkeypatch.setattr(aggregate, "_BOOT_CELLS", cells)
    for seed in (1, 2):
        rows = _rows(seed)
        np.testing.assert_allclose(joint_interval(rows, seed=seed), _one_resample_at_a_time(rows, seed=seed),
                                   rtol=0, atol=1e-12)


def test_a_row_with_few_scored_prompts_still_counts():
    # A row scored on 3 prompts only: many resamples miss them all, and those resamples average the
    # other rows alone (NaN row mean left out), exactly as the definition does.
    rows = _rows(5, n_rows=2)
    sparse = {"positions": np.array([1, 2, 3]), "per_prompt": np.array([1.0, 0.0, 1.0])}
    rows.append(sparse)
    np.testing.assert_allclose(joint_interval(rows, n_boot=400), _one_resample_at_a_time(rows, n_boot=400),
                               rtol=0, atol=1e-12)


def test_paired_difference_is_the_joint_interval_of_per_prompt_differences():
    # Worked by hand: pool 1 differs on prompt 1 only (+1 over 4 prompts: 0.25); pool 2 is compared on
    # the prompts both scored (0 and 1: +1 and 0, mean 0.5; prompt 5 only b scored, prompt 7 only a).
    from routereval.evaluation.aggregate import paired_difference

    a = [{"positions": np.array([0, 1, 2, 3]), "per_prompt": np.array([1.0, 1, 0, 1])},
         {"positions": np.array([0, 1, 7]), "per_prompt": np.array([1.0, 0, 1])}]
    b = [{"positions": np.array([0, 1, 2, 3]), "per_prompt": np.array([1.0, 0, 0, 1])},
         {"positions": np.array([0, 1, 5]), "per_prompt": np.array([0.0, 0, 1])}]
    point, lo, hi = paired_difference(a, b, n_boot=500, seed=3)
    assert point == pytest.approx((0.25 + 0.5) / 2)
    by_definition = _one_resample_at_a_time(
        [{"positions": np.array([0, 1, 2, 3]), "per_prompt": np.array([0.0, 1, 0, 0])},
         {"positions": np.array([0, 1]), "per_prompt": np.array([1.0, 0])}], n_boot=500, seed=3)
    assert (lo, hi) == pytest.approx(by_definition)


def test_the_paired_interval_is_narrower_than_two_unpaired_ones():
    # Two routers that agree on most prompts: each mean is uncertain, their difference much less so.
    rng = np.random.default_rng(0)
    base = (rng.random(400) < 0.6).astype(float)
    better = base.copy()
    better[rng.choice(400, 12, replace=False)] = 1.0
    rows = lambda v: [{"positions": np.arange(400), "per_prompt": v}]  # noqa: E731
    from routereval.evaluation.aggregate import paired_difference

    point, lo, hi = paired_difference(rows(better), rows(base))
    assert point == pytest.approx(better.mean() - base.mean())
    a_lo, a_hi = joint_interval(rows(better))
    assert 0 < lo <= point <= hi and (hi - lo) < (a_hi - a_lo) / 2


def test_summaries_carry_each_routers_paired_difference_to_best_single():
    from routereval.evaluation.aggregate import summarise

    def row(router, group, values):
        return {"dataset": "d", "benchmark": "d", "m": 3, "router": router, "group": group, "seed": 0,
                "mean_score": float(np.mean(values)), "n_test": len(values), "positions": np.arange(len(values)),
                "per_prompt": np.array(values, dtype=float)}

    rows = [row("knn", "all_weak", [1, 1, 0, 0]), row("best-single", "all_weak", [1, 0, 0, 0]),
            row("knn", "all_strong", [1, 1, 1, 1]), row("best-single", "all_strong", [1, 1, 1, 1])]
    means = {r["router"]: r for r in summarise(rows)}
    assert means["knn"]["diff_vs_best_single"] == pytest.approx((0.25 + 0.0) / 2)
    assert means["knn"]["diff_vs_best_single_lo"] <= 0.125 <= means["knn"]["diff_vs_best_single_hi"]
    assert "diff_vs_best_single" not in means["best-single"]
