"""Choosing hyper-parameters on the validation split: one rule for every tuned router.

A setting is judged by what routing with it achieves on the validation
prompts: the mean label of the candidate its estimates rank first (argmax,
ties to the lowest index, as the default policy chooses), over the prompts
where that candidate has a record. Equal routing values are split by the
masked Brier score of the estimates (a proper scoring rule, so the better
calibrated setting wins), then by the order the settings were listed in, so
list the simplest first.

Where a choice must be *certified* rather than just made (``safe``, ``auto``),
the validation split alone is not enough (the router tuned itself on it):
:func:`cross_fit` gives every labelled prompt an out-of-fold estimate instead.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from routereval.routers.base import Labelled, Prompts
from routereval.routers.checks import check_labels, embeddings_of

# Routing values closer than this are a tie (float noise, not a difference).
_TIE = 1e-12


def routed_value(quality: np.ndarray, labels: np.ndarray) -> float:
    """Mean label of each prompt's top-ranked candidate, over prompts where it has a record (NaN if none)."""
    choice = np.argmax(quality, axis=1)
    got = labels[np.arange(len(labels)), choice]
    got = got[~np.isnan(got)]
    return float(got.mean()) if len(got) else float("nan")


def masked_brier(quality: np.ndarray, labels: np.ndarray) -> float:
    """Mean squared error of the estimates over the present labels (NaN if none)."""
    present = ~np.isnan(labels)
    if not present.any():
        return float("nan")
    return float(((quality - np.nan_to_num(labels)) ** 2)[present].mean())


def setting_sums(quality: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """What judging a setting needs, as sums that add over blocks of prompts.

    [sum of routed labels, prompts routed to a present record, sum of squared errors, present labels].
    """
    choice = np.argmax(quality, axis=1)
    got = labels[np.arange(len(labels)), choice]
    present = ~np.isnan(labels)
    sq = ((quality - np.nan_to_num(labels)) ** 2)[present]
    return np.array([np.nansum(got), float((~np.isnan(got)).sum()), float(sq.sum()), float(present.sum())])


def pick(sums: Sequence[np.ndarray]) -> int:
    """Index of the best setting from its :func:`setting_sums` (see the module docstring)."""
    best, best_key = 0, None
    for i, (routed, n_routed, sq, n_present) in enumerate(sums):
        value = routed / n_routed if n_routed else -np.inf
        brier = sq / n_present if n_present else np.inf
        if best_key is None or value > best_key[0] + _TIE or (abs(value - best_key[0]) <= _TIE and brier < best_key[1]):
            best, best_key = i, (value, brier)
    return best


def best_setting(estimates: Sequence[np.ndarray], labels: np.ndarray) -> int:
    """Index of the best of several settings' validation estimates (see the module docstring)."""
    return pick([setting_sums(q, labels) for q in estimates])


def validation_arrays(
    validation: Labelled | None, router: str, n_features: int | None, m: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """The validation embeddings and labels, checked against the training shape; None when absent or empty."""
    if validation is None or len(validation.prompts) == 0:
        return None
    x = embeddings_of(validation.prompts, router, n_features)
    y = check_labels(validation.labels, len(x))
    if y.shape[1] != m:
        raise ValueError(f"validation labels have {y.shape[1]} candidates; the training labels have {m}")
    if np.isnan(y).all():
        return None
    return x, y


def grid(given: object, values: Sequence, default: object, tuned: bool) -> list:
    """The values to try: the one given, else ``values`` when there is a validation split, else ``default``."""
    if given is not None:
        return [given]
    return list(values) if tuned else [default]


# -- cross-fitting: an out-of-fold estimate for every labelled prompt ---------------------

#: Folds of cross-fitting unless a router is told otherwise (scikit-learn's cross-validation default).
DEFAULT_FOLDS = 5


def rows_of(prompts: Prompts, rows: np.ndarray) -> Prompts:
    """The prompts at ``rows`` (embeddings, texts and scores cut alike)."""
    rows = np.asarray(rows, dtype=np.int64)
    return Prompts(
        embeddings=None if prompts.embeddings is None else prompts.embeddings[rows],
        texts=None if prompts.texts is None else [prompts.texts[i] for i in rows],
        scores=None if prompts.scores is None else np.asarray(prompts.scores)[rows],
        n=len(rows),
    )


def labelled_pool(prompts: Prompts, labels: np.ndarray, validation: Labelled | None) -> tuple[Prompts, np.ndarray]:
    """Training and validation prompts as one labelled pool (training first), without raw scores.

    Raw scores exist for the training rows only, so the pool carries labels alone,
    on one scale for every row.
    """
    if validation is None or len(validation.prompts) == 0:
        return Prompts(embeddings=prompts.embeddings, texts=prompts.texts, n=len(prompts)), labels
    a, b = prompts, validation.prompts

    def both(x, y):
        if x is None or y is None:
            return None
        return np.vstack([x, y]) if isinstance(x, np.ndarray) else [*x, *y]

    joined = Prompts(embeddings=both(a.embeddings, b.embeddings), texts=both(a.texts, b.texts), n=len(a) + len(b))
    return joined, np.vstack([labels, np.asarray(validation.labels, dtype=float)])


def fold_ids(n: int, folds: int, seed: int) -> np.ndarray:
    """Fold of each of ``n`` prompts: a seeded permutation cut into ``folds`` parts as equal as can be."""
    out = np.empty(n, dtype=np.int64)
    out[np.random.default_rng(seed).permutation(n)] = np.arange(n) % folds
    return out


def cross_fit(make: Callable[[], Any], prompts: Prompts, labels: np.ndarray, folds: int = DEFAULT_FOLDS,
              seed: int = 0) -> np.ndarray | None:
    """Out-of-fold quality estimates (n x m) of the router ``make()`` builds; None when too few prompts.

    Fold k is predicted by a router fitted without it: on the folds other than
    k and k + 1, with fold k + 1 (mod K) as its validation split where ``fit``
    takes one (so a router that tunes itself tunes on prompts it was not fitted
    on, as with the real split), else on every fold but k. Needs K >= 3 and at
    least two prompts per fold.
    """
    n = len(labels)
    if folds < 3 or n < 2 * folds:
        return None
    fold = fold_ids(n, folds, seed)
    out = np.zeros(labels.shape, dtype=float)
    for k in range(folds):
        router = make()
        held = np.flatnonzero(fold == k)
        if "validation" in inspect.signature(router.fit).parameters:
            val = np.flatnonzero(fold == (k + 1) % folds)
            train = np.flatnonzero((fold != k) & (fold != (k + 1) % folds))
            router.fit(rows_of(prompts, train), labels[train], validation=Labelled(rows_of(prompts, val), labels[val]))
        else:
            train = np.flatnonzero(fold != k)
            router.fit(rows_of(prompts, train), labels[train])
        out[held] = np.asarray(router.predict_quality(rows_of(prompts, held)), dtype=float)
    return out
