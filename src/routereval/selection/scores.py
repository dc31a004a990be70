"""The scores that choose a model for a new task from its unlabelled prompts (SPEC section 6).

With g (prompts x models) the correctness estimates on the new task's prompts
and gbar = 1[g > 0.5]:

* S1 = mean over prompts of g;
* S2 = mean over prompts of gbar;
* S3 = p * S2 + (1 - p) * (1 - S2), where p is the predictor's accuracy on the
  task: the expected accuracy of a model if gbar is right with probability p.

p is unknown for a new task; it is estimated by Nadaraya-Watson smoothing of
(descriptor, held-out accuracy) pairs of the training tasks, where the
descriptor is the mean cosine distance of a task's prompts to their 19
nearest training prompts (far tasks: predictors extrapolate, p drops).

Fallback: S3's choice m* is kept only if, simulating each model's correct
count as Binomial(n+, p) + Binomial(n-, 1 - p) (n+ / n- prompts with gbar 1 / 0),
m* gets strictly more correct answers than the best model on average (BMA) in
at least 60% of the draws. A draw where the two counts are equal is not a win
for m*: the burden of proof is on leaving the safe default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BANDWIDTH = 0.09
N_DRAWS = 1000
WIN_SHARE = 0.6


def s1(g: np.ndarray) -> np.ndarray:
    """Mean estimate per model (columns of ``g``)."""
    return np.asarray(g, dtype=np.float64).mean(axis=0)


def s2(g: np.ndarray) -> np.ndarray:
    """Share of prompts predicted correct (g > 0.5) per model."""
    return (np.asarray(g) > 0.5).mean(axis=0)


def s3(s2_values: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Expected accuracy when gbar is right with probability ``p``: p S2 + (1 - p)(1 - S2)."""
    s2_values, p = np.asarray(s2_values, dtype=np.float64), np.asarray(p, dtype=np.float64)
    return p * s2_values + (1.0 - p) * (1.0 - s2_values)


def descriptor(neighbour_sims: np.ndarray) -> float:
    """Task descriptor u: mean over prompts (rows) of the mean cosine distance (1 - similarity)
    to the prompt's nearest training prompts (columns; -inf entries are absent neighbours)."""
    sims = np.asarray(neighbour_sims, dtype=np.float64)
    found = np.isfinite(sims)
    per_prompt = np.where(found, 1.0 - sims, 0.0).sum(axis=1) / np.maximum(found.sum(axis=1), 1)
    return float(per_prompt.mean())


def predictor_accuracy(g: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """Per model: share of its records where gbar = 1[g > 0.5] equals the true 0/1 (NaN: no record)."""
    g, correct = np.asarray(g), np.asarray(correct)
    have = ~np.isnan(correct)
    hits = ((g > 0.5) == (correct == 1)) & have
    counts = have.sum(axis=0)
    out = np.full(correct.shape[1], np.nan)
    np.divide(hits.sum(axis=0), counts, out=out, where=counts > 0)
    return out


def nadaraya_watson(u_ref: np.ndarray, values: np.ndarray, u: float, bandwidth: float = BANDWIDTH) -> np.ndarray:
    """Gaussian-kernel weighted mean of ``values`` (references x models) at descriptor ``u``.

    weight_j = exp(-(u - u_j)^2 / (2 h^2)). NaN values (a model with no record on
    a reference task) are left out for that model. Weights are scaled by the
    nearest reference's before use, which cancels in the ratio but keeps a
    task far from every reference (all raw weights underflow to 0) well
    defined: its estimate tends to the nearest reference's value.
    """
    if bandwidth <= 0:
        raise ValueError(f"bandwidth must be positive, got {bandwidth}")
    u_ref = np.asarray(u_ref, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64).reshape(len(u_ref), -1)
    z2 = ((u - u_ref) / bandwidth) ** 2
    w = np.exp(-0.5 * (z2 - z2.min()))[:, None] if len(u_ref) else np.zeros((0, 1))
    w = np.where(np.isnan(values), 0.0, w)
    total = w.sum(axis=0)
    out = np.full(values.shape[1], np.nan)
    np.divide((w * np.nan_to_num(values)).sum(axis=0), total, out=out, where=total > 0)
    return out


def argmax_among(scores: np.ndarray, candidates: np.ndarray) -> int:
    """Index of the highest score among the candidate models (NaN never wins; ties to the lowest index)."""
    masked = np.where(np.asarray(candidates, dtype=bool) & ~np.isnan(scores), scores, -np.inf)
    if not np.isfinite(masked).any():
        raise ValueError("no candidate model has a score")
    return int(np.argmax(masked))


def mean_task_accuracy(task_accuracy: np.ndarray) -> np.ndarray:
    """Per model, the mean of its per-task accuracies (tasks where it has no record are skipped)."""
    acc = np.asarray(task_accuracy, dtype=np.float64)
    counts = (~np.isnan(acc)).sum(axis=0)
    out = np.full(acc.shape[1], np.nan)
    np.divide(np.nansum(acc, axis=0), counts, out=out, where=counts > 0)
    return out


def win_rate(
    n: int, pos_star: int, p_star: float, pos_bma: int, p_bma: float, rng: np.random.Generator, n_draws: int = N_DRAWS
) -> float:
    """Share of draws where m* gets strictly more correct answers than BMA.

    A model's correct count on the n prompts is Binomial(n+, p) + Binomial(n-, 1 - p):
    each prompt predicted correct is right with probability p, each predicted
    wrong with probability 1 - p. Draws for m* come first, then BMA's.
    """
    star = rng.binomial(pos_star, p_star, n_draws) + rng.binomial(n - pos_star, 1.0 - p_star, n_draws)
    bma = rng.binomial(pos_bma, p_bma, n_draws) + rng.binomial(n - pos_bma, 1.0 - p_bma, n_draws)
    return float(np.mean(star > bma))


@dataclass(frozen=True)
class Fallback:
    """The outcome of the fallback test: ``choice`` is m* or BMA."""

    choice: int
    m_star: int
    bma: int
    win_rate: float | None  # None when m* is BMA (nothing to test)


def with_fallback(
    s3_values: np.ndarray,
    g: np.ndarray,
    p: np.ndarray,
    bma: int,
    candidates: np.ndarray,
    rng: np.random.Generator,
    *,
    n_draws: int = N_DRAWS,
    win_share: float = WIN_SHARE,
) -> Fallback:
    """m* = argmax S3 among the candidates, kept if it beats BMA in at least ``win_share`` of the draws."""
    m_star = argmax_among(s3_values, candidates)
    if m_star == bma:
        return Fallback(bma, m_star, bma, None)
    if not (np.isfinite(p[m_star]) and np.isfinite(p[bma])):
        return Fallback(bma, m_star, bma, float("nan"))  # nothing to simulate with: keep the safe default
    positives = (np.asarray(g) > 0.5).sum(axis=0)
    n = len(g)
    rate = win_rate(n, int(positives[m_star]), float(p[m_star]), int(positives[bma]), float(p[bma]), rng, n_draws)
    return Fallback(m_star if rate >= win_share else bma, m_star, bma, rate)
