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
