"""The learned baselines against numbers worked out by hand (or by a second method)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from support.processes import run_python
from support.requirements import needs_torch

from routereval.errors import ConfigError
from routereval.routers import Prompts, make_router
from routereval.routers._torch import _split, forward
from routereval.routers.base import sigmoid
from routereval.routers.cluster_baseline import inverse_distance_pi
from routereval.routers.mlc import relu_pi


def pick(router, prompts: Prompts) -> np.ndarray:
    """The argmax policy's choice from the router's estimates (ties: lowest index)."""
    return np.argmax(router.predict_quality(prompts), axis=1)

# -- PRknn ----------------------------------------------------------------------

# Six unit vectors in the plane and their labels on two candidates.
KNN_TRAIN = np.array([[1, 0], [0.8, 0.6], [0.6, 0.8], [0, 1], [-1, 0], [0, -1]], dtype=np.float32)
KNN_LABELS = np.array([[1, 0], [1, 1], [0, 1], [0, 1], [1, 0], [0, 0]], dtype=float)


def test_knn_means_the_labels_of_the_nearest_prompts():
    router = make_router("knn", k=3).fit(Prompts(embeddings=KNN_TRAIN), KNN_LABELS)
    # Cosines worked out by hand:
    # (1, .1): A0 .995, A1 .856, A2 .677 -> rows 0, 1, 2.
    # (0, 1): A3 1, A2 .8, A1 .6 -> rows 3, 2, 1.
    # (-.6, -.8): A5 .8, A4 .6, A0 -.6 (A3 -.8, A1 -.96, A2 -1) -> rows 5, 4, 0.
    # (2, .2) is (1, .1) scaled: cosine ignores length.
    queries = np.array([[1, 0.1], [0, 1], [-0.6, -0.8], [2, 0.2]], dtype=np.float32)
    quality = router.predict_quality(Prompts(embeddings=queries))
    expected = np.array([[2 / 3, 2 / 3], [1 / 3, 1.0], [2 / 3, 0.0], [2 / 3, 2 / 3]])
    np.testing.assert_allclose(quality, expected, atol=1e-7)
    # Equal estimates choose the lower index.
    np.testing.assert_array_equal(pick(router, Prompts(embeddings=queries)), [0, 1, 0, 0])
    pi = router.predict_proba(Prompts(embeddings=queries))
    p_second = 1 / (1 + math.exp(-2 / 3))  # softmax of (1/3, 1)
    np.testing.assert_allclose(pi[0], [0.5, 0.5])
    np.testing.assert_allclose(pi[1], [1 - p_second, p_second])
    np.testing.assert_allclose(pi[2], [math.exp(2 / 3) / (math.exp(2 / 3) + 1), 1 / (math.exp(2 / 3) + 1)])


def test_knn_ties_in_similarity_go_to_the_first_training_prompt():
    # Rows 1-3 are the same prompt with different labels.
    train = np.array([[0, 1], [1, 0], [1, 0], [1, 0]], dtype=np.float32)
    labels = np.array([[0.0], [0.0], [1.0], [1.0]])
    query = Prompts(embeddings=np.array([[1, 0]], dtype=np.float32))
    one = make_router("knn", k=1).fit(Prompts(embeddings=train), labels)
    two = make_router("knn", k=2).fit(Prompts(embeddings=train), labels)
    assert one.predict_quality(query)[0, 0] == 0.0  # row 1 only
    assert two.predict_quality(query)[0, 0] == 0.5  # rows 1 and 2


def test_knn_agrees_with_scikit_learn_on_random_vectors():
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(3)
    train = rng.normal(size=(300, 16)).astype(np.float32)
    test = rng.normal(size=(50, 16)).astype(np.float32)
    labels = (rng.random((300, 7)) < 0.4).astype(float)
    ours = make_router("knn").fit(Prompts(embeddings=train), labels).predict_quality(Prompts(embeddings=test))
    _, idx = NearestNeighbors(n_neighbors=5, metric="cosine", algorithm="brute").fit(train).kneighbors(test)
    np.testing.assert_allclose(ours, labels[idx].mean(axis=1), atol=1e-7)


def test_knn_averages_only_the_present_labels():
    labels = KNN_LABELS.copy()
    labels[1, 0] = np.nan  # (0.8, 0.6) has no record for candidate 0
    labels[[0, 1, 2], 1] = np.nan  # nor do the three nearest to (1, .1) for candidate 1
    router = make_router("knn", k=3).fit(Prompts(embeddings=KNN_TRAIN), labels)
    q = router.predict_quality(Prompts(embeddings=np.array([[1, 0.1]], dtype=np.float32)))
    # Candidate 0: rows 0 and 2 present -> (1 + 0) / 2. Candidate 1: none present -> its mean over
    # the present training labels (rows 3, 4, 5: 1, 0, 0) = 1/3.
    np.testing.assert_allclose(q, [[0.5, 1 / 3]])


def test_knn_refuses_bad_inputs():
    with pytest.raises(ValueError, match="k must lie in 1..6"):
        make_router("knn", k=7).fit(Prompts(embeddings=KNN_TRAIN), KNN_LABELS)
    with pytest.raises(ValueError, match="Prompts.embeddings is None"):
        make_router("knn").fit(Prompts(texts=["a"] * 6), KNN_LABELS)
    with pytest.raises(ValueError, match="labels has 5 rows, expected 6"):
        make_router("knn").fit(Prompts(embeddings=KNN_TRAIN), KNN_LABELS[:5])
    inf_labels = KNN_LABELS.copy()
    inf_labels[2, 1] = np.inf
    with pytest.raises(ValueError, match="row 2 .*column 1"):
        make_router("knn").fit(Prompts(embeddings=KNN_TRAIN), inf_labels)
    router = make_router("knn").fit(Prompts(embeddings=KNN_TRAIN), KNN_LABELS)
    with pytest.raises(ValueError, match="expected 2"):
        pick(router, Prompts(embeddings=np.ones((1, 3), dtype=np.float32)))


# -- C-RoBERTa (cluster) ----------------------------------------------------------


def test_inverse_distance_pi_sums_per_chosen_candidate():
    # Weights 1, 1/2, 1/4 (sum 7/4); clusters 0 and 2 both choose candidate 1.
    pi = inverse_distance_pi(np.array([[1.0, 2.0, 4.0]]), np.array([1, 0, 1]), 3)
    np.testing.assert_allclose(pi, [[2 / 7, 5 / 7, 0.0]], rtol=1e-8)


def test_cluster_router_on_three_known_groups():
    # Three tight, far-apart groups: KMeans must find exactly these, whatever its start.
    g0 = [[0.0, 0.0], [0.1, 0.0], [0.0, 0.1]]
    g1 = [[10.0, 0.0], [10.1, 0.0], [10.0, 0.1]]
    g2 = [[0.0, 10.0], [0.1, 10.0], [0.0, 10.1]]
    x = np.array(g0 + g1 + g2, dtype=np.float32)
    labels = np.array(
        [[0, 1, 0], [0, 1, 0], [1, 0, 0],  # mean (1/3, 2/3, 0): candidate 1
         [0, 1, 1], [0, 1, 0], [0, 0, 1],  # mean (0, 2/3, 2/3): a tie, so candidate 1
         [1, 0, 0], [1, 0, 0], [0, 0, 1]],  # mean (2/3, 0, 1/3): candidate 0
        dtype=float,
    )
    router = make_router("cluster").fit(Prompts(embeddings=x), labels)
    query = Prompts(embeddings=np.array([[0.0, 0.0], [0.0, 9.0]], dtype=np.float32))

    c0, c1, c2 = np.array([1 / 30, 1 / 30]), np.array([10 + 1 / 30, 1 / 30]), np.array([1 / 30, 10 + 1 / 30])
    expected = []
    for q in ([0.0, 0.0], [0.0, 9.0]):
        w0, w1, w2 = (1 / np.linalg.norm(np.array(q) - c) for c in (c0, c1, c2))
        total = w0 + w1 + w2
        expected.append([w2 / total, (w0 + w1) / total, 0.0])
    np.testing.assert_allclose(router.predict_proba(query), expected, rtol=1e-5)
    np.testing.assert_allclose(router.predict_quality(query), [[1 / 3, 2 / 3, 0], [2 / 3, 0, 1 / 3]], atol=1e-12)
    np.testing.assert_array_equal(pick(router, query), [1, 0])
    assert sorted(router.cluster_best_.tolist()) == [0, 1, 1]


# -- LinearR and MLPR ---------------------------------------------------------------


def two_topic_data(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors near (1, 0) where candidate 0 is right and near (0, 1) where candidate 1 is."""
    rng = np.random.default_rng(seed)
    topic = np.arange(n) % 2
    x = np.eye(2)[topic] + rng.normal(scale=0.1, size=(n, 2))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), np.eye(2)[topic]


def test_recipes_resolve_and_explicit_arguments_win():
    published = make_router("linear", recipe="published").resolved_config()
    assert (published.epochs, published.lr, published.batch_size, published.val_fraction) == (10, 0.01, 1, 0.0)
    mlp = make_router("mlp", recipe="published", epochs=2, batch_size=4).resolved_config()
    assert (mlp.epochs, mlp.lr, mlp.batch_size, mlp.patience) == (2, 1e-4, 4, None)
    with pytest.raises(ConfigError, match="unknown recipe 'slow'"):
        make_router("mlp", recipe="slow").resolved_config()


@needs_torch
def test_linear_published_trains_on_every_prompt_and_learns():
    x, y = two_topic_data()
    router = make_router("linear", recipe="published", epochs=2).fit(Prompts(embeddings=x), y)
    log = router.train_log_
    assert (log["epochs_run"], log["n_fit"], log["n_held_out"]) == (2, 40, 0)
    test_x, test_y = two_topic_data(seed=1)
    # Two epochs at batch 1 separate the topics (chance would be 0.5).
    assert np.mean(pick(router, Prompts(embeddings=test_x)) == test_y.argmax(axis=1)) >= 0.9


@needs_torch
def test_mlp_published_runs_and_numpy_forward_matches_torch():
    import torch

    x, y = two_topic_data()
    router = make_router("mlp", recipe="published", epochs=2, hidden=8).fit(Prompts(embeddings=x), y)
    assert router.train_log_["epochs_run"] == 2
    assert [w.shape for w, _ in router.weights_] == [(8, 2), (8, 8), (2, 8)]
    net = torch.nn.Sequential(
        torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)
    )
    with torch.no_grad():
        for layer, (w, b) in zip(net[::2], router.weights_):
            layer.weight.copy_(torch.from_numpy(w))
            layer.bias.copy_(torch.from_numpy(b))
        expected = net(torch.from_numpy(x)).numpy()
    logits = router.decision_function(Prompts(embeddings=x))
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-6)
    # Quality is the net's P(correct): sigmoid of its logits, in [0, 1]; pi is their softmax.
    np.testing.assert_allclose(router.predict_quality(Prompts(embeddings=x)), 1 / (1 + np.exp(-expected)), rtol=1e-5)
    e = np.exp(expected - expected.max(axis=1, keepdims=True))
    np.testing.assert_allclose(router.predict_proba(Prompts(embeddings=x)), e / e.sum(axis=1, keepdims=True), rtol=1e-5)


@needs_torch
def test_fast_recipe_keeps_the_weights_of_the_best_held_out_epoch():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 10)).astype(np.float32)
    y = (rng.random((200, 3)) < 0.5).astype(float)  # pure noise: held-out loss soon rises
    router = make_router("mlp", epochs=40, patience=3, lr=1e-2).fit(Prompts(embeddings=x), y)
    log = router.train_log_
    losses = log["held_out_loss"]
    assert log["n_held_out"] == 20 and log["n_fit"] == 180
    assert log["best_epoch"] == int(np.argmin(losses)) + 1
    assert log["epochs_run"] == log["best_epoch"] + 3 < 40
    # Recompute the held-out loss of the kept weights by hand.
    _, held_out = _split(200, 0.1, 0)
    z = forward(router.weights_, x[held_out])
    t = y[held_out]
    bce = np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))))
    assert bce == pytest.approx(min(losses), rel=1e-5)


@needs_torch
def test_fast_recipe_early_stops_on_the_validation_split_when_given():
    from routereval.routers import Labelled

    rng = np.random.default_rng(6)
    x = rng.normal(size=(120, 6)).astype(np.float32)
    y = (rng.random((120, 2)) < 0.5).astype(float)
    xv = rng.normal(size=(30, 6)).astype(np.float32)
    yv = (rng.random((30, 2)) < 0.5).astype(float)
    yv[0, 1] = np.nan  # a missing validation record is masked out of the held-out loss
    router = make_router("linear", epochs=20, patience=2, lr=5e-2)
    router.fit(Prompts(embeddings=x), y, validation=Labelled(Prompts(embeddings=xv), yv))
    log = router.train_log_
    # Every training prompt trains; the held-out loss is the validation split's.
    assert (log["n_fit"], log["n_held_out"]) == (120, 30)
    z = forward(router.weights_, xv)
    present = ~np.isnan(yv)
    t = np.nan_to_num(yv)
    bce = (np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))))[present].mean()
    assert bce == pytest.approx(min(log["held_out_loss"]), rel=1e-5)


@needs_torch
def test_masked_training_ignores_missing_labels():
    x, y = two_topic_data(n=60)
    y = y.copy()
    y[::2, 1] = np.nan
    router = make_router("linear", recipe="published", epochs=2).fit(Prompts(embeddings=x), y)
    assert np.isfinite(router.decision_function(Prompts(embeddings=x))).all()


# -- MLC --------------------------------------------------------------------------


def test_mlc_relu_pi_and_the_zero_row_rule():
    logits = np.array([[-1.0, -2.0, -0.5], [0.5, -1.0, 1.5], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(relu_pi(logits), [[0, 0, 0], [0.25, 0, 0.75], [0, 0, 0]])


@needs_torch
def test_mlc_estimates_are_sigmoids_and_the_policy_chooses():
    texts = ["add two numbers", "the roman empire", "solve for x", "the french revolution", "a b", "c d"]
    labels = np.array([[0, 1], [1, 0], [0, 1], [1, 0], [1, 1], [0, 0]], dtype=float)
    router = make_router(
        "mlc", epochs=1, batch_size=4, max_length=8, max_train_prompts=4, n_threads=1
    ).fit(Prompts(texts=texts), labels)
    assert len(router.train_rows_) == 4 and len(set(router.train_rows_.tolist())) == 4
    w, _ = router.head_
    # No weights and biases -1, -0.5: every prompt gets these logits.
    router.head_ = (np.zeros_like(w), np.array([-1.0, -0.5], dtype=np.float32))
    prompts = Prompts(texts=texts[:3])
    np.testing.assert_allclose(router.predict_quality(prompts), sigmoid(np.array([[-1.0, -0.5]] * 3)), rtol=1e-6)
    # No positive logit: pi is all zero (no entropy), and the argmax policy picks candidate 1
    # (RouterEval's script would send these rows to candidate 0; see the module docstring).
    np.testing.assert_array_equal(router.predict_proba(prompts), np.zeros((3, 2)))
    np.testing.assert_array_equal(pick(router, prompts), [1, 1, 1])
    # A positive logit on candidate 1 takes the prompt there.
    router.head_ = (np.zeros_like(w), np.array([-1.0, 0.5], dtype=np.float32))
    np.testing.assert_array_equal(pick(router, prompts), [1, 1, 1])
    np.testing.assert_allclose(router.predict_proba(prompts), [[0, 1]] * 3)


@pytest.mark.slow  # trains MLC in a child process
@needs_torch
def test_mlc_training_shows_its_steps_in_a_log():
    # Minutes per pool on a CPU: a log (stderr a pipe) gets plain lines of the steps done.
    script = """
        import numpy as np
        from routereval.routers import Prompts, make_router
        texts = ["add two numbers", "the roman empire", "solve for x", "the french revolution", "a b", "c d"]
        labels = np.array([[0, 1], [1, 0], [0, 1], [1, 0], [1, 1], [0, 0]], dtype=float)
        make_router("mlc", epochs=2, batch_size=2, max_length=8, max_train_prompts=None, n_threads=1).fit(
            Prompts(texts=texts), labels)
    """
    run = run_python(script, timeout=300, ROUTEREVAL_PROGRESS_SECONDS="0.001")
    assert run.returncode == 0, run.stderr
    # 6 prompts in batches of 2 for 2 epochs: 6 steps.
    lines = [line for line in run.stderr.splitlines() if line.startswith("mlc training steps")]
    assert lines and lines[-1].startswith("mlc training steps (6 prompts): 6/6 (100%)"), run.stderr


def test_mlc_needs_texts():
    with pytest.raises(ValueError, match="Prompts.texts is None"):
        make_router("mlc").fit(Prompts(embeddings=np.ones((2, 2))), np.ones((2, 2)))
