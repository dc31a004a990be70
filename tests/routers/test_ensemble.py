"""ensemble: the mean of members fitted on their own, Platt calibration against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from support.planted_topics import split

from routereval.routers import make_router
from routereval.routers.ensemble import logit, platt


def test_without_validation_it_is_the_plain_mean_of_members_fitted_alone():
    train, y, _, test, _ = split()
    ensemble = make_router("ensemble", members="knn-tuned+clusters").fit(train, y)
    knn = make_router("knn-tuned").fit(train, y).predict_quality(test)
    clusters = make_router("clusters").fit(train, y).predict_quality(test)
    np.testing.assert_allclose(ensemble.predict_quality(test), (knn + clusters) / 2, atol=1e-12)


def test_platt_scaling_agrees_with_scikit_learn():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(2)
    truth = rng.uniform(0.05, 0.95, size=(500, 3))
    labels = (rng.random(truth.shape) < truth).astype(float)
    labels[rng.random(truth.shape) < 0.1] = np.nan
    # An over-confident member: its logits are three times too large.
    member = 1 / (1 + np.exp(-3 * logit(truth)))
    alpha, beta = platt(member, labels)
    present = ~np.isnan(labels)
    ref = LogisticRegression(C=1e8, tol=1e-12, max_iter=10_000).fit(logit(member[present])[:, None], labels[present].astype(int))
    assert abs(alpha - ref.coef_[0, 0]) < 1e-4 and abs(beta - ref.intercept_[0]) < 1e-4
    assert 0.2 < alpha < 0.5  # about 1/3 undoes the over-confidence


def test_members_are_checked():
    with pytest.raises(ValueError, match="at least one router"):
        make_router("ensemble", members="knn-tuned+").fit(*split()[:2])
    with pytest.raises(ValueError, match="reads prompt texts"):
        make_router("ensemble", members="knn-tuned+mlc").fit(*split()[:2])
