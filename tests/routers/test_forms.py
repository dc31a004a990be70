"""The three forms a router can take give the same numbers; the docs' examples of them run.

Forms: a ``Router`` subclass, a plain object with ``fit`` / ``predict_quality``,
and a scikit-learn style estimator on arrays wrapped by ``from_sklearn``.
E_p is checked against the entropy of the normalised estimates worked out
here, not against what the code printed.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from support.processes import REPO

import routereval as rv
from routereval.records import Benchmark
from routereval.routers import Prompts, Router, from_sklearn

#: Row fields that must agree exactly between forms of one model.
SAME = ("mean_score", "mean_score_lo", "mean_score_hi", "vs_reference", "vs_best_single", "proba_entropy", "choice_entropy", "vs_best_single_train", "gap_closed", "n_test", "selection")


def docs_examples() -> list[str]:
    """The Python blocks of docs/routers.md's "Writing your own router", in order."""
    text = (REPO / "docs" / "routers.md").read_text(encoding="utf-8")
    section = text.split("## Writing your own router", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def entropy_by_hand(q: np.ndarray) -> float:
    """Mean over rows of H(q / row sum) in bits, 0 log 0 = 0; a row of zeros is uniform (log2 m bits)."""
    out = []
    for row in q:
        if row.sum() == 0:
            out.append(np.log2(len(row)))
            continue
        pi = row[row > 0] / row.sum()
        out.append(-(pi * np.log2(pi)).sum())
    return float(np.mean(out))


@pytest.mark.slow  # runs the docs' examples end to end
def test_the_docs_examples_run_and_the_three_forms_give_identical_rows(mirror):
    blocks = docs_examples()
    assert len(blocks) == 5, "setup, three forms and several routers at once"
    ns: dict = {}
    for block in blocks:
        exec(compile(block, "docs/routers.md", "exec"), ns)
    data, X = ns["data"], ns["X"]
    forms = [ns["subclass"], ns["plain"], ns["wrapped"]]
    assert [r["router"] for f in forms for r in f.rows[:1]] == ["RidgeRouter", "PlainRidge", "RidgeEstimator"]
    for f in forms[1:]:
        for mine, theirs in zip(forms[0].rows, f.rows, strict=True):
            assert {k: mine[k] for k in SAME} == {k: theirs[k] for k in SAME}
    for row, pool in zip(forms[0].rows, data.pools, strict=True):
        weights = ns["fit_ridge"](X[pool.train.positions], pool.train.labels)
        q = ns["predict_ridge"](X[pool.test.positions], weights)
        assert row["proba_entropy"] == pytest.approx(entropy_by_hand(q), abs=1e-12)
        assert row["proba_entropy"] > 0.5  # not the one-hot stand-in (0) the plain form once got
    several = ns["result"]
    labels = [r["router"] for r in several.rows]
    n = len(data.pools)
    assert labels == ["ridge"] * n + ["knn"] * n + ["best-single"] * n
    for mine, theirs in zip(forms[0].rows, several.rows[:n], strict=True):
        assert {k: mine[k] for k in SAME} == {k: theirs[k] for k in SAME}
    assert list(several.table()["router"]) == ["ridge", "knn", "best-single"]


# -- on a small synthetic matrix (fast, no mirror) ------------------------------------------


def small_data(n: int = 120, m: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, m)).astype(np.float32)
    values = (x + 0.5 * rng.standard_normal((n, m)) > 0).astype(np.float32)
    prompts = pd.DataFrame({"prompt_id": [f"p{i}" for i in range(n)], "task": ["t"] * n})
    bench = Benchmark.from_values("small", values, prompts, [f"m{k}" for k in range(m)])
    return rv.router_datasets(bench, sizes=[3], protocol="clean"), x


def fixed_estimates(n: int, m: int) -> np.ndarray:
    q = np.zeros((n, m))
    q[:, 0], q[:, 1] = 0.6, 0.2
    return q


class FixedSubclass(Router):
    def fit(self, prompts, labels):
        self.m_ = labels.shape[1]
        return self

    def predict_quality(self, prompts):
        return fixed_estimates(len(prompts), self.m_)


class FixedPlain:
    def fit(self, prompts, labels):
        self.m_ = labels.shape[1]
        return self

    def predict_quality(self, prompts):
        return fixed_estimates(len(prompts), self.m_)


class FixedEstimator:
    def fit(self, X, Y):
        self.m_ = Y.shape[1]
        return self

    def predict(self, X):
        return fixed_estimates(len(X), self.m_)


def test_a_plain_object_without_predict_proba_gets_the_entropy_of_its_normalised_estimates():
    data, x = small_data()
    # pi = (0.75, 0.25, 0) on every prompt: H = -(0.75 log2 0.75 + 0.25 log2 0.25), by hand.
    by_hand = -(0.75 * np.log2(0.75) + 0.25 * np.log2(0.25))
    for router in (FixedSubclass(), FixedPlain(), from_sklearn(FixedEstimator())):
        for row in rv.evaluate(router, data, x, n_boot=10).rows:
            assert row["proba_entropy"] == pytest.approx(by_hand, abs=1e-12), type(router).__name__
            assert row["choice_entropy"] == 0


def test_an_estimator_on_arrays_passed_unwrapped_is_refused_with_the_fix():
    from sklearn.linear_model import Ridge

    data, x = small_data()
    with pytest.raises(TypeError, match=r"Ridge looks like a scikit-learn estimator.*routereval\.routers\.from_sklearn"):
        rv.evaluate(Ridge(), data, x)


class ArraysRouter:
    """Written scikit-learn style by mistake: fit reads its argument as an array."""

    def fit(self, X, y):
        self.mean_ = np.asarray(X, dtype=float).mean(axis=0)
        return self

    def predict_quality(self, X):
        return np.full((len(X), 3), 0.5)


def test_a_router_that_reads_prompts_as_an_array_is_told_what_fit_receives():
    data, x = small_data()
    with pytest.raises(TypeError, match=r"ArraysRouter\.fit\(\).*receives a routereval\.routers\.Prompts.*from_sklearn"):
        rv.evaluate(ArraysRouter(), data, x)


class ColumnMeans:
    """Predicts each output column's training mean for every prompt (a 1-d y gives one column)."""

    def fit(self, X, Y):
        self.means_ = np.atleast_1d(np.asarray(Y, dtype=float).mean(axis=0))
        return self

    def predict(self, X):
        return np.tile(self.means_, (len(X), 1)) if self.means_.size > 1 else np.full(len(X), self.means_[0])


def test_the_wrapper_refuses_missing_labels_by_default_and_fits_per_candidate_on_request():
    x = np.arange(12, dtype=float).reshape(6, 2)
    labels = np.array([[1, 0, 1], [0, np.nan, 1], [1, 1, np.nan], [1, 0, 0], [np.nan, 1, 1], [0, 0, 1.0]])
    with pytest.raises(ValueError, match=r"3 missing records.*missing='per-candidate'"):
        from_sklearn(ColumnMeans()).fit(Prompts(embeddings=x), labels)
    router = from_sklearn(ColumnMeans(), missing="per-candidate").fit(Prompts(embeddings=x), labels)
    assert len(router.estimators_) == 3
    # Each candidate's mean over its present labels, by hand: 3/5, 2/5, 4/5.
    np.testing.assert_allclose(router.predict_quality(Prompts(embeddings=x[:2])), [[0.6, 0.4, 0.8]] * 2)


def test_the_wrapper_reads_class_one_from_a_multi_output_classifier():
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(1)
    x = rng.standard_normal((20, 3))
    labels = (rng.random((20, 3)) < [0.2, 0.5, 0.9]).astype(float)
    # With every training prompt as a neighbour, P(class 1) is each candidate's training mean.
    router = from_sklearn(KNeighborsClassifier(n_neighbors=20)).fit(Prompts(embeddings=x), labels)
    np.testing.assert_allclose(router.predict_quality(Prompts(embeddings=x[:4])), np.tile(labels.mean(axis=0), (4, 1)))


class TooHigh:
    def fit(self, X, Y):
        self.m_ = Y.shape[1]
        return self

    def predict(self, X):
        return np.full((len(X), self.m_), 1.25)


def test_the_wrapper_clips_estimates_to_the_unit_interval_unless_told_not_to():
    data, x = small_data()
    clipped = from_sklearn(TooHigh()).fit(Prompts(embeddings=x[:10]), np.ones((10, 3)))
    assert (clipped.predict_quality(Prompts(embeddings=x[:2])) == 1.0).all()
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        rv.evaluate(from_sklearn(TooHigh(), clip=False), data, x, n_boot=10)


def test_the_wrapper_checks_its_arguments_when_made_and_leaves_the_estimator_unfitted():
    with pytest.raises(ValueError, match=r"method must be one of auto, predict, predict_proba, got 'decide'"):
        from_sklearn(ColumnMeans(), method="decide")
    with pytest.raises(ValueError, match=r"missing must be one of refuse, per-candidate"):
        from_sklearn(ColumnMeans(), missing="zero")
    with pytest.raises(ValueError, match=r"estimator must have fit\(X, Y\)"):
        from_sklearn(object())
    with pytest.raises(ValueError, match=r"estimator has no predict_proba\(X\)"):
        from_sklearn(ColumnMeans(), method="predict_proba")
    given = ColumnMeans()
    from_sklearn(given).fit(Prompts(embeddings=np.zeros((3, 2))), np.ones((3, 2)))
    assert not hasattr(given, "means_")  # a clone was fitted
