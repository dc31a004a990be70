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
* ``bma_chosen``: whether the chosen model is the BMA model;
* ``tie``, ``tied_with``, ``tie_rule``: whether the top score was shared
  (for S3: S3's best model before the fallback), with which other models, and
  which rule settled it (``bma``, ``mean accuracy`` or ``model order``; see
  :func:`routereval.selection.scores.pick`).

With ``pointwise=True`` a ``Pointwise`` row per task gives per-prompt routing
from the same estimates: ``accuracy`` is the mean correctness of the routed
answers on the unlabelled prompts (the whole task at alpha = 0), ``model`` the
model most prompts went to, ``bma_chosen`` the share of prompts routed to BMA
and ``n_models_used`` how many models received prompts; it has no scores, so
no correlations.

A summary row averages these over tasks (``ratio``, correlations: over tasks
where they are defined) and gives ``bma_share``, ``mean_rank`` and ``n_ties``
(tasks whose top score was tied).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from routereval.selection.protocol import METHODS, POINTWISE, FoldResult


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def average_ranks(values: np.ndarray) -> np.ndarray:
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
    return pearson(a, b), pearson(average_ranks(a), average_ranks(b))


def task_rows(
    folds: Sequence[FoldResult], models: Sequence[str], dataset: str, *, pointwise: bool = False
) -> list[dict[str, Any]]:
    """One row per (task, alpha, method); ``pointwise`` adds the per-prompt routing row."""
    rows = []
    for f in folds:
        oracle_acc = float(f.true_accuracy[f.choices["Oracle"]])
        bma = f.choices["BMA"]
        for method in METHODS:
            m = f.choices[method]
            acc = float(f.true_accuracy[m])
            pearson, spearman = correlations(f.scores[method], f.true_accuracy, f.candidates)
            pick = f.picks.get(method)
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
                "rank": _rank(f, acc),
                "pearson": pearson,
                "spearman": spearman,
                "bma_chosen": bool(m == bma),
                "tie": bool(pick is not None and pick.is_tie),
                "tied_with": [models[t] for t in pick.tied if t != pick.model] if pick is not None else [],
                "tie_rule": pick.rule if pick is not None else None,
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
        if pointwise:
            rows.append(_pointwise_row(f, models, dataset, oracle_acc))
    return rows


def _rank(f: FoldResult, accuracy: float) -> int:
    return int(1 + np.sum(f.true_accuracy[f.candidates] > accuracy))


def _pointwise_row(f: FoldResult, models: Sequence[str], dataset: str, oracle_acc: float) -> dict[str, Any]:
    routed = f.pointwise[f.pointwise >= 0]
    used, counts = np.unique(routed, return_counts=True)
    acc = f.pointwise_accuracy
    return {
        "kind": "task",
        "dataset": dataset,
        "alpha": f.alpha,
        "task": f.task,
        "method": POINTWISE,
        "model": models[int(used[np.argmax(counts)])] if len(used) else None,
        "accuracy": acc,
        "oracle_accuracy": oracle_acc,
        "ratio": acc / oracle_acc if oracle_acc > 0 else float("nan"),
        "rank": _rank(f, acc),
        "pearson": float("nan"),
        "spearman": float("nan"),
        "bma_chosen": float(np.mean(routed == f.choices["BMA"])) if len(routed) else float("nan"),
        "tie": False,
        "tied_with": [],
        "tie_rule": None,
        "n_models_used": len(used),
        "n_prompts": f.n_prompts,
        "n_revealed": f.n_revealed,
        "n_candidates": int(f.candidates.sum()),
    }


def _nanmean(values: list[float]) -> float:
    arr = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(arr)) if np.isfinite(arr).any() else float("nan")


def summary_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One summary row per (alpha, method), in first-seen order of alpha and METHODS order (then Pointwise)."""
    out = []
    alphas = list(dict.fromkeys(r["alpha"] for r in rows))
    for alpha in alphas:
        for method in (*METHODS, POINTWISE):
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
                    "n_ties": int(sum(r.get("tie", False) for r in block)),
                    "n_tasks": len(block),
                }
            )
    return out
