"""Routing metrics, defined once: mu_o, V_R, V_B, E_p, E_sel, gap closed, intervals, and costs.

Plain names for the paper's symbols: :func:`mean_score` (mu_o),
:func:`vs_reference` (V_R), :func:`vs_best_single` (V_B),
:func:`proba_entropy` (E_p), :func:`choice_entropy` (E_sel); calibration of quality
estimates: :func:`brier_score`, :func:`reliability_table`.
"""

from routereval.metrics.calibration import Reliability, brier_score, reliability_table
from routereval.metrics.cost import (
    aiq,
    apgr,
    cost_summary,
    cost_to_reach,
    cpt,
    hull_height,
    per_prompt_cost,
    pgr,
    saving,
    upper_hull,
)
from routereval.metrics.core import (
    ROUTEREVAL_REFERENCE,
    AgainstBestSingle,
    against_best_single,
    best_single_mean,
    bootstrap_interval,
    choice_entropy,
    gap_closed,
    mean_score,
    per_prompt_score,
    proba_entropy,
    row_entropy,
    selection_histogram,
    single_means,
    vs_best_single,
    vs_reference,
)

__all__ = [
    "aiq",
    "apgr",
    "cost_summary",
    "cost_to_reach",
    "cpt",
    "hull_height",
    "per_prompt_cost",
    "pgr",
    "saving",
    "upper_hull",
    "ROUTEREVAL_REFERENCE",
    "Reliability",
    "best_single_mean",
    "bootstrap_interval",
    "brier_score",
    "choice_entropy",
    "AgainstBestSingle",
    "against_best_single",
    "gap_closed",
    "mean_score",
    "per_prompt_score",
    "proba_entropy",
    "reliability_table",
    "row_entropy",
    "selection_histogram",
    "single_means",
    "vs_best_single",
    "vs_reference",
]
