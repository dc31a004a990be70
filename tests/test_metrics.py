"""Metrics on tiny matrices, checked against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from routereval import metrics
from routereval.routers.base import Prompts
from routereval.routers.oracle import OracleMixRouter, OracleRouter, RandomRouter

# 4 test prompts x 3 candidates.
S = np.array(
    [
        [1.0, 0.0, 0.0],
        [0.0, 1.0, 1.0],
        [0.0, 0.0, 0.0],
        [1.0, 1.0, 0.0],
    ]
)


def fitted(router):
    return router.fit(Prompts(scores=S), S)


def test_oracle_by_hand():
    router = fitted(OracleRouter())
    choice = router.choice_distribution(Prompts(scores=S))
    # argmax with ties to the lowest index: 0, 1, 0, 0
    assert choice.argmax(axis=1).tolist() == [0, 1, 0, 0]
    assert metrics.mu_o(S, choice) == pytest.approx(3 / 4)
    # best single: column means 0.5, 0.5, 0.25 -> 0.5
    assert metrics.v_b(S, choice) == pytest.approx(0.75 / 0.5)
    assert metrics.v_r(0.75, 0.864) == pytest.approx(0.75 / 0.864)
    # selection histogram (3/4, 1/4, 0): entropy = -(.75 log2 .75 + .25 log2 .25)
    assert metrics.e_sel(choice) == pytest.approx(-(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25)))
    # pi: normalised scores; rows: (1,0,0) -> 0 bits, (0,.5,.5) -> 1, uniform -> log2 3, (.5,.5,0) -> 1
    pi = router.predict_proba(Prompts(scores=S))
    assert metrics.e_p(pi) == pytest.approx((0 + 1 + math.log2(3) + 1) / 4)


def test_random_is_exactly_log2_m_and_the_mean():
    router = fitted(RandomRouter())
    choice = router.choice_distribution(Prompts(scores=S))
    assert metrics.e_p(router.predict_proba(Prompts(scores=S))) == pytest.approx(math.log2(3))
    assert metrics.e_sel(choice) == pytest.approx(math.log2(3))
    assert metrics.mu_o(S, choice) == pytest.approx(S.mean())


def test_ro_half_is_the_mean_of_oracle_and_random():
    half = metrics.mu_o(S, fitted(OracleMixRouter(0.5)).choice_distribution(Prompts(scores=S)))
    oracle = metrics.mu_o(S, fitted(OracleRouter()).choice_distribution(Prompts(scores=S)))
    random = metrics.mu_o(S, fitted(RandomRouter()).choice_distribution(Prompts(scores=S)))
    assert half == pytest.approx((oracle + random) / 2)
    assert half == pytest.approx((0.75 + 5 / 12) / 2)


def test_ro_monte_carlo_agrees_with_expectation():
    gen = np.random.default_rng(0)
    scores = (gen.random((400, 5)) < 0.3).astype(float)
    router = OracleMixRouter(0.3).fit(Prompts(scores=scores), scores)
    expected = metrics.mu_o(scores, router.choice_distribution(Prompts(scores=scores)))
    runs = [scores[np.arange(400), router.sample_choices(Prompts(scores=scores), seed=s)].mean() for s in range(1000)]
    assert np.mean(runs) == pytest.approx(expected, abs=0.003)


def test_entropy_drops_tiny_terms_and_zero_rows():
    pi = np.array([[1.0, 1e-12, 0.0], [0.0, 0.0, 0.0], [0.5, 0.5, 0.0]])
    assert metrics.row_entropy(pi).tolist() == pytest.approx([0.0, 0.0, 1.0])


def test_bootstrap_interval_brackets_the_mean_and_matches_theory():
    gen = np.random.default_rng(1)
    values = (gen.random(2000) < 0.6).astype(float)
    lo, hi = metrics.bootstrap_interval(values, n_boot=2000, seed=0)
    mean = values.mean()
    se = math.sqrt(mean * (1 - mean) / len(values))
    assert lo < mean < hi
    # Width close to the normal approximation 2 * 1.96 * se.
    assert (hi - lo) == pytest.approx(2 * 1.96 * se, rel=0.1)
