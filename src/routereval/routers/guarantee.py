"""The statistics behind "not below the best single model": the anchor, out-of-fold gains and their bound.

Used by ``safe`` (is routing with some margin certified?) and ``auto`` (does the
member chosen by nested validation beat the best single model with
confidence?), so both promise the same thing, computed in one place.

The promise. Let a be the *anchor*: the candidate with the best mean score on
the training prompts (raw scores where given, else labels; each over its
present records; ties to the lowest index; a candidate with no training record
is never the anchor). This is exactly the model the evaluation reports as
``best_single_train``. For a routing rule R and a prompt x, the gain is
g(x) = s(x, R(x)) - s(x, a). Assume the prompts of the labelled pool
(train + validation) and the prompts met later are drawn exchangeably from one
distribution. Then with probability at least 1 - delta over the draw of the
pool, a rule that :func:`certify` accepts has expected gain E[g] >= -epsilon:
on average over new prompts it does not fall below the anchor by more than
epsilon.

How. Every labelled prompt gets an out-of-fold estimate (:func:`cross_fit`:
the base is fitted without that prompt), so its gain is measured on a prompt
the rule was not fitted on. For each of the G rules compared, the one-sided
lower bound of the mean gain is mean(g) - z * sd(g) / sqrt(n) with
z = Phi^-1(1 - delta / G): Bonferroni over the G rules, so choosing the best
of G on the same prompts keeps the level 1 - delta. A rule is accepted when
its bound is at least -epsilon *and* its mean gain is above 0 (a rule that is
not estimated to help is never worth leaving the anchor for).

What it does not cover. The rule finally deployed is fitted on all labelled
prompts, not on K - 1 folds of them; with more data a router usually gets
better, so the out-of-fold gains are conservative, but that is a modelling
assumption, not a theorem. The score on a *finite* test set of n' prompts
varies around E[g] by about sd(g) / sqrt(n'): a test set can show a shortfall
larger than epsilon even when the promise holds. ``benchmarks/safe_guarantee.py``
measures how often that happens over random splits.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

DEFAULT_DELTA = 0.05
#: 0: a rule is used only when it is better than the best single model with confidence, the promise users ask
#: of a router that "never loses". A positive epsilon lets a rule whose bound dips slightly below 0 through; on
#: the small datasets (crux: 80 test prompts per pool) 0.01 let safe fall below the anchor on average (-0.0025
#: over 5 splits) while 0 kept it level and changed nothing on llmrouter (benchmarks/safe_guarantee.py).
DEFAULT_EPSILON = 0.0


def anchor_of(train_values: np.ndarray) -> int:
    """The best single model on the training prompts: argmax of per-candidate means over present records.

    Matches the evaluation's ``best_single_train`` (a candidate with no record
    is skipped; ties go to the lowest index; 0 when nothing is recorded).
    """
    v = np.asarray(train_values, dtype=float)
    present = ~np.isnan(v)
    counts = present.sum(axis=0)
    if not counts.any():
        return 0
    means = np.where(counts > 0, np.where(present, v, 0.0).sum(axis=0) / np.maximum(counts, 1), -np.inf)
    return int(np.argmax(means))


def gains(choice: np.ndarray, labels: np.ndarray, anchor: int) -> np.ndarray:
    """Per-prompt gain of choosing ``choice`` over the anchor; 0 where either label is missing.

    A missing label is a prompt on which the two cannot be compared: counting it
    as 0 keeps it in n (the bound gets no wider for it) without inventing a result.
    """
    g = labels[np.arange(len(labels)), choice] - labels[:, anchor]
    return np.where(np.isnan(g), 0.0, g)


def critical_value(delta: float, n_compared: int) -> float:
    """z = Phi^-1(1 - delta / n_compared): the one-sided normal quantile, Bonferroni over the rules compared."""
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    return NormalDist().inv_cdf(1.0 - delta / max(int(n_compared), 1))


def lower_bound(g: np.ndarray, delta: float, n_compared: int) -> float:
    """mean(g) - z * sd(g) / sqrt(n) with z from :func:`critical_value` (-inf with fewer than 2 prompts)."""
    g = np.asarray(g, dtype=float)
    if len(g) < 2:
        return -np.inf
    return float(g.mean() - critical_value(delta, n_compared) * g.std(ddof=1) / np.sqrt(len(g)))


def certify(g: np.ndarray, delta: float, epsilon: float, n_compared: int) -> bool:
    """True when the rule with per-prompt gains ``g`` is accepted (bound >= -epsilon and mean gain > 0)."""
    g = np.asarray(g, dtype=float)
    return bool(len(g) >= 2 and g.mean() > 0 and lower_bound(g, delta, n_compared) >= -epsilon)


def check_levels(delta: float, epsilon: float) -> None:
    """Refuse a delta outside (0, 1) or a negative epsilon, naming the parameter."""
    if not isinstance(delta, (int, float)) or not 0 < float(delta) < 1:
        raise ValueError(f"delta must be a number in (0, 1), got {delta!r}")
    if not isinstance(epsilon, (int, float)) or not float(epsilon) >= 0:
        raise ValueError(f"epsilon must be a number >= 0, got {epsilon!r}")
