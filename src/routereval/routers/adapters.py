"""A scikit-learn style estimator on arrays, used as a router: :func:`from_sklearn`.

The estimator sees what scikit-learn users expect: ``fit(X, Y)`` with X the
prompts' embeddings (n x d, as given) and Y the n x m labels, then
``predict(X)`` or ``predict_proba(X)`` giving each candidate's quality,
n x m. Any multi-output regressor (``Ridge``, ``KNeighborsRegressor``,
``RandomForestRegressor``) or a class of your own with those methods fits.

Missing labels (NaN). scikit-learn refuses NaN targets, and filling them would
teach the estimator that a missing record is a wrong (or right) answer. So by
default (``missing="refuse"``) a pool with missing labels is refused, with the
message naming the fix; ``missing="per-candidate"`` fits one copy of the
estimator per candidate on the prompts where that candidate has a label (the
estimator then gets a 1-d y, which every scikit-learn estimator accepts). The
default is not per-candidate because that changes the model (m separate fits
instead of one multi-output fit) behind the user's back, and an estimator of
your own may expect a matrix.

Classifiers: where ``predict_proba`` gives scikit-learn's per-class columns
(an n x 2 array for one candidate, or a list of them from a multi-output
classifier), the probability of class 1 is taken, found through ``classes_``.

Regressors trained on labels in [0, 1] predict slightly outside it; with
``clip=True`` (the default) estimates are clipped to [0, 1], the scale every
policy reads; ``clip=False`` leaves them to be refused as out of range.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from routereval.routers.base import Prompts, Router, unfitted_copy
from routereval.routers.checks import check_labels, check_matrix

#: How the estimator's quality estimates are read: its predict_proba where it has one, else predict.
METHODS = ("auto", "predict", "predict_proba")
#: What to do with missing labels (see the module docstring).
MISSING = ("refuse", "per-candidate")


class SklearnRouter(Router):
    """An estimator with ``fit(X, Y)`` and ``predict(X)`` / ``predict_proba(X)`` on arrays, as a router.

    Each fit works on an unfitted copy of ``estimator``
    (:func:`routereval.routers.base.unfitted_copy`), so the object you pass is
    never changed and every pool gets a fresh one. The fitted copies are in
    ``estimators_`` (one, or one per candidate where ``per_candidate_``). Rows are reported under the
    estimator's class name.
    """

    inputs = "embeddings"

    def __init__(self, estimator: Any, method: str = "auto", missing: str = "refuse", clip: bool = True) -> None:
        self.estimator = estimator
        self.method = method
        self.missing = missing
        self.clip = clip

    @property
    def name(self) -> str:  # type: ignore[override]  # a label per wrapped estimator, not a registry name
        return type(self.estimator).__name__

    def check_params(self) -> None:
        """Refuse an estimator without the methods used, or an unknown ``method`` / ``missing`` / ``clip``."""
        who = f"from_sklearn({type(self.estimator).__name__})"
        if not callable(getattr(self.estimator, "fit", None)):
            raise ValueError(f"{who}: estimator must have fit(X, Y), got {self.estimator!r}")
        if self.method not in METHODS:
            raise ValueError(f"{who}: method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.missing not in MISSING:
            raise ValueError(f"{who}: missing must be one of {', '.join(MISSING)}, got {self.missing!r}")
        if not isinstance(self.clip, bool):
            raise ValueError(f"{who}: clip must be True or False, got {self.clip!r}")
        wanted = ("predict_proba", "predict") if self.method == "auto" else (self.method,)
        if not any(callable(getattr(self.estimator, m, None)) for m in wanted):
            raise ValueError(f"{who}: estimator has no {' or '.join(wanted)}(X)")

    def fit(self, prompts: Prompts, labels: np.ndarray) -> SklearnRouter:
        """Fit a clone of the estimator on ``prompts.embeddings`` and the n x m ``labels``."""
        self.check_params()
        x = self._arrays(prompts)
        y = check_labels(labels, len(x))
        missing = np.isnan(y)
        self.per_candidate_ = bool(missing.any())
        if not missing.any():
            self.estimators_ = [unfitted_copy(self.estimator).fit(x, y)]
        elif self.missing == "refuse":
            raise ValueError(
                f"labels hold {int(missing.sum())} missing records (NaN) over {int(missing.any(axis=0).sum())} "
                f"candidates, which {type(self.estimator).__name__} cannot be fitted on; pass "
                "from_sklearn(estimator, missing='per-candidate') to fit one copy per candidate on its present "
                "labels, or fill them before routing"
            )
        else:
            empty = np.flatnonzero(missing.all(axis=0))
            if len(empty):
                raise ValueError(f"candidate {int(empty[0])} (0-based) has no training label: nothing to fit it on")
            self.estimators_ = [unfitted_copy(self.estimator).fit(x[~missing[:, k]], y[~missing[:, k], k])
                                for k in range(y.shape[1])]
        self.m_ = y.shape[1]
        return self

    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        """Each candidate's estimate from the fitted estimator(s), n x m (clipped to [0, 1] with ``clip``)."""
        self._check_fitted("estimators_")
        x = self._arrays(prompts)
        if self.per_candidate_:
            quality = np.column_stack([self._read(est, x, 1)[:, 0] for est in self.estimators_])
        else:
            quality = self._read(self.estimators_[0], x, self.m_)
        quality = check_matrix(quality, f"{self.name}.{self._method()}(X)", n_rows=len(x), n_cols=self.m_)
        return np.clip(quality, 0.0, 1.0) if self.clip else quality

    def _method(self) -> str:
        if self.method != "auto":
            return self.method
        return "predict_proba" if callable(getattr(self.estimator, "predict_proba", None)) else "predict"

    def _arrays(self, prompts: Prompts) -> np.ndarray:
        """The embeddings exactly as given (checked, not converted: the estimator gets what a user would pass it)."""
        if not isinstance(prompts, Prompts) or prompts.embeddings is None:
            raise ValueError(f"router {self.name!r} reads prompt embeddings, but none were given")
        check_matrix(prompts.embeddings, "embeddings")
        return np.asarray(prompts.embeddings)

    def _read(self, estimator: Any, x: np.ndarray, m: int) -> np.ndarray:
        """The estimator's output as an n x m quality matrix (a classifier's class-1 probability where it gives classes)."""
        method = self._method()
        out = getattr(estimator, method)(x)
        classes = getattr(estimator, "classes_", None)
        if method == "predict_proba" and classes is not None:
            if isinstance(out, list):  # a multi-output classifier: one (n, n_classes) array per candidate
                return np.column_stack([_class_one(p, c) for p, c in zip(out, classes, strict=True)])
            if np.ndim(classes) == 1 and m == 1:
                return _class_one(out, classes)[:, None]
        if isinstance(out, list):
            raise ValueError(f"{self.name}.{method}(X) returned a list of {len(out)} arrays; "
                             "it must return an n x m matrix of per-candidate quality")
        out = np.asarray(out, dtype=float)
        return out[:, None] if out.ndim == 1 and m == 1 else out


def _class_one(proba: Any, classes: Any) -> np.ndarray:
    """P(label = 1) from a classifier's (n, n_classes) probabilities; 0 where class 1 never occurred in training."""
    proba, classes = np.asarray(proba, dtype=float), np.asarray(classes)
    if proba.ndim != 2 or proba.shape[1] != len(classes):
        raise ValueError(f"predict_proba gave shape {proba.shape} for classes {classes.tolist()}")
    hit = np.flatnonzero(classes == 1)
    return proba[:, hit[0]] if len(hit) else np.zeros(len(proba))


def from_sklearn(estimator: Any, *, method: str = "auto", missing: str = "refuse", clip: bool = True) -> SklearnRouter:
    """``estimator`` (``fit(X, Y)``, ``predict(X)`` or ``predict_proba(X)`` on arrays) as a router.

    X is ``Prompts.embeddings``, Y the n x m labels. ``method`` picks the
    estimates (``"auto"``: ``predict_proba`` where the estimator has one, else
    ``predict``); ``missing`` says what happens to NaN labels (``"refuse"`` or
    ``"per-candidate"``); ``clip`` clips estimates to [0, 1]. Errors in these
    arguments are raised here, not at the first fit.
    """
    router = SklearnRouter(estimator, method=method, missing=missing, clip=clip)
    router.check_params()
    return router
