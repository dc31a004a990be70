"""safe: its anchor, bound, certified margin and decisions, worked out by hand on an eight-prompt pool."""

from __future__ import annotations

import statistics
from statistics import NormalDist

import numpy as np
import pytest
from support.planted_topics import split

from routereval import metrics
from routereval.routers import Labelled, Prompts, Router, make_router
from routereval.routers import guarantee
from routereval.routers.safe import MARGIN_GRID, anchored


class Lookup(Router):
    """Reads a fixed table of estimates by prompt id (the embedding is the one-hot of the id), whatever it was fitted on.

    So its out-of-fold estimates equal the table, and the cross-fitted gains can be worked out by hand.
    """

    name = ""
    # Predicted gain of candidate 1 over candidate 0 (q1 - q0): -0.5, 0.01, 0.3, 0.6 | 0.03, 0.4, 0.6, 0.6
    TABLE = np.array([
        [0.7, 0.2], [0.5, 0.51], [0.4, 0.7], [0.2, 0.8],  # training prompts
        [0.5, 0.53], [0.3, 0.7], [0.2, 0.8], [0.3, 0.9],  # validation prompts
    ])

    def fit(self, prompts, labels, validation=None):
        self.fitted_ = True
        return self

    def predict_quality(self, prompts):
        return self.TABLE[np.argmax(prompts.embeddings, axis=1)]


IDS = np.eye(8, dtype=np.float32)
# Candidate 0 is best on the training prompts (3/4 against 2/4); over train + validation candidate 1 is (6/8 vs 5/8).
TRAIN_LABELS = np.array([[1, 0], [1, 0], [1, 1], [0, 1.0]])
TRAIN = Prompts(embeddings=IDS[:4], scores=TRAIN_LABELS)
VAL = Labelled(Prompts(embeddings=IDS[4:]), np.array([[1, 1], [0, 1], [0, 1], [0, 1.0]]))
# Gain of leaving candidate 0 for 1, per prompt: -1, -1, 0, +1 | 0, +1, +1, +1. A prompt leaves when q1 - q0 > margin:
#   margin 0:            all but prompt 0 leave:   gains (0, -1, 0, 1, 0, 1, 1, 1), mean 3/8
#   margins 0.02 .. 0.3: prompt 1 stays too:       gains (0, 0, 0, 1, 0, 1, 1, 1), mean 4/8
#   margin 0.5:          only q1 - q0 = 0.6 leave: gains (0, 0, 0, 1, 0, 0, 1, 1), mean 3/8
BY_HAND = {0.0: [0, -1, 0, 1, 0, 1, 1, 1], 0.5: [0, 0, 0, 1, 0, 0, 1, 1]}


def hand_gains(margin: float) -> list[float]:
    return BY_HAND.get(margin, [0, 0, 0, 1, 0, 1, 1, 1])


def hand_bound(g: list[float], delta: float) -> float:
    """mean - z sd / sqrt(n), z the normal quantile at 1 - delta / 8 (eight margins), by the standard library."""
    z = NormalDist().inv_cdf(1 - delta / len(MARGIN_GRID))
    return statistics.mean(g) - z * statistics.stdev(g) / len(g) ** 0.5


def fitted(**params):
    return make_router("safe", base=Lookup(), folds=3, **params).fit(TRAIN, TRAIN_LABELS, validation=VAL)


def test_the_bound_of_every_margin_is_computed_as_stated():
    router = fitted()
    np.testing.assert_allclose(router.mean_gains_, [statistics.mean(hand_gains(m)) for m in MARGIN_GRID])
    np.testing.assert_allclose(router.bounds_, [hand_bound(hand_gains(m), 0.05) for m in MARGIN_GRID])


def test_certified_margin_and_decisions_by_hand():
    # Margins 0.02 .. 0.3 share the best bound, 0.5 - 2.498 x 0.5345 / sqrt(8) = 0.028 >= -0.01 with mean 0.5 > 0;
    # the largest of them is kept.
    assert hand_bound(hand_gains(0.3), 0.05) == pytest.approx(0.0278, abs=1e-3)
    router = fitted()
    assert router.anchor_ == 0
    assert router.margin_ == 0.3
    quality = router.predict_quality(VAL.prompts)
    assert list(np.argmax(quality, axis=1)) == [0, 1, 1, 1]
    np.testing.assert_allclose(quality[1], [0.3, 0.4], atol=1e-8)


def test_nothing_certified_means_the_best_single_model_everywhere():
    # At delta = 0.001, z = 3.66: the best bound is 0.5 - 3.66 x 0.189 = -0.19 < -0.01.
    assert hand_bound(hand_gains(0.3), 0.001) == pytest.approx(-0.192, abs=1e-3)
    router = fitted(delta=0.001)
    assert router.margin_ == float("inf")
    best_single = make_router("best-single").fit(TRAIN, TRAIN_LABELS)
    assert best_single.best_ == 0
    assert (np.argmax(router.predict_quality(Prompts(embeddings=IDS)), axis=1) == best_single.best_).all()
    # A tolerance wider than the shortfall certifies the same margin again.
    assert fitted(delta=0.001, epsilon=0.2).margin_ == 0.3


def test_the_fallback_is_the_model_the_evaluation_calls_best_single_train():
    # Train + validation would pick candidate 1; the comparison picks on train: candidate 0.
    assert fitted(delta=0.001).anchor_ == 0
    # With a candidate that has no training record (placed first) and ties, as the evaluation computes it.
    scores = np.array([[np.nan, 0.4, 1.0, 1.0], [np.nan, 0.4, 0.0, 0.0], [np.nan, 0.4, 0.5, 0.5]])  # 0.4, 0.5, 0.5
    expected = int(np.nanargmax(metrics.single_means(scores)))
    assert expected == 2 and guarantee.anchor_of(scores) == expected
    labels = np.nan_to_num(scores)
    router = make_router("safe", base="best-single").fit(Prompts(embeddings=IDS[:3], scores=scores), labels)
    assert router.anchor_ == 2 and router.margin_ == float("inf")


def test_too_few_prompts_certify_nothing():
    router = make_router("safe", base=Lookup()).fit(TRAIN, TRAIN_LABELS)  # 4 prompts, 5 folds
    assert router.margin_ == float("inf") and router.anchor_ == 0


def test_lower_bound_and_certify_against_a_direct_computation():
    g = np.array([1.0, 0.0, -1.0, 1.0, 1.0, 0.0])
    direct = statistics.mean(g) - NormalDist().inv_cdf(1 - 0.05 / 3) * statistics.stdev(g) / 6 ** 0.5
    assert guarantee.lower_bound(g, 0.05, 3) == pytest.approx(direct, abs=1e-12)
    assert not guarantee.certify(g, 0.05, 0.01, 3)  # direct = 0.333 - 2.128 x 0.816 / 2.449 = -0.376
    assert guarantee.certify(g, 0.05, 0.4, 3)
    assert not guarantee.certify(np.zeros(10), 0.05, 0.5, 1)  # no gain: never worth leaving the anchor


def test_anchored_estimates_keep_ties_and_zeros_with_the_anchor():
    quality = np.array([[0.3, 0.2, 0.0], [0.0, 0.0, 0.0], [0.25, 0.2, 0.9]])
    # Candidate 2 is the anchor; gains exactly at the margin (0.3 - 0.0) and all-zero rows stay with it.
    assert list(np.argmax(anchored(quality, 2, 0.3), axis=1)) == [2, 2, 2]
    assert list(np.argmax(anchored(quality, 1, 0.05), axis=1)) == [0, 1, 2]


def test_anchor_on_raw_scores_where_records_are_continuous():
    scores = np.array([[0.9, 0.5, 0.0], [0.9, 0.6, 0.1], [0.0, 0.6, 0.9], [0.9, 0.6, 0.2]])
    labels = (scores >= 0.95 * scores.max(axis=1, keepdims=True)).astype(float)
    train = Prompts(embeddings=IDS[:4], scores=scores)
    router = make_router("safe", base="best-single").fit(train, labels)
    # Mean raw scores 0.675, 0.575, 0.3: candidate 0.
    assert router.anchor_ == 0


@pytest.mark.parametrize("params, message", [
    ({"margin": -0.1}, "margin must be >= 0"),
    ({"delta": 1.5}, "delta must be"),
    ({"epsilon": -0.01}, "epsilon must be"),
    ({"folds": 2}, "folds must be"),
])
def test_refuses_bad_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        make_router("safe", **params).fit(*split()[:2])


def test_generic_checks():
    train, y, val, test, topic = split()
    router = make_router("safe").fit(train, y, validation=val)
    quality = router.predict_quality(test)
    assert quality.min() >= 0 and quality.max() <= 1
    # The planted topics are easy to tell apart: routing pays out of fold, so it is certified and routes.
    assert np.isfinite(router.margin_) and (np.argmax(quality, axis=1) == topic).mean() > 0.9
