"""Input checks at the boundary of routers and policies (``check_array`` in spirit).

Validation happens once, where data enters a router or a policy, with a message
that names the argument and what was expected; inner code trusts its inputs.
"""

from __future__ import annotations

import numpy as np

from routereval.routers.base import Prompts


def check_matrix(
    values: object, name: str, *, n_rows: int | None = None, n_cols: int | None = None, allow_nan: bool = False
) -> np.ndarray:
    """``values`` as a 2-d float array, finite (or NaN where ``allow_nan``), or a ValueError naming ``name``."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array (rows = prompts), got shape {arr.shape}")
    if n_rows is not None and arr.shape[0] != n_rows:
        raise ValueError(f"{name} has {arr.shape[0]} rows, expected {n_rows} (one per prompt)")
    if n_cols is not None and arr.shape[1] != n_cols:
        raise ValueError(f"{name} has {arr.shape[1]} columns, expected {n_cols}")
    bad = np.isinf(arr) if allow_nan else ~np.isfinite(arr)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        what = "an infinite" if allow_nan else "a non-finite"
        raise ValueError(
            f"{name} holds {what} value at row {row} (0-based), column {col}"
            + ("" if allow_nan else "; drop or fill missing records first")
        )
    return arr


def check_labels(labels: object, n_rows: int) -> np.ndarray:
    """Training labels as an n x m float array in [0, 1]; NaN marks a missing record (not a wrong one)."""
    arr = check_matrix(labels, "labels", n_rows=n_rows, allow_nan=True)
    if arr.shape[1] < 1:
        raise ValueError("labels need at least one candidate column")
    outside = (arr < 0) | (arr > 1)
    if outside.any():
        row, col = np.argwhere(outside)[0]
        raise ValueError(f"labels must lie in [0, 1]; row {row} (0-based), column {col} holds {arr[row, col]}")
    return arr


def column_means(labels: np.ndarray) -> np.ndarray:
    """Each candidate's mean label over its present records.

    A candidate with no training record at all gets the mean of every present
    label: the least informed estimate that still lies in [0, 1].
    """
    present = ~np.isnan(labels)
    counts = present.sum(axis=0)
    sums = np.where(present, labels, 0.0).sum(axis=0)
    overall = float(sums.sum() / counts.sum()) if counts.sum() else 0.0
    return np.where(counts > 0, sums / np.maximum(counts, 1), overall)


def masked_mean(labels: np.ndarray, rows: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Mean label per candidate over ``rows`` (an index array), ignoring missing cells; ``fallback`` where none."""
    part = labels[rows]
    present = ~np.isnan(part)
    counts = present.sum(axis=0)
    sums = np.where(present, part, 0.0).sum(axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), fallback)


def embeddings_of(prompts: Prompts, router: str, n_features: int | None = None) -> np.ndarray:
    """The prompts' embeddings as finite float32 rows, or a ValueError saying who needed them."""
    if prompts.embeddings is None:
        raise ValueError(f"router {router!r} reads prompt embeddings, but Prompts.embeddings is None")
    x = prompts.embeddings
    if (isinstance(x, np.ndarray) and x.dtype == np.float32 and x.ndim == 2
            and (n_features is None or x.shape[1] == n_features) and np.isfinite(x).all()):
        # What every encoder gives: the checks below would pass and return these very values, at the cost of a
        # float64 copy (microseconds per prompt, as much as a small router's own work). Copied, as astype did,
        # so no router can write into the caller's array.
        return x.copy()
    x = check_matrix(x, "embeddings", n_cols=n_features)
    return x.astype(np.float32)
