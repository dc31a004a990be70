"""The paper's analyses of model choice, computed from leave-one-task-out folds.

* :func:`by_distance` (its Figure 3 idea): how the choice degrades as the new
  task's prompts move away from the training pool. Every prompt of a held-out
  task has a distance to the pool, the mean cosine distance to its 19 nearest
  training prompts (the task descriptor u(d') is their mean). Prompts are
  binned by that distance, with bin edges at quantiles of all held-out prompts
  so every bin holds about as many prompts; each (task, bin) with enough
  prompts is then treated as a new task of its own: S1, S2 and S3 choose from
  the fold's estimates on those prompts only (p estimated at the bin's own u,
  from the fold's reference pairs; the fallback as usual), BMA stays BMA, and
  each choice is measured on those prompts against the best model on them.
  Reported per bin: mean accuracy and mean ratio to that oracle.
* :func:`against_reference` (its Figure 4 idea): choosing among a subset of
  models (``--candidates``) against one reference model outside it
  (``--against``): per method and alpha, the share of tasks where the chosen
  model is at least as accurate as the reference, the mean difference and
  the mean ratio of accuracies.
* :func:`correlation_by_descriptor` (its Figure 5 idea): per task, the Pearson
  correlation of S1, S2 and S3 with the models' true accuracies, against
  u(d'); summarised by the Spearman correlation, over tasks, between u(d')
  and each method's correlation (negative: the scores rank models worse on
  tasks far from the training pool).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from routereval.selection import scores as sc
from routereval.selection.choice import choose
from routereval.selection.data import TaskData
from routereval.selection.protocol import POINTWISE, FoldResult
from routereval.selection.settings import Settings
from routereval.selection.summary import average_ranks, pearson

DISTANCE_METHODS = ("S1", "S2", "S3", "BMA", POINTWISE, "Oracle")
MIN_BIN_PROMPTS = 10
CORRELATION_METHODS = ("S1", "S2", "S3")


def distance_edges(folds: Sequence[FoldResult], n_bins: int) -> np.ndarray:
    """Quantile edges of the held-out prompts' distances (n_bins + 1 values, first and last open)."""
    if n_bins < 1:
        raise ValueError(f"need at least one distance bin, got {n_bins}")
    u = np.concatenate([f.prompt_u for f in folds])
    edges = np.quantile(u, np.linspace(0.0, 1.0, n_bins + 1))
    edges[0], edges[-1] = -np.inf, np.inf
    return edges


def by_distance(
    folds: Sequence[FoldResult],
    data: TaskData,
    n_bins: int,
    settings: Settings = Settings(),
    min_prompts: int = MIN_BIN_PROMPTS,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows per task, bin and method; summary rows per bin and method) for one alpha's folds."""
    edges = distance_edges(folds, n_bins)
    per: list[dict[str, Any]] = []
    for f in folds:
        which = np.clip(np.searchsorted(edges, f.prompt_u, side="right") - 1, 0, n_bins - 1)
        for b in range(n_bins):
            local = np.flatnonzero(which == b)
            if len(local) < min_prompts:
                continue
            y = data.correct[f.queries[local]]
            counts = (~np.isnan(y)).sum(axis=0)
            hits = (y == 1).sum(axis=0)
            cand = f.candidates & (counts > 0)
            if not cand.any():
                continue
            truth = np.full(data.n_models, np.nan)
            np.divide(hits, counts, out=truth, where=cand)
            u_bin = float(f.prompt_u[local].mean())
            est = f.estimates.rows(local)
            p = f.references.p(u_bin, settings.bandwidth)
            rng = np.random.default_rng([int(settings.seed), f.task_index, int(round(f.alpha * 1e6)), 2, b])
            picked = choose(est, p, f.bma_exact, cand, rng, settings)
            routed = f.pointwise[local]
            answered = routed >= 0
            oracle = float(np.nanmax(np.where(cand, truth, np.nan)))
            accuracy = {
                "S1": truth[picked.choices["S1"]],
                "S2": truth[picked.choices["S2"]],
                "S3": truth[picked.choices["S3"]],
                "BMA": truth[sc.preference(f.bma_exact, cand)[0]],
                POINTWISE: (float(y[np.flatnonzero(answered), routed[answered]].mean(dtype=np.float64))
                            if answered.any() else np.nan),
                "Oracle": oracle,
            }
            for method in DISTANCE_METHODS:
                acc = float(accuracy[method])
                per.append({
                    "kind": "distance", "task": f.task, "alpha": f.alpha, "bin": b, "method": method,
                    "u": u_bin, "n_prompts": len(local), "accuracy": acc, "oracle_accuracy": oracle,
                    "ratio": acc / oracle if oracle > 0 else float("nan"),
                })
    summary = []
    for b in range(n_bins):
        block = [r for r in per if r["bin"] == b]
        if not block:
            continue
        for method in DISTANCE_METHODS:
            rows = [r for r in block if r["method"] == method]
            summary.append({
                "kind": "distance_summary", "alpha": folds[0].alpha if folds else 0.0, "bin": b,
                "method": method,
                "low": float(edges[b]) if np.isfinite(edges[b]) else None,
                "high": float(edges[b + 1]) if np.isfinite(edges[b + 1]) else None,
                "u": float(np.mean([r["u"] for r in rows])),
                "n_subsets": len(rows),
                "n_prompts": int(sum(r["n_prompts"] for r in rows)),
                "accuracy": float(np.nanmean([r["accuracy"] for r in rows])),
                "ratio": float(np.nanmean([r["ratio"] for r in rows])),
            })
    return per, summary


def against_reference(
    rows: Sequence[dict[str, Any]], reference_accuracy: dict[str, float], reference: str
) -> list[dict[str, Any]]:
    """Per (alpha, method): how often and by how much the chosen model matches the reference model.

    ``rows``: task rows of a run whose candidates exclude ``reference``;
    ``reference_accuracy``: task -> the reference model's accuracy on it.
    A task where the reference has no record is skipped.
    """
    out = []
    alphas = list(dict.fromkeys(r["alpha"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    for alpha in alphas:
        for method in methods:
            block = [r for r in rows if r["alpha"] == alpha and r["method"] == method
                     and np.isfinite(reference_accuracy.get(r["task"], np.nan))]
            if not block:
                continue
            acc = np.array([r["accuracy"] for r in block])
            ref = np.array([reference_accuracy[r["task"]] for r in block])
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(ref > 0, acc / ref, np.nan)
            out.append({
                "kind": "against", "alpha": alpha, "method": method, "reference": reference,
                "accuracy": float(acc.mean()), "reference_accuracy": float(ref.mean()),
                "match_share": float(np.mean(acc >= ref)), "mean_difference": float(np.mean(acc - ref)),
                "mean_ratio": float(np.nanmean(ratio)) if np.isfinite(ratio).any() else float("nan"),
                "n_tasks": len(block),
            })
    return out


def correlation_by_descriptor(rows: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(per task: u and each method's Pearson; per (alpha, method): Spearman of u against that Pearson)."""
    per = []
    alphas = list(dict.fromkeys(r["alpha"] for r in rows))
    for alpha in alphas:
        tasks = list(dict.fromkeys(r["task"] for r in rows if r["alpha"] == alpha))
        for task in tasks:
            by = {r["method"]: r for r in rows if r["alpha"] == alpha and r["task"] == task}
            per.append({"kind": "correlation", "alpha": alpha, "task": task, "u": by["S3"]["descriptor"],
                        **{m: by[m]["pearson"] for m in CORRELATION_METHODS}})
    summary = []
    for alpha in alphas:
        block = [r for r in per if r["alpha"] == alpha]
        for m in CORRELATION_METHODS:
            pairs = [(r["u"], r[m]) for r in block if np.isfinite(r[m])]
            u, c = (np.array(x) for x in zip(*pairs)) if pairs else (np.array([]), np.array([]))
            summary.append({
                "kind": "correlation_summary", "alpha": alpha, "method": m, "n_tasks": len(pairs),
                "mean_pearson": float(c.mean()) if len(c) else float("nan"),
                "spearman_u": pearson(average_ranks(u), average_ranks(c)) if len(c) > 2 else float("nan"),
                "pearson_u": pearson(u, c) if len(c) > 2 else float("nan"),
            })
    return per, summary
