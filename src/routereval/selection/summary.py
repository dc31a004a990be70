"""Fold results -> result rows: one per (task, method), and one summary per method.

Per task and method:

* ``accuracy``: the chosen model's accuracy on the held-out task;
* ``ratio``: that over the oracle's (the best candidate's accuracy on the task);
* ``rank``: 1 + the number of candidates strictly more accurate on the task
  (a model tied with the best has rank 1);
* ``pearson`` / ``spearman``: correlation over the candidates between the
  method's scores and their true accuracies (Spearman with average ranks for
  ties; NaN where either side is constant). BMA's scores are the models' mean
  training accuracies; Oracle's are the true accuracies themselves;
* ``bma_chosen``: whether the chosen model is the BMA model.

A summary row averages these over tasks (``ratio``, correlations: over tasks
where they are defined) and gives ``bma_share`` and ``mean_rank``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from routereval.selection.protocol import METHODS, FoldResult


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    sorted_vals = values[order]
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and sorted_vals[end + 1] == sorted_vals[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2.0 + 1.0
        start = end + 1
    return ranks


def correlations(scores: np.ndarray, truth: np.ndarray, candidates: np.ndarray) -> tuple[float, float]:
    """Pearson and Spearman correlation of scores and true accuracies over the candidates."""
    keep = candidates & ~np.isnan(scores) & ~np.isnan(truth)
    a, b = np.asarray(scores, dtype=np.float64)[keep], np.asarray(truth, dtype=np.float64)[keep]
    return _pearson(a, b), _pearson(_average_ranks(a), _average_ranks(b))


def task_rows(folds: Sequence[FoldResult], models: Sequence[str], dataset: str) -> list[dict[str, Any]]:
    """One row per (task, alpha, method)."""
    rows = []
    for f in folds:
        oracle_acc = float(f.true_accuracy[f.choices["Oracle"]])
        bma = f.choices["BMA"]
        for method in METHODS:
            m = f.choices[method]
            acc = float(f.true_accuracy[m])
            pearson, spearman = correlations(f.scores[method], f.true_accuracy, f.candidates)
            row = {
                "kind": "task",
                "dataset": dataset,
                "alpha": f.alpha,
                "task": f.task,
                "method": method,
                "model": models[m],
                "accuracy": acc,
                "oracle_accuracy": oracle_acc,
                "ratio": acc / oracle_acc if oracle_acc > 0 else float("nan"),
                "rank": int(1 + np.sum(f.true_accuracy[f.candidates] > acc)),
                "pearson": pearson,
                "spearman": spearman,
                "bma_chosen": bool(m == bma),
                "n_prompts": f.n_prompts,
                "n_revealed": f.n_revealed,
                "n_candidates": int(f.candidates.sum()),
            }
            if method in f.m_star:
                row["m_star"] = models[f.m_star[method]]
                row["win_rate"] = f.win_rate[method]
                p = f.p_estimate if method == "S3" else f.p_true
                row["p"] = float(p[f.m_star[method]])
            if method == "S3":
                row["descriptor"] = f.descriptor
            rows.append(row)
    return rows


def _nanmean(values: list[float]) -> float:
    arr = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(arr)) if np.isfinite(arr).any() else float("nan")


def summary_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One summary row per (alpha, method), in first-seen order of alpha and METHODS order."""
    out = []
    alphas = list(dict.fromkeys(r["alpha"] for r in rows))
    for alpha in alphas:
        for method in METHODS:
            block = [r for r in rows if r["alpha"] == alpha and r["method"] == method]
            if not block:
                continue
            out.append(
                {
                    "kind": "summary",
                    "dataset": block[0]["dataset"],
                    "alpha": alpha,
                    "task": None,
                    "method": method,
                    "model": None,
                    "accuracy": float(np.mean([r["accuracy"] for r in block])),
                    "oracle_accuracy": float(np.mean([r["oracle_accuracy"] for r in block])),
                    "ratio": _nanmean([r["ratio"] for r in block]),
                    "pearson": _nanmean([r["pearson"] for r in block]),
                    "spearman": _nanmean([r["spearman"] for r in block]),
                    "bma_share": float(np.mean([r["bma_chosen"] for r in block])),
                    "mean_rank": float(np.mean([r["rank"] for r in block])),
                    "n_tasks": len(block),
                }
            )
    return out
