"""Routing metrics, defined once: mu_o, V_R, V_B, E_p, E_sel and intervals."""

from routereval.metrics.core import (
    ROUTEREVAL_REFERENCE,
    best_single_mean,
    bootstrap_interval,
    e_p,
    e_sel,
    mu_o,
    per_prompt_score,
    row_entropy,
    selection_histogram,
    v_b,
    v_r,
)

__all__ = [
    "ROUTEREVAL_REFERENCE",
    "best_single_mean",
    "bootstrap_interval",
    "e_p",
    "e_sel",
    "mu_o",
    "per_prompt_score",
    "row_entropy",
    "selection_histogram",
    "v_b",
    "v_r",
]
