"""Routing metrics, defined once for every router (definitions: docs/routers.md).

Inputs are the true test scores ``s`` (n x m, NaN where a record is missing),
a *choice distribution* ``d`` from a policy (n x m, rows summing to 1: the
probability that prompt j goes to candidate i; one-hot for deterministic
policies) and, for E_p, the router's own probability vector ``pi`` (n x m).

Function (plain name) and the paper's symbol, used as table header and JSON key:

* :func:`mean_score`      mu_o  = mean_j sum_i d[j, i] s[j, i]: the routed system's expected score.
* :func:`vs_reference`    V_R   = mu_o / mu_ref, mu_ref a fixed reference for the benchmark.
* :func:`vs_best_single`  V_B   = mu_o / max_i mean_j s[j, i]: against the pool's best single
  model on the same prompts.
* :func:`proba_entropy`   E_p   = mean_j H(pi[j]) in bits, terms with pi <= 1e-10 dropped (the
  paper's number; not comparable across routers, each defines its own pi).
* :func:`choice_entropy`  E_sel = entropy in bits of the selection histogram mean_j d[j]: how
  evenly a router spreads its choices (its classification bias), comparable across routers.
* :func:`gap_closed`      (mu_o - mu_best_single) / (mu_oracle - mu_best_single).

Missing records: a prompt is *scored* when every candidate the policy may send
it to (d > 0) has a record there; unscored prompts are NaN in
:func:`per_prompt_score` and left out of every mean, and callers report how
many there were.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from routereval.errors import ArgumentError

# RouterEval's reference scores mu_ref, per benchmark.
ROUTEREVAL_REFERENCE = {
    "arc": 0.852,
    "hellaswag": 0.953,
    "mmlu": 0.864,
    "harness_truthfulqa_mc_0": 0.669,
    "truthfulqa": 0.669,
    "winogrande": 0.875,
    "gsm8k": 0.92,
    "ifeval": 0.7689,
    "bbh": 0.8303,
    "gpqa": 0.397,
    "math": 0.40,
    "musr": 0.699,
    "mmlu_pro": 0.637,
}

ENTROPY_FLOOR = 1e-10
#: How far a row of probabilities may be from summing to 1: float32 routers and mixing policies
#: round by about 1e-7 per entry; 1e-6 allows that and still catches a wrong normalisation.
SUM_TOLERANCE = 1e-6
#: Bootstrap resamples: the percentiles are stable to about 0.001 by 10,000; more only costs time.
MAX_N_BOOT = 100_000
#: Bootstrap resamples by default, as RouterEval reports its intervals.
DEFAULT_N_BOOT = 1000


def check_distribution(p: object, name: str) -> np.ndarray:
    """``p`` as an n x m array of probability rows (finite, >= 0, each summing to 1), else ArgumentError naming it.

    A 1-d vector is one row. Rows of all zeros are refused like any other row not summing to 1.
    """
    arr = np.asarray(p, dtype=float)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ArgumentError(f"{name} must be a 2-d array of probability rows (one per prompt), got shape {arr.shape}")
    if arr.size == 0:
        return arr
    bad = ~np.isfinite(arr)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ArgumentError(f"{name} holds {arr[row, col]} at row {row}, column {col} (0-based); probabilities "
                            "must be finite")
    if (arr < 0).any():
        row, col = np.argwhere(arr < 0)[0]
        raise ArgumentError(f"{name} holds {arr[row, col]:g} at row {row}, column {col} (0-based); probabilities "
                            "must be >= 0")
    sums = arr.sum(axis=1)
    off = np.abs(sums - 1.0) > SUM_TOLERANCE
    if off.any():
        row = int(np.flatnonzero(off)[0])
        raise ArgumentError(f"{name} row {row} (0-based) sums to {sums[row]:.6g}, not 1; each row must be a "
                            f"probability distribution (tolerance {SUM_TOLERANCE:g})")
    return arr


def check_n_boot(n_boot: object, name: str = "n_boot") -> int:
    """``n_boot`` as an int in 1..MAX_N_BOOT, else ArgumentError naming it."""
    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral):
        raise ArgumentError(f"{name} must be an integer, got {n_boot!r}")
    if not 1 <= n_boot <= MAX_N_BOOT:
        raise ArgumentError(f"{name} must lie in 1..{MAX_N_BOOT}, got {n_boot}")
    return int(n_boot)


def per_prompt_expectation(values: np.ndarray, choice: np.ndarray) -> np.ndarray:
    """sum_i d[j, i] v[j, i] per prompt j; NaN where a possible choice (d > 0) has no value (NaN)."""
    v = np.asarray(values, dtype=float)
    d = check_distribution(choice, "choice")
    if d.shape != v.shape:
        raise ArgumentError(f"choice has shape {d.shape} but the values have {v.shape}; one row per prompt, "
                            "one column per candidate")
    missing = np.isnan(v)
    out = (np.where(missing, 0.0, v) * d).sum(axis=1)
    out[(missing & (d > 0)).any(axis=1)] = np.nan
    return out


def per_prompt_score(scores: np.ndarray, choice: np.ndarray) -> np.ndarray:
    """Expected score of the routed system on each prompt; NaN where a possible choice has no record."""
    return per_prompt_expectation(scores, choice)


def _nanmean(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=float)
    present = values[~np.isnan(values)]
    return float(present.mean()) if len(present) else float("nan")


def mean_score(scores: np.ndarray, choice: np.ndarray) -> float:
    """mu_o: mean score of the routed system over the scored prompts."""
    return _nanmean(per_prompt_score(scores, choice))


def single_means(scores: np.ndarray) -> np.ndarray:
    """Each candidate's mean over its present records on these prompts (NaN for none)."""
    s = np.asarray(scores, dtype=float)
    present = ~np.isnan(s)
    counts = present.sum(axis=0)
    sums = np.where(present, s, 0.0).sum(axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def best_single_mean(scores: np.ndarray) -> float:
    """max_i mean_j s[j, i]: the best single candidate on these prompts."""
    means = single_means(scores)
    return float(np.nanmax(means)) if np.isfinite(means).any() else float("nan")


def vs_best_single(scores: np.ndarray, choice: np.ndarray) -> float:
    """V_B: mu_o relative to the best single candidate, both on the prompts the router's choice can be scored on."""
    per_prompt = per_prompt_score(scores, choice)
    scored = ~np.isnan(per_prompt)
    best = best_single_mean(np.asarray(scores, dtype=float)[scored])
    return _nanmean(per_prompt) / best if best > 0 else float("nan")


def vs_reference(mu: float, reference: float) -> float:
    """V_R: mu_o relative to a fixed reference score."""
    return mu / reference if reference > 0 else float("nan")


class AgainstBestSingle(NamedTuple):
    """A routed system beside the deployable best single model and the oracle, on the same prompts."""

    #: Prompts the routed system's choice has a record on: every figure below is over these.
    n_scored: int
    mean_score: float
    #: The candidate with the best mean on the training prompts (what a deployment can know), and its mean here.
    best_single_train_index: int
    best_single_train: float
    #: The best candidate with a record on each prompt.
    oracle: float

    @property
    def gap_closed(self) -> float:
        """Share of the headroom above the train-chosen best single model the routed system closes."""
        return gap_closed(self.mean_score, self.best_single_train, self.oracle)


def against_best_single(scores: np.ndarray, choice: np.ndarray, train_means: np.ndarray) -> AgainstBestSingle:
    """The routed system's mean score beside the train-chosen best single model's and the oracle's.

    ``scores`` are the n x m test scores (NaN = no record), ``choice`` the n x m
    choice distributions (one-hot rows for a deterministic router),
    ``train_means`` each candidate's mean on the training prompts. All three
    figures are over the prompts the choice can be scored on, so they compare
    like with like.
    """
    # Scores stay in their own dtype (float32 records give float32 sums): the figures must not move a digit.
    scores = np.asarray(scores)
    per_prompt = per_prompt_score(scores, choice)
    scored = ~np.isnan(per_prompt)
    on_scored = scores[scored]
    mu = float(per_prompt[scored].mean()) if scored.any() else float("nan")
    best = int(np.nanargmax(train_means)) if np.isfinite(train_means).any() else 0
    if not len(on_scored):
        return AgainstBestSingle(0, mu, best, float("nan"), float("nan"))
    with np.errstate(all="ignore"):
        oracle = float(np.where(np.isnan(on_scored), -np.inf, on_scored).max(axis=1).mean())
    return AgainstBestSingle(int(scored.sum()), mu, best, float(single_means(on_scored[:, [best]])[0]), oracle)


def gap_closed(mu: float, mu_best_single: float, mu_oracle: float) -> float:
    """Share of the headroom between the best single model and the oracle a router closes (NaN without headroom)."""
    headroom = mu_oracle - mu_best_single
    return (mu - mu_best_single) / headroom if headroom > 0 else float("nan")


def row_entropy(p: np.ndarray) -> np.ndarray:
    """Entropy in bits of each probability row; terms with p <= 1e-10 are dropped."""
    p = check_distribution(p, "p")
    keep = p > ENTROPY_FLOOR
    terms = np.zeros_like(p)
    terms[keep] = -p[keep] * np.log2(p[keep])
    return terms.sum(axis=1)


def proba_entropy(pi: np.ndarray) -> float:
    """E_p: mean entropy (bits) of the router's probability vectors."""
    return float(row_entropy(check_distribution(pi, "pi")).mean())


def selection_histogram(choice: np.ndarray) -> np.ndarray:
    """Share of test prompts routed to each candidate."""
    return check_distribution(choice, "choice").mean(axis=0)


def choice_entropy(choice: np.ndarray) -> float:
    """E_sel: entropy (bits) of the selection histogram."""
    return float(row_entropy(selection_histogram(choice)[None, :])[0])


def bootstrap_interval(
    values: np.ndarray, *, n_boot: int = DEFAULT_N_BOOT, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (resampling prompts; NaN = unscored, left out)."""
    n_boot = check_n_boot(n_boot)
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < level < 1:
        raise ArgumentError(f"level must be a number in (0, 1), e.g. 0.95, got {level!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ArgumentError(f"seed must be an integer >= 0, got {seed!r}")
    values = np.asarray(values, dtype=float)
    if np.isinf(values).any():
        raise ArgumentError("values holds an infinite value; NaN marks an unscored prompt")
    values = values[~np.isnan(values)]
    n = len(values)
    if n == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    # Resample in chunks so that memory stays bounded for large test sets.
    means = np.empty(n_boot)
    step = max(1, 2**22 // max(n, 1))
    for a in range(0, n_boot, step):
        b = min(a + step, n_boot)
        idx = rng.integers(0, n, size=(b - a, n))
        means[a:b] = values[idx].mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return float(lo), float(hi)
