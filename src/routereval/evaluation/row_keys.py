"""The plain keys of a result row, the paper's symbol for each, and the rename of rows written before.

Rows, JSON, Parquet and :meth:`EvaluationResult.frame` use plain names; the paper's
symbols (RouterEval, Huang et al. 2025) head the printed and published tables,
so a table still reads like the paper's. Rows written by routereval 0.1.0
used the symbols as keys; :func:`upgrade_row` renames them when a results
store is read, so nothing stored before has to be recomputed.
"""

from __future__ import annotations

from typing import Any

#: Row key -> the paper's symbol, shown as the table header.
SYMBOLS: dict[str, str] = {
    "mean_score": "mu_o",
    "vs_reference": "V_R",
    "vs_best_single": "V_B",
    "vs_best_single_train": "V_B_train",
    "proba_entropy": "E_p",
    "choice_entropy": "E_sel",
    "reference_score": "mu_ref",
}

#: Keys of rows written before the rename -> today's key.
OLD_KEYS: dict[str, str] = {
    **{symbol: key for key, symbol in SYMBOLS.items()},
    "mu_o_lo": "mean_score_lo",
    "mu_o_hi": "mean_score_hi",
    "mu_o_mc": "mean_score_mc",
    "mu_o_mc_sd": "mean_score_mc_sd",
}


def upgrade_row(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with keys from before the rename given today's names (a row already renamed is returned as is)."""
    if not any(key in OLD_KEYS for key in row):
        return row
    # A key present under both names keeps today's value: the old one can only be a leftover.
    return {OLD_KEYS.get(k, k): v for k, v in row.items() if not (k in OLD_KEYS and OLD_KEYS[k] in row)}
