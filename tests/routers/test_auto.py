"""auto: which member nested validation picks, worked out by hand, and the fallback to the best single model."""

from __future__ import annotations

import numpy as np
import pytest
from support.planted_topics import N_TOPICS, split, topics

from routereval.deploy.state import decode_state, encode_state, learned_attributes
from routereval.routers import Labelled, Prompts, make_router
from routereval.routers import guarantee


def test_picks_the_member_that_reads_the_prompts_on_planted_topics():
    # On topic t candidate t is right 90% of the time, the others 20%: routing by topic gains about
    # 0.9 - 0.2 = 0.7 on the two topics where the anchor is wrong, 2/3 of prompts, so about +0.47 out of fold;
    # best-single routes every prompt to its fold's best model, about 0 gain over the anchor.
    train, y, val, test, topic = split()
    router = make_router("auto", members="best-single+knn").fit(train, y, validation=val)
    assert router.members_ == ["best-single", "knn", "mean(best-single+knn)"]
    assert abs(router.member_gains_[0]) < 0.05
    assert router.member_gains_[1] == pytest.approx(0.47, abs=0.08)
    # best-single's estimates are nearly equal across candidates, so the mean routes as knn does.
    assert router.member_gains_[2] == pytest.approx(router.member_gains_[1], abs=0.03)
    assert router.chosen_ in ("knn", "mean(best-single+knn)")
    assert "knn" in router.describe() and "best out-of-fold gain" in router.reason_
    assert (np.argmax(router.predict_quality(test), axis=1) == topic).mean() > 0.9


def test_member_figures_follow_from_the_out_of_fold_gains():
    train, y, val, _, _ = split()
    router = make_router("auto", members="best-single+knn", delta=0.1).fit(train, y, validation=val)
    # The bound is the one the guarantee states, Bonferroni over the two members and their mean:
    # z = Phi^-1(1 - 0.1 / 3) = 1.834.
    z = guarantee.critical_value(0.1, 3)
    assert z == pytest.approx(1.8339, abs=1e-4)
    # Out-of-fold gains are in [-1, 1], so sd <= 1 and the bound lies within z / sqrt(n) of the mean, n = 420.
    width = router.member_gains_ - router.member_bounds_
    assert ((width > 0) & (width <= z / np.sqrt(420) + 1e-12)).all()


def test_the_mean_of_the_members_is_scored_on_their_own_out_of_fold_estimates():
    # A second computation of the mean's gain: cross-fit each member as auto does, average, route by the argmax.
    from routereval.routers._tuning import cross_fit, labelled_pool
    from routereval.routers.safe import base_router

    train, y, val, test, _ = split()
    router = make_router("auto", members="knn+clusters").fit(train, y, validation=val)
    pool, labels = labelled_pool(train, y, val)
    oof = [cross_fit(lambda n=n: base_router(n, 0, "auto"), pool, labels, 5, 0) for n in ("knn", "clusters")]
    gain = guarantee.gains(np.argmax(np.mean(oof, axis=0), axis=1), labels, router.anchor_).mean()
    assert router.members_[2] == "mean(knn+clusters)"
    assert router.member_gains_[2] == pytest.approx(gain, abs=1e-12)
    if router.chosen_ == "mean(knn+clusters)":  # then it routes by the mean of both members, refitted
        assert len(router.models_) == 2
        np.testing.assert_allclose(router.predict_quality(test), np.mean(
            [m.predict_quality(test) for m in router.models_], axis=0))


def test_falls_back_to_the_best_single_model_when_no_member_beats_it():
    # Labels that have nothing to do with the prompts: candidate 0 right 70% of the time, the others 50%.
    rng = np.random.default_rng(3)
    x, _, _, _ = topics(420, 9)
    y = (rng.random((420, N_TOPICS)) < np.array([0.7, 0.5, 0.5])).astype(float)
    train, val = Prompts(embeddings=x[:300], scores=y[:300]), Labelled(Prompts(embeddings=x[300:]), y[300:])
    router = make_router("auto", members="knn").fit(train, y[:300], validation=val)
    anchor = int(np.argmax(y[:300].mean(axis=0)))
    assert router.anchor_ == anchor == 0
    assert router.chosen_ == "best-single" and "no member beats" in router.reason_
    xt, _, _, _ = topics(50, 10)
    assert (np.argmax(router.predict_quality(Prompts(embeddings=xt)), axis=1) == anchor).all()


def test_learned_state_is_plain_data_and_round_trips():
    train, y, val, test, _ = split()
    router = make_router("auto", members="best-single+knn").fit(train, y, validation=val)
    tree, arrays = encode_state(learned_attributes(router), "auto")
    copy = make_router("auto", members="best-single+knn")
    for name, value in decode_state(tree, arrays, "auto").items():
        setattr(copy, name, value)
    np.testing.assert_array_equal(copy.predict_quality(test), router.predict_quality(test))


@pytest.mark.parametrize("params, message", [
    ({"members": "knn+knn"}, "twice"),
    ({"members": "safe"}, "cannot include"),
    ({"members": "mlc"}, "reads prompt texts"),
    ({"delta": 0.0}, "delta must be"),
    ({"folds": 1}, "folds must be"),
])
def test_refuses_bad_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        make_router("auto", **params).fit(*split()[:2])


