"""The scores that choose a model for a new task from its unlabelled prompts (docs/selection.md).

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

**Exact scores and ties.** Correctness is 0/1, so a kNN estimate is a ratio
of integers (hits among the found neighbours) and S1, S2 and a task's
accuracy are rational numbers. They are compared as :class:`fractions.Fraction`,
never as float sums, whose value depends on the order of summation: two
models with S1 = 1898/2750 exactly must tie, not be separated by the last bit
of a rounding. For estimates that are not ratios (the MLP) S1 is the correctly
rounded sum (:func:`math.fsum`), which does not depend on the order either.
S3 = p S2 + (1 - p)(1 - S2) is evaluated exactly from the float p.

A tie at the top is settled by one rule for every method (:func:`pick`):
among the tied models, the one ranked highest by the mean of its per-task
accuracies on the training tasks (so BMA itself whenever it is tied), then the
first in the dataset's model order. The rule leans on the safe default, as
the fallback does; the tie and the rule that settled it are reported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

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


def prompt_distances(neighbour_sims: np.ndarray) -> np.ndarray:
    """Per prompt (row), the mean cosine distance (1 - similarity) to its nearest training
    prompts (columns; -inf entries are absent neighbours)."""
    sims = np.asarray(neighbour_sims, dtype=np.float64)
    found = np.isfinite(sims)
    return np.where(found, 1.0 - sims, 0.0).sum(axis=1) / np.maximum(found.sum(axis=1), 1)


def descriptor(neighbour_sims: np.ndarray) -> float:
    """Task descriptor u: mean over prompts of :func:`prompt_distances`."""
    return float(prompt_distances(neighbour_sims).mean())


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
    m_star: int,
    positives: np.ndarray,
    n: int,
    p: np.ndarray,
    bma: int,
    rng: np.random.Generator,
    *,
    n_draws: int = N_DRAWS,
    win_share: float = WIN_SHARE,
) -> Fallback:
    """S3's best model ``m_star`` is kept if it beats BMA in at least ``win_share`` of the draws.

    ``positives``: per model, how many of the ``n`` prompts are predicted correct.
    """
    if m_star == bma:
        return Fallback(bma, m_star, bma, None)
    if not (np.isfinite(p[m_star]) and np.isfinite(p[bma])):
        return Fallback(bma, m_star, bma, float("nan"))  # nothing to simulate with: keep the safe default
    rate = win_rate(n, int(positives[m_star]), float(p[m_star]), int(positives[bma]), float(p[bma]), rng, n_draws)
    return Fallback(m_star if rate >= win_share else bma, m_star, bma, rate)


# ---------------------------------------------------------------------------
# Exact scores and the tie rule.


@dataclass(frozen=True)
class Estimates:
    """Correctness estimates g (prompts x models), with integer numerators and
    denominators where g = hits / found exactly (kNN on 0/1 records); NaN / found 0: no estimate."""

    g: np.ndarray
    hits: np.ndarray | None = None
    found: np.ndarray | None = None

    @classmethod
    def from_counts(cls, hits: np.ndarray, found: np.ndarray) -> Estimates:
        """Estimates from neighbour counts: g = hits / found (NaN where nothing was found)."""
        hits, found = np.asarray(hits, dtype=np.int64), np.asarray(found, dtype=np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            g = np.where(found > 0, hits / np.maximum(found, 1), np.nan)
        return cls(g, hits, found)

    @property
    def exact(self) -> bool:
        return self.hits is not None

    def rows(self, rows: np.ndarray) -> Estimates:
        """The estimates of a subset of the prompts."""
        if not self.exact:
            return Estimates(self.g[rows])
        return Estimates(self.g[rows], self.hits[rows], self.found[rows])

    def positives(self) -> np.ndarray:
        """Per model, the prompts predicted correct (gbar = 1[g > 0.5], as 2 hits > found when exact)."""
        if self.exact:
            return (2 * self.hits > self.found).sum(axis=0)
        return (self.g > 0.5).sum(axis=0)

    def has_estimate(self) -> np.ndarray:
        """Per model: does it have an estimate on every prompt?"""
        return ~np.isnan(self.g).any(axis=0) if len(self.g) else np.zeros(self.g.shape[1], dtype=bool)


Score = Fraction | None  # None: no score (not a candidate, or nothing to estimate from)


def s1_exact(est: Estimates) -> list[Score]:
    """S1 per model as an exact fraction (the correctly rounded sum where g is not a ratio)."""
    n, n_models = est.g.shape
    have = est.has_estimate()
    if n == 0:
        return [None] * n_models
    out: list[Score] = []
    if est.exact:
        # Group by denominator: S1 = (sum over f of (hits summed where found = f) / f) / n.
        found = est.found
        sums = {int(f): np.where(found == f, est.hits, 0).sum(axis=0) for f in np.unique(found[found > 0])}
        for m in range(n_models):
            out.append(sum((Fraction(int(s[m]), f) for f, s in sums.items()), Fraction(0)) / n if have[m] else None)
        return out
    for m in range(n_models):
        out.append(Fraction(math.fsum(est.g[:, m].tolist())) / n if have[m] else None)
    return out


def s2_exact(est: Estimates) -> list[Score]:
    """S2 per model: predicted-correct prompts over prompts, as a fraction."""
    n, n_models = est.g.shape
    have = est.has_estimate()
    pos = est.positives()
    return [Fraction(int(pos[m]), n) if have[m] and n else None for m in range(n_models)]


def s3_exact(s2_values: Sequence[Score], p: np.ndarray) -> list[Score]:
    """S3 = p S2 + (1 - p)(1 - S2), exact given the float p (None where either is missing)."""
    out: list[Score] = []
    for v, pm in zip(s2_values, np.asarray(p, dtype=np.float64)):
        if v is None or not np.isfinite(pm):
            out.append(None)
        else:
            q = Fraction(float(pm))
            out.append(q * v + (1 - q) * (1 - v))
    return out


def to_float(values: Sequence[Score]) -> np.ndarray:
    """Exact scores -> floats for display and correlations (NaN for None)."""
    return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)


def mean_accuracy_exact(hits: np.ndarray, counts: np.ndarray) -> list[Score]:
    """Per model, the mean over tasks (rows) of hits / counts, skipping tasks without records, exactly."""
    out: list[Score] = []
    for m in range(hits.shape[1]):
        parts = [Fraction(int(h), int(c)) for h, c in zip(hits[:, m], counts[:, m]) if c > 0]
        out.append(sum(parts, Fraction(0)) / len(parts) if parts else None)
    return out


TIE_RULES = ("bma", "mean accuracy", "model order")


@dataclass(frozen=True)
class Pick:
    """A chosen model, the candidates tied with it at the top, and the rule that settled the tie."""

    model: int
    tied: tuple[int, ...] = ()  # every model sharing the top score, the chosen one included; () if none
    rule: str | None = None  # None (no tie) or one of TIE_RULES

    @property
    def is_tie(self) -> bool:
        return len(self.tied) > 1


def preference(bma_scores: Sequence[Score], candidates: np.ndarray) -> list[int]:
    """Candidates in tie-break order: higher mean training accuracy first, then dataset order.

    Its first entry is BMA (a tie for BMA itself is settled by model order).
    """
    cands = [m for m in range(len(bma_scores)) if candidates[m] and bma_scores[m] is not None]
    return sorted(cands, key=lambda m: (-bma_scores[m], m))


def pick(
    values: Sequence[Score], candidates: np.ndarray, order: Sequence[int], bma_scores: Sequence[Score] | None = None
) -> Pick:
    """The candidate with the highest exact score; ties go to the earliest model of ``order``.

    ``order`` is :func:`preference`'s list (``order[0]`` is BMA). With ``bma_scores``
    the rule that settled a tie is named: ``bma`` (BMA was among the tied),
    ``mean accuracy`` (the best mean training accuracy among them) or ``model
    order`` (tied on that too).
    """
    scored = [m for m in range(len(values)) if candidates[m] and values[m] is not None]
    if not scored:
        raise ValueError("no candidate model has a score")
    top = max(values[m] for m in scored)
    tied = [m for m in scored if values[m] == top]
    rank = {m: i for i, m in enumerate(order)}
    chosen = min(tied, key=lambda m: (rank.get(m, len(rank)), m))
    if len(tied) == 1:
        return Pick(chosen)
    if order and chosen == order[0]:
        rule = "bma"
    elif bma_scores is not None and sum(bma_scores[m] == bma_scores[chosen] for m in tied) == 1:
        rule = "mean accuracy"
    else:
        rule = "model order"
    return Pick(chosen, tuple(sorted(tied)), rule)
