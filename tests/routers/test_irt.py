"""irt: recovers the ordering of planted abilities and the planted difficulty of prompts."""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr
from support.requirements import needs_torch

from routereval.routers import Labelled, Prompts, make_router
from routereval.routers.base import sigmoid

pytestmark = needs_torch  # every test here trains the router's torch model

# Six candidates with planted abilities, listed out of order.
ABILITY = np.array([0.5, -1.5, 2.0, -0.5, 1.0, 0.0])


def planted(n, seed):
    """1-d IRT: discrimination 0.5 + |x_1|, difficulty 1.5 x_0; 15% of records missing."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    a = 0.5 + np.abs(x[:, 1])
    b = 1.5 * x[:, 0]
    p = sigmoid(a[:, None] * ABILITY[None, :] - b[:, None])
    y = (rng.random(p.shape) < p).astype(float)
    y[rng.random(p.shape) < 0.15] = np.nan
    return x, y, b


def test_recovers_the_order_of_abilities_and_difficulties():
    x, y, _ = planted(2000, 0)
    xv, yv, _ = planted(400, 1)
    xt, _, bt = planted(500, 2)
    router = make_router("irt", dim=1, lr=0.01).fit(  # a clean planted case: a larger step stays quick
       Prompts(embeddings=x), y, validation=Labelled(Prompts(embeddings=xv), yv))
    # Non-negative discrimination makes one ability dimension identifiable in sign, so the order is exact.
    np.testing.assert_array_equal(np.argsort(router.ability_[:, 0]), np.argsort(ABILITY))
    a, b = router.item_parameters(Prompts(embeddings=xt))
    assert (a >= 0).all()
    assert spearmanr(b, bt).statistic > 0.9
    # On every prompt the abler candidate gets the higher estimate.
    quality = router.predict_quality(Prompts(embeddings=xt))
    assert (np.argsort(quality, axis=1) == np.argsort(ABILITY)).all()


def test_dim_is_chosen_on_validation():
    x, y, _ = planted(600, 0)
    xv, yv, _ = planted(200, 1)
    router = make_router("irt", lr=0.01).fit(Prompts(embeddings=x), y, validation=Labelled(Prompts(embeddings=xv), yv))
    assert router.dim_ in (1, 4) and router.ability_.shape == (6, router.dim_)
    assert make_router("irt", max_steps=20).fit(Prompts(embeddings=x), y).dim_ == 2
