"""Cost-aware policies: the exact lambda sweep, the budget mix and the cheapest-correct oracle."""

from __future__ import annotations

import numpy as np
import pytest

from routereval import policies
from routereval.policies import Budget, CheapestOracle, cost_sweep, sweep_points


def test_sweep_events_by_hand():
    # q = .9, .8, .3 at costs 10, 4, 1: 0 -> 1 at (0.9-0.8)/(10-4) = 1/60, 1 -> 2 at (0.8-0.3)/(4-1) = 1/6.
    sweep = cost_sweep(np.array([[0.9, 0.8, 0.3]]), np.array([10.0, 4.0, 1.0]))
    assert sweep.start.tolist() == [0]
    assert sweep.lam == pytest.approx([1 / 60, 1 / 6])
    assert sweep.old.tolist() == [0, 1] and sweep.new.tolist() == [1, 2]


def test_sweep_matches_the_cost_aware_rule_everywhere():
    rng = np.random.default_rng(3)
    q = rng.random((60, 7)).round(2)  # rounding makes ties, which both must break the same way
    c = rng.random((60, 7)).round(1) + 0.1
    sweep = cost_sweep(q, c)
    lam, mean_c, mean_q = sweep_points(sweep, q, c)
    probes = np.r_[0.0, (lam[1:] + np.r_[lam[2:], lam[-1] * 2 + 1]) / 2]
    assert (np.diff(lam[1:]) > 1e-9).all()  # near-equal crossings are merged into one point
    for k, lam_k in enumerate(probes):
        chosen = policies.cost_aware(lam_k).rank(q, c)[:, 0]
        assert (sweep.choices_at(lam_k) == chosen).all(), lam_k
        rows = np.arange(len(q))
        assert mean_c[k] == pytest.approx(c[rows, chosen].mean())
        assert mean_q[k] == pytest.approx(q[rows, chosen].mean())
    # Choices only ever move to cheaper candidates as lambda grows.
    assert (np.diff(mean_c) <= 1e-12).all()


def test_budget_mixes_two_operating_points_exactly():
    q = np.array([[0.5, 0.9], [0.5, 0.6]])
    costs = np.array([1.0, 10.0])
    # Operating points (1, .5), (5.5, .7), (10, .75); budget 3 lies between the first two:
    # w = (5.5 - 3) / 4.5 on the all-cheap point.
    d = Budget(3.0).choose(q, costs=costs)
    w = 2.5 / 4.5
    assert d == pytest.approx(np.array([[w, 1 - w], [1.0, 0.0]]))
    assert (d * costs).sum(axis=1).mean() == pytest.approx(3.0)
    assert Budget(100.0).choose(q, costs=costs) == pytest.approx(np.array([[0, 1.0], [0, 1.0]]))
    assert Budget(0.5).choose(q, costs=costs) == pytest.approx(np.array([[1.0, 0], [1.0, 0]]))
    assert Budget(3.0).rank(q, costs)[:, 0].tolist() in ([0, 0], [1, 0])
    with pytest.raises(ValueError):
        Budget(3.0).choose(q)


def test_budget_on_random_estimates_spends_the_budget():
    rng = np.random.default_rng(0)
    q, c = rng.random((200, 5)), rng.random((200, 5))
    for b in (0.2, 0.35, 0.5):
        d = policies.budget(b).choose(q, costs=c)
        spent = (d * c).sum(axis=1).mean()
        if c.min(axis=1).mean() <= b <= c[np.arange(200), q.argmax(axis=1)].mean():
            assert spent == pytest.approx(b)


def test_cheapest_correct_oracle_by_hand():
    scores = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.5, 0.7, 0.7]])
    costs = np.array([3.0, 2.0, 1.0])
    # Row 0: correct are 0 and 1, 1 is cheaper; row 1: none correct, cheapest is 2; row 2: best .7 at 1 and 2, 2 cheaper.
    d = CheapestOracle().choose(scores=scores, costs=costs)
    assert d.argmax(axis=1).tolist() == [1, 2, 2]
    assert policies.REFERENCE_POLICIES["oracle-cheapest"] is CheapestOracle
    # Without costs it is the oracle (lowest index on ties).
    assert CheapestOracle().choose(scores=scores).argmax(axis=1).tolist() == [0, 0, 1]
