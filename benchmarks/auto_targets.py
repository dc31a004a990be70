"""Targets of ``auto`` (and the safe-router target restated): measured over random splits of every offline dataset.

* ``auto`` never below the best single model chosen on train on average on
  any dataset (mean over its pools and splits of mu_o(auto) - best single >= 0);
* ``auto`` closes at least 25% of the gap (mu_o - best single) /
  (oracle - best single) on llmrouter (mean over m = 3, 5);
* ``safe`` below the train-chosen best single model by more than 0.01 in at
  most 10% of (dataset, pool, split) cells and never below it on average:
  read from benchmarks/results/safe_guarantee.json (``safe_guarantee.py``).

Cells as in ``safe_guarantee.py`` (same pools, splits and vectors). Figures
to benchmarks/results/auto_targets.json.

    ROUTEREVAL_HOME=... ROUTEREVAL_MIRROR=... PYTHONPATH=src python benchmarks/auto_targets.py --splits 10
"""

from __future__ import annotations


from _runs import write
from safe_guarantee import DATASETS, EPSILON, arguments, cells, summary
from threadpoolctl import threadpool_limits


def main() -> None:
    args, chosen = arguments(__doc__)
    with threadpool_limits(limits=1):
        rows = cells("auto", args.splits, args.encoder, chosen)
    auto = summary(rows)
    by = auto["by_dataset"]
    targets = {
        "auto_never_below_on_average": {name: d["mean_diff"] >= 0 for name, d in by.items()},
    }
    if "llmrouter" in by:
        gap = sum(by["llmrouter"]["gap_closed_by_m"].values()) / len(by["llmrouter"]["gap_closed_by_m"])
        targets["auto_gap_closed_llmrouter"] = {"value": gap, "target": 0.25, "met": gap >= 0.25}
    chosen_counts: dict[str, int] = {}
    for r in rows:
        chosen_counts[r["learned"]] = chosen_counts.get(r["learned"], 0) + 1
    write("auto_targets", {
        "what": f"auto (default settings) minus the best single model chosen on train, on the test prompts of clean "
                f"pools, {args.splits} split seeds, encoder {args.encoder}; epsilon {EPSILON} for the violation count",
        "command": f"python benchmarks/auto_targets.py --splits {args.splits} --encoder {args.encoder}"
                   + (f" --datasets {args.datasets}" if len(chosen) < len(DATASETS) else ""),
        "encoder": args.encoder, "splits": args.splits, "summary": auto, "chosen": chosen_counts,
        "targets": targets, "rows": rows,
    })


if __name__ == "__main__":
    main()
