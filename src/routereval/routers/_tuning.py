"""Choosing hyper-parameters on the validation split: one rule for every tuned router.

A setting is judged by what routing with it achieves on the validation
prompts: the mean label of the candidate its estimates rank first (argmax,
ties to the lowest index, as the default policy chooses), over the prompts
where that candidate has a record. Equal routing values are split by the
masked Brier score of the estimates (a proper scoring rule, so the better
calibrated setting wins), then by the order the settings were listed in, so
list the simplest first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from routereval.routers.base import Labelled
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
