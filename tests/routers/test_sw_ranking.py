"""sw-ranking: checked against Bradley-Terry worked out by hand (two candidates) and by a general optimiser."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from routereval.routers import make_router
from routereval.routers.base import Prompts
from routereval.routers.sw_ranking import bradley_terry, pairwise_outcomes


def _fit(x, labels, **params):
    return make_router("sw-ranking", **params).fit(Prompts(embeddings=np.asarray(x, float), n=len(x)),
                                                   np.asarray(labels, float))


def _quality(router, x):
    return router.predict_quality(Prompts(embeddings=np.asarray(x, float), n=len(x)))


def test_two_candidates_on_identical_prompts_match_the_counts():
    # A beats B on prompts 0 and 2, ties on 1 and 3: 3 wins of 4 games; one virtual tie each way
    # adds half a win to both: P(A beats B) = 3.5 / 5.
    x = np.ones((4, 2))
    labels = [[1, 0], [1, 1], [1, 0], [0, 0]]
    q = _quality(_fit(x, labels, prior=1.0), [[1.0, 1.0]])
    assert q[0] == pytest.approx([0.7, 0.3], abs=1e-9)


def test_similarity_weights_follow_the_stated_formula():
    # Query (1, 0): cosine similarities 1, 0 and 1/sqrt(2) to the three training prompts; weights
    # 10 ** (s / 1), scaled to sum to 3. With two candidates the maximum-likelihood P(A beats B) is
    # (weighted wins of A + prior / 2) / (weighted games + prior).
    x = [[1, 0], [0, 1], [1, 1]]
    labels = [[1, 0], [0, 1], [1, 0]]  # A wins prompts 0 and 2, B wins prompt 1
    w = 10.0 ** np.array([1.0, 0.0, 1 / np.sqrt(2)])
    w *= 3 / w.sum()
    expected = (w[0] + w[2] + 0.5) / (w.sum() + 1.0)
    q = _quality(_fit(x, labels, base=10.0, prior=1.0), [[1.0, 0.0]])
    assert q[0, 0] == pytest.approx(expected, abs=1e-9)
    assert q[0].sum() == pytest.approx(1.0)


def test_strengths_maximise_the_weighted_likelihood():
    rng = np.random.default_rng(3)
    m = 4
    labels = (rng.random((40, m)) < [0.3, 0.5, 0.6, 0.8]).astype(float)
    labels[rng.random(labels.shape) < 0.1] = np.nan
    wins, played = pairwise_outcomes(labels)
    weights = rng.random(40) * 3
    prior = 0.7
    off = 1 - np.eye(m)
    w = np.einsum("p,pij->ij", weights, wins) + 0.5 * prior * off
    n = np.einsum("p,pij->ij", weights, played) + prior * off

    def negative_log_likelihood(theta):
        t = np.concatenate([[0.0], theta])
        return -np.sum(w * (t[:, None] - np.logaddexp(t[:, None], t[None, :])))

    theta = minimize(negative_log_likelihood, np.zeros(m - 1), method="BFGS", options={"gtol": 1e-10}).x
    expected = np.exp(np.concatenate([[0.0], theta]))
    got = bradley_terry(w[None], n[None], 10_000, 1e-13)[0]
    assert got / got[0] == pytest.approx(expected, rel=1e-5)


def test_a_large_base_ranks_by_the_nearest_prompts_and_base_one_ranks_globally():
    # Two orthogonal groups of prompts: A is right on the first, B on the second (and more often).
    x = np.array([[1.0, 0.0]] * 4 + [[0.0, 1.0]] * 6)
    labels = np.array([[1, 0]] * 4 + [[0, 1]] * 6, float)
    local = _fit(x, labels, base=1e6)
    assert np.argmax(_quality(local, [[1.0, 0.01], [0.01, 1.0]]), axis=1).tolist() == [0, 1]
    flat = _fit(x, labels, base=1.0)
    assert np.argmax(_quality(flat, [[1.0, 0.01], [0.01, 1.0]]), axis=1).tolist() == [1, 1]


def test_a_prompt_like_no_training_prompt_gets_the_global_ranking():
    x = np.array([[1.0, 0.0]] * 4 + [[0.0, 1.0]] * 6)
    labels = np.array([[1, 0]] * 4 + [[0, 1]] * 6, float)
    q_zero = _quality(_fit(x, labels, base=1e6), [[0.0, 0.0]])
    q_flat = _quality(_fit(x, labels, base=1.0), [[1.0, 0.0]])
    assert q_zero == pytest.approx(q_flat, abs=1e-12)


@pytest.mark.parametrize("params, message", [
    ({"base": 0.5}, "base must be in"),
    ({"prior": 0}, "prior must be in"),
    ({"base": float("inf")}, "base must be in"),
    ({"max_iter": 0}, "max_iter must be"),
    ({"base": "ten"}, "base must be a number"),
])
def test_parameters_out_of_range_are_refused_by_name(params, message):
    with pytest.raises(ValueError, match=message):
        _fit(np.ones((2, 2)), [[1, 0], [0, 1]], **params)


def test_base_is_chosen_on_validation_and_defaults_to_routellms_without_one():
    from routereval.routers.base import Labelled

    x = np.array([[1.0, 0.0]] * 4 + [[0.0, 1.0]] * 6)
    labels = np.array([[1, 0]] * 4 + [[0, 1]] * 6, float)
    val = Labelled(Prompts(embeddings=np.array([[1.0, 0.05], [0.05, 1.0]]), n=2), np.array([[1.0, 0.0], [0.0, 1.0]]))
    tuned = make_router("sw-ranking").fit(Prompts(embeddings=x, n=len(x)), labels, validation=val)
    # Base 10 ranks B first everywhere (B wins more prompts overall), so it is wrong on the first
    # validation prompt; the first base of the grid that follows the neighbourhood is chosen.
    assert tuned.base_ > 10
    assert np.argmax(_quality(tuned, val.prompts.embeddings), axis=1).tolist() == [0, 1]
    assert _fit(x, labels).base_ == 10.0
