"""Routers that precompute at fit give the numbers of their formulas, and keep precomputed state out of saves.

Each router is fitted on a small matrix shaped like the real data (384-d float32
sentence vectors in topics, five candidates, missing records) and its estimates
are compared with a straightforward computation of its formula written here:
loops over prompts and candidates, float64 throughout. The one shared step is
the cosine similarity of the neighbour routers, a float32 product of unit rows,
because that is the precision the routers state (and distance weights
1 / (1 - s + 1e-6) magnify a float32 rounding difference past 1e-9).
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from support.requirements import needs_torch

from routereval.deploy.state import learned_attributes
from routereval.routers import Labelled, Prompts, make_router

D, M, TOPICS = 384, 5, 6
TOLERANCE = 1e-9


def topic_matrix(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Vectors around topic centres (unit length, float32) and labels with a share of records missing."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(size=(TOPICS, D))
    topic = rng.integers(TOPICS, size=n)
    x = centres[topic] + 1.5 * rng.normal(size=(n, D))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    skill = np.random.default_rng(98).random((TOPICS, M))
    y = (rng.random((n, M)) < skill[topic]).astype(float)
    y[rng.random((n, M)) < 0.15] = np.nan
    return x, y


TRAIN_X, TRAIN_Y = topic_matrix(300, 0)
VAL_X, VAL_Y = topic_matrix(80, 1)
TEST_X, _ = topic_matrix(70, 2)
# A duplicate of a training prompt, so ties in similarity are exercised too.
TEST_X = np.vstack([TEST_X, TRAIN_X[3:4], TRAIN_X[3:4]])


def fit(name: str, **params):
    router = make_router(name, **params)
    if "validation" in router.fit.__code__.co_varnames:
        return router.fit(Prompts(embeddings=TRAIN_X), TRAIN_Y, validation=Labelled(Prompts(embeddings=VAL_X), VAL_Y))
    return router.fit(Prompts(embeddings=TRAIN_X), TRAIN_Y)


def training_means(y: np.ndarray) -> np.ndarray:
    return np.array([np.mean(col[~np.isnan(col)]) for col in y.T])


def float32_cosines(query: np.ndarray, base: np.ndarray) -> np.ndarray:
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    return unit(query.astype(np.float32)) @ unit(base.astype(np.float32)).T


def neighbour_order(sims_row: np.ndarray) -> np.ndarray:
    """Training rows from most to least similar, equal similarities in training order."""
    return np.argsort(-sims_row.astype(np.float64), kind="stable")


def assert_same(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape
    assert np.abs(got - want).max() < TOLERANCE
    assert np.array_equal(got.argmax(axis=1), want.argmax(axis=1))


def test_knn_is_the_mean_label_of_the_k_nearest():
    router = fit("knn", k=7)
    sims, means = float32_cosines(TEST_X, TRAIN_X), training_means(TRAIN_Y)
    want = np.empty((len(TEST_X), M))
    for p in range(len(TEST_X)):
        near = neighbour_order(sims[p])[:7]
        for i in range(M):
            labels = [TRAIN_Y[t, i] for t in near if not np.isnan(TRAIN_Y[t, i])]
            want[p, i] = np.mean(labels) if labels else means[i]
    quality = router.predict_quality(Prompts(embeddings=TEST_X))
    assert_same(quality, want)
    e = np.exp(want - want.max(axis=1, keepdims=True))
    assert_same(router.predict_proba(Prompts(embeddings=TEST_X)), e / e.sum(axis=1, keepdims=True))


@pytest.mark.parametrize("weights, shrinkage, k", [("uniform", 0.0, 20), ("distance", 5.0, 10), ("distance", 0.0, 50)])
def test_knn_tuned_is_the_shrunk_weighted_neighbour_mean(weights, shrinkage, k):
    router = fit("knn-tuned", k=k, weights=weights, shrinkage=shrinkage)
    sims, means = float32_cosines(TEST_X, TRAIN_X), training_means(TRAIN_Y)
    want = np.empty((len(TEST_X), M))
    for p in range(len(TEST_X)):
        near = neighbour_order(sims[p])[:k]
        if weights == "distance":
            w = np.array([1.0 / (1.0 - float(sims[p, t]) + 1e-6) for t in near])
            w *= k / w.sum()
        else:
            w = np.ones(k)
        for i in range(M):
            num = sum(wt * TRAIN_Y[t, i] for wt, t in zip(w, near) if not np.isnan(TRAIN_Y[t, i]))
            den = sum(wt for wt, t in zip(w, near) if not np.isnan(TRAIN_Y[t, i]))
            total = den + shrinkage
            want[p, i] = min(1.0, max(0.0, (num + shrinkage * means[i]) / total)) if total > 0 else means[i]
    assert_same(router.predict_quality(Prompts(embeddings=TEST_X)), want)


def test_knn_tuned_chooses_the_same_setting_as_without_a_cache():
    # The validation search reads the same precomputed vectors as prediction: a fit tuned on
    # validation and one told its choice outright must predict alike.
    tuned = fit("knn-tuned")
    told = fit("knn-tuned", k=tuned.k_, weights=tuned.weights_, shrinkage=tuned.shrinkage_)
    np.testing.assert_array_equal(tuned.predict_quality(Prompts(embeddings=TEST_X)),
                                  told.predict_quality(Prompts(embeddings=TEST_X)))


def test_sw_ranking_is_a_similarity_weighted_bradley_terry_fit():
    base, prior = 100.0, 1.0
    router = fit("sw-ranking", base=base, prior=prior, tol=1e-13, max_iter=20_000)
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    sims = unit(TEST_X).astype(np.float64) @ unit(TRAIN_X).astype(np.float64).T
    want = np.empty((len(TEST_X), M))
    for p in range(len(TEST_X)):
        w = base ** (sims[p] / sims[p].max())
        w *= len(w) / w.sum()
        wins, games = np.full((M, M), 0.5 * prior), np.full((M, M), prior)
        for t, y in enumerate(TRAIN_Y):
            for i in range(M):
                for j in range(M):
                    if i != j and not np.isnan(y[i]) and not np.isnan(y[j]):
                        wins[i, j] += w[t] * (1.0 if y[i] > y[j] else 0.5 if y[i] == y[j] else 0.0)
                        games[i, j] += w[t]
        strength = np.ones(M)
        for _ in range(20_000):
            new = np.array([sum(wins[i, j] for j in range(M) if j != i)
                            / sum(games[i, j] / (strength[i] + strength[j]) for j in range(M) if j != i)
                            for i in range(M)])
            new /= np.exp(np.mean(np.log(new)))
            done = np.max(np.abs(new - strength) / strength) < 1e-14
            strength = new
            if done:
                break
        want[p] = [np.mean([strength[i] / (strength[i] + strength[j]) for j in range(M) if j != i]) for i in range(M)]
    assert_same(router.predict_quality(Prompts(embeddings=TEST_X)), want)


def mf_formula(router, x: np.ndarray) -> np.ndarray:
    """sigmoid(V P ((x - mean) / scale) + b) with the router's learned weights, one prompt at a time."""
    out = np.empty((len(x), len(router.models_)))
    for p, row in enumerate(x.astype(np.float64)):
        z = (row - router.mean_) / router.scale_
        logits = router.models_ @ (router.proj_ @ z) + router.bias_
        out[p] = 1.0 / (1.0 + np.exp(-logits))
    return out


@needs_torch
@pytest.mark.parametrize("dim", [8, 2])  # 8 >= 5 candidates: one folded product; 2 < 5: projection, then factors
def test_mf_is_its_low_rank_logit_model(dim):
    router = fit("mf", dim=dim, max_steps=60, lr=0.01)
    assert_same(router.predict_quality(Prompts(embeddings=TEST_X)), mf_formula(router, TEST_X))
    # A candidate added afterwards changes the learned arrays; the estimates follow them.
    labels = (np.random.default_rng(3).random(len(TRAIN_X)) < 0.4).astype(float)
    router.add_candidate(Prompts(embeddings=TRAIN_X), labels)
    quality = router.predict_quality(Prompts(embeddings=TEST_X))
    assert quality.shape == (len(TEST_X), M + 1)
    assert_same(quality, mf_formula(router, TEST_X))


SAVED = {
    "knn": {"train_embeddings_", "train_labels_", "train_means_"},
    "knn-tuned": {"train_embeddings_", "train_labels_", "train_means_", "k_", "weights_", "shrinkage_"},
    "sw-ranking": {"train_embeddings_", "train_wins_", "train_played_", "train_means_", "base_"},
}


@pytest.mark.parametrize("name", sorted(SAVED))
def test_precomputed_state_is_neither_saved_nor_pickled(name):
    router = fit(name)
    assert set(learned_attributes(router)) == SAVED[name]
    copy = pickle.loads(pickle.dumps(router))
    # The unit / float64 copies of the training vectors would at least double the pickle.
    assert len(pickle.dumps(router)) < 1.5 * sum(v.nbytes for v in learned_attributes(router).values()
                                                 if isinstance(v, np.ndarray))
    np.testing.assert_array_equal(copy.predict_quality(Prompts(embeddings=TEST_X)),
                                  router.predict_quality(Prompts(embeddings=TEST_X)))


@needs_torch
def test_mf_saves_only_its_learned_weights():
    router = fit("mf", dim=2, max_steps=20)
    assert set(learned_attributes(router)) == {"dim_", "mean_", "scale_", "proj_", "models_", "bias_", "steps_"}


@pytest.mark.parametrize("name", ["knn", "knn-tuned"])
def test_state_set_attribute_by_attribute_is_what_predicts(name):
    # Loading an artifact sets each learned array on a router; one that already predicted from
    # other arrays must not answer from what it computed for those.
    router = fit(name, k=5)
    router.predict_quality(Prompts(embeddings=TEST_X))
    other = make_router(name, k=5).fit(Prompts(embeddings=VAL_X), VAL_Y)
    for key, value in learned_attributes(other).items():
        setattr(router, key, value)
    np.testing.assert_array_equal(router.predict_quality(Prompts(embeddings=TEST_X)),
                                  other.predict_quality(Prompts(embeddings=TEST_X)))


def test_embeddings_are_read_without_a_float64_round_trip_but_still_checked():
    from routereval.routers.base import Prompts
    from routereval.routers.checks import embeddings_of

    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    out = embeddings_of(Prompts(embeddings=x), "r", n_features=3)
    assert out.dtype == np.float32 and np.array_equal(out, x) and out is not x
    out[0, 0] = 99.0
    assert x[0, 0] != 99.0  # a copy: a router writing into it leaves the caller's vectors alone
    bad = x.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite value at row 2"):
        embeddings_of(Prompts(embeddings=bad), "r")
    with pytest.raises(ValueError, match="4 columns, expected 3"):
        embeddings_of(Prompts(embeddings=np.zeros((2, 4), dtype=np.float32)), "r", n_features=3)
    # float64 input takes the checked path and comes back float32
    assert embeddings_of(Prompts(embeddings=x.astype(np.float64)), "r").dtype == np.float32
