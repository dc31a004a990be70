"""Model choice: exact scores and the tie rule, the reference protocols, per-prompt routing and
the analyses, on cases worked out by hand (and one real run, marked slow)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from support.tasks import synthetic, task_data_of

from routereval.errors import ConfigError
from routereval.records import Benchmark
from routereval.selection import scores as sc
from routereval.selection.analyses import (
    against_reference,
    by_distance,
    correlation_by_descriptor,
    distance_edges,
)
from routereval.selection.candidates import parse_candidates
from routereval.selection.data import task_data
from routereval.selection.predictors import KNNPredictor
from routereval.selection.protocol import (
    Engine,
    ReferenceBook,
    References,
    Settings,
    leave_one_task_out,
    reference_pairs,
    route_pointwise,
)
from routereval.selection.summary import summary_rows, task_rows

# ---------------------------------------------------------------------------
# Exact scores.


def test_float_summation_order_would_separate_an_exact_tie():
    # k = 5: hits 5,3,3,1,1,0 and 0,0,1,4,3,5 both sum to 13, so S1 = 13/30 for both models.
    hits = np.array([[5, 0], [3, 0], [3, 1], [1, 4], [1, 3], [0, 5]])
    est = sc.Estimates.from_counts(hits, np.full_like(hits, 5))
    floats = est.g.mean(axis=0)
    assert floats[0] > floats[1]  # the float means differ in the last bit: argmax would pick model 0
    exact = sc.s1_exact(est)
    assert exact == [Fraction(13, 30), Fraction(13, 30)]
    # Model 1 is BMA (higher mean training accuracy): the tie goes to it.
    bma_scores = [Fraction(1, 2), Fraction(3, 5)]
    order = sc.preference(bma_scores, np.array([True, True]))
    assert order == [1, 0]
    chosen = sc.pick(exact, np.array([True, True]), order, bma_scores)
    assert (chosen.model, chosen.tied, chosen.rule) == (1, (0, 1), "bma")


def test_s1_exact_with_mixed_neighbour_counts_and_s2_from_integers():
    # Model 0 found 5, 5 and 3 neighbours; model 1 has no estimate at all.
    hits = np.array([[3, 0], [2, 0], [2, 0]])
    found = np.array([[5, 0], [5, 0], [3, 0]])
    est = sc.Estimates.from_counts(hits, found)
    assert sc.s1_exact(est) == [(Fraction(3, 5) + Fraction(2, 5) + Fraction(2, 3)) / 3, None]
    # gbar: 3/5 > 1/2 yes, 2/5 no, 2/3 yes.
    assert sc.s2_exact(est) == [Fraction(2, 3), None]
    s3 = sc.s3_exact([Fraction(2, 3), None], np.array([0.75, 0.9]))
    assert s3 == [Fraction(3, 4) * Fraction(2, 3) + Fraction(1, 4) * Fraction(1, 3), None]


def test_float_estimates_use_the_correctly_rounded_sum():
    g = np.array([[0.1, 0.3], [0.2, 0.0], [0.0, 0.0]])  # 0.1 + 0.2 != 0.3 in floats, but fsum rounds once
    s1 = sc.s1_exact(sc.Estimates(g))
    assert s1[0] == Fraction(math.fsum([0.1, 0.2, 0.0])) / 3 == Fraction(0.30000000000000004) / 3
    assert s1[1] == Fraction(0.3) / 3


def test_tie_rule_mean_accuracy_then_model_order():
    cand = np.array([True, True, True, True])
    bma_scores = [Fraction(9, 10), Fraction(1, 2), Fraction(7, 10), Fraction(7, 10)]
    order = sc.preference(bma_scores, cand)
    assert order == [0, 2, 3, 1]
    # BMA (model 0) not tied: the tied model with the better mean accuracy wins.
    v = [Fraction(1, 5), Fraction(4, 5), Fraction(4, 5), Fraction(1, 10)]
    assert sc.pick(v, cand, order, bma_scores) == sc.Pick(2, (1, 2), "mean accuracy")
    # Tied on mean accuracy too: model order.
    v = [Fraction(1, 5), Fraction(0), Fraction(4, 5), Fraction(4, 5)]
    assert sc.pick(v, cand, order, bma_scores) == sc.Pick(2, (2, 3), "model order")
    # No tie: nothing to report.
    assert sc.pick([Fraction(1), None, Fraction(0), Fraction(0)], cand, order, bma_scores) == sc.Pick(0)
    # Non-candidates never win, even with the top score.
    assert sc.pick(v, np.array([True, True, True, False]), order, bma_scores).model == 2


# ---------------------------------------------------------------------------
# The hand-worked tiny case of test_selection.py, with a third model.
#
#   A: a1 = (1, 0), a2 = (.8, .6);  B: b1 = (.6, .8), b2 = (0, 1);  C: c1 = (-.6, .8), c2 = (-1, 0)
#   y (m0, m1, m2): a1 (1,0,0) a2 (1,1,0) b1 (0,1,1) b2 (1,1,1) c1 (1,0,1) c2 (0,1,1)
#
# Holding A out (k = 1): both prompts of A have b1 as nearest neighbour, so
# g = y(b1) = (0, 1, 1) on both: S1 = S2 = (0, 1, 1). m1 and m2 tie exactly.
# Mean training accuracy over B, C: m0 (.5 + .5)/2 = .5, m1 (1 + .5)/2 = .75,
# m2 (1 + 1)/2 = 1: BMA = m2, so the tie goes to m2 (the lowest index, m1,
# would win under "first in model order"). Truth on A: (1, .5, 0).

VECTORS = np.array([[1, 0], [0.8, 0.6], [0.6, 0.8], [0, 1], [-0.6, 0.8], [-1, 0]], dtype=np.float32)
CORRECT3 = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1]], dtype=np.float32)
TINY = Settings(n_descriptor=1)


def tiny(correct=CORRECT3):
    prompts = pd.DataFrame({"prompt_id": ["a1", "a2", "b1", "b2", "c1", "c2"], "task": list("AABBCC"),
                            "text": ["a1", "a2", "b1", "b2", "c1", "c2"]})
    data = task_data(Benchmark.from_values("tiny", correct, prompts, [f"m{j}" for j in range(correct.shape[1])]))
    data.vectors = VECTORS
    return data


def test_an_exact_tie_goes_to_bma_and_is_reported():
    folds = leave_one_task_out(tiny(), KNNPredictor(k=1), settings=TINY)
    a = folds[0]
    assert a.task == "A" and a.choices["BMA"] == 2
    for method in ("S1", "S2"):
        assert a.choices[method] == 2
        assert a.picks[method] == sc.Pick(2, (1, 2), "bma")
    rows = task_rows(folds, ["m0", "m1", "m2"], "tiny")
    s1 = next(r for r in rows if r["task"] == "A" and r["method"] == "S1")
    assert s1["tie"] and s1["tied_with"] == ["m1"] and s1["tie_rule"] == "bma" and s1["accuracy"] == 0.0
    summary = {r["method"]: r for r in summary_rows(rows)}
    assert summary["S1"]["n_ties"] == sum(r["tie"] for r in rows if r["method"] == "S1") >= 1
    assert summary["Oracle"]["n_ties"] == sum(f.picks["Oracle"].is_tie for f in folds)


# ---------------------------------------------------------------------------
# Reference protocols, by hand (two models: the CORRECT matrix of test_selection.py).
#
# loto, holding A out: B from pool {C}: u .46, acc (.5, 0); C from pool {B}: u .6, acc (.5, .5)
#   (worked out in test_selection.py): p(.22) = (.5, .00234), S3 = (.5, .00234): m0, kept by the fallback.
# published: pools keep A.
#   B from pool {A, C}: b1 -> a2 (cos .96), b2 -> c1 (cos .8); g = y(a2) = (1, 1), y(c1) = (1, 0);
#     truth b1 (0, 1), b2 (1, 1): m0 right on b2 only, m1 right on b1 only: acc (.5, .5);
#     u = (.04 + .2)/2 = .12.
#   C from pool {A, B}: c1 -> b2 (cos .8), c2 -> b2 (cos 0): as with pool {B}: u .6, acc (.5, .5).
#   Every reference has accuracy .5, so p = (.5, .5) and S3 = .5 for both models whatever S2:
#   an exact tie, settled towards BMA (m1, accuracy .5 on A) instead of m0 (accuracy 1).

CORRECT2 = np.array([[1, 0], [1, 1], [0, 1], [1, 1], [1, 0], [0, 1]], dtype=np.float32)


def test_published_references_keep_the_held_out_task_in_the_pools():
    data = tiny(CORRECT2)
    engine = Engine(data, KNNPredictor(k=1), n_descriptor=1)
    loto = ReferenceBook(engine, [0.0], TINY).for_task(0)[0.0]
    published = ReferenceBook(engine, [0.0], Settings(n_descriptor=1, references="published")).for_task(0)[0.0]
    assert list(loto.tasks) == list(published.tasks) == [1, 2]
    np.testing.assert_allclose(loto.u, [0.46, 0.6], atol=1e-6)
    np.testing.assert_allclose(loto.accuracy, [[0.5, 0.0], [0.5, 0.5]])
    np.testing.assert_allclose(published.u, [0.12, 0.6], atol=1e-6)
    np.testing.assert_allclose(published.accuracy, [[0.5, 0.5], [0.5, 0.5]])


def test_published_references_change_the_choice_on_the_tiny_case():
    a_loto = leave_one_task_out(tiny(CORRECT2), KNNPredictor(k=1), settings=TINY)[0]
    a_pub = leave_one_task_out(tiny(CORRECT2), KNNPredictor(k=1),
                               settings=Settings(n_descriptor=1, references="published"))[0]
    assert a_loto.choices["S3"] == 0 and a_loto.true_accuracy[0] == 1.0
    np.testing.assert_allclose(a_pub.p_estimate, [0.5, 0.5])
    np.testing.assert_allclose(a_pub.scores["S3"], [0.5, 0.5])
    assert a_pub.picks["S3"] == sc.Pick(1, (0, 1), "bma")
    assert a_pub.choices["S3"] == 1 and a_pub.true_accuracy[1] == 0.5
    # Everything that does not use the reference pairs is the same.
    for method in ("S1", "S2", "S3 (true p)", "BMA", "Oracle"):
        assert a_loto.choices[method] == a_pub.choices[method]


def test_pooled_alphas_estimate_p_from_every_alpha_pair():
    x, task_of, y = synthetic(seed=2, n_tasks=4, per_task=40, n_models=4)
    data = task_data_of(x, task_of, y)
    engine = Engine(data, KNNPredictor())
    settings = Settings(pool_alphas=True)
    book = ReferenceBook(engine, [0.0, 0.1], settings).for_task(0)
    parts = [reference_pairs(engine, [1, 2, 3], a, settings) for a in (0.0, 0.1)]
    for alpha in (0.0, 0.1):
        np.testing.assert_allclose(book[alpha].u, np.concatenate([p.u for p in parts]))
        np.testing.assert_allclose(book[alpha].accuracy, np.vstack([p.accuracy for p in parts]))
    # Nadaraya-Watson over the union: weights of both sets in one ratio (models 1-3 have every pair).
    u0 = 0.5
    w = np.exp(-0.5 * ((u0 - book[0.0].u) / 0.09) ** 2)
    expected = (w[:, None] * book[0.0].accuracy[:, 1:]).sum(axis=0) / w.sum()
    np.testing.assert_allclose(book[0.0].p(u0, 0.09)[1:], expected)


def test_unknown_reference_protocol_is_a_config_error():
    with pytest.raises(ConfigError, match="published"):
        Settings(references="leaky")


def test_references_pooled_and_without():
    r = References(np.array([1, 2]), np.array([0.1, 0.2]), np.array([[0.5], [0.6]]))
    both = References.pooled([r, r.without(1)])
    assert list(both.tasks) == [1, 2, 2] and list(both.u) == [0.1, 0.2, 0.2]


# ---------------------------------------------------------------------------
# Per-prompt routing.


def test_route_pointwise_by_hand():
    g = np.array([[0.6, 0.6, 0.2], [0.4, np.nan, 0.8], [0.2, 0.2, 0.2], [0.0, 1.0, 0.0]])
    have = np.array([[1, 1, 1], [1, 1, 0], [1, 1, 1], [1, 0, 0]], dtype=bool)
    order = [1, 0, 2]  # model 1 is BMA
    # p0: 0 and 1 tie -> 1 (first in order); p1: model 2 has no record, model 1 no estimate -> 0;
    # p2: three-way tie -> 1; p3: only model 0 has a record -> 0.
    assert list(route_pointwise(g, have, order)) == [1, 0, 1, 0]
    # A model outside the order (not a candidate) is never chosen; no usable model -> -1.
    assert list(route_pointwise(g[:1], have[:1], [2])) == [2]
    assert list(route_pointwise(g[3:], have[3:], [1, 2])) == [-1]


def test_pointwise_row_on_the_tiny_case():
    folds = leave_one_task_out(tiny(), KNNPredictor(k=1), settings=TINY)
    a = folds[0]
    # g = (0, 1, 1) on a1 and a2: m1 and m2 tie, m2 is BMA: both prompts to m2, which is wrong on both.
    assert list(a.pointwise) == [2, 2] and a.pointwise_accuracy == 0.0
    rows = task_rows(folds, ["m0", "m1", "m2"], "tiny", pointwise=True)
    pw = next(r for r in rows if r["task"] == "A" and r["method"] == "Pointwise")
    assert pw["model"] == "m2" and pw["bma_chosen"] == 1.0 and pw["n_models_used"] == 1 and pw["rank"] == 3
    assert "Pointwise" in [r["method"] for r in summary_rows(rows)]
    assert "Pointwise" not in [r["method"] for r in task_rows(folds, ["m0", "m1", "m2"], "tiny")]


# ---------------------------------------------------------------------------
# Candidates.


def models_table(params):
    return pd.DataFrame({"name": [f"m{j}" for j in range(len(params))], "n_params": params})


def test_candidates_by_names_and_by_size():
    table = models_table([7e9, 13e9, 70e9, np.nan])
    mask, notes = parse_candidates("params<=13e9", table)
    assert list(mask) == [True, True, False, False] and "m3" in notes[0]
    assert list(parse_candidates("params < 13e9", table)[0]) == [True, False, False, False]
    assert list(parse_candidates("params>13e9", table)[0]) == [False, False, True, False]
    assert list(parse_candidates("m2, m0", table)[0]) == [True, False, True, False]


def test_candidates_errors_are_config_errors():
    with pytest.raises(ConfigError, match="no parameter counts"):
        parse_candidates("params<=13e9", models_table([np.nan, np.nan]))
    with pytest.raises(ConfigError, match="did you mean m1"):
        parse_candidates("m1x", models_table([1.0, 2.0]))
    with pytest.raises(ConfigError, match="no model has"):
        parse_candidates("params<1", models_table([7e9]))
    with pytest.raises(ConfigError, match="cannot read"):
        parse_candidates("size<=3", models_table([7e9]))


def test_candidates_restrict_every_method():
    folds = leave_one_task_out(tiny(), KNNPredictor(k=1), settings=TINY, candidates=np.array([True, True, False]))
    for f in folds:
        assert not f.candidates[2]
        assert all(m != 2 for m in f.choices.values())
        assert all(r in (-1, 0, 1) for r in f.pointwise)
    # Holding A out without m2: BMA is m1 (.75 against .5), and S1 = (0, 1) picks m1 with no tie.
    assert folds[0].choices["BMA"] == 1 and folds[0].picks["S1"] == sc.Pick(1)


# ---------------------------------------------------------------------------
# The analyses.


def test_against_reference_by_hand():
    rows = [
        {"alpha": 0.0, "method": "S3", "task": "A", "accuracy": 0.6},
        {"alpha": 0.0, "method": "S3", "task": "B", "accuracy": 0.4},
        {"alpha": 0.0, "method": "S3", "task": "C", "accuracy": 0.9},
    ]
    ref = {"A": 0.5, "B": 0.5, "C": np.nan}  # no record on C: skipped
    (out,) = against_reference(rows, ref, "big")
    assert out["n_tasks"] == 2 and out["match_share"] == 0.5
    assert out["mean_difference"] == pytest.approx(0.0) and out["mean_ratio"] == pytest.approx((1.2 + 0.8) / 2)
    assert out["accuracy"] == pytest.approx(0.5) and out["reference_accuracy"] == pytest.approx(0.5)


def test_correlation_by_descriptor_by_hand():
    rows = []
    for task, u, corr in [("A", 0.2, 0.9), ("B", 0.4, 0.5), ("C", 0.6, 0.7), ("D", 0.8, -0.1)]:
        for m in ("S1", "S2", "S3"):
            row = {"alpha": 0.0, "task": task, "method": m, "pearson": corr}
            if m == "S3":
                row["descriptor"] = u
            rows.append(row)
    per, summary = correlation_by_descriptor(rows)
    assert [r["u"] for r in per] == [0.2, 0.4, 0.6, 0.8]
    s3 = next(r for r in summary if r["method"] == "S3")
    # Ranks of u 1,2,3,4 against ranks of the correlations 4,2,3,1.
    assert s3["spearman_u"] == pytest.approx(np.corrcoef([1, 2, 3, 4], [4, 2, 3, 1])[0, 1])
    assert s3["mean_pearson"] == pytest.approx(0.5)


def test_distance_edges_are_quantiles_with_open_ends():
    class F:
        def __init__(self, u):
            self.prompt_u = np.asarray(u)

    edges = distance_edges([F([0.1, 0.2]), F([0.3, 0.4])], 2)
    assert edges[0] == -np.inf and edges[-1] == np.inf and edges[1] == pytest.approx(0.25)


def test_one_distance_bin_reproduces_the_whole_task_choice():
    x, task_of, y = synthetic(seed=3, n_tasks=4, per_task=40, n_models=4)
    data = task_data_of(x, task_of, y)
    folds = leave_one_task_out(data)
    per, summary = by_distance(folds, data, 1)
    rows = {(r["task"], r["method"]): r for r in task_rows(folds, data.models, data.name, pointwise=True)}
    for r in per:
        if r["method"] in ("S1", "S2", "BMA", "Oracle", "Pointwise"):
            assert r["accuracy"] == pytest.approx(rows[(r["task"], r["method"])]["accuracy"])
    assert {r["n_subsets"] for r in summary} == {4}
    # Two bins split every task's prompts by their own distance: counts add up.
    per2, _ = by_distance(folds, data, 2, min_prompts=1)
    for f in folds:
        counts = [r["n_prompts"] for r in per2 if r["task"] == f.task and r["method"] == "S1"]
        assert sum(counts) == len(f.queries)
