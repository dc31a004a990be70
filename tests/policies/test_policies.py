"""Policies that turn quality estimates into choices, on matrices worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from routereval import policies


def first(policy, quality, costs=None, **kw):
    return policy.rank(np.asarray(quality, dtype=float), costs, **kw)[:, 0].tolist()


def test_argmax_breaks_ties_towards_the_lower_index():
    q = np.array([[1.0, 1.0, 0.0], [0.0, 0.5, 0.7]])
    np.testing.assert_array_equal(policies.argmax().choose(q), [[1, 0, 0], [0, 0, 1]])
    # The full ranking is the fallback order: best first, ties in candidate order.
    np.testing.assert_array_equal(policies.argmax().rank(q), [[0, 1, 2], [2, 1, 0]])


def test_cost_aware_trades_quality_for_cost():
    quality = [[0.9, 0.8, 0.5]]
    cost = [10.0, 1.0, 0.1]
    # weight 0: the plain argmax.  .05: .4, .75, .495.  1: -9.1, -.2, .4.
    assert first(policies.cost_aware(0.0), quality, cost) == [0]
    assert first(policies.cost_aware(0.05), quality, cost) == [1]
    assert first(policies.cost_aware(1.0), quality, cost) == [2]


def test_cost_aware_accepts_a_cost_per_prompt_and_checks_its_shape():
    quality = [[0.5, 0.5], [0.5, 0.5]]
    cost = [[1.0, 2.0], [2.0, 1.0]]
    assert first(policies.cost_aware(0.1), quality, cost) == [0, 1]
    with pytest.raises(ValueError, match="costs has 3 columns, expected 2"):
        first(policies.cost_aware(0.1), quality, np.ones(3))
    with pytest.raises(ValueError, match="needs the candidates' costs"):
        first(policies.cost_aware(0.1), quality)


def test_threshold_takes_the_cheapest_good_enough_candidate():
    q = [[0.2, 0.9, 0.7], [0.5, 0.4, 0.1], [0.1, 0.2, 0.3]]
    costs = [3.0, 2.0, 1.0]
    # Row 0: good = {1, 2}, cheapest 2. Row 1: good = {0, 1}, cheapest 1. Row 2: none good -> best estimate 2.
    assert first(policies.threshold(0.4), q, costs) == [2, 1, 2]
    # Without costs, `prefer` orders them (lower first): here candidate 0 is the preferred one.
    assert first(policies.threshold(0.4), q, prefer=[0.1, 0.5, 0.9]) == [1, 0, 2]
    # RouteLLM's switch on a strong (0) / weak (1) pair: the weak model when it is estimated good enough.
    pair = [[0.9, 0.7], [0.9, 0.5]]
    assert first(policies.threshold(0.6), pair, [10.0, 1.0]) == [1, 0]


def test_tolerance_is_relative_to_the_best_estimate():
    q = [[0.80, 0.75, 0.60]]
    costs = [5.0, 2.0, 1.0]
    assert first(policies.tolerance(0.1), q, costs) == [1]   # within .1 of .8: candidates 0, 1
    assert first(policies.tolerance(0.25), q, costs) == [2]  # all three
    assert first(policies.tolerance(0.0), q, costs) == [0]


def test_cost_cap_excludes_expensive_candidates_and_falls_back_to_the_cheapest():
    q = [[0.9, 0.8, 0.1]]
    assert first(policies.cost_cap(2.5), q, [3.0, 2.0, 1.0]) == [1]
    np.testing.assert_array_equal(policies.cost_cap(2.5).rank(np.array(q), [3.0, 2.0, 1.0]), [[1, 2, 0]])
    assert first(policies.cost_cap(0.5), q, [3.0, 2.0, 1.0]) == [2]


def test_allowed_keeps_candidates_out_of_play():
    q = np.array([[0.9, 0.8, 0.1]])
    np.testing.assert_array_equal(policies.argmax().rank(q, allowed=[False, True, True]), [[1, 2, 0]])


def test_oracle_family_reads_true_scores_and_spreads_exactly():
    s = np.array([[0.0, 1.0, 0.0, 0.0]])
    np.testing.assert_allclose(policies.ro(0.5).choose(None, scores=s), [[0.125, 0.625, 0.125, 0.125]])
    np.testing.assert_allclose(policies.random().choose(None, scores=s), [[0.25] * 4])
    with pytest.raises(ValueError, match="needs the true scores"):
        policies.oracle().choose(None)
    with pytest.raises(ValueError, match=r"p must lie in \[0, 1\]"):
        policies.ro(2.0)


def test_policies_name_the_bad_cell_and_bad_settings():
    with pytest.raises(ValueError, match="row 1 .*column 0"):
        policies.argmax().choose(np.array([[0.0, 1.0], [np.nan, 1.0]]))
    with pytest.raises(ValueError, match="cost_weight must be >= 0"):
        policies.cost_aware(-1)
    with pytest.raises(ValueError, match="not both"):
        policies.Rule(threshold=0.5, tolerance=0.1)
