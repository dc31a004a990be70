"""Policies: turn a router's quality estimates into choices.

A router scores every candidate (its ``predict_quality``); a policy decides.
Keeping the two apart lets one scorer serve several deployments: the plain
argmax, a cost-aware trade-off swept over ``lam`` for a cost-quality curve, or
a strong/weak threshold as in RouteLLM. Every policy returns an n x m matrix
whose rows are the probability of sending the prompt to each candidate (one-hot
for the deterministic policies here), the same form as
:meth:`Router.choice_distribution`, so the metrics read any of them alike.
"""

from __future__ import annotations

import numpy as np

from routereval.routers.base import Prompts, one_hot

# -- input checks shared by routers and policies ------------------------------


def check_matrix(values: object, name: str, *, n_rows: int | None = None, n_cols: int | None = None) -> np.ndarray:
    """``values`` as a finite 2-d float array, or a ValueError naming ``name``.

    Used at the boundary of routers and policies; inner code trusts its inputs.
    """
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array (rows = prompts), got shape {arr.shape}")
    if n_rows is not None and arr.shape[0] != n_rows:
        raise ValueError(f"{name} has {arr.shape[0]} rows, expected {n_rows} (one per prompt)")
    if n_cols is not None and arr.shape[1] != n_cols:
        raise ValueError(f"{name} has {arr.shape[1]} columns, expected {n_cols}")
    if not np.all(np.isfinite(arr)):
        row, col = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"{name} holds a non-finite value at row {row} (0-based), column {col}; "
            "drop or fill missing records first"
        )
    return arr


def check_labels(labels: object, n_rows: int) -> np.ndarray:
    """Training labels as an n x m float array in [0, 1] (NaN is refused: missing is not wrong)."""
    arr = check_matrix(labels, "labels", n_rows=n_rows)
    if arr.shape[1] < 1:
        raise ValueError("labels need at least one candidate column")
    if arr.min() < 0 or arr.max() > 1:
        row, col = np.argwhere((arr < 0) | (arr > 1))[0]
        raise ValueError(f"labels must lie in [0, 1]; row {row} (0-based), column {col} holds {arr[row, col]}")
    return arr


def embeddings_of(prompts: Prompts, router: str, n_features: int | None = None) -> np.ndarray:
    """The prompts' embeddings as finite float32 rows, or a ValueError saying who needed them."""
    if prompts.embeddings is None:
        raise ValueError(f"router {router!r} reads prompt embeddings, but Prompts.embeddings is None")
    x = check_matrix(prompts.embeddings, "embeddings", n_cols=n_features)
    return x.astype(np.float32)


# -- policies ------------------------------------------------------------------


def argmax(quality: np.ndarray) -> np.ndarray:
    """One-hot on the best estimated candidate per prompt (ties: lowest index)."""
    q = check_matrix(quality, "quality")
    return one_hot(np.argmax(q, axis=1), q.shape[1])


def cost_aware(quality: np.ndarray, cost_per_candidate: np.ndarray, lam: float) -> np.ndarray:
    """One-hot on argmax(quality - lam * cost) per prompt (ties: lowest index).

    ``cost_per_candidate`` is one cost per candidate (length m) or one per
    prompt and candidate (n x m), in any unit; ``lam`` is the quality a unit of
    cost is worth. ``lam = 0`` is the plain argmax; sweeping ``lam`` upwards
    traces the router's cost-quality curve.
    """
    q = check_matrix(quality, "quality")
    cost = np.asarray(cost_per_candidate, dtype=float)
    if cost.ndim == 1:
        cost = cost[None, :]
    cost = check_matrix(cost, "cost_per_candidate", n_cols=q.shape[1])
    if cost.shape[0] not in (1, q.shape[0]):
        raise ValueError(
            f"cost_per_candidate has {cost.shape[0]} rows; expected 1 or one per prompt ({q.shape[0]})"
        )
    if not np.isfinite(lam):
        raise ValueError(f"lam must be finite, got {lam}")
    return one_hot(np.argmax(q - lam * cost, axis=1), q.shape[1])


def threshold(quality: np.ndarray, strong: int, weak: int, t: float) -> np.ndarray:
    """Strong/weak routing: send a prompt to ``strong`` when its estimated gain is at least ``t``.

    The gain is ``quality[:, strong] - quality[:, weak]``, the router's estimate
    of how much better the strong candidate does on the prompt. The prompt goes
    to ``strong`` when gain >= t and to ``weak`` otherwise; other candidates are
    never chosen. ``t = -inf`` sends everything to ``strong``, ``t = +inf``
    everything to ``weak``; in between, raising ``t`` trades quality for the
    cheaper model, as RouteLLM's calibrated thresholds do.
    """
    q = check_matrix(quality, "quality")
    m = q.shape[1]
    for label, idx in (("strong", strong), ("weak", weak)):
        if not 0 <= int(idx) < m:
            raise ValueError(f"{label} = {idx} is not a candidate index (0..{m - 1})")
    if strong == weak:
        raise ValueError(f"strong and weak must differ, both are {strong}")
    gain = q[:, strong] - q[:, weak]
    choice = np.where(gain >= t, strong, weak)
    return one_hot(choice, m)


def mix(distribution: np.ndarray, p: float) -> np.ndarray:
    """With probability ``p`` follow ``distribution``, else a uniform random candidate (r_o(p)-style)."""
    d = check_matrix(distribution, "distribution")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must lie in [0, 1], got {p}")
    return p * d + (1.0 - p) / d.shape[1]
