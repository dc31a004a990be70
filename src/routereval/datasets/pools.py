"""Candidate pools: which m models a router chooses among (RouterEval protocol).

With a_k the mean score of model k over the selection prompts and the models
sorted by a_k ascending (stable: ties keep benchmark order):

1. models with a_k <= 0.1 or a_k > 0.9 are out of reach: ``first`` is the first
   sorted position with a_k > 0.1, ``last`` the first with a_k > 0.9 (else M);
2. L = max(M // 5, m); the weak region is sorted[first : first + L], the strong
   region sorted[last - L : last];
3. oracle(P) = mean over prompts of the best score in P;
4. all_weak / all_strong: of the windows of m rank-adjacent models sliding over
   the region, the one with the highest oracle(P) (the first on ties);
5. strong_to_weak: sorted[first:last] cut into m contiguous groups (sizes as
   equal as possible, the remainder one each to the first groups); 1,000 times
   one model per group is drawn at random; the draw with the highest oracle(P)
   is kept (the first on ties).

Only strong_to_weak uses randomness. Sizes are processed in the order given and
groups in the order all_strong, all_weak, strong_to_weak, so that one random
state seeded for the split and passed on reproduces the published pools.

Missing records: a_k is the mean over a model's present records; oracle(P)
takes, per prompt, the best present score in P and averages over the prompts
where P has at least one record.

Selection prompts: the *faithful* protocol uses every prompt of the benchmark
(as published, test prompts included); the *clean* protocol passes only the
training and validation prompts, so no choice is informed by the test set.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import contextlib
import warnings

import numpy as np

from routereval.datasets.bitsets import pack_columns, popcount_rows
from routereval.records.benchmark import BINARY, MISSING_U8, Benchmark

EASY_SIZES = (3, 5)
HARD_SIZES = (10, 100, 1000)
PUBLISHED_SIZES = EASY_SIZES + HARD_SIZES
GROUPS = ("all_strong", "all_weak", "strong_to_weak")
#: RouterEval's size sets by name, as the command line and sweep files accept them.
NAMED_SIZES = {"easy": EASY_SIZES, "hard": HARD_SIZES, "all": PUBLISHED_SIZES}
LOW, HIGH = 0.1, 0.9
N_DRAWS = 1000


def setting_of(m: int) -> str:
    """RouterEval's name for a pool size: ``easy`` (m <= 5) or ``hard``."""
    return "easy" if m <= max(EASY_SIZES) else "hard"


@dataclass(frozen=True)
class PoolChoice:
    """m candidate models (column positions in the benchmark) and how they were chosen."""

    m: int
    group: str
    models: tuple[int, ...]
    oracle: float

    @property
    def setting(self) -> str:
        return setting_of(self.m)


class OracleScorer:
    """Fast oracle(P) for many candidate sets P over fixed selection prompts.

    Binary records are bit sets per model (:mod:`routereval.datasets.bitsets`:
    one for "correct", one for "present"), so the oracle of a pool is an OR
    over its models and a popcount.
    """

    def __init__(self, bench: Benchmark, prompts: np.ndarray | None = None) -> None:
        rows = np.arange(bench.n_prompts) if prompts is None else np.asarray(prompts)
        self.binary = bench.kind == BINARY
        m = bench.n_models
        means = np.full(m, np.nan)
        if self.binary:
            n_words = (len(rows) + 63) // 64
            self._correct = np.zeros((m, n_words), dtype=np.uint64)
            self._present = np.zeros((m, n_words), dtype=np.uint64)
        else:
            self._values = np.empty((m, len(rows)), dtype=np.float32)
        for cols in _blocks(m, len(rows)):
            stored = np.asarray(bench.scores[:, cols])[rows]  # n x block
            if self.binary:
                present = stored != MISSING_U8
                correct = stored == 1
                self._correct[cols] = pack_columns(correct)
                self._present[cols] = pack_columns(present)
                counts = present.sum(axis=0)
                with np.errstate(invalid="ignore", divide="ignore"):
                    means[cols] = np.where(counts > 0, correct.sum(axis=0) / np.maximum(counts, 1), np.nan)
            else:
                vals = stored.astype(np.float32)
                self._values[cols] = vals.T
                with _quiet():
                    means[cols] = np.nanmean(vals, axis=0)
        self.means = means

    def oracle(self, models: Iterable[int] | np.ndarray) -> float:
        """Mean over prompts of the best score among ``models``."""
        idx = np.asarray(models, dtype=np.int64)
        if self.binary:
            hit = np.bitwise_or.reduce(self._correct[idx], axis=0)
            seen = np.bitwise_or.reduce(self._present[idx], axis=0)
            n_seen = int(popcount_rows(seen[None, :])[0])
            return float(popcount_rows(hit[None, :])[0] / n_seen) if n_seen else float("nan")
        best = np.fmax.reduce(self._values[idx], axis=0)
        with _quiet():
            return float(np.nanmean(best))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence "mean of empty slice": all-missing columns are meant to give NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _blocks(m: int, n: int, budget: int = 256 * 2**20) -> list[slice]:
    step = max(1, budget // max(1, n * 4))
    return [slice(a, min(a + step, m)) for a in range(0, m, step)]


def ranked_models(means: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Models sorted by mean ascending, and the [first, last) range in reach.

    Models without any record (NaN mean) are left out of the ranking.
    """
    valid = np.flatnonzero(~np.isnan(means))
    order = valid[np.argsort(means[valid], kind="stable")]
    sorted_means = means[order]
    above_low = np.flatnonzero(sorted_means > LOW)
    above_high = np.flatnonzero(sorted_means > HIGH)
    first = int(above_low[0]) if len(above_low) else len(order)
    last = int(above_high[0]) if len(above_high) else len(order)
    return order, first, last


def best_window(scorer: OracleScorer, region: np.ndarray, m: int) -> tuple[np.ndarray, float]:
    """The window of m adjacent models in ``region`` with the highest oracle."""
    best, best_score = region[:m], -np.inf
    for start in range(len(region) - m + 1):
        window = region[start : start + m]
        score = scorer.oracle(window)
        if score > best_score:
            best, best_score = window, score
    return best, best_score


def best_draw(
    scorer: OracleScorer, in_reach: np.ndarray, m: int, rng: np.random.RandomState, n_draws: int
) -> tuple[np.ndarray, float]:
    """One model per contiguous group, drawn ``n_draws`` times; the best draw."""
    groups = np.array_split(in_reach, m)
    sizes = np.array([len(g) for g in groups])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    best, best_score = None, -np.inf
    for _ in range(n_draws):
        # One vectorised call draws exactly what `rng.choice(group)` per group would.
        draw = in_reach[offsets + rng.randint(0, sizes)]
        score = scorer.oracle(draw)
        if score > best_score:
            best, best_score = draw, score
    return best, best_score


def pool_size_problem(n_models: int, first: int, last: int, m: int) -> str | None:
    """Why a pool of size m cannot be built, or None if it can."""
    in_reach = last - first
    if m > in_reach:
        return (
            f"m = {m} needs {m} models with {LOW} < mean <= {HIGH}; "
            f"this benchmark has {in_reach} (of {n_models})"
        )
    return None


def select_pools(
    scorer: OracleScorer,
    sizes: Iterable[int],
    rng: np.random.RandomState,
    groups: Iterable[str] = GROUPS,
    n_draws: int = N_DRAWS,
) -> tuple[list[PoolChoice], dict[int, str]]:
    """Pools for each size and group, and the sizes skipped with the reason."""
    groups = [g for g in GROUPS if g in set(groups)]
    order, first, last = ranked_models(scorer.means)
    n_all = len(scorer.means)
    pools: list[PoolChoice] = []
    skipped: dict[int, str] = {}
    for m in sizes:
        problem = pool_size_problem(n_all, first, last, m)
        if problem:
            skipped[m] = problem
            continue
        width = max(n_all // 5, m)
        for group in groups:
            if group == "all_weak":
                models, score = best_window(scorer, order[first : first + width], m)
            elif group == "all_strong":
                models, score = best_window(scorer, order[max(last - width, 0) : last], m)
            else:
                models, score = best_draw(scorer, order[first:last], m, rng, n_draws)
            pools.append(PoolChoice(m=m, group=group, models=tuple(int(i) for i in models), oracle=score))
    return pools, skipped
