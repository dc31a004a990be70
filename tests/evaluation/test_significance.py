"""Repeated splits and significance: the two-level interval, paired tests with Holm, ranks, Friedman, Nemenyi.

Every expected number is worked out here by hand, from a published table, or by a second method
(scipy's Friedman test, the analytic variance of the two-level bootstrap), never from a previous run.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import friedmanchisquare

from routereval.evaluation.aggregate import (
    joint_interval,
    paired_difference,
    split_interval,
    summarise,
)
from routereval.evaluation.significance import (
    average_ranks,
    critical_difference,
    friedman,
    holm,
    nemenyi_q,
    rank_summary,
)


def _row(positions, scores, split=0, group="all_weak", router="r", seed=0):
    return {"dataset": "d", "benchmark": "d", "m": 3, "router": router, "group": group, "seed": seed,
            "split_seed": split, "positions": np.asarray(positions), "per_prompt": np.asarray(scores, dtype=float),
            "mean_score": float(np.nanmean(scores)), "n_test": len(scores)}


# -- the two-level interval ------------------------------------------------------------------------


def test_one_split_is_exactly_the_joint_interval():
    rng = np.random.default_rng(4)
    rows = [_row(np.arange(200), rng.random(200).round(2), group=g) for g in ("a", "b", "c")]
    assert split_interval(rows, n_boot=500, seed=3) == joint_interval(rows, n_boot=500, seed=3)


def test_splits_that_differ_only_between_splits_give_the_bootstrap_of_split_means():
    # Within each split every prompt scores the same, so only the draw of splits moves the mean: with
    # split means 0 and 1, a resample's mean is 0, 0.5 or 1 with probability 1/4, 1/2, 1/4, so its
    # 2.5% and 97.5% quantiles are 0 and 1.
    rows = [_row(np.arange(50), np.zeros(50), split=0), _row(np.arange(50), np.ones(50), split=1)]
    assert split_interval(rows, n_boot=2000) == (0.0, 1.0)


def test_identical_splits_keep_the_centre_and_the_interval_holds_prompt_noise():
    rng = np.random.default_rng(0)
    scores = (rng.random(400) < 0.6).astype(float)
    one = [_row(np.arange(400), scores)]
    same = [_row(np.arange(400), scores, split=s) for s in range(4)]
    lo1, hi1 = joint_interval(one, n_boot=2000)
    lo, hi = split_interval(same, n_boot=2000)
    # Same centre; the width shrinks by about 1/sqrt(4) as 4 identical splits count as 4 prompt samples.
    assert (lo + hi) / 2 == pytest.approx((lo1 + hi1) / 2, abs=0.01)
    assert (hi - lo) == pytest.approx((hi1 - lo1) / 2, rel=0.15)


def test_two_level_spread_matches_its_analytic_variance():
    # A resample is the mean of S draws (split I, then n prompts of it): its variance is
    # (1/S) * (between-split variance of the means + mean within-split variance / n), population forms.
    rng = np.random.default_rng(1)
    n, probs = 300, [0.45, 0.55, 0.6, 0.7, 0.5]
    rows, means, within = [], [], []
    for s, p in enumerate(probs):
        scores = (rng.random(n) < p).astype(float)
        rows.append(_row(np.arange(n) + 1000 * s, scores, split=s))
        means.append(scores.mean())
        within.append(scores.var())
    S = len(probs)
    sd = math.sqrt((np.var(means) + np.mean(within) / n) / S)
    lo, hi = split_interval(rows, n_boot=20_000, seed=2)
    assert (hi - lo) / (2 * 1.959964) == pytest.approx(sd, rel=0.06)
    assert (lo + hi) / 2 == pytest.approx(np.mean(means), abs=0.005)


# -- paired differences ----------------------------------------------------------------------------


def test_paired_p_value_limits():
    rng = np.random.default_rng(2)
    base = [_row(np.arange(100), rng.random(100), split=s) for s in (0, 1)]
    better = [{**r, "per_prompt": r["per_prompt"] + 0.1} for r in base]
    # A constant difference never moves under resampling: only the +1 of the formula is left.
    d, lo, hi, p = paired_difference(better, base, n_boot=300, p_value=True)
    assert d == pytest.approx(0.1) and lo == pytest.approx(0.1) and hi == pytest.approx(0.1)
    assert p == pytest.approx(1 / 301)
    # No difference at all: every resample is as far from 0 as the point is, so p = 1.
    assert paired_difference(base, base, n_boot=300, p_value=True)[3] == 1.0
    # Without p_value the old three numbers come back unchanged.
    assert paired_difference(better, base, n_boot=300) == (d, lo, hi)


def test_summaries_mark_routers_tied_with_the_best_after_holm():
    rng = np.random.default_rng(3)
    rows = []
    for s in range(3):
        truth = (rng.random(400) < 0.5).astype(float)
        noise = rng.random(400)
        for router, scores in {
            "top": truth,
            # Loses to top on about 0.5% of the prompts: not told apart.
            "near": np.where((noise < 0.01) & (truth == 1), 0.0, truth),
            # Loses on a quarter of the prompts top gets right: clearly worse.
            "poor": np.where((noise < 0.25) & (truth == 1), 0.0, truth),
            "oracle": np.ones(400),
        }.items():
            rows.append(_row(np.arange(400), scores, split=s, router=router))
    means = {r["router"]: r for r in summarise(rows, n_boot=500, compare=True)}
    assert "tied_with_best" not in means["oracle"]  # a bound, not a contender
    assert means["top"]["best"] == "top" and means["top"]["tied_with_best"]
    assert means["near"]["tied_with_best"] and not means["poor"]["tied_with_best"]
    assert means["poor"]["diff_vs_best"] == pytest.approx(means["poor"]["mean_score"] - means["top"]["mean_score"])
    assert means["poor"]["diff_vs_best_hi"] < 0
    # Holm over two comparisons: the smaller p doubled, the larger one kept above it.
    small, large = sorted([means["near"]["p_vs_best"], means["poor"]["p_vs_best"]])
    assert means["poor"]["p_holm"] == pytest.approx(min(1, 2 * small))
    assert means["near"]["p_holm"] == pytest.approx(max(min(1, 2 * small), large))
    assert means["top"]["split_seeds"] == [0, 1, 2]


# -- Holm -------------------------------------------------------------------------------------------


def test_holm_on_known_p_values():
    # Sorted: .005 x 4 = .02, .01 x 3 = .03, .03 x 2 = .06, .04 x 1 = .04 -> raised to .06 (monotone).
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    out = holm([0.02, float("nan"), 0.01])  # NaN is neither adjusted nor counted
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1]) and out[2] == pytest.approx(0.02)


# -- ranks, Friedman, Nemenyi ----------------------------------------------------------------------


def test_average_ranks_by_hand_with_ties_averaged():
    table = [[0.9, 0.8, 0.7],   # ranks 1, 2, 3
             [0.6, 0.6, 0.9],   # 2.5, 2.5, 1
             [0.5, 0.7, 0.6]]   # 3, 1, 2
    assert average_ranks(table) == pytest.approx([6.5 / 3, 5.5 / 3, 2.0])


def test_friedman_on_demsars_worked_example():
    # Demsar (2006), section 3.2.2: four algorithms on 14 data sets, average ranks 3.143, 2.000,
    # 2.893, 1.964; he reports chi2_F = 9.28 and F_F = 3.69.
    out = friedman([3.143, 2.000, 2.893, 1.964], 14)
    assert out.chi2 == pytest.approx(9.28, abs=0.01) and out.f == pytest.approx(3.69, abs=0.01)


def test_friedman_agrees_with_scipy_on_a_table_without_ties():
    rng = np.random.default_rng(5)
    table = rng.random((8, 5))
    ours = friedman(average_ranks(table), 8)
    theirs = friedmanchisquare(*table.T)  # scipy ranks within each row (block): the same statistic
    assert ours.chi2 == pytest.approx(theirs.statistic) and ours.p_chi2 == pytest.approx(theirs.pvalue)


def test_nemenyi_q_and_critical_difference_match_demsars_table():
    # Demsar's Table 5(a), alpha = 0.05: q = 2.569 for k = 4 and 3.164 for k = 10.
    assert nemenyi_q(4) == pytest.approx(2.569, abs=1e-3)
    assert nemenyi_q(10) == pytest.approx(3.164, abs=1e-3)
    # His example: k = 4, N = 14 gives CD = 2.569 * sqrt(4 * 5 / 84) = 1.25.
    assert critical_difference(4, 14) == pytest.approx(1.25, abs=0.005)


def test_cliques_join_routers_closer_than_the_critical_difference():
    table = np.array([[4, 3, 2, 1], [4, 3, 1, 2], [4, 2, 3, 1], [3, 4, 2, 1]] * 3, dtype=float)
    summary = rank_summary(table, ["a", "b", "c", "d"], [f"d{i}" for i in range(12)])
    ranks = dict(zip(summary.routers, summary.ranks))
    # By hand: a is 1, 1, 1, 2 in the four kinds of rows, b 2, 2, 3, 1, c 3, 4, 2, 3, d 4, 3, 4, 4.
    assert ranks == pytest.approx({"a": 1.25, "b": 2.0, "c": 3.0, "d": 3.75})
    # CD(4, 12) = 2.569 * sqrt(20 / 72) = 1.354: neighbours (0.75, 1.0, 0.75 apart) are not told apart,
    # routers two places apart (1.75) are.
    assert summary.cd == pytest.approx(2.569 * math.sqrt(20 / 72), abs=1e-3)
    order = [summary.routers[i] for i in summary.order()]
    assert order == ["a", "b", "c", "d"]
    assert summary.cliques() == [(0, 1), (1, 2), (2, 3)]
