"""logistic: per-candidate fits against the closed form of an unregularised two-point regression."""

from __future__ import annotations

import numpy as np
import pytest
from support.planted_topics import split

from routereval.routers import Prompts, make_router

# One feature taking two values, four prompts each: standardised, exactly -1 and +1.
X = np.array([[-1.0]] * 4 + [[1.0]] * 4)
LABELS = np.array([
    # candidate 0, 1 (records missing), 2 (labels between 0 and 1), 3 (always right)
    [0, np.nan, 0.0, 1], [0, 0, 0.5, 1], [1, 0, 0.0, 1], [0, 1, 0.0, 1],
    [1, 1, 0.5, 1], [1, np.nan, 1.0, 1], [1, 0, 0.5, 1], [0, 1, 1.0, 1],
])


def test_matches_the_closed_form_when_barely_regularised():
    # With one binary feature the maximum-likelihood P(correct) on each side is the mean present label there.
    router = make_router("logistic", C=1e6, max_iter=1000).fit(Prompts(embeddings=X), LABELS)
    quality = router.predict_quality(Prompts(embeddings=np.array([[-1.0], [1.0]])))
    expected = [[1 / 4, 1 / 3, 0.5 / 4, 8.5 / 9], [3 / 4, 2 / 3, 3 / 4, 8.5 / 9]]
    np.testing.assert_allclose(quality, expected, atol=1e-4)


def test_c_is_chosen_on_validation_and_large_pools_tune_on_a_subset():
    train, y, val, _, _ = split()
    router = make_router("logistic").fit(train, y, validation=val)
    assert router.C_ in (0.001, 0.01, 0.1, 1.0)
    assert router.coef_.shape == (3, 8)
    # Judged on 2 of the 3 candidates: still a valid choice, and every candidate fitted.
    sub = make_router("logistic", tune_candidates=2).fit(train, y, validation=val)
    assert sub.C_ in (0.001, 0.01, 0.1, 1.0) and sub.coef_.shape == (3, 8)
    assert make_router("logistic").fit(train, y).C_ == 0.1


def test_refuses_non_positive_c():
    with pytest.raises(ValueError, match="C must be positive"):
        make_router("logistic", C=0).fit(Prompts(embeddings=X), LABELS)
