"""Brier score and reliability table against numbers worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from routereval.metrics import brier_score, reliability_table

QUALITY = np.array([[0.1, 0.85], [0.3, 0.95], [0.12, 1.0]])
SCORES = np.array([[0.0, 1.0], [1.0, np.nan], [0.0, 0.0]])


def test_brier_by_hand():
    # Present cells: (.1-0)^2 .01, (.85-1)^2 .0225, (.3-1)^2 .49, (.12-0)^2 .0144, (1-0)^2 1; the NaN cell is left out.
    assert brier_score(QUALITY, SCORES) == pytest.approx((0.01 + 0.0225 + 0.49 + 0.0144 + 1.0) / 5)


def test_reliability_by_hand():
    table = reliability_table(QUALITY, SCORES, n_bins=4)
    # Bins [0, .25): .1, .12 -> scores 0, 0; [.25, .5): .3 -> 1; [.5, .75): none; [.75, 1]: .85, 1.0 -> 1, 0.
    np.testing.assert_array_equal(table.count, [2, 1, 0, 2])
    np.testing.assert_allclose(table.mean_estimate[[0, 1, 3]], [0.11, 0.3, 0.925])
    np.testing.assert_allclose(table.mean_score[[0, 1, 3]], [0.0, 1.0, 0.5])
    assert np.isnan(table.mean_estimate[2])
    # ECE: (2 x .11 + 1 x .7 + 2 x .425) / 5
    assert table.ece == pytest.approx((0.22 + 0.7 + 0.85) / 5)
    assert table.rows()[3] == {"lower": 0.75, "upper": 1.0, "count": 2, "mean_estimate": 0.925, "mean_score": 0.5}


def test_refuses_bad_inputs():
    with pytest.raises(ValueError, match="one estimate per score"):
        brier_score(QUALITY[:2], SCORES)
    with pytest.raises(ValueError, match="must lie in \\[0, 1\\]"):
        brier_score(QUALITY + 0.5, SCORES)
    with pytest.raises(ValueError, match="n_bins"):
        reliability_table(QUALITY, SCORES, n_bins=0)
