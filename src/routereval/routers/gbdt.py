"""Gradient-boosted trees per candidate on a reduced prompt embedding.

Source: the tree-ensemble routers of RouterBench-style studies and LLMRouter's
classical baselines: for each candidate, P(correct | prompt) from scikit-learn's
``HistGradientBoostingClassifier`` fitted on the candidate's present records.

Cheap by design: the embedding is first reduced to ``n_components`` principal
components (fitted on the training prompts; trees split one feature at a time,
so hundreds of near-isotropic embedding dimensions mostly cost time), and
each candidate's booster is small (``max_iter`` rounds of trees with at most
15 leaves and 20 prompts per leaf, learning rate 0.1). Labels between 0 and 1
enter as two weighted rows (as in ``logistic``); a candidate whose records are
all one class gets the constant (sum + 0.5) / (records + 1).

``n_jobs`` boosters are fitted side by side in threads (scikit-learn's
meaning: -1 = every core); 1 by default, as a sweep worker has one core.

Chosen on the validation split: each candidate's number of boosting rounds,
the one with the lowest log-loss on its validation records (early stopping on
the validation split, not on a slice of train); without a validation split
every round is used.

Learned state: the projection (``mean_``, ``components_``) as arrays and the
fitted boosters as scikit-learn objects in ``models_`` (their trees are not
flattened into arrays); the router pickles, and a serving artifact that saves
only arrays cannot hold it.
"""

from __future__ import annotations

import numpy as np

from routereval.routers._tuning import validation_arrays
from routereval.routers.base import (
    Labelled,
    Prompts,
    Router,
    check_integer,
    register,
    sigmoid,
)
from routereval.routers.checks import check_labels, embeddings_of
from routereval.routers.logistic import as_classes, constant_logit

_CLIP = 1e-7


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    """Mean binary cross-entropy of probabilities ``p`` against labels ``y`` in [0, 1]."""
    p = np.clip(p, _CLIP, 1 - _CLIP)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def best_rounds(model, zv: np.ndarray | None, yv: np.ndarray | None) -> int:
    """Boosting rounds with the lowest validation log-loss (all of them without validation records)."""
    if zv is None or yv is None or not (~np.isnan(yv)).any():
        return int(model.n_iter_)
    present = ~np.isnan(yv)
    losses = [log_loss(p[:, 1], yv[present]) for p in model.staged_predict_proba(zv[present])]
    return int(np.argmin(losses)) + 1


def fit_candidate(
    z: np.ndarray, y: np.ndarray, zv: np.ndarray | None, yv: np.ndarray | None, settings: dict
) -> tuple[object | None, float, int]:
    """One candidate's booster, constant logit (for a one-class column) and validated number of rounds."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    present = ~np.isnan(y)
    constant = constant_logit(y[present])
    if constant is not None:
        return None, constant, 0
    rows, classes, weights = as_classes(z[present], y[present])
    # OpenMP's thread count is per calling thread: a limit set by the caller does not reach a worker thread.
    with threadpool_limits(limits=1, user_api="openmp"):
        model = HistGradientBoostingClassifier(
            max_iter=settings["max_iter"], learning_rate=settings["learning_rate"], max_leaf_nodes=15,
            min_samples_leaf=20, early_stopping=False, random_state=settings["random_state"],
        ).fit(rows, classes, sample_weight=weights)
        return model, 0.0, best_rounds(model, zv, yv)


@register
class GBDTRouter(Router):
    """Per-candidate histogram gradient boosting on principal components; rounds chosen on validation."""

    name = "gbdt"
    inputs = "embeddings"

    def __init__(
        self, n_components: int = 32, max_iter: int = 50, learning_rate: float = 0.1, random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.n_components = n_components
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.n_jobs = n_jobs

    def check_params(self) -> None:
        if check_integer(self.name, "n_jobs", self.n_jobs, -1) == 0:
            raise ValueError(f"router {self.name!r}: n_jobs must be a number of threads >= 1 or -1 (every core), got 0")

    def fit(self, prompts: Prompts, labels: np.ndarray, validation: Labelled | None = None) -> GBDTRouter:
        from joblib import Parallel, delayed
        from sklearn.decomposition import PCA
        from threadpoolctl import threadpool_limits

        self.check_params()
        x = embeddings_of(prompts, self.name).astype(np.float64)
        y = check_labels(labels, len(x))
        if int(self.max_iter) < 1 or int(self.n_components) < 1:
            raise ValueError(f"max_iter and n_components must be at least 1, got {self.max_iter}, {self.n_components}")
        val = validation_arrays(validation, self.name, x.shape[1], y.shape[1])
        # One OpenMP thread per booster: ``n_jobs`` boosters run side by side instead, which keeps
        # every core busy on small boosters where OpenMP's per-node overhead dominates.
        with threadpool_limits(limits=1):
            k = min(int(self.n_components), x.shape[1], len(x))
            pca = PCA(n_components=k, random_state=self.random_state).fit(x)
            self.mean_, self.components_ = pca.mean_.copy(), pca.components_.copy()
            z = self._project(x)
            zv = None if val is None else self._project(val[0].astype(np.float64))
            settings = {"max_iter": int(self.max_iter), "learning_rate": float(self.learning_rate),
                        "random_state": self.random_state}
            # Threads, not processes: the boosters' histogram and split loops release the GIL, and
            # threads share z without copying it.
            fitted = Parallel(n_jobs=self.n_jobs, prefer="threads")(
                delayed(fit_candidate)(z, y[:, i], zv, None if val is None else val[1][:, i], settings)
                for i in range(y.shape[1]))
        models, constants, rounds = (list(part) for part in zip(*fitted)) if fitted else ([], [], [])
        self.models_, self.constants_, self.rounds_ = models, np.array(constants), np.array(rounds, dtype=np.int64)
        return self

    def _project(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean_) @ self.components_.T

    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        self._check_fitted("models_")
        z = self._project(embeddings_of(prompts, self.name, self.components_.shape[1]).astype(np.float64))
        out = np.empty((len(z), len(self.models_)))
        for i, model in enumerate(self.models_):
            if model is None:
                out[:, i] = sigmoid(np.full(len(z), self.constants_[i]))
                continue
            for stage, p in enumerate(model.staged_predict_proba(z), 1):
                if stage == self.rounds_[i]:
                    out[:, i] = p[:, 1]
                    break
        return out
