"""One way to copy an estimator before a fit: routers, correctness predictors and scikit-learn estimators alike.

Every fit in evaluation (one per seed), in ``from_sklearn`` (one per candidate) and in model
choice (one per fold) starts from :func:`routereval.routers.base.unfitted_copy`, so the object a
user hands in is never fitted in place and every copy starts from the same settings.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression

from routereval.routers.base import Prompts, Router, make_router, unfitted_copy
from routereval.selection.predictors import KNNPredictor, MLPPredictor, SklearnPredictor

EYE = np.eye(3, dtype=np.float32)


def test_a_fitted_router_gives_an_unfitted_copy_with_its_parameters():
    router = make_router("knn", k=2).fit(Prompts(embeddings=EYE), EYE.astype(float))
    copy = unfitted_copy(router)
    assert type(copy) is type(router) and copy is not router
    assert copy.get_params() == {"k": 2}
    assert hasattr(router, "train_embeddings_") and not hasattr(copy, "train_embeddings_")


def test_a_routers_parameters_are_handed_over_as_they_are():
    # The ensemble copies its members itself at fit; the copy passes the same member objects on.
    members = [make_router("knn", k=1), make_router("knn", k=2)]
    copy = unfitted_copy(make_router("ensemble", members=members, random_state=4))
    assert copy.members is members and copy.random_state == 4


def test_a_predictor_copies_its_settings_not_its_state():
    fitted = KNNPredictor(k=3).fit(Prompts(embeddings=EYE), EYE)
    copy = unfitted_copy(fitted)
    assert copy.get_params() == {"k": 3} and not hasattr(copy, "correct_") and hasattr(fitted, "correct_")
    mlp = MLPPredictor(hidden=7, epochs=2, lr=0.5, batch_size=3, weight_decay=0.1, seed=9, n_threads=1)
    assert unfitted_copy(mlp).get_params() == {"hidden": 7, "epochs": 2, "lr": 0.5, "batch_size": 3,
                                              "weight_decay": 0.1, "seed": 9, "n_threads": 1}


def test_a_scikit_learn_estimator_goes_through_sklearn_clone():
    fitted = LogisticRegression(C=0.25).fit(np.eye(4), [0, 1, 0, 1])
    copy = unfitted_copy(fitted)
    assert copy.get_params() == fitted.get_params() and not hasattr(copy, "coef_")

    class Frozen(BaseEstimator):
        """An estimator that says how it is cloned (as sklearn's FrozenEstimator does): itself."""

        def __sklearn_clone__(self):
            return self

    frozen = Frozen()
    assert unfitted_copy(frozen) is frozen
    wrapped = SklearnPredictor(LogisticRegression(C=3.0))
    assert unfitted_copy(wrapped).estimator.C == 3.0


def test_objects_that_cannot_be_rebuilt_are_deep_copied():
    class Plain:
        """A router with fit / predict_quality and no get_params."""

        def __init__(self):
            self.table = [1, 2]

    class Odd(Router):
        """get_params names ``k``, but __init__ takes ``size``: rebuilding from the parameters fails."""

        def __init__(self, size: int = 1) -> None:
            self.size = size

        def get_params(self, deep: bool = True) -> dict:
            return {"k": self.size}

    plain = Plain()
    copy = unfitted_copy(plain)
    assert type(copy) is Plain and copy.table == [1, 2] and copy.table is not plain.table
    odd = Odd(size=5)
    assert unfitted_copy(odd).size == 5 and unfitted_copy(odd) is not odd


def test_copying_a_router_does_not_import_scikit_learn():
    # scikit-learn takes over a second to import; a sweep of knn routers never needs it.
    code = ("import sys; from routereval.routers.base import make_router, unfitted_copy; "
            "unfitted_copy(make_router('knn', k=3)); print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_evaluation_fits_a_seeded_copy_and_leaves_the_router_given_alone():
    import pandas as pd

    import routereval as rv
    from routereval.records import Benchmark

    rng = np.random.default_rng(0)
    x = rng.standard_normal((90, 4)).astype(np.float32)
    values = (x + 0.5 * rng.standard_normal((90, 4)) > 0).astype(np.float32)
    prompts = pd.DataFrame({"prompt_id": [f"p{i}" for i in range(90)], "task": ["t"] * 90})
    data = rv.router_datasets(Benchmark.from_values("small", values, prompts, [f"m{k}" for k in range(4)]),
                              sizes=[3], protocol="clean")
    given = make_router("cluster", n_clusters=2, random_state=99)
    rows = rv.evaluate(given, data, x, n_boot=10, seed=5).rows
    assert given.random_state == 99 and not [a for a in vars(given) if a.endswith("_")]
    # The evaluation's seed reaches the copy: a router built with that seed gives the same rows.
    same = rv.evaluate(make_router("cluster", n_clusters=2, random_state=5), data, x, n_boot=10, seed=5).rows
    keys = ("mean_score", "vs_reference", "proba_entropy", "choice_entropy")
    assert [[r[k] for k in keys] for r in rows] == [[r[k] for k in keys] for r in same]
