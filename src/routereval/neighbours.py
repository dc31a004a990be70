"""Exact cosine nearest neighbours: every neighbour search in routereval, and the one rule for ties.

The kNN routers (``knn``, ``knn-tuned``), task selection's correctness
predictor and its per-task neighbour lists all search here.

**Ties.** Neighbours rank by cosine similarity, highest first; equal
similarities rank by the lower row of the searched matrix (the prompt listed
first). A search of the k nearest therefore keeps, among rows tied at the k-th
similarity, the lowest ones, so duplicate prompts give the same neighbours on
every run and machine. Padding (row -1, similarity -inf), where fewer than k
rows exist, ranks last.

Every function returns ``(rows, similarities)`` in that order, each
queries x k. Inputs called "unit" are rows already scaled to length 1
(:func:`unit_rows`): a fitted router scales its training vectors once, and
the proxy then scales only the prompt it routes.
"""

from __future__ import annotations

import numpy as np

#: Query rows per similarity block: 1,024 queries x 10^4 base rows of float32 is ~40 MB.
BLOCK_ROWS = 1024
# Queries per similarity recomputation in padded_neighbours (queries x k x d floats at a time).
_RECOMPUTE_ROWS = 2048


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero), so a dot product is the cosine."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def top_k_columns(sims: np.ndarray, k: int) -> np.ndarray:
    """Column indices (rows x k) of the ``k`` largest entries of each row, in column order (ties: lower column)."""
    n = sims.shape[1]
    # The k-th largest value per row: everything at or above it is in, unless ties at it
    # overfill the row (rare: duplicate prompts); such rows keep the first of the tied columns.
    kth = np.partition(sims, n - k, axis=1)[:, n - k : n - k + 1]
    chosen = sims >= kth
    overfull = np.flatnonzero(chosen.sum(axis=1) > k)
    if len(overfull):
        part, cut = sims[overfull], kth[overfull]
        above, tied = part > cut, part == cut
        need = k - above.sum(axis=1, keepdims=True)
        chosen[overfull] = above | (tied & (np.cumsum(tied, axis=1) <= need))
    # Each row has exactly k chosen entries, so the row-major positions reshape cleanly; the flat
    # search is many times faster than a 2-d np.nonzero, which builds the row indices too.
    return np.flatnonzero(chosen).reshape(len(sims), k) % n


def unit_neighbours(query: np.ndarray, base: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of ``base`` nearest each ``query`` row and their cosines (unit rows both; order unspecified)."""
    idx = np.empty((len(query), k), dtype=np.int64)
    sims_out = np.empty((len(query), k), dtype=np.result_type(query, base))
    for start in range(0, len(query), BLOCK_ROWS):
        sims = query[start : start + BLOCK_ROWS] @ base.T
        chosen = top_k_columns(sims, k)
        idx[start : start + len(sims)] = chosen
        sims_out[start : start + len(sims)] = np.take_along_axis(sims, chosen, axis=1)
    return idx, sims_out


def nearest_neighbours(query: np.ndarray, base: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` rows of ``base`` most cosine-similar to each ``query`` row, any scale (order unspecified)."""
    return unit_neighbours(unit_rows(query), unit_rows(base), k)[0]


def rank_neighbours(idx: np.ndarray, sims: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's candidates in rank order: similarity high first, ties to the lower row, padding (-1) last."""
    order = np.lexsort((np.where(idx < 0, np.iinfo(np.int64).max, idx), -sims), axis=1)
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(sims, order, axis=1)


def best_of(idx: np.ndarray, sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best candidates per row in rank order, padded where a row has fewer."""
    idx, sims = rank_neighbours(idx, sims)
    if sims.shape[1] < k:
        pad = k - sims.shape[1]
        idx = np.pad(idx, ((0, 0), (0, pad)), constant_values=-1)
        sims = np.pad(sims, ((0, 0), (0, pad)), constant_values=-np.inf)
    return idx[:, :k], sims[:, :k]


def sorted_neighbours(query: np.ndarray, base: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of ``base`` nearest each ``query`` row, in rank order, with their cosines (unit rows both)."""
    return rank_neighbours(*unit_neighbours(query, base, k))


def padded_neighbours(
    query: np.ndarray, base: np.ndarray, k: int, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`sorted_neighbours` for float32 unit rows, named by ``labels`` (one per base row, increasing),
    and always k wide: (labels, float32 cosines), padded with (-1, -inf) where ``base`` has fewer than k rows.

    The cosines are recomputed for the chosen rows only, in float32, so the
    lists of task selection hold one precision whatever searched them.
    """
    n = len(query)
    idx = np.full((n, k), -1, dtype=np.int64)
    sims = np.full((n, k), -np.inf, dtype=np.float32)
    kk = min(k, len(base))
    if kk == 0 or n == 0:
        return idx, sims
    local = nearest_neighbours(query, base, kk)
    for a in range(0, n, _RECOMPUTE_ROWS):
        part = local[a : a + _RECOMPUTE_ROWS]
        s = np.einsum("qd,qkd->qk", query[a : a + _RECOMPUTE_ROWS], base[part])
        idx[a : a + len(part), :kk], sims[a : a + len(part), :kk] = rank_neighbours(labels[part], s)
    return idx, sims


__all__ = [
    "BLOCK_ROWS", "best_of", "nearest_neighbours", "padded_neighbours", "rank_neighbours", "sorted_neighbours",
    "top_k_columns", "unit_neighbours", "unit_rows",
]
