"""Model choice for a new task (SPEC section 6): scores, predictors, protocol, on hand-worked and real data."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pandas as pd
import pytest
from support.requirements import needs_torch
from support.tasks import synthetic, task_data_of

from routereval.errors import ConfigError, DataError
from routereval.records import Benchmark
from routereval.routers import Prompts
from routereval.selection import scores as sc
from routereval.selection.data import binarise, duplicate_mask, task_data
from routereval.selection.neighbours import TaskNeighbours
from routereval.selection.newtask import (
    choose_for_prompts,
    read_prompts,
    unique_prompts,
)
from routereval.selection.predictors import (
    KNNPredictor,
    MLPPredictor,
    SklearnPredictor,
)
from routereval.selection.protocol import (
    METHODS,
    Engine,
    Settings,
    leave_one_task_out,
    n_revealed,
    reference_pairs,
)
from routereval.selection.summary import correlations, summary_rows, task_rows

# ---------------------------------------------------------------------------
# The scores, one by one, on numbers worked out by hand.


def test_s1_s2_s3_by_hand():
    g = np.array([[0.8, 0.2, 0.6], [0.4, 0.6, 0.6], [1.0, 0.0, 0.2], [0.6, 0.4, 0.4]])
    # S1: column means. S2: share of entries above 0.5.
    np.testing.assert_allclose(sc.s1(g), [2.8 / 4, 1.2 / 4, 1.8 / 4])
    np.testing.assert_allclose(sc.s2(g), [3 / 4, 1 / 4, 2 / 4])
    # S3 = p S2 + (1 - p)(1 - S2): 0.9*0.75 + 0.1*0.25 = 0.7; 0.2*0.25 + 0.8*0.75 = 0.65; 0.5 whatever p.
    np.testing.assert_allclose(sc.s3(sc.s2(g), np.array([0.9, 0.2, 0.7])), [0.7, 0.65, 0.5])


def test_g_of_exactly_one_half_is_predicted_wrong():
    assert sc.s2(np.array([[0.5], [0.51]]))[0] == 0.5


def test_descriptor_is_mean_of_per_prompt_mean_distance():
    sims = np.array([[0.9, 0.7], [0.5, -np.inf]])  # second prompt has one neighbour only
    assert sc.descriptor(sims) == pytest.approx(((0.1 + 0.3) / 2 + 0.5) / 2)


def test_predictor_accuracy_counts_only_records():
    g = np.array([[0.8, 0.4], [0.2, 0.6], [0.6, 0.6]])
    y = np.array([[1, 0], [1, np.nan], [0, 1]])
    # model 0: gbar 1,0,1 vs y 1,1,0 -> 1 of 3; model 1: gbar 0,-,1 vs 0,-,1 -> 2 of 2.
    np.testing.assert_allclose(sc.predictor_accuracy(g, y), [1 / 3, 1.0])


def test_nadaraya_watson_by_hand():
    u_ref = np.array([0.3, 0.4, 0.6])
    acc = np.array([[0.9, 0.5], [0.7, np.nan], [0.2, 0.1]])
    h = 0.09
    w = np.exp(-0.5 * ((0.35 - u_ref) / h) ** 2)
    expected0 = (w * acc[:, 0]).sum() / w.sum()
    expected1 = (w[0] * 0.5 + w[2] * 0.1) / (w[0] + w[2])  # the NaN pair is left out
    np.testing.assert_allclose(sc.nadaraya_watson(u_ref, acc, 0.35, h), [expected0, expected1])
    # Halfway between two references with the third far away: their plain mean.
    assert sc.nadaraya_watson(np.array([0.2, 0.4, 5.0]), np.array([0.8, 0.6, 0.0]), 0.3)[0] == pytest.approx(0.7)


def test_nadaraya_watson_far_from_every_reference_takes_the_nearest():
    # exp(-((10 - 0.5)/0.09)^2 / 2) underflows to 0 for every reference.
    p = sc.nadaraya_watson(np.array([0.5, 0.3]), np.array([[0.8], [0.4]]), 10.0, 0.09)
    assert p[0] == pytest.approx(0.8)


def test_bma_is_argmax_of_mean_per_task_accuracy():
    acc = np.array([[0.9, 0.5, np.nan], [0.1, 0.6, 0.8]])
    means = sc.mean_task_accuracy(acc)
    np.testing.assert_allclose(means, [0.5, 0.55, 0.8])  # the third model: its one task only
    assert sc.argmax_among(means, np.array([True, True, False])) == 1
    assert sc.argmax_among(np.array([0.3, 0.3]), np.array([True, True])) == 0  # ties: lowest index


def test_win_rate_degenerate_cases_are_exact():
    rng = np.random.default_rng(0)
    # m*: p = 1 and 3 prompts predicted correct -> 3 correct every time; BMA: p = 0 and all predicted correct -> 0.
    assert sc.win_rate(3, 3, 1.0, 3, 0.0, rng) == 1.0
    # Both always get exactly 3: a tie is not a win.
    assert sc.win_rate(3, 3, 1.0, 0, 0.0, rng) == 0.0


def test_win_rate_matches_the_binomial_probability():
    # m* always gets 3; BMA ~ Binomial(3, 0.5): m* wins unless BMA also gets 3, P = 1 - 1/8.
    rate = sc.win_rate(3, 3, 1.0, 3, 0.5, np.random.default_rng(1), n_draws=1000)
    assert abs(rate - 0.875) < 0.04  # 3.8 standard errors of 1,000 draws
    assert rate == sc.win_rate(3, 3, 1.0, 3, 0.5, np.random.default_rng(1), n_draws=1000)  # seeded


def test_fallback_keeps_or_returns_to_bma_on_the_60_percent_line():
    pos = np.array([3, 3])  # both models: all 3 prompts predicted correct
    # m* = 0 with p = 1 (3 correct); BMA = 1 with p = 0.5: m* wins with P = 0.875 -> kept.
    fb = sc.with_fallback(0, pos, 3, np.array([1.0, 0.5]), 1, np.random.default_rng(0))
    assert (fb.m_star, fb.choice) == (0, 0) and fb.win_rate >= 0.6
    # BMA with p = 0.9: P(3 > Bin(3, .9)) = 1 - 0.729 = 0.271 < 0.6 -> back to BMA.
    fb = sc.with_fallback(0, pos, 3, np.array([1.0, 0.9]), 1, np.random.default_rng(0))
    assert (fb.m_star, fb.choice) == (0, 1) and abs(fb.win_rate - 0.271) < 0.05
    # With win_share 0.2 the same draws keep m*.
    fb = sc.with_fallback(0, pos, 3, np.array([1.0, 0.9]), 1, np.random.default_rng(0), win_share=0.2)
    assert fb.choice == 0
    # m* is BMA: nothing to test.
    fb = sc.with_fallback(1, pos, 3, np.array([1.0, 0.5]), 1, np.random.default_rng(0))
    assert fb.choice == 1 and fb.win_rate is None


# ---------------------------------------------------------------------------
# Data preparation.


def test_binarise_continuous_scores_at_the_threshold():
    v = np.array([[0.49, 0.5, np.nan, 1.0]], dtype=np.float32)
    out = binarise(v, "continuous", 0.5)
    assert out[0, :2].tolist() == [0.0, 1.0] and np.isnan(out[0, 2]) and out[0, 3] == 1.0
    assert binarise(v, "continuous", 0.4)[0, 0] == 1.0


def test_duplicates_are_dropped_inside_a_task_only():
    tasks = np.array(["a", "a", "b", "a", "a", "a"])
    texts = ["q1", " q1 ", "q1", "q2", None, None]
    assert duplicate_mask(tasks, texts).tolist() == [False, True, False, False, False, False]


def test_task_data_from_a_benchmark():
    values = np.array([[1, 0], [1, 1], [0, np.nan], [1, 0]], dtype=np.float32)
    prompts = pd.DataFrame(
        {"prompt_id": ["p1", "p2", "p3", "p4"], "task": ["x", "x", "y", "x"], "text": ["same", "other", "y", "same"]}
    )
    data = task_data(Benchmark.from_values("t", values, prompts, ["m0", "m1"]))
    assert data.n_duplicates == 1 and data.rows.tolist() == [0, 1, 2]
    assert data.tasks == ["x", "y"] and data.task_of.tolist() == [0, 0, 1]
    acc = data.task_accuracy()
    np.testing.assert_allclose(acc[0], [1.0, 0.5])
    assert acc[1, 0] == 0.0 and np.isnan(acc[1, 1])
    assert data.threshold is None


# ---------------------------------------------------------------------------
# The hand-worked example: 3 tasks x 2 models in 2-d, k = 1, 1 descriptor neighbour.
#
#   A: a1 = (1, 0), a2 = (.8, .6)      y(a1) = (1, 0), y(a2) = (1, 1)
#   B: b1 = (.6, .8), b2 = (0, 1)      y(b1) = (0, 1), y(b2) = (1, 1)
#   C: c1 = (-.6, .8), c2 = (-1, 0)    y(c1) = (1, 0), y(c2) = (0, 1)
#
# Holding A out (training tasks B, C):
#   reference B (pool C): b1 -> c1 (cos .28), b2 -> c1 (cos .8); g = (1, 0) on both;
#     gbar right for m0 on b2 only, for m1 never: acc (0.5, 0); u = (0.72 + 0.2)/2 = 0.46.
#   reference C (pool B): c1 -> b2 (cos .8), c2 -> b2 (cos 0); g = (1, 1);
#     m0 right on c1, m1 right on c2: acc (0.5, 0.5); u = (0.2 + 1)/2 = 0.6.
#   A (pool B, C): a1 -> b1 (cos .6), a2 -> b1 (cos .96); g = (0, 1) on both;
#     S1 = S2 = (0, 1); u = (0.4 + 0.04)/2 = 0.22.
#   p at 0.22: weights w_B = exp(-(0.24/.09)^2/2), w_C = exp(-(0.38/.09)^2/2);
#     p = (0.5, 0.5 w_C / (w_B + w_C)) = (0.5, 0.00234).
#   S3 = (0.5 * 0 + 0.5 * 1, p1 * 1) = (0.5, 0.00234): m* = m0.
#   BMA over B, C: means (0.5, 0.75) -> m1. Fallback: m0 ~ Bin(2, .5), m1 ~ Bin(2, .00234):
#     P(m0 > m1) = 0.75 (1 - p1)^2 + 0.25 * 2 p1 (1 - p1) = 0.7477 >= 0.6: keep m0.
#   True p: gbar (0, 1) vs y(a1) = (1, 0), y(a2) = (1, 1): (0, 0.5); S3 = (1.0, 0.5).
#   Truth on A: (1.0, 0.5): Oracle m0, S3 right, S1/S2/BMA wrong.

VECTORS = np.array([[1, 0], [0.8, 0.6], [0.6, 0.8], [0, 1], [-0.6, 0.8], [-1, 0]], dtype=np.float32)
CORRECT = np.array([[1, 0], [1, 1], [0, 1], [1, 1], [1, 0], [0, 1]], dtype=np.float32)


def tiny_data():
    prompts = pd.DataFrame(
        {"prompt_id": ["a1", "a2", "b1", "b2", "c1", "c2"], "task": list("AABBCC"),
         "text": ["a1", "a2", "b1", "b2", "c1", "c2"]}
    )
    data = task_data(Benchmark.from_values("tiny", CORRECT, prompts, ["m0", "m1"]))
    data.vectors = VECTORS
    return data


TINY = Settings(n_descriptor=1)


def test_reference_pairs_by_hand():
    data = tiny_data()
    refs = reference_pairs(Engine(data, KNNPredictor(k=1), n_descriptor=1), [1, 2])
    np.testing.assert_allclose(refs.u, [0.46, 0.6], atol=1e-6)
    np.testing.assert_allclose(refs.accuracy, [[0.5, 0.0], [0.5, 0.5]])


def test_held_out_task_by_hand():
    folds = leave_one_task_out(tiny_data(), KNNPredictor(k=1), settings=TINY)
    a = folds[0]
    assert a.task == "A" and len(folds) == 3
    assert a.descriptor == pytest.approx(0.22, abs=1e-6)
    np.testing.assert_allclose(a.scores["S1"], [0.0, 1.0])
    np.testing.assert_allclose(a.scores["S2"], [0.0, 1.0])
    w_b, w_c = math.exp(-0.5 * (0.24 / 0.09) ** 2), math.exp(-0.5 * (0.38 / 0.09) ** 2)
    p1 = 0.5 * w_c / (w_b + w_c)
    np.testing.assert_allclose(a.p_estimate, [0.5, p1], rtol=1e-5)
    np.testing.assert_allclose(a.scores["S3"], [0.5, p1], rtol=1e-5)
    np.testing.assert_allclose(a.p_true, [0.0, 0.5])
    np.testing.assert_allclose(a.scores["S3 (true p)"], [1.0, 0.5])
    np.testing.assert_allclose(a.scores["BMA"], [0.5, 0.75])
    np.testing.assert_allclose(a.true_accuracy, [1.0, 0.5])
    assert a.choices == {"S1": 1, "S2": 1, "S3": 0, "S3 (true p)": 0, "BMA": 1, "Oracle": 0}
    exact = 0.75 * (1 - p1) ** 2 + 0.25 * 2 * p1 * (1 - p1)
    assert abs(a.win_rate["S3"] - exact) < 0.05
    # True p: m0 always gets 2; m1 ~ Bin(2, .5) reaches 2 with P = 1/4.
    assert abs(a.win_rate["S3 (true p)"] - 0.75) < 0.05


def test_rows_and_summary_of_the_tiny_run():
    folds = leave_one_task_out(tiny_data(), KNNPredictor(k=1), settings=TINY)
    rows = task_rows(folds, ["m0", "m1"], "tiny")
    assert len(rows) == 3 * len(METHODS)
    a = {r["method"]: r for r in rows if r["task"] == "A"}
    assert a["S3"]["model"] == "m0" and a["S3"]["accuracy"] == 1.0 and a["S3"]["rank"] == 1
    assert a["S1"]["model"] == "m1" and a["S1"]["ratio"] == 0.5 and a["S1"]["rank"] == 2
    assert a["BMA"]["bma_chosen"] and not a["S3"]["bma_chosen"]
    # Two models: any two distinct scores correlate +1 or -1 with the truth.
    assert a["S3"]["pearson"] == pytest.approx(1.0) and a["S1"]["pearson"] == pytest.approx(-1.0)
    summary = summary_rows(rows)
    assert [r["method"] for r in summary] == list(METHODS)
    for r in summary:
        block = [x for x in rows if x["method"] == r["method"]]
        assert r["accuracy"] == pytest.approx(np.mean([x["accuracy"] for x in block]))
        assert r["mean_rank"] == pytest.approx(np.mean([x["rank"] for x in block]))
        assert r["bma_share"] == pytest.approx(np.mean([x["bma_chosen"] for x in block]))


def test_correlations_use_average_ranks_for_ties():
    scores, truth = np.array([1.0, 1.0, 3.0, 4.0]), np.array([0.1, 0.3, 0.2, 0.4])
    pearson, spearman = correlations(scores, truth, np.ones(4, dtype=bool))
    assert pearson == pytest.approx(np.corrcoef(scores, truth)[0, 1])
    assert spearman == pytest.approx(np.corrcoef([1.5, 1.5, 3, 4], [1, 3, 2, 4])[0, 1])
    assert math.isnan(correlations(np.ones(4), truth, np.ones(4, dtype=bool))[0])


# ---------------------------------------------------------------------------
# The fast neighbour lists against a plain search, with missing records.


@pytest.mark.parametrize("k", [1, 5])
def test_neighbour_lists_agree_with_a_plain_search(k):
    x, task_of, y = synthetic()
    lists = TaskNeighbours(x, task_of, y, k=k, n_descriptor=19)
    assert len(lists.groups) == 4  # full, {1, 3}, 0, 2
    for t, pool in [(0, [1, 2, 3, 4]), (3, [0, 2]), (2, [1]), (4, [0, 1, 2, 3])]:
        q = np.flatnonzero(task_of == t)
        rows = np.flatnonzero(np.isin(task_of, pool))
        expected = KNNPredictor(k=k).fit(Prompts(embeddings=x[rows]), y[rows]).predict_quality(Prompts(embeddings=x[q]))
        np.testing.assert_array_equal(lists.predict(q, pool), expected)
        # The descriptor by brute force: the 19 largest cosines to the pool.
        top = -np.sort(-(x[q] @ x[rows].T), axis=1)[:, :19]
        assert lists.descriptor(q, pool) == pytest.approx(float((1 - top).mean()), abs=1e-6)
        # Extra labelled prompts of the query's own task (the alpha variant).
        extra, rest = q[:7], q[7:]
        both = np.concatenate([rows, extra])
        knn = KNNPredictor(k=k).fit(Prompts(embeddings=x[both]), y[both])
        expected = knn.predict_quality(Prompts(embeddings=x[rest]))
        np.testing.assert_array_equal(lists.predict(rest, pool, extra), expected)


def test_knn_agrees_with_scikit_learn_neighbours():
    from sklearn.neighbors import KNeighborsClassifier

    x, task_of, y = synthetic(seed=3)
    train, test = task_of != 0, task_of == 0
    train_prompts, test_prompts = Prompts(embeddings=x[train]), Prompts(embeddings=x[test])
    ours = KNNPredictor(k=5).fit(train_prompts, y[train]).predict_quality(test_prompts)
    theirs = SklearnPredictor(KNeighborsClassifier(5, metric="cosine", algorithm="brute"))
    np.testing.assert_allclose(ours, theirs.fit(train_prompts, y[train]).predict_quality(test_prompts), atol=1e-12)


def test_fast_and_refitted_protocols_agree():
    x, task_of, y = synthetic(seed=5)
    data = task_data_of(x, task_of, y)
    fast = leave_one_task_out(data, KNNPredictor(), alphas=[0.0, 0.1])

    class Refitted(KNNPredictor):  # same predictor, fitted afresh per pool (the generic path)
        pass

    slow = leave_one_task_out(data, Refitted(), alphas=[0.0, 0.1])
    assert len(fast) == len(slow) == 10
    engine = Engine(data, Refitted())
    for t in range(5):
        reference_pairs(engine, [j for j in range(5) if j != t])
    assert engine.n_fits == 10 and not engine._kept  # each pair of held-out tasks fitted once, every answer used
    for f, s in zip(fast, slow):
        assert f.choices == s.choices and f.win_rate == s.win_rate
        for m in METHODS:
            np.testing.assert_allclose(f.scores[m], s.scores[m])


# ---------------------------------------------------------------------------
# Predictors.


def test_knn_predictor_by_hand_skips_missing_records():
    x = np.array([[1, 0], [0.8, 0.6], [0, 1]], dtype=np.float32)
    y = np.array([[1, 1], [0, np.nan], [1, 0]], dtype=np.float32)
    g = KNNPredictor(k=2).fit(Prompts(embeddings=x), y).predict_quality(Prompts(embeddings=np.array([[0.9, 0.1]])))
    # Model 0: the two nearest are rows 0, 1 -> (1 + 0)/2; model 1 lacks row 1: rows 0, 2 -> (1 + 0)/2.
    np.testing.assert_allclose(g, [[0.5, 0.5]])
    g = KNNPredictor(k=1).fit(Prompts(embeddings=x), y).predict_quality(Prompts(embeddings=np.array([[0.7, 0.7]])))
    # Model 0: row 1 (cos .99). Model 1 lacks row 1: rows 0 and 2 tie at cos .7071; the lower index wins.
    np.testing.assert_allclose(g, [[0.0, 1.0]])


def test_sklearn_adapter_handles_one_class_and_no_records():
    from sklearn.linear_model import LogisticRegression

    x = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    y = np.stack([(x[:, 0] > 0).astype(np.float32), np.ones(20, np.float32), np.full(20, np.nan, np.float32)], 1)
    g = SklearnPredictor(LogisticRegression()).fit(Prompts(embeddings=x), y).predict_quality(Prompts(embeddings=x))
    assert ((g[:, 0] > 0.5) == (x[:, 0] > 0)).mean() >= 0.9
    assert np.all(g[:, 1] == 1.0) and np.all(np.isnan(g[:, 2]))


@needs_torch
def test_mlp_predictor_learns_a_separable_rule_and_skips_missing():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4)).astype(np.float32)
    y = np.stack([(x[:, 0] > 0), (x[:, 1] < 0), np.zeros(300, bool)], 1).astype(np.float32)
    y[::2, 1] = np.nan  # half the records missing: learned from the rest
    y[:, 2] = np.nan  # no record at all
    prompts = Prompts(embeddings=x)
    model = MLPPredictor(hidden=32, epochs=30, batch_size=50, seed=0, n_threads=1).fit(prompts, y)
    g = model.predict_quality(prompts)
    assert ((g[:, 0] > 0.5) == (x[:, 0] > 0)).mean() > 0.9
    assert ((g[:, 1] > 0.5) == (x[:, 1] < 0)).mean() > 0.9
    assert np.all(np.isnan(g[:, 2])) and np.all((g[:, :2] >= 0) & (g[:, :2] <= 1))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict_quality(prompts), g)
    again = MLPPredictor(hidden=32, epochs=30, batch_size=50, seed=0, n_threads=1).fit(prompts, y)
    np.testing.assert_array_equal(again.predict_quality(prompts), g)  # seeded


# ---------------------------------------------------------------------------
# Protocol details.


def test_revealed_prompts_floor_and_cap():
    assert n_revealed(0.04, 779) == 31  # floor(31.16)
    assert n_revealed(0.1, 779) == 50  # capped
    assert n_revealed(0.29, 100) == 29  # not 28 through binary rounding
    assert n_revealed(1.0, 10) == 9  # one prompt stays unlabelled
    with pytest.raises(ConfigError):
        n_revealed(1.5, 10)


def test_alpha_variant_scores_the_rest_and_measures_the_whole_task():
    x, task_of, y = synthetic(seed=2)
    data = task_data_of(x, task_of, y)
    folds = leave_one_task_out(data, alphas=[0.0, 0.25])
    by = {(f.task, f.alpha): f for f in folds}
    for t in data.tasks:
        zero, quarter = by[(t, 0.0)], by[(t, 0.25)]
        assert (zero.n_revealed, quarter.n_revealed) == (0, 10)
        np.testing.assert_array_equal(zero.true_accuracy, quarter.true_accuracy)
        assert zero.choices["BMA"] == quarter.choices["BMA"] and zero.choices["Oracle"] == quarter.choices["Oracle"]
    again = leave_one_task_out(data, alphas=[0.0, 0.25])
    assert [f.choices for f in again] == [f.choices for f in folds]


def test_too_few_tasks_is_a_clear_error():
    data = tiny_data()
    data.task_of = np.array([0, 0, 1, 1, 1, 1])
    data.tasks = ["A", "B"]
    with pytest.raises(ConfigError, match="at least 3 tasks"):
        leave_one_task_out(data)


# ---------------------------------------------------------------------------
# New tasks.


def test_new_task_by_hand():
    # Two new prompts next to a1 and a2; learning from all of A, B, C (k = 1, 1 descriptor neighbour).
    data = tiny_data()
    new = np.array([[0.99, 0.141], [0.9, 0.436]], dtype=np.float32)
    new /= np.linalg.norm(new, axis=1, keepdims=True)
    choice = choose_for_prompts(data, new, KNNPredictor(k=1), Settings(n_descriptor=1))
    # Nearest training prompts: a1 then a2, so g = y(a1), y(a2) = (1, 0), (1, 1).
    np.testing.assert_allclose(choice.s1, [1.0, 0.5])
    np.testing.assert_allclose(choice.s2, [1.0, 0.5])
    # Reference pairs over A, B, C (worked out like the ones above):
    #   A (pool B, C): acc (0, .5), u = .22;  B (pool A, C): b1 -> a2, b2 -> c1: acc (.5, .5), u = (.04 + .2)/2 = .12;
    #   C (pool A, B): c1 -> b2, c2 -> b2: acc (.5, .5), u = .6.
    u_new = np.mean([1 - new[0] @ VECTORS[0], 1 - new[1] @ VECTORS[1]])
    assert choice.descriptor == pytest.approx(u_new, abs=1e-6)
    w = np.exp(-0.5 * ((u_new - np.array([0.22, 0.12, 0.6])) / 0.09) ** 2)
    p0 = (w[0] * 0 + w[1] * 0.5 + w[2] * 0.5) / w.sum()
    np.testing.assert_allclose(choice.p, [p0, 0.5], rtol=1e-4)
    np.testing.assert_allclose(choice.s3, [p0, 0.5], rtol=1e-4)  # S3(m0) = p0 * 1; S3(m1) = .5*.5 + .5*.5
    # BMA: per-task means (1, .5, .5) and (.5, 1, .5) tie at 2/3: the lower index, m0.
    np.testing.assert_allclose(choice.bma_scores, [2 / 3, 2 / 3])
    assert choice.choices["BMA"] == 0 and choice.m_star == 1 and choice.choices["S1"] == 0
    # Fallback: m1 ~ Bin(1, .5) + Bin(1, .5) against m0 ~ Bin(2, p0): P(m1 > m0) is about .36 < .6 -> m0.
    q = [(1 - p0) ** 2, 2 * p0 * (1 - p0), p0**2]
    exact = q[0] * 0.75 + q[1] * 0.25
    assert abs(choice.win_rate - exact) < 0.05 and choice.choices["S3"] == 0
    rows = choice.rows("tiny")
    assert rows[-1]["kind"] == "choice" and rows[-1]["fell_back"] and rows[-1]["model"] == "m0"
    assert {r["model"]: r["chosen_by"] for r in rows[:-1]} == {"m0": ["S1", "S2", "S3", "BMA"], "m1": []}


def test_read_prompts_plain_csv_and_jsonl(tmp_path):
    txt = tmp_path / "p.txt"
    txt.write_text("first prompt\n\n  \nsecond prompt\nfirst prompt\n")
    assert read_prompts(txt) == ["first prompt", "second prompt", "first prompt"]
    assert unique_prompts(read_prompts(txt)) == ["first prompt", "second prompt"]
    csv = tmp_path / "p.csv"
    csv.write_text('id,prompt\n1,"a, with comma"\n2,"two\nlines"\n')
    assert read_prompts(csv) == ["a, with comma", "two\nlines"]
    jl = tmp_path / "p.jsonl"
    jl.write_text('{"text": "x"}\n{"text": "y"}\n')
    assert read_prompts(jl) == ["x", "y"]


def test_read_prompts_errors_name_file_row_and_column(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,question_text\n1,a\n")
    with pytest.raises(DataError, match="bad.csv.*no 'prompt'.*id, question_text"):
        read_prompts(bad)
    gap = tmp_path / "gap.csv"
    gap.write_text("id,prompt\n1,a\n2,\n3,b\n")
    with pytest.raises(DataError, match="gap.csv, row 2, column 'prompt'") as err:
        read_prompts(gap)
    assert (err.value.row, err.value.column) == (2, "prompt")
    blank = tmp_path / "blank.txt"
    blank.write_text("\n  \n")
    with pytest.raises(DataError, match="no prompts"):
        read_prompts(blank)


# ---------------------------------------------------------------------------
# Real data: LLMRouter from the mirror.


def direct_task_accuracy(bench, threshold=0.5) -> pd.DataFrame:
    """Per-task accuracy straight from the records with pandas: drop repeats, cut at the threshold."""
    values = bench.values()
    frame = pd.DataFrame(np.where(np.isnan(values), np.nan, values >= threshold), columns=bench.model_names)
    frame["task"] = bench.prompts["task"].to_numpy()
    frame["key"] = bench.prompts["text"].str.strip().to_numpy()
    frame = frame.drop_duplicates(["task", "key"]).drop(columns="key")
    return frame.groupby("task", sort=False).mean()


@pytest.fixture(scope="module")
def llmrouter_run(tmp_path_factory):
    from support.requirements import mirror_root

    root = mirror_root()
    if root is None:
        pytest.skip("real-data mirror not found: set ROUTEREVAL_MIRROR or place ../shared/data/github beside the repo")
    mp = pytest.MonkeyPatch()
    mp.setenv("ROUTEREVAL_MIRROR", str(root))
    mp.setenv("ROUTEREVAL_HOME", str(tmp_path_factory.mktemp("select-home")))
    try:
        from routereval.selection.vectors import attach_vectors
        from routereval.sources.catalog import load_dataset

        bench = load_dataset("llmrouter", progress=False)
        data = task_data(bench)
        attach_vectors(data, bench, "tfidf-64", progress=False)
        folds = leave_one_task_out(data)
    finally:
        mp.undo()
    return bench, data, folds


@pytest.mark.slow  # real data
def test_real_llmrouter_run_has_the_table_shape(llmrouter_run):
    bench, data, folds = llmrouter_run
    rows = task_rows(folds, data.models, data.name)
    summary = summary_rows(rows)
    assert len(folds) == 14 and len(rows) == 14 * 6 and [r["method"] for r in summary] == list(METHODS)
    assert data.n_duplicates == 119 and data.threshold == 0.5
    for task in data.tasks:
        block = {r["method"]: r for r in rows if r["task"] == task}
        assert all(block["Oracle"]["accuracy"] >= r["accuracy"] for r in block.values())
    oracle = next(r for r in summary if r["method"] == "Oracle")
    assert all(oracle["accuracy"] >= r["accuracy"] for r in summary)
    assert oracle["ratio"] == 1.0 and oracle["mean_rank"] == 1.0


def test_real_bma_and_oracle_match_a_direct_computation(llmrouter_run):
    bench, data, folds = llmrouter_run
    acc = direct_task_accuracy(bench)
    for f in folds:
        truth = acc.loc[f.task]
        others = acc.drop(index=f.task).mean(axis=0)
        assert data.models[f.choices["Oracle"]] == truth.idxmax()
        assert data.models[f.choices["BMA"]] == others.idxmax()
        np.testing.assert_allclose(f.true_accuracy, truth.to_numpy())
        np.testing.assert_allclose(f.scores["BMA"], others.to_numpy())


@needs_torch
def test_protocol_runs_with_the_mlp_and_a_scikit_learn_classifier():
    from sklearn.linear_model import LogisticRegression

    x, task_of, y = synthetic(seed=4, n_tasks=4, per_task=30, n_models=4)
    data = task_data_of(x, task_of, y)
    for predictor in (MLPPredictor(hidden=8, epochs=2, n_threads=1), SklearnPredictor(LogisticRegression())):
        folds = leave_one_task_out(data, predictor)
        assert len(folds) == 4
        for f in folds:
            s1 = f.scores["S1"][f.candidates]
            assert np.all((s1 >= 0) & (s1 <= 1)) and np.isnan(f.scores["S1"][~f.candidates]).all()
            assert f.candidates[0] == (f.task != "t1")  # m0 has no record on t1
            assert f.true_accuracy[f.choices["Oracle"]] == np.nanmax(f.true_accuracy)


def test_reference_pairs_at_alpha_reveal_each_training_task_to_its_own_pool():
    x, task_of, y = synthetic(seed=6)
    data = task_data_of(x, task_of, y)
    settings = Settings()
    engine = Engine(data, KNNPredictor())
    train = [0, 1, 2, 3]
    plain, revealed = reference_pairs(engine, train), reference_pairs(engine, train, 0.25, settings)
    # Tasks are clusters: revealed prompts of a task's own cluster are nearer than any other task's.
    assert np.all(revealed.u < plain.u)
    # Task 2 by a plain search: 10 of its 40 prompts (the seeded permutation) join the pool of tasks 0, 1, 3.
    order = np.random.default_rng([0, 2]).permutation(40)
    rows = data.task_rows(2)
    shown, rest = rows[np.sort(order[:10])], rows[np.sort(order[10:])]
    pool = np.concatenate([np.flatnonzero(np.isin(task_of, [0, 1, 3])), shown])
    g = KNNPredictor().fit(Prompts(embeddings=x[pool]), y[pool]).predict_quality(Prompts(embeddings=x[rest]))
    np.testing.assert_allclose(revealed.accuracy[2], sc.predictor_accuracy(g, y[rest]))
    top = -np.sort(-(x[rest] @ x[pool].T), axis=1)[:, :19]
    assert revealed.u[2] == pytest.approx(float((1 - top).mean()), abs=1e-6)
