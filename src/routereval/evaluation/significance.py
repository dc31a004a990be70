"""Comparing routers with tests: Holm's correction, and ranks across datasets (Friedman, Nemenyi).

Within one (dataset, m), routers are compared to the best one by paired
bootstrap differences (:func:`routereval.evaluation.aggregate.paired_difference`);
their p-values are corrected together by :func:`holm`. Across datasets,
Demsar (2006) ranks the routers within each dataset, averages the ranks,
tests "all routers are equal" with Friedman's statistic and draws the
Nemenyi critical difference: two routers whose average ranks differ by less
than CD are not told apart at level alpha.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: The level every test of a report uses (Holm-corrected within a (dataset, m)).
ALPHA = 0.05


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given (NaN stays NaN and is not counted).

    The i-th smallest of n p-values is multiplied by n - i + 1 (i from 1), the
    running maximum keeps the adjusted values in the order of the raw ones, and
    nothing exceeds 1. A hypothesis is rejected at level alpha where its
    adjusted p-value is at most alpha.
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(len(p), np.nan)
    known = np.flatnonzero(~np.isnan(p))
    n = len(known)
    order = known[np.argsort(p[known], kind="stable")]
    running = 0.0
    for i, at in enumerate(order):
        running = max(running, min(1.0, (n - i) * p[at]))
        out[at] = running
    return out.tolist()


def average_ranks(table: np.ndarray) -> np.ndarray:
    """Mean rank of each column (router) over the rows (datasets); rank 1 = highest value, ties averaged.

    ``table`` is N datasets x k routers of a score where higher is better (mean mu_o).
    """
    from scipy.stats import rankdata

    table = np.asarray(table, dtype=float)
    if np.isnan(table).any():
        raise ValueError("average ranks need every router measured on every dataset")
    return rankdata(-table, axis=1, method="average").mean(axis=0)


@dataclass(frozen=True)
class Friedman:
    """Friedman's test of k routers on N datasets, from their average ranks (Demsar 2006, section 3.2.2)."""

    k: int
    n: int
    chi2: float
    p_chi2: float
    #: Iman and Davenport's F, less conservative than chi2; F-distributed with (k - 1, (k - 1)(N - 1)) df.
    f: float
    p_f: float


def friedman(ranks: Sequence[float], n: int) -> Friedman:
    """Friedman's chi2_F = 12N / (k (k + 1)) * (sum R_j^2 - k (k + 1)^2 / 4) and Iman-Davenport's F_F.

    ``ranks`` are the k average ranks over ``n`` datasets (as Demsar writes the
    test, without a correction for ties).
    """
    from scipy.stats import chi2 as chi2_dist
    from scipy.stats import f as f_dist

    r = np.asarray(ranks, dtype=float)
    k = len(r)
    if k < 2 or n < 2:
        raise ValueError(f"Friedman's test needs at least 2 routers and 2 datasets, got {k} and {n}")
    chi2 = 12 * n / (k * (k + 1)) * (float(np.sum(r ** 2)) - k * (k + 1) ** 2 / 4)
    # A statistic at its largest (every dataset ranks alike) makes F infinite: p = 0 there.
    denom = n * (k - 1) - chi2
    f = (n - 1) * chi2 / denom if denom > 1e-12 else math.inf
    p_f = 0.0 if math.isinf(f) else float(f_dist.sf(f, k - 1, (k - 1) * (n - 1)))
    return Friedman(k, n, chi2, float(chi2_dist.sf(chi2, k - 1)), f, p_f)


def nemenyi_q(k: int, alpha: float = ALPHA) -> float:
    """q_alpha of the Nemenyi test: the Studentized range quantile for k groups and infinite df, / sqrt(2).

    Computed, not read from a table; Demsar's table gives 3.164 for k = 10 at alpha = 0.05.
    """
    from scipy.stats import studentized_range

    if k < 2:
        raise ValueError(f"the Nemenyi test needs at least 2 routers, got {k}")
    return float(studentized_range.ppf(1 - alpha, k, np.inf)) / math.sqrt(2)


def critical_difference(k: int, n: int, alpha: float = ALPHA) -> float:
    """Nemenyi's CD = q_alpha * sqrt(k (k + 1) / (6 N)) for k routers on N datasets."""
    return nemenyi_q(k, alpha) * math.sqrt(k * (k + 1) / (6 * n))


@dataclass(frozen=True)
class RankSummary:
    """Average ranks of routers across datasets, Friedman's test and the Nemenyi critical difference."""

    routers: list[str]
    datasets: list[str]
    table: np.ndarray
    ranks: np.ndarray
    friedman: Friedman
    cd: float
    alpha: float

    def cliques(self) -> list[tuple[int, int]]:
        """Maximal runs (first, last) of routers in rank order whose ranks differ by less than CD.

        Indices refer to :meth:`order`; a run of one router is left out (it is tied with nobody).
        """
        ranks = self.ranks[self.order()]
        runs = []
        for i in range(len(ranks)):
            j = i
            while j + 1 < len(ranks) and ranks[j + 1] - ranks[i] < self.cd:
                j += 1
            if j > i and not any(a <= i and j <= b for a, b in runs):
                runs.append((i, j))
        return runs

    def order(self) -> list[int]:
        """Router indices from best (lowest) average rank to worst, ties by name."""
        return sorted(range(len(self.routers)), key=lambda i: (self.ranks[i], self.routers[i]))


def rank_summary(table: np.ndarray, routers: Sequence[str], datasets: Sequence[str],
                 alpha: float = ALPHA) -> RankSummary:
    """Ranks, Friedman and CD for a datasets x routers table of mean scores (higher is better)."""
    table = np.asarray(table, dtype=float)
    ranks = average_ranks(table)
    n, k = table.shape
    return RankSummary(list(routers), list(datasets), table, ranks, friedman(ranks, n),
                       critical_difference(k, n, alpha), alpha)
