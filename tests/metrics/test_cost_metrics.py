"""Cost metrics on tiny matrices and curves worked out by hand (numbers in the comments)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from routereval.metrics import cost as cm


def test_cost_summary_by_hand():
    costs = np.array([[1.0, 10.0], [1.0, 10.0], [1.0, 10.0]])
    choice = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    # Per prompt: 1, 10, 5.5 -> mean 5.5, total 16.5, 5,500 per 1,000 queries.
    out = cm.cost_summary(costs, choice)
    assert out == {"mean_cost": 5.5, "total_cost": 16.5, "cost_per_1k": 5500.0, "n_cost_unknown": 0}


def test_unknown_costs_are_left_out_and_counted():
    costs = np.array([[1.0, 10.0], [1.0, 10.0], [1.0, np.nan]])
    choice = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    out = cm.cost_summary(costs, choice)
    assert out["n_cost_unknown"] == 1 and out["mean_cost"] == 5.5 and out["total_cost"] == 11.0
    # A choice that never goes to the unknown cell is fine.
    assert cm.per_prompt_cost(costs, np.array([[1, 0], [1, 0], [1, 0.0]])).tolist() == [1.0, 1.0, 1.0]


POINTS = np.array([[0, 0], [1, 0.5], [2, 0.6], [3, 0.9], [4, 0.85], [2, 0.2]], dtype=float)


def test_upper_hull_by_hand():
    # (2, .6) lies under the chord from (1, .5) to (3, .9) (0.7 at x = 2); (4, .85) is past the best point.
    hull = cm.upper_hull(POINTS[:, 0], POINTS[:, 1])
    assert hull.tolist() == [[0, 0], [1, 0.5], [3, 0.9]]
    assert cm.hull_height(hull, 2.0) == pytest.approx(0.7)
    assert cm.hull_height(hull, 0.5) == pytest.approx(0.25)
    assert cm.hull_height(hull, 5.0) == pytest.approx(0.9)
    assert math.isnan(cm.hull_height(hull, -1.0))


def test_hull_is_non_decreasing_even_when_the_curve_is_not():
    hull = cm.upper_hull(np.array([1.0, 2.0, 3.0, 5.0]), np.array([0.4, 0.7, 0.6, 0.65]))
    assert hull.tolist() == [[1.0, 0.4], [2.0, 0.7]]


def test_aiq_by_hand():
    hull = cm.upper_hull(POINTS[:, 0], POINTS[:, 1])
    # Area over [0, 4]: 0.25 + 1.4 + 0.9 = 2.55, mean height 0.6375.
    out = cm.aiq(hull, 0.0, 4.0)
    assert out["aiq"] == pytest.approx(0.6375) and out["covered"] == 1.0
    # Over [-1, 3]: height 0 below the first point: (0 + 0.25 + 1.4) / 4 = 0.4125, 3/4 of the range covered.
    out = cm.aiq(hull, -1.0, 3.0)
    assert out["aiq"] == pytest.approx(0.4125) and out["covered"] == pytest.approx(0.75)
    with pytest.raises(ValueError):
        cm.aiq(hull, 2.0, 2.0)


def test_cost_to_reach_and_saving():
    hull = cm.upper_hull(POINTS[:, 0], POINTS[:, 1])
    assert cm.cost_to_reach(hull, 0.7) == pytest.approx(2.0)
    assert cm.cost_to_reach(hull, 0.0) == 0.0
    assert math.isnan(cm.cost_to_reach(hull, 0.95))
    assert cm.saving(2.0, 8.0) == pytest.approx(0.75)


WEAK, STRONG = (1.0, 0.4), (5.0, 0.8)


def test_pgr_apgr_cpt_by_hand():
    hull = cm.upper_hull(np.array([1.0, 2.0, 5.0]), np.array([0.4, 0.7, 0.8]))
    assert cm.pgr(0.7, 0.4, 0.8) == pytest.approx(0.75)
    # Mean height over [1, 5] = (0.55 + 2.25) / 4 = 0.7 -> APGR = (0.7 - 0.4) / 0.4 = 0.75.
    assert cm.apgr(hull, WEAK, STRONG) == pytest.approx(0.75)
    # CPT(x): quality 0.4 + 0.4 x reached on the hull.
    assert cm.cpt(hull, 0.2, WEAK, STRONG) == pytest.approx(1 + 0.08 / 0.3)
    assert cm.cpt(hull, 0.5, WEAK, STRONG) == pytest.approx(1 + 0.2 / 0.3)
    assert cm.cpt(hull, 0.8, WEAK, STRONG) == pytest.approx(2.6)


def test_random_line_has_apgr_one_half_and_a_dip_cannot_fool_cpt():
    line = cm.upper_hull(np.array([1.0, 5.0]), np.array([0.4, 0.8]))
    assert cm.apgr(line, WEAK, STRONG) == pytest.approx(0.5)
    assert cm.cpt(line, 0.5, WEAK, STRONG) == pytest.approx(3.0)
    # A curve that first reaches PGR 0.5 at cost 2, dips, and only later stays above: the hull says 2 - never later.
    dip = cm.upper_hull(np.array([1.0, 2.0, 3.0, 5.0]), np.array([0.4, 0.6, 0.5, 0.8]))
    assert cm.cpt(dip, 0.5, WEAK, STRONG) == pytest.approx(2.0)


def test_apgr_starts_at_the_weak_model_when_the_hull_does_not():
    # Only the strong model's point: the hull from weak to strong is the straight line.
    hull = cm.upper_hull(np.array([5.0]), np.array([0.8]))
    assert cm.apgr(hull, WEAK, STRONG) == pytest.approx(0.5)


def test_rounding_in_the_last_bits_does_not_fall_off_the_hull():
    # The same mean summed in another order: 0.1 + 0.2 vs 0.3.
    hull = cm.upper_hull(np.array([0.1 + 0.2, 1.0]), np.array([0.5, 0.6 + 0.3]))
    assert cm.hull_height(hull, 0.3) == pytest.approx(0.5)
    assert cm.cost_to_reach(hull, 0.9) == 1.0
    assert cm.saving(cm.cost_to_reach(hull, 0.9), 1.0) == 0.0
