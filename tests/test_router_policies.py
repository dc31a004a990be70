"""Policies that turn quality estimates into choices, on matrices worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from routereval.routers.policies import argmax, cost_aware, mix, threshold


def test_argmax_breaks_ties_towards_the_lower_index():
    np.testing.assert_array_equal(argmax(np.array([[1.0, 1.0, 0.0], [0.0, 0.5, 0.7]])), [[1, 0, 0], [0, 0, 1]])


def test_cost_aware_trades_quality_for_cost():
    quality = np.array([[0.9, 0.8, 0.5]])
    cost = np.array([10.0, 1.0, 0.1])
    # lam 0: the plain argmax.  lam .05: .4, .75, .495.  lam 1: -9.1, -.2, .4.
    np.testing.assert_array_equal(cost_aware(quality, cost, 0.0), [[1, 0, 0]])
    np.testing.assert_array_equal(cost_aware(quality, cost, 0.05), [[0, 1, 0]])
    np.testing.assert_array_equal(cost_aware(quality, cost, 1.0), [[0, 0, 1]])


def test_cost_aware_accepts_a_cost_per_prompt():
    quality = np.array([[0.5, 0.5], [0.5, 0.5]])
    cost = np.array([[1.0, 2.0], [2.0, 1.0]])
    np.testing.assert_array_equal(cost_aware(quality, cost, 0.1), [[1, 0], [0, 1]])
    with pytest.raises(ValueError, match="cost_per_candidate has 3 columns, expected 2"):
        cost_aware(quality, np.ones(3), 0.1)


def test_threshold_sends_a_gain_of_at_least_t_to_the_strong_candidate():
    # Gains of candidate 0 over candidate 2: .5, .25 (exactly t), -.5.
    quality = np.array([[1.0, 9.0, 0.5], [0.75, 9.0, 0.5], [0.25, 9.0, 0.75]])
    np.testing.assert_array_equal(threshold(quality, 0, 2, 0.25), [[1, 0, 0], [1, 0, 0], [0, 0, 1]])
    np.testing.assert_array_equal(threshold(quality, 0, 2, -np.inf)[:, 0], [1, 1, 1])
    np.testing.assert_array_equal(threshold(quality, 0, 2, np.inf)[:, 2], [1, 1, 1])
    with pytest.raises(ValueError, match="weak = 3 is not a candidate index"):
        threshold(quality, 0, 3, 0.0)


def test_mix_spreads_the_rest_uniformly():
    np.testing.assert_allclose(mix(np.array([[0.0, 1.0, 0.0, 0.0]]), 0.5), [[0.125, 0.625, 0.125, 0.125]])


def test_policies_name_the_bad_cell():
    with pytest.raises(ValueError, match="row 1 .*column 0"):
        argmax(np.array([[0.0, 1.0], [np.nan, 1.0]]))
