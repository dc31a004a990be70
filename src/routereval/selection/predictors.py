"""Correctness predictors g_m(x): the probability that model m answers prompt x correctly.

A correctness predictor is a router (the contract of :mod:`routereval.routers.base`):
``fit(prompts, labels)`` reads ``prompts.embeddings`` (n prompt vectors) and the
n x M correctness matrix (1 / 0, NaN where a model has no record), and
``predict_quality(prompts)`` returns n x M estimates of P(correct) in [0, 1].
Each model learns only from the prompts where it has a record; a model with no
record at all gets NaN, the one exception the router contract allows. Model
choice reads these estimates with its own rules, which skip NaN
(:mod:`routereval.selection.choice`), never through a policy.

* :class:`KNNPredictor` (the default, as published): cosine kNN, k = 5. Its
  extra :meth:`~KNNPredictor.predict_counts` keeps the integer counts behind
  each estimate, for exact scores.
* :class:`MLPPredictor`: the paper's alternative, a network with two hidden
  layers of 1,500 units and one sigmoid output per model, trained with binary
  cross-entropy on the records that exist. torch is imported inside ``fit``.
* :class:`SklearnPredictor`: any scikit-learn classifier with
  ``predict_proba``, one unfitted copy per model.

>>> from routereval.routers import Prompts
>>> g = KNNPredictor(k=5).fit(Prompts(embeddings=train_vectors), correct).predict_quality(
...     Prompts(embeddings=new_vectors))                                          # doctest: +SKIP

The array form of earlier releases, ``fit(vectors, correct)``,
``predict(vectors)`` and ``predict_counts(vectors)``, still works in this
release with a FutureWarning naming the call that replaces it.
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from routereval.errors import ConfigError
from routereval.neighbours import nearest_neighbours
from routereval.routers.base import Prompts, Router, require, unfitted_copy
from routereval.selection.scores import Estimates

PREDICTORS = ("knn", "mlp")


def _deprecated(predictor: Router, old: str, new: str, stacklevel: int = 3) -> None:
    """Warn that ``old`` (an array-form call of earlier releases) is now ``new``.

    ``stacklevel`` counts this function, then the callers up to the user's line (3: called by the public method).
    """
    who = type(predictor).__name__
    warnings.warn(f"{who}.{old} is deprecated and will be removed in the next release; call {who}.{new}",
                  FutureWarning, stacklevel=stacklevel)


def _vectors(predictor: Router, prompts: Prompts, method: str) -> np.ndarray:
    """``prompts.embeddings`` as a float32 n x d array, or an error naming ``method`` and what it expected."""
    who = type(predictor).__name__
    if not isinstance(prompts, Prompts):
        raise TypeError(f"{who}.{method}() takes a routereval.routers.Prompts, got {type(prompts).__name__}; "
                        f"pass Prompts(embeddings=vectors)")
    if prompts.embeddings is None:
        raise ValueError(f"{who}.{method}() reads prompts.embeddings, which is None")
    x = np.asarray(prompts.embeddings, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"prompt vectors must be a 2-d array, got shape {x.shape}")
    return x


def _correctness(labels: np.ndarray, n: int) -> np.ndarray:
    y = np.asarray(labels, dtype=np.float32)
    if y.ndim != 2 or len(y) != n:
        raise ValueError(f"correctness must be {n} x models, got shape {y.shape}")
    present = ~np.isnan(y)
    if not np.all((y[present] == 0) | (y[present] == 1)):
        raise ValueError("correctness must be 0, 1 or NaN (binarise continuous scores first)")
    return y


def _training_data(predictor: Router, prompts: Prompts, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(vectors, correctness) from ``fit``'s arguments, checked here once; vectors in place of the
    :class:`Prompts` are the array form of earlier releases, read with a FutureWarning."""
    if not isinstance(prompts, Prompts):
        _deprecated(predictor, "fit(vectors, correct)", "fit(Prompts(embeddings=vectors), correct)", stacklevel=4)
        prompts = Prompts(embeddings=prompts)
    x = _vectors(predictor, prompts, "fit")
    return x, _correctness(labels, len(x))


class CorrectnessPredictor(Router, ABC):
    """A router learning 0/1 correctness, whose estimates hold NaN for a model with no record to learn from.

    Subclasses implement ``fit(prompts, labels)`` and ``predict_quality(prompts)``; ``get_params`` /
    ``set_params``, ``__repr__``, the fitted check and :func:`~routereval.routers.base.unfitted_copy` are the
    :class:`~routereval.routers.base.Router`'s.
    """

    @abstractmethod
    def fit(self, prompts: Prompts, labels: np.ndarray) -> CorrectnessPredictor:
        """Learn from ``prompts.embeddings`` and their n x M correctness (1 / 0, NaN = no record)."""

    @abstractmethod
    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        """n x M estimates of P(correct); NaN for models that had no record to learn from."""

    def predict(self, vectors: np.ndarray) -> np.ndarray:
        """Deprecated (the array form of earlier releases): ``predict_quality(Prompts(embeddings=vectors))``."""
        _deprecated(self, "predict(vectors)", "predict_quality(Prompts(embeddings=vectors))")
        return self.predict_quality(Prompts(embeddings=vectors))


class KNNPredictor(CorrectnessPredictor):
    """g_m(x) = mean correctness of m on the ``k`` prompts most cosine-similar to x among those m has a record on."""

    def __init__(self, k: int = 5) -> None:
        self.k = k

    def check_params(self) -> None:
        if int(self.k) < 1:
            raise ValueError(f"k must be at least 1, got {self.k}")

    def fit(self, prompts: Prompts, labels: np.ndarray) -> KNNPredictor:
        self.check_params()
        self.vectors_, self.correct_ = _training_data(self, prompts, labels)
        return self

    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        return self._counts(_vectors(self, prompts, "predict_quality")).g

    def predict_counts(self, prompts: Prompts) -> Estimates:
        """As :meth:`predict_quality`, keeping the integers (correct neighbours, neighbours) for exact scores."""
        if not isinstance(prompts, Prompts):
            _deprecated(self, "predict_counts(vectors)", "predict_counts(Prompts(embeddings=vectors))")
            prompts = Prompts(embeddings=prompts)
        return self._counts(_vectors(self, prompts, "predict_counts"))

    def _counts(self, x: np.ndarray) -> Estimates:
        self._check_fitted("correct_")
        have = ~np.isnan(self.correct_)
        hits = np.zeros((len(x), have.shape[1]), dtype=np.int64)
        found = np.zeros((len(x), have.shape[1]), dtype=np.int64)
        # Models with the same records share one neighbour search.
        patterns: dict[bytes, list[int]] = {}
        for m in range(have.shape[1]):
            patterns.setdefault(np.packbits(have[:, m]).tobytes(), []).append(m)
        for models in patterns.values():
            rows = np.flatnonzero(have[:, models[0]])
            if rows.size == 0:
                continue
            kk = min(int(self.k), rows.size)
            idx = rows[nearest_neighbours(x, self.vectors_[rows], kk)]
            hits[:, models] = (self.correct_[idx][:, :, models] == 1).sum(axis=1)
            found[:, models] = kk
        return Estimates.from_counts(hits, found)


class SklearnPredictor(CorrectnessPredictor):
    """Any scikit-learn classifier with ``predict_proba``: one copy fitted per model on its records.

    A model whose records are all correct (or all wrong) gets that constant.
    """

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def check_params(self) -> None:
        if not hasattr(self.estimator, "predict_proba"):
            raise ValueError(f"{type(self.estimator).__name__} has no predict_proba")

    def fit(self, prompts: Prompts, labels: np.ndarray) -> SklearnPredictor:
        self.check_params()
        x, y = _training_data(self, prompts, labels)
        self.fitted_: list[Any] = []
        for m in range(y.shape[1]):
            rows = np.flatnonzero(~np.isnan(y[:, m]))
            labels_m = y[rows, m].astype(int)
            if rows.size == 0:
                self.fitted_.append(math.nan)
            elif np.all(labels_m == labels_m[0]):
                self.fitted_.append(float(labels_m[0]))
            else:
                self.fitted_.append(unfitted_copy(self.estimator).fit(x[rows], labels_m))
        return self

    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        self._check_fitted("fitted_")
        x = _vectors(self, prompts, "predict_quality")
        out = np.empty((len(x), len(self.fitted_)))
        for m, est in enumerate(self.fitted_):
            if isinstance(est, float):
                out[:, m] = est
            else:
                proba = est.predict_proba(x)
                out[:, m] = proba[:, list(est.classes_).index(1)]
        return out


class MLPPredictor(CorrectnessPredictor):
    """d -> hidden -> ReLU -> hidden -> ReLU -> M sigmoid outputs, binary cross-entropy over present records.

    Adam with mini-batches; the weights are kept as NumPy arrays, so ``predict_quality``
    and pickling need no torch. ``n_threads`` caps torch's threads (None: torch's default).
    """

    requires = ("torch",)

    def __init__(
        self,
        hidden: int = 1500,
        epochs: int = 10,
        lr: float = 1e-3,
        batch_size: int = 128,
        weight_decay: float = 0.0,
        seed: int = 0,
        n_threads: int | None = None,
    ) -> None:
        self.hidden = hidden
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.seed = seed
        self.n_threads = n_threads

    def fit(self, prompts: Prompts, labels: np.ndarray) -> MLPPredictor:
        torch = require("torch", "the mlp predictor")
        from torch import nn

        x, y = _training_data(self, prompts, labels)
        threads_before = torch.get_num_threads()
        if self.n_threads is not None:
            torch.set_num_threads(int(self.n_threads))
        try:
            self._train(torch, nn, x, y)
        finally:
            torch.set_num_threads(threads_before)
        self.trained_ = (~np.isnan(y)).any(axis=0)
        return self

    def _train(self, torch: Any, nn: Any, x: np.ndarray, y: np.ndarray) -> None:
        torch.manual_seed(int(self.seed))
        gen = torch.Generator().manual_seed(int(self.seed))
        h = int(self.hidden)
        net = nn.Sequential(nn.Linear(x.shape[1], h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, y.shape[1]))
        opt = torch.optim.Adam(net.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay))
        xt = torch.from_numpy(x)
        present = torch.from_numpy(~np.isnan(y))
        yt = torch.from_numpy(np.nan_to_num(y, nan=0.0))
        loss_fn = nn.BCEWithLogitsLoss(reduction="none")
        n, bs = len(xt), int(self.batch_size)
        self.losses_: list[float] = []
        for _ in range(int(self.epochs)):
            perm = torch.randperm(n, generator=gen)
            total, seen = 0.0, 0.0
            for a in range(0, n, bs):
                rows = perm[a : a + bs]
                mask = present[rows]
                weight = mask.sum()
                if weight == 0:
                    continue
                # Missing records contribute nothing to the loss.
                loss = (loss_fn(net(xt[rows]), yt[rows]) * mask).sum() / weight
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.item() * weight.item()
                seen += weight.item()
            self.losses_.append(total / max(seen, 1.0))
        linears = [layer for layer in net if isinstance(layer, nn.Linear)]
        self.weights_ = [(lin.weight.detach().numpy().copy(), lin.bias.detach().numpy().copy()) for lin in linears]

    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        self._check_fitted("weights_")
        h = _vectors(self, prompts, "predict_quality")
        for i, (w, b) in enumerate(self.weights_):
            if i:
                h = np.maximum(h, 0.0)
            h = h @ w.T + b
        out = 1.0 / (1.0 + np.exp(-h.astype(np.float64)))
        out[:, ~self.trained_] = np.nan
        return out


def make_predictor(name: str, *, k: int = 5, seed: int = 0) -> CorrectnessPredictor:
    """A predictor by its command-line name: ``knn`` or ``mlp``."""
    if name == "knn":
        return KNNPredictor(k=k)
    if name == "mlp":
        return MLPPredictor(seed=seed)
    raise ConfigError(f"unknown predictor {name!r}; known: {', '.join(PREDICTORS)}")

