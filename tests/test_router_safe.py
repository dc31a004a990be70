"""safe: anchor, margin and decisions worked out by hand on a four-prompt validation split."""

from __future__ import annotations

import numpy as np
import pytest
from zoo_checks import check_deterministic_and_picklable, check_masks_missing, split

from routereval.routers import Labelled, Prompts, Router, make_router
from routereval.routers.safe import anchored


class Lookup(Router):
    """Reads a fixed table of estimates by prompt id (the embedding is the one-hot of the id)."""

    name = ""
    TABLE = np.array([
        [0.5, 0.5, 0.5], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5],  # training prompts
        [0.9, 0.5, 0.2],   # best gain over candidate 1: 0.4 (candidate 0)
        [0.6, 0.5, 0.55],  # 0.1 (candidate 0)
        [0.3, 0.6, 0.9],   # 0.3 (candidate 2)
        [0.5, 0.45, 0.4],  # 0.05 (candidate 0)
    ])

    def fit(self, prompts, labels, validation=None):
        self.fitted_ = True
        return self

    def predict_quality(self, prompts):
        return self.TABLE[np.argmax(prompts.embeddings, axis=1)]


IDS = np.eye(8, dtype=np.float32)
TRAIN = Prompts(embeddings=IDS[:4])
TRAIN_LABELS = np.array([[0, 1, 0], [1, 1, 0], [0, 0, 1], [0, 1, np.nan]])
VAL = Labelled(Prompts(embeddings=IDS[4:]), np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 0.0]]))
# Means over train + validation: 2/8, 5/8, 2/7: the anchor is candidate 1.
# Gains of routing on validation (label of the choice minus candidate 1's), by margin:
#   0, 0.02: all four leave, gains (+1, -1, +1, -1), mean 0
#   0.05: the 0.05 gain does not exceed it: (+1, -1, +1, 0), mean 0.25
#   0.1, 0.15, 0.2: (+1, 0, +1, 0), mean 0.5, sample sd 0.577, bound at z = 1: 0.5 - 0.289 > 0
#   0.3: (+1, 0, 0, 0), mean 0.25;  0.5 and inf: 0.


def fitted(z):
    return make_router("safe", base=Lookup(), z=z).fit(TRAIN, TRAIN_LABELS, validation=VAL)


def test_margin_and_decisions_by_hand():
    router = fitted(1.0)
    assert router.anchor_ == 1
    # 0.1, 0.15 and 0.2 tie on the best bound; the larger margin is kept.
    assert router.margin_ == 0.2
    quality = router.predict_quality(VAL.prompts)
    assert list(np.argmax(quality, axis=1)) == [0, 1, 2, 1]
    np.testing.assert_allclose(quality[0], [0.7, 0.5, 0.0], atol=1e-8)


def test_falls_back_to_the_anchor_when_the_gain_is_not_sure():
    # At z = 2 every margin's bound is below 0 (0.5 - 2 x 0.289 for the best), so only inf remains.
    router = fitted(2.0)
    assert router.margin_ == float("inf")
    assert (np.argmax(router.predict_quality(VAL.prompts), axis=1) == 1).all()
    without_validation = make_router("safe", base=Lookup()).fit(TRAIN, TRAIN_LABELS)
    assert without_validation.margin_ == float("inf") and without_validation.anchor_ == 1


def test_anchored_estimates_keep_ties_and_zeros_with_the_anchor():
    quality = np.array([[0.3, 0.2, 0.0], [0.0, 0.0, 0.0], [0.25, 0.2, 0.9]])
    # Candidate 2 is the anchor; gains exactly at the margin (0.3 - 0.0) and all-zero rows stay with it.
    assert list(np.argmax(anchored(quality, 2, 0.3), axis=1)) == [2, 2, 2]
    assert list(np.argmax(anchored(quality, 1, 0.05), axis=1)) == [0, 1, 2]


def test_anchor_on_raw_scores_where_records_are_continuous():
    scores = np.array([[0.9, 0.5, 0.0], [0.9, 0.6, 0.1], [0.0, 0.6, 0.9], [0.9, 0.6, 0.2]])
    labels = (scores >= 0.95 * scores.max(axis=1, keepdims=True)).astype(float)  # candidate 0 wins three rows
    train = Prompts(embeddings=IDS[:4], scores=scores)
    router = make_router("safe", base=Lookup()).fit(train, labels, validation=VAL)
    # Mean raw scores 0.675, 0.575, 0.3: candidate 0, whatever the validation labels say.
    assert router.anchor_ == 0


def test_refuses_a_negative_margin():
    with pytest.raises(ValueError, match="margin must be >= 0"):
        make_router("safe", margin=-0.1).fit(*split()[:2])


def test_generic_checks():
    train, y, val, test, topic = split()
    router = make_router("safe").fit(train, y, validation=val)
    quality = router.predict_quality(test)
    assert quality.min() >= 0 and quality.max() <= 1
    # The planted topics are easy to tell apart: routing pays on validation, so it routes.
    assert np.isfinite(router.margin_) and (np.argmax(quality, axis=1) == topic).mean() > 0.9
    check_masks_missing("safe", margin=0.0)
    check_deterministic_and_picklable("safe")
