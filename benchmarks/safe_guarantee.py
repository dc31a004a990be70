"""How often does ``safe`` fall below the best single model chosen on train? Measured over random splits.

For every offline dataset (llmrouter, mmlu-pro and crux at m = 3, 5 and the
three groups; routellm-gsm8k and routellm-mmlu at m = 2) and each split seed,
the clean-protocol pools are rebuilt with that seed
(``rv.router_datasets(..., protocol="clean", split_seed=split_seed)``), ``safe``
(default settings) is fitted on train with the validation split, and on the
test prompts its mean score is compared with that of the best single model
chosen on the training prompts (the evaluation's ``best_single_train``).
Per (dataset, pool, split) cell: the difference, and the gap closed
(mu_o - best single) / (oracle - best single). Summaries: the share of cells
below -epsilon (target <= 10%), the mean difference per dataset (target
>= 0) and the mean gap closed. Figures to benchmarks/results/safe_guarantee.json.

    ROUTEREVAL_HOME=... ROUTEREVAL_MIRROR=... PYTHONPATH=src python benchmarks/safe_guarantee.py --splits 10

Vectors: the cached ``minilm-onnx`` vectors by default (``--encoder tfidf``
fits TF-IDF on each split's training prompts).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from _runs import write
from threadpoolctl import threadpool_limits

import routereval as rv
from routereval.routers import Labelled, Prompts

#: (dataset, pool sizes) of the offline datasets with pools (routellm-mtbench has none: one model passes the filter).
DATASETS = (("llmrouter", (3, 5)), ("mmlu-pro", (3, 5)), ("crux", (3, 5)), ("routellm-gsm8k", (2,)),
            ("routellm-mmlu", (2,)))
EPSILON = 0.01


def cells(router: str, splits: int, encoder: str, datasets: tuple = DATASETS) -> list[dict[str, Any]]:
    """One row per (dataset, pool, split): the router's test score beside the train-chosen best single model."""
    rows = []
    for name, sizes in datasets:
        bench = rv.load_dataset(name)
        for split in range(splits):
            data = rv.router_datasets(bench, sizes=list(sizes), protocol="clean", split_seed=split)
            x = rv.embed(data, encoder, progress=False)
            for pool in data.pools:
                started = time.perf_counter()
                est = rv.make_router(router)
                est.fit(Prompts(embeddings=x[pool.train.positions], scores=pool.train.scores), pool.train.labels,
                        validation=Labelled(Prompts(embeddings=x[pool.val.positions]), pool.val.labels))
                choice = np.argmax(est.predict_quality(Prompts(embeddings=x[pool.test.positions])), axis=1)
                s = np.asarray(pool.test.scores, dtype=float)
                got = s[np.arange(len(s)), choice]
                train_means = np.nanmean(np.asarray(pool.train.scores, dtype=float), axis=0)
                anchor = int(np.nanargmax(train_means))
                # The evaluation scores a prompt only where the chosen model has a record; so do we, pairwise.
                keep = ~np.isnan(got) & ~np.isnan(s[:, anchor])
                mu, best = float(got[keep].mean()), float(s[keep, anchor].mean())
                oracle = float(np.nanmax(s[keep], axis=1).mean())
                rows.append({
                    "dataset": name, "m": pool.m, "group": pool.group, "split": split, "n_test": int(keep.sum()),
                    "mean_score": mu, "best_single_train": best, "oracle": oracle, "diff": mu - best,
                    "gap_closed": (mu - best) / (oracle - best) if oracle > best else float("nan"),
                    "left_anchor": float((choice[keep] != anchor).mean()),
                    "learned": str(getattr(est, "chosen_", getattr(est, "margin_", ""))),
                    "seconds": time.perf_counter() - started,
                })
                r = rows[-1]
                print(f"{name} m={pool.m} {pool.group} split {split}: {router} {mu:.4f} vs {best:.4f} "
                      f"({r['diff']:+.4f}, {r['learned']}, {r['seconds']:.1f} s)", flush=True)
    return rows


def summary(rows: list[dict[str, Any]], epsilon: float = EPSILON) -> dict[str, Any]:
    """Share of cells below -epsilon, and per dataset the mean difference and mean gap closed."""
    diffs = np.array([r["diff"] for r in rows])
    out: dict[str, Any] = {"cells": len(rows), "below_minus_epsilon": int((diffs < -epsilon).sum()),
                           "violation_rate": float((diffs < -epsilon).mean()), "epsilon": epsilon, "by_dataset": {}}
    for name in dict.fromkeys(r["dataset"] for r in rows):
        mine = [r for r in rows if r["dataset"] == name]
        d = np.array([r["diff"] for r in mine])
        gaps = [r["gap_closed"] for r in mine if np.isfinite(r["gap_closed"])]
        by_m = {}
        for m in sorted({r["m"] for r in mine}):
            g = [r["gap_closed"] for r in mine if r["m"] == m and np.isfinite(r["gap_closed"])]
            by_m[str(m)] = float(np.mean(g)) if g else float("nan")
        out["by_dataset"][name] = {
            "cells": len(mine), "mean_diff": float(d.mean()), "min_diff": float(d.min()),
            "violation_rate": float((d < -epsilon).mean()), "gap_closed": float(np.mean(gaps)) if gaps else float("nan"),
            "gap_closed_by_m": by_m, "left_anchor": float(np.mean([r["left_anchor"] for r in mine])),
        }
    return out


def arguments(doc: str) -> tuple[argparse.Namespace, tuple]:
    """The command line of this benchmark and auto_targets.py: splits, encoder, and the datasets chosen."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument("--encoder", default="minilm-onnx")
    parser.add_argument("--datasets", default=",".join(d for d, _ in DATASETS))
    args = parser.parse_args()
    return args, tuple(d for d in DATASETS if d[0] in args.datasets.split(","))


def main() -> None:
    args, chosen = arguments(__doc__)
    with threadpool_limits(limits=1):
        rows = cells("safe", args.splits, args.encoder, chosen)
    write("safe_guarantee", {
        "what": f"safe (default settings) minus the best single model chosen on train, on the test prompts of "
                f"clean pools, {args.splits} split seeds, encoder {args.encoder}",
        "command": f"python benchmarks/safe_guarantee.py --splits {args.splits} --encoder {args.encoder}",
        "encoder": args.encoder, "splits": args.splits, "summary": summary(rows), "targets": targets(summary(rows)),
        "rows": rows,
    })


def targets(s: dict) -> dict:
    """safe's targets: at most 10% of cells below -epsilon, and never below on average on any dataset."""
    return {"violation_rate": {"value": s["violation_rate"], "target": 0.10, "met": s["violation_rate"] <= 0.10},
            "never_below_on_average": {n: d["mean_diff"] >= 0 for n, d in s["by_dataset"].items()}}


if __name__ == "__main__":
    main()
