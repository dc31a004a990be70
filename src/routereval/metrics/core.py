"""Routing metrics, defined once for every router (SPEC section 4).

Inputs are the true test scores ``s`` (n x m), a router's *choice
distribution* ``d`` (n x m, rows summing to 1: the probability that prompt j
goes to candidate i; one-hot for deterministic routers) and, for E_p, the
router's own probability vector ``pi`` (n x m).

* mu_o  = mean_j sum_i d[j, i] s[j, i]: the expected score of the routed system.
* V_R   = mu_o / mu_ref, mu_ref a fixed reference for the benchmark.
* V_B   = mu_o / max_i mean_j s[j, i]: against the pool's best single model on
  the same test prompts.
* E_p   = mean_j H(pi[j]) in bits, terms with pi <= 1e-10 dropped (the paper's
  number; not comparable across routers, since each router defines its own pi).
* E_sel = entropy in bits of the selection histogram mean_j d[j]: how evenly a
  router spreads its choices (its classification bias), comparable across
  routers.
"""

from __future__ import annotations

import numpy as np

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


def per_prompt_score(scores: np.ndarray, choice: np.ndarray) -> np.ndarray:
    """Expected score of the routed system on each prompt."""
    return (np.asarray(scores, dtype=float) * np.asarray(choice, dtype=float)).sum(axis=1)


def mu_o(scores: np.ndarray, choice: np.ndarray) -> float:
    """Mean score of the routed system over the test prompts."""
    return float(per_prompt_score(scores, choice).mean())


def best_single_mean(scores: np.ndarray) -> float:
    """max_i mean_j s[j, i]: the best single candidate on these prompts."""
    return float(np.asarray(scores, dtype=float).mean(axis=0).max())


def v_b(scores: np.ndarray, choice: np.ndarray) -> float:
    """mu_o relative to the best single candidate on the same prompts."""
    best = best_single_mean(scores)
    return mu_o(scores, choice) / best if best > 0 else float("nan")


def v_r(mu: float, reference: float) -> float:
    """mu_o relative to a fixed reference score."""
    return mu / reference if reference > 0 else float("nan")


def row_entropy(p: np.ndarray) -> np.ndarray:
    """Entropy in bits of each row; terms with p <= 1e-10 are dropped."""
    p = np.asarray(p, dtype=float)
    keep = p > ENTROPY_FLOOR
    terms = np.zeros_like(p)
    terms[keep] = -p[keep] * np.log2(p[keep])
    return terms.sum(axis=1)


def e_p(pi: np.ndarray) -> float:
    """Mean entropy (bits) of the router's probability vectors."""
    return float(row_entropy(pi).mean())


def selection_histogram(choice: np.ndarray) -> np.ndarray:
    """Share of test prompts routed to each candidate."""
    return np.asarray(choice, dtype=float).mean(axis=0)


def e_sel(choice: np.ndarray) -> float:
    """Entropy (bits) of the selection histogram."""
    return float(row_entropy(selection_histogram(choice)[None, :])[0])


def bootstrap_interval(
    values: np.ndarray, *, n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (resampling prompts)."""
    values = np.asarray(values, dtype=float)
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
