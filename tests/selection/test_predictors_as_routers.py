"""Correctness predictors keep the router contract (routereval.routers.base), NaN for a model with no record the one
exception, and the array form of earlier releases still works with a FutureWarning naming the new call.

The generic router checks (fit returns self, prediction changes nothing, pickling, ...) run on the predictors in
tests/routers/test_contract.py; here, what is particular to them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from support.requirements import needs_torch
from support.tasks import task_data_of

import routereval as rv
from routereval.errors import ConfigError, NotFittedError
from routereval.records import Benchmark
from routereval.routers import Prompts, Router
from routereval.routers.base import unfitted_copy
from routereval.selection.predictors import (
    CorrectnessPredictor,
    KNNPredictor,
    MLPPredictor,
    SklearnPredictor,
)
from routereval.selection.protocol import leave_one_task_out

# The by-hand case of test_selection.py: with k = 2 the query [0.9, 0.1] gets (1 + 0) / 2 for both models.
X = np.array([[1, 0], [0.8, 0.6], [0, 1]], dtype=np.float32)
Y = np.array([[1, 1], [0, np.nan], [1, 0]], dtype=np.float32)
QUERY = np.array([[0.9, 0.1]], dtype=np.float32)


def test_predictors_are_routers_with_one_repr_clone_and_fitted_check():
    knn = KNNPredictor(k=3)
    assert isinstance(knn, Router) and isinstance(knn, CorrectnessPredictor)
    assert repr(knn) == "KNNPredictor(k=3)"
    assert repr(SklearnPredictor(LogisticRegression(C=2.0))) == "SklearnPredictor(estimator=LogisticRegression(C=2.0))"
    assert knn.set_params(k=4).k == 4
    with pytest.raises(ConfigError, match="no parameter 'kk'"):
        knn.set_params(kk=1)
    copy = clone(SklearnPredictor(LogisticRegression(C=2.0)))  # scikit-learn's clone, through get_params
    assert type(copy) is SklearnPredictor and copy.estimator.C == 2.0
    fitted = KNNPredictor(k=2).fit(Prompts(embeddings=X), Y)
    assert not hasattr(unfitted_copy(fitted), "correct_") and unfitted_copy(fitted).k == 2
    with pytest.raises(NotFittedError, match="KNNPredictor is not fitted"):
        KNNPredictor().predict_quality(Prompts(embeddings=QUERY))
    with pytest.raises(NotFittedError, match="SklearnPredictor is not fitted"):
        SklearnPredictor(LogisticRegression()).predict_quality(Prompts(embeddings=QUERY))


def test_the_prompts_form_gives_the_hand_worked_estimates_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        knn = KNNPredictor(k=2).fit(Prompts(embeddings=X), Y)
        np.testing.assert_array_equal(knn.predict_quality(Prompts(embeddings=QUERY)), [[0.5, 0.5]])
        counts = knn.predict_counts(Prompts(embeddings=QUERY))
    np.testing.assert_array_equal(counts.hits, [[1, 1]])
    np.testing.assert_array_equal(counts.found, [[2, 2]])


def _old_call(call, new_call: str):
    """Run ``call`` expecting exactly one FutureWarning that names ``new_call`` and points at this file."""
    with pytest.warns(FutureWarning) as caught:
        out = call()
    assert len(caught) == 1, [str(w.message) for w in caught]
    assert f"call {new_call}" in str(caught[0].message)
    assert caught[0].filename == __file__  # the warning names the caller's line, not the library's
    return out


def test_the_array_form_still_works_with_a_warning_naming_the_new_call():
    knn = _old_call(lambda: KNNPredictor(k=2).fit(X, Y), "KNNPredictor.fit(Prompts(embeddings=vectors), correct)")
    assert hasattr(knn, "correct_")
    g = _old_call(lambda: knn.predict(QUERY), "KNNPredictor.predict_quality(Prompts(embeddings=vectors))")
    np.testing.assert_array_equal(g, [[0.5, 0.5]])
    counts = _old_call(lambda: knn.predict_counts(QUERY), "KNNPredictor.predict_counts(Prompts(embeddings=vectors))")
    np.testing.assert_array_equal(counts.g, [[0.5, 0.5]])
    # The scikit-learn adapter too: old and new forms give the same estimates.
    x = np.random.default_rng(0).normal(size=(30, 3)).astype(np.float32)
    y = np.stack([(x[:, 0] > 0), (x[:, 1] > 0)], 1).astype(np.float32)
    old = _old_call(lambda: SklearnPredictor(LogisticRegression()).fit(x, y),
                    "SklearnPredictor.fit(Prompts(embeddings=vectors), correct)")
    new = SklearnPredictor(LogisticRegression()).fit(Prompts(embeddings=x), y)
    np.testing.assert_array_equal(_old_call(lambda: old.predict(x), "SklearnPredictor.predict_quality("
                                            "Prompts(embeddings=vectors))"),
                                  new.predict_quality(Prompts(embeddings=x)))


def test_predict_quality_refuses_an_array_and_prompts_without_embeddings_with_the_fix():
    knn = KNNPredictor(k=2).fit(Prompts(embeddings=X), Y)
    with pytest.raises(TypeError, match=r"takes a routereval.routers.Prompts, got ndarray; pass Prompts\(embeddings"):
        knn.predict_quality(QUERY)
    with pytest.raises(ValueError, match="reads prompts.embeddings, which is None"):
        knn.predict_quality(Prompts(texts=["a question"]))
    with pytest.raises(ValueError, match="correctness must be 0, 1 or NaN"):
        KNNPredictor().fit(Prompts(embeddings=X), np.full((3, 2), 0.5))


@pytest.mark.parametrize("make", [
    lambda: KNNPredictor(k=3),
    lambda: SklearnPredictor(LogisticRegression()),
    pytest.param(lambda: MLPPredictor(hidden=8, epochs=3, n_threads=1), marks=needs_torch),
], ids=["knn", "sklearn", "mlp"])
def test_nan_is_given_for_a_model_with_no_record_and_only_there(make):
    x = np.random.default_rng(1).normal(size=(40, 3)).astype(np.float32)
    y = np.stack([x[:, 0] > 0, x[:, 1] > 0, np.zeros(40, bool)], 1).astype(np.float32)
    y[:, 2] = np.nan  # no record at all
    g = make().fit(Prompts(embeddings=x), y).predict_quality(Prompts(embeddings=x))
    assert g.shape == (40, 3)
    assert np.isnan(g[:, 2]).all()
    assert np.isfinite(g[:, :2]).all() and g[:, :2].min() >= 0 and g[:, :2].max() <= 1


def test_model_choice_skips_the_nan_of_a_model_with_no_training_record():
    # Four tasks of 15 prompts. m2 answers every prompt of t0 right and has no other record: holding t0 out, the
    # predictors have nothing to learn m2 from (NaN). An argmax that read NaN as the largest value would pick it;
    # model choice keeps it out of the candidates (no training record), so no rule, the oracle included, does.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 3)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    task_of = np.repeat(np.arange(4), 15)
    y = np.stack([x[:, 0] > 0, x[:, 1] > 0, np.ones(60, bool)], 1).astype(np.float32)
    y[task_of != 0, 2] = np.nan
    data = task_data_of(x, task_of, y)
    for predictor in (KNNPredictor(), SklearnPredictor(LogisticRegression())):
        fold = next(f for f in leave_one_task_out(data, predictor) if f.task == "t0")
        assert np.isnan(fold.estimates.g[:, 2]).all() and np.isfinite(fold.estimates.g[:, :2]).all()
        assert fold.true_accuracy[:2].max() < 1.0 and not fold.candidates[2]
        assert 2 not in fold.choices.values()
        assert 2 not in fold.m_star.values()
        assert fold.pointwise is not None and 2 not in set(fold.pointwise.tolist())


def test_evaluation_refuses_a_predictors_nan_before_any_policy_reads_it():
    # m3 has records on the validation and test prompts only, so the pool's training labels hold none of it.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((90, 4)).astype(np.float32)
    values = (x + 0.5 * rng.standard_normal((90, 4)) > 0).astype(np.float32)
    prompts = pd.DataFrame({"prompt_id": [f"p{i}" for i in range(90)], "task": ["t"] * 90})

    def bench(v: np.ndarray) -> Benchmark:
        return Benchmark.from_values("small", v, prompts, [f"m{k}" for k in range(4)])

    train = rv.router_datasets(bench(values), sizes=[4], protocol="clean").split.train
    values[train, 3] = np.nan
    data = rv.router_datasets(bench(values), sizes=[4], protocol="clean")
    assert np.array_equal(data.split.train, train) and data.pools  # the split does not depend on the values
    with pytest.raises(ValueError, match="KNNPredictor.* non-finite value .*column 3"):
        rv.evaluate(KNNPredictor(), data, x, n_boot=10, seed=5)
