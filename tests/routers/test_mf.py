"""mf: recovers a planted low-rank structure, adds a candidate without retraining, matches sklearn's logistic fit."""

from __future__ import annotations

import numpy as np
import pytest
from support.requirements import needs_torch

from routereval.routers import Labelled, Prompts, make_router
from routereval.routers.base import sigmoid
from routereval.routers.mf import penalised_logistic

pytestmark = needs_torch  # every test here trains the router's torch model

RNG = np.random.default_rng(0)
D, RANK, M = 16, 2, 6
PROJ = RNG.normal(size=(RANK, D)) / np.sqrt(D) * 2
MODELS = RNG.normal(size=(M, RANK)) * 1.5
BIAS = RNG.normal(scale=0.5, size=M)


def planted(n, seed, missing=0.2):
    """Prompts and labels drawn from logit P = MODELS . (PROJ x) + BIAS, with a share of records missing."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, D))
    p = sigmoid((x @ PROJ.T) @ MODELS.T + BIAS)
    y = (rng.random(p.shape) < p).astype(float)
    y[rng.random(p.shape) < missing] = np.nan
    return x, y, p


# The planted tests use a larger learning rate than the default: the structure is clean and they stay quick.


def test_recovers_a_planted_low_rank_structure():
    x, y, _ = planted(3000, 1)
    xv, yv, _ = planted(500, 2)
    xt, _, pt = planted(1000, 3)
    router = make_router("mf", lr=0.01).fit(Prompts(embeddings=x), y, validation=Labelled(Prompts(embeddings=xv), yv))
    quality = router.predict_quality(Prompts(embeddings=xt))
    # The candidates' mean alone (what a router blind to the prompt knows) misses by about 0.25 on average.
    blind = np.abs(np.nanmean(y, axis=0) - pt).mean()
    assert blind > 0.2
    assert np.abs(quality - pt).mean() < 0.06
    assert (np.argmax(quality, axis=1) == np.argmax(pt, axis=1)).mean() > 0.85


def test_adds_a_candidate_without_retraining_the_others():
    x, y, _ = planted(3000, 1)
    xv, yv, _ = planted(500, 2)
    xt, _, pt = planted(1000, 3)
    router = make_router("mf", dim=8, lr=0.01).fit(Prompts(embeddings=x), y[:, :5], validation=Labelled(Prompts(embeddings=xv), yv[:, :5]))
    before = router.predict_quality(Prompts(embeddings=xt))
    router.add_candidate(Prompts(embeddings=x[:1000]), y[:1000, 5])
    after = router.predict_quality(Prompts(embeddings=xt))
    np.testing.assert_array_equal(after[:, :5], before)
    # The new candidate's structure lies in the span the others revealed.
    assert np.abs(after[:, 5] - pt[:, 5]).mean() < 0.08
    with pytest.raises(ValueError, match="at least one record"):
        router.add_candidate(Prompts(embeddings=x[:3]), np.full(3, np.nan))


def test_penalised_logistic_agrees_with_scikit_learn():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(4)
    z = rng.normal(size=(400, 5))
    y = (rng.random(400) < sigmoid(z @ np.array([1.0, -2, 0.5, 0, 0]) + 0.3)).astype(float)
    w, b = penalised_logistic(z, y, l2=2.0)
    # scikit-learn minimises C * sum(log-loss) + |w|^2 / 2: the same optimum for C = 1 / l2.
    ref = LogisticRegression(C=0.5, tol=1e-10, max_iter=10_000).fit(z, y.astype(int))
    np.testing.assert_allclose(w, ref.coef_[0], atol=1e-5)
    assert abs(b - ref.intercept_[0]) < 1e-5


def test_the_gradient_fed_to_training_is_the_masked_losss_own():
    # A second method: autograd through binary_cross_entropy_with_logits, the loss validation uses.
    import torch

    from routereval.routers._latent import gradient_terms

    rng = np.random.default_rng(0)
    logits = torch.tensor(rng.normal(size=(30, 7)), dtype=torch.float64, requires_grad=True)
    labels = rng.random((30, 7))
    labels[rng.random((30, 7)) < 0.2] = np.nan
    mask = torch.tensor(~np.isnan(labels), dtype=torch.float64)
    ys = torch.tensor(np.nan_to_num(labels), dtype=torch.float64)
    n = float(mask.sum())
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, ys, weight=mask, reduction="sum") / n
    loss.backward()
    weight, offset = gradient_terms(ys, mask, n)
    ours = torch.addcmul(offset, torch.sigmoid(logits.detach()), weight)
    np.testing.assert_allclose(ours.numpy(), logits.grad.numpy(), rtol=1e-12, atol=1e-15)
