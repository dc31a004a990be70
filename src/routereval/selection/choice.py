"""From estimates to choices: S1, S2, S3 with the fallback for a task, and per-prompt routing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from routereval.selection import scores as sc
from routereval.selection.settings import Settings


@dataclass
class Choice:
    """S1, S2, S3 of every model for one task (floats for display, exact for choosing), and the picks."""

    s1: np.ndarray
    s2: np.ndarray
    s3: np.ndarray
    p: np.ndarray
    choices: dict[str, int]
    picks: dict[str, sc.Pick]  # S1, S2, and S3's m* (before the fallback)
    fallback: sc.Fallback


def choose(
    est: sc.Estimates,
    p: np.ndarray,
    bma_scores: Sequence[sc.Score],
    candidates: np.ndarray,
    rng: np.random.Generator,
    settings: Settings = Settings(),
) -> Choice:
    """Scores and choices from estimates (prompts x models) and predictor accuracies p.

    ``bma_scores``: exact mean training accuracy per model; its best candidate is
    BMA, and it orders tied candidates (see :func:`routereval.selection.scores.pick`).
    """
    cand = np.asarray(candidates, dtype=bool)
    order = sc.preference(bma_scores, cand)
    bma = order[0]
    e1, e2 = sc.s1_exact(est), sc.s2_exact(est)
    e3 = sc.s3_exact(e2, p)
    v1, v2, v3 = sc.to_float(e1), sc.to_float(e2), sc.to_float(e3)
    for v in (v1, v2, v3):
        v[~cand] = np.nan
    picks = {name: sc.pick(e, cand, order, bma_scores) for name, e in (("S1", e1), ("S2", e2), ("S3", e3))}
    fb = sc.with_fallback(
        picks["S3"].model, est.positives(), len(est.g), p, bma, rng, n_draws=settings.n_draws,
        win_share=settings.win_share,
    )
    choices = {"S1": picks["S1"].model, "S2": picks["S2"].model, "S3": fb.choice}
    return Choice(v1, v2, v3, p, choices, picks, fb)


def route_pointwise(g: np.ndarray, have: np.ndarray, order: Sequence[int]) -> np.ndarray:
    """Per prompt, the model with the highest g among the ``order`` models with a record on it
    (``have``: prompts x models); ties to the earliest in ``order``; -1 where none has a record."""
    rank = np.full(g.shape[1], len(order), dtype=np.int64)
    rank[list(order)] = np.arange(len(order))
    usable = have & (rank < len(order))[None, :] & ~np.isnan(g)
    masked = np.where(usable, g, -np.inf)
    top = masked.max(axis=1, initial=-np.inf)
    best = np.where(usable & (masked == top[:, None]), rank[None, :], len(order))
    chosen_rank = best.min(axis=1)
    lookup = np.append(np.asarray(order, dtype=np.int64), -1)
    return lookup[chosen_rank]


def bma_pick(bma_exact: Sequence[sc.Score], order: Sequence[int]) -> sc.Pick:
    """BMA as a pick: a tie for the best mean accuracy is settled by model order."""
    tied = tuple(sorted(m for m in order if bma_exact[m] == bma_exact[order[0]]))
    return sc.Pick(order[0], tied, "model order") if len(tied) > 1 else sc.Pick(order[0])
