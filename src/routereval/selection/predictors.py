"""Correctness predictors g_m(x): the probability that model m answers prompt x correctly.

One predictor object serves every model at once: ``fit(vectors, correct)``
takes n prompt vectors and the n x M correctness matrix (1 / 0, NaN where a
model has no record) and ``predict(vectors)`` returns an n x M matrix of
estimates in [0, 1]. Each model learns only from the prompts where it has a
record; a model with no record at all gets NaN. The same predictors can score
prompts for per-prompt routing (argmax over models of g).

* :class:`KNNPredictor` (the default, as published): cosine kNN, k = 5.
* :class:`MLPPredictor`: the paper's alternative, a network with two hidden
  layers of 1,500 units and one sigmoid output per model, trained with binary
  cross-entropy on the records that exist. torch is imported inside ``fit``.
* :class:`SklearnPredictor`: any scikit-learn classifier with
  ``predict_proba``, one unfitted copy per model.

Estimator contract: ``__init__`` stores settings only, ``fit`` returns
``self``, learned state ends in ``_``, ``predict`` changes nothing.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from routereval.errors import ConfigError, NotFittedError
from routereval.neighbours import nearest_neighbours
from routereval.routers.base import HyperParameters, require, unfitted_copy
from routereval.selection.scores import Estimates

PREDICTORS = ("knn", "mlp")


def _check(vectors: np.ndarray, correct: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"prompt vectors must be a 2-d array, got shape {x.shape}")
    if correct is None:
        return x, None
    y = np.asarray(correct, dtype=np.float32)
    if y.ndim != 2 or len(y) != len(x):
        raise ValueError(f"correctness must be {len(x)} x models, got shape {y.shape}")
    present = ~np.isnan(y)
    if not np.all((y[present] == 0) | (y[present] == 1)):
        raise ValueError("correctness must be 0, 1 or NaN (binarise continuous scores first)")
    return x, y


class CorrectnessPredictor(HyperParameters, ABC):
    """The contract: fit on (vectors, correctness with NaN), predict n x M estimates in [0, 1]."""

    @abstractmethod
    def fit(self, vectors: np.ndarray, correct: np.ndarray) -> CorrectnessPredictor:
        """Learn from n prompt vectors and their n x M correctness (NaN = no record)."""

    @abstractmethod
    def predict(self, vectors: np.ndarray) -> np.ndarray:
        """n x M estimates of P(correct); NaN for models that had no record to learn from."""

    def _check_fitted(self, attribute: str) -> None:
        if not hasattr(self, attribute):
            raise NotFittedError(type(self).__name__)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({args})"


class KNNPredictor(CorrectnessPredictor):
    """g_m(x) = mean correctness of m on the ``k`` prompts most cosine-similar to x among those m has a record on."""

    def __init__(self, k: int = 5) -> None:
        self.k = k

    def fit(self, vectors: np.ndarray, correct: np.ndarray) -> KNNPredictor:
        if int(self.k) < 1:
            raise ValueError(f"k must be at least 1, got {self.k}")
        self.vectors_, self.correct_ = _check(vectors, correct)
        return self

    def predict(self, vectors: np.ndarray) -> np.ndarray:
        return self.predict_counts(vectors).g

    def predict_counts(self, vectors: np.ndarray) -> Estimates:
        """As :meth:`predict`, keeping the integers (correct neighbours, neighbours) for exact scores."""
        self._check_fitted("correct_")
        x, _ = _check(vectors)
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

    def fit(self, vectors: np.ndarray, correct: np.ndarray) -> SklearnPredictor:
        if not hasattr(self.estimator, "predict_proba"):
            raise ValueError(f"{type(self.estimator).__name__} has no predict_proba")
        x, y = _check(vectors, correct)
        self.fitted_: list[Any] = []
        for m in range(y.shape[1]):
            rows = np.flatnonzero(~np.isnan(y[:, m]))
            labels = y[rows, m].astype(int)
            if rows.size == 0:
                self.fitted_.append(math.nan)
            elif np.all(labels == labels[0]):
                self.fitted_.append(float(labels[0]))
            else:
                self.fitted_.append(unfitted_copy(self.estimator).fit(x[rows], labels))
        return self

    def predict(self, vectors: np.ndarray) -> np.ndarray:
        self._check_fitted("fitted_")
        x, _ = _check(vectors)
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

    Adam with mini-batches; the weights are kept as NumPy arrays, so ``predict``
    and pickling need no torch. ``n_threads`` caps torch's threads (None: torch's default).
    """

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

    def fit(self, vectors: np.ndarray, correct: np.ndarray) -> MLPPredictor:
        torch = require("torch", "the mlp predictor")
        from torch import nn

        x, y = _check(vectors, correct)
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

    def predict(self, vectors: np.ndarray) -> np.ndarray:
        self._check_fitted("weights_")
        h, _ = _check(vectors)
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

