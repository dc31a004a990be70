"""Metrics on tiny matrices, checked against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from routereval import metrics
from routereval.policies import Oracle, OracleMix, Random

# 4 test prompts x 3 candidates.
S = np.array(
    [
        [1.0, 0.0, 0.0],
        [0.0, 1.0, 1.0],
        [0.0, 0.0, 0.0],
        [1.0, 1.0, 0.0],
    ]
)


def test_oracle_by_hand():
    policy = Oracle()
    choice = policy.choose(None, scores=S)
    # argmax with ties to the lowest index: 0, 1, 0, 0
    assert choice.argmax(axis=1).tolist() == [0, 1, 0, 0]
    assert metrics.mean_score(S, choice) == pytest.approx(3 / 4)
    # best single: column means 0.5, 0.5, 0.25 -> 0.5
    assert metrics.vs_best_single(S, choice) == pytest.approx(0.75 / 0.5)
    assert metrics.vs_reference(0.75, 0.864) == pytest.approx(0.75 / 0.864)
    # selection histogram (3/4, 1/4, 0): entropy = -(.75 log2 .75 + .25 log2 .25)
    assert metrics.choice_entropy(choice) == pytest.approx(-(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25)))
    # pi: normalised scores; rows: (1,0,0) -> 0 bits, (0,.5,.5) -> 1, uniform -> log2 3, (.5,.5,0) -> 1
    assert metrics.proba_entropy(policy.proba(S)) == pytest.approx((0 + 1 + math.log2(3) + 1) / 4)


def test_random_is_exactly_log2_m_and_the_mean():
    policy = Random()
    choice = policy.choose(None, scores=S)
    assert metrics.proba_entropy(policy.proba(S)) == pytest.approx(math.log2(3))
    assert metrics.choice_entropy(choice) == pytest.approx(math.log2(3))
    assert metrics.mean_score(S, choice) == pytest.approx(S.mean())


def test_ro_half_is_the_mean_of_oracle_and_random():
    half = metrics.mean_score(S, OracleMix(0.5).choose(None, scores=S))
    assert half == pytest.approx((0.75 + 5 / 12) / 2)


def test_ro_monte_carlo_agrees_with_expectation():
    gen = np.random.default_rng(0)
    scores = (gen.random((400, 5)) < 0.3).astype(float)
    policy = OracleMix(0.3)
    expected = metrics.mean_score(scores, policy.choose(None, scores=scores))
    runs = policy.sample(scores, runs=1000, seed=0)
    assert runs.shape == (1000, 400)
    per_run = scores[np.arange(400)[None, :], runs].mean(axis=1)
    assert per_run.mean() == pytest.approx(expected, abs=0.003)


def test_entropy_drops_tiny_terms_and_refuses_rows_that_are_not_distributions():
    pi = np.array([[1.0, 1e-12, 0.0], [0.5, 0.5, 0.0]])
    assert metrics.row_entropy(pi).tolist() == pytest.approx([0.0, 1.0])
    # A zero row is no distribution: its entropy of 0 would pass for a confident router.
    with pytest.raises(ValueError, match="row 1 .* sums to 0"):
        metrics.row_entropy(np.array([[1.0, 0.0], [0.0, 0.0]]))


def test_bootstrap_interval_brackets_the_mean_and_matches_theory():
    gen = np.random.default_rng(1)
    values = (gen.random(2000) < 0.6).astype(float)
    lo, hi = metrics.bootstrap_interval(values, n_boot=2000, seed=0)
    mean = values.mean()
    se = math.sqrt(mean * (1 - mean) / len(values))
    assert lo < mean < hi
    # Width close to the normal approximation 2 * 1.96 * se.
    assert (hi - lo) == pytest.approx(2 * 1.96 * se, rel=0.1)


def test_missing_records_leave_a_prompt_unscored_only_where_the_choice_lands():
    s = np.array([[1.0, np.nan], [np.nan, 0.0], [0.0, 1.0]])
    one_hot = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    # Prompt 0: chosen candidate 0 has a record (1). Prompt 1: chosen candidate 0 has none -> unscored.
    per = metrics.per_prompt_score(s, one_hot)
    assert per[0] == 1.0 and math.isnan(per[1]) and per[2] == 1.0
    assert metrics.mean_score(s, one_hot) == pytest.approx(1.0)
    # A uniform choice touches both candidates: any missing record leaves the prompt unscored.
    uniform = np.full((3, 2), 0.5)
    assert np.isnan(metrics.per_prompt_score(s, uniform)[:2]).all()
    # V_B compares on the scored prompts (0 and 2): candidate means (0.5, 1.0) -> best 1.0.
    assert metrics.vs_best_single(s, one_hot) == pytest.approx(1.0 / 1.0)


def test_gap_closed_by_hand():
    assert metrics.gap_closed(0.6, 0.5, 0.9) == pytest.approx(0.25)
    assert math.isnan(metrics.gap_closed(0.6, 0.5, 0.5))


def test_against_best_single_by_hand_with_a_missing_record():
    from routereval.metrics import against_best_single

    nan = float("nan")
    # Three candidates on four test prompts; the router picks 0, 1, 2, 1; prompt 3's pick (1) has no record.
    scores = np.array([[1.0, 0.0, 0.0],
                       [0.0, 1.0, 1.0],
                       [0.0, 0.0, 1.0],
                       [1.0, nan, 0.0]])
    choice = np.eye(3)[[0, 1, 2, 1]]
    train_means = np.array([0.2, 0.6, 0.4])  # candidate 1 is the deployable best single model
    got = against_best_single(scores, choice, train_means)
    # Over prompts 0-2: routed 3/3; candidate 1 scores 0, 1, 0 -> 1/3; the oracle 1, 1, 1 -> 1.
    assert got.n_scored == 3 and got.best_single_train_index == 1
    assert got.mean_score == 1.0 and got.best_single_train == pytest.approx(1 / 3) and got.oracle == 1.0
    assert got.gap_closed == pytest.approx(1.0)
    none = against_best_single(scores[3:], choice[3:], train_means)
    assert none.n_scored == 0 and np.isnan(none.mean_score) and np.isnan(none.gap_closed)
