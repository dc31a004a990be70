"""The zoo's quality targets, measured on a results store of ``experiments/zoo.toml``.

* safe never below the deployable best single model: per (dataset, m, group) cell, the 95%
  paired bootstrap interval of mu_o(safe) - mu_o(best-single) (the best single model chosen on
  train), resampling test prompts jointly for every seed of the cell; target: lower end > -0.005.
* the best router closes >= 10% of the gap on average over the datasets' pools, and on at
  least two datasets its mu_o interval (mean over the dataset's pools) lies strictly above
  every RouterEval baseline's.

    PYTHONPATH=src python benchmarks/zoo_targets.py results/zoo      # -> benchmarks/results/zoo_targets.json

safe's own guarantee, measured over random splits, is benchmarks/safe_guarantee.py.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict

import numpy as np
from _runs import write

from routereval.evaluation.aggregate import paired_difference, summarise
from routereval.results.store import ResultsStore

BASELINES = ("linear", "mlp", "cluster", "knn", "best-single")
BOUNDS = ("oracle", "ro(0.5)", "random")
N_BOOT, SEED = 1000, 0


def paired_interval(a_rows: list[dict], b_rows: list[dict]) -> tuple[float, float, float]:
    """Mean and 95% interval of mean(a) - mean(b) over matched (pool, seed) rows, prompts resampled jointly."""
    return paired_difference(a_rows, b_rows, n_boot=N_BOOT, seed=SEED)


def leaderboard(rows: list[dict]) -> str:
    """Markdown: per (dataset, m), routers by mu_o with interval, gap closed, V_B_train and E_sel (means over groups and seeds)."""
    lines = []
    for cell_key, cells in _by_cell(summarise(rows, n_boot=N_BOOT, seed=SEED)).items():
        dataset, m = cell_key
        title = (f"**{dataset}, m = {m}** (mean of {', '.join(cells[0]['groups'])}; seeds "
                 f"{', '.join(map(str, cells[0]['seeds']))})")
        lines += [title, "",
                  "| router | mu_o [95% CI] | gap closed | V_B_train | E_sel |", "|---|---:|---:|---:|---:|"]
        for c in sorted(cells, key=lambda c: -c["mean_score"]):
            lines.append(f"| {c['router']} | {c['mean_score']:.3f} [{c['mean_score_lo']:.3f}, {c['mean_score_hi']:.3f}] | "
                         f"{c['gap_closed']:.3f} | {c['vs_best_single_train']:.3f} | {c['choice_entropy']:.2f} |")
        lines.append("")
    return "\n".join(lines)


def summary_tables(dataset_cells: dict[str, dict[str, dict]], leaders: dict[str, dict], mean_gap: dict[str, float]) -> str:
    """Markdown: gap closed per router and dataset, then the best router of each dataset beside the best baseline."""
    datasets = sorted(dataset_cells)
    lines = ["| router | " + " | ".join(datasets) + " | mean |", "|---|" + "---:|" * (len(datasets) + 1)]
    for router in sorted(mean_gap, key=lambda k: -mean_gap[k]):
        cells = [f"{dataset_cells[d][router]['gap_closed']:.3f}" for d in datasets]
        lines.append(f"| {router} | " + " | ".join(cells) + f" | {mean_gap[router]:.3f} |")
    header = ("| dataset | best router | mu_o [95% CI] | gap closed | V_B_train | E_sel | best RouterEval baseline "
              "| its mu_o | paired difference [95% CI] |")
    lines += ["", header, "|---|---|---:|---:|---:|---:|---|---:|---:|"]
    for d in datasets:
        lead, cell = leaders[d], dataset_cells[d][leaders[d]["best_router"]]
        diff = lead["paired_diff_vs_best_baseline"]
        lines.append(f"| {d} | {lead['best_router']} | {cell['mean_score']:.3f} [{cell['mean_score_lo']:.3f}, {cell['mean_score_hi']:.3f}] "
                     f"| {cell['gap_closed']:.3f} | {cell['vs_best_single_train']:.3f} | {cell['choice_entropy']:.2f} | {lead['best_baseline']} "
                     f"| {lead['best_baseline_mean_score']:.3f} | {diff['mean']:+.4f} [{diff['lo']:+.4f}, {diff['hi']:+.4f}] |")
    return "\n".join(lines) + "\n"


def is_safe(router: str) -> bool:
    """The safe router under its default settings (``safe``) or others (``safe[z=2.5]``)."""
    return router == "safe" or router.startswith("safe[")


def _by_cell(cells: list[dict]) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = defaultdict(list)
    for c in cells:
        out[(c["dataset"], int(c["m"]))].append(c)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store")
    parser.add_argument("--name", default="zoo_targets", help="figures go to benchmarks/results/NAME.json")
    parser.add_argument("--summary", help="also write the README's tables (gap closed per dataset, best router per dataset) here")
    parser.add_argument("--markdown", help="also write the leaderboard (mu_o [95%], gap closed, V_B_train, E_sel) here")
    args = parser.parse_args()
    rows = ResultsStore(args.store).read_rows()
    if not rows:
        sys.exit(f"no rows in {args.store}")
    by = defaultdict(list)
    for r in rows:
        by[(r["dataset"], int(r["m"]), r["group"], r["router"])].append(r)
    for part in by.values():
        part.sort(key=lambda r: int(r.get("seed", 0)))

    safe_cells = []
    for (dataset, m, group, router), part in sorted(by.items()):
        if not is_safe(router) or (dataset, m, group, "best-single") not in by:
            continue
        single = by[(dataset, m, group, "best-single")]
        seeds = sorted({int(r["seed"]) for r in part} & {int(r["seed"]) for r in single})
        part = [r for r in part if int(r["seed"]) in seeds]
        single = [r for r in single if int(r["seed"]) in seeds]
        point, lo, hi = paired_interval(part, single)
        # Whether safe left its anchor at all, and whether its anchor (train + validation) is the
        # best single model chosen on train: a difference with E_sel = 0 is the anchor's, not routing's.
        routed = any(float(r["choice_entropy"]) > 0 for r in part)
        same_anchor = all(np.argmax(a["selection"]) == np.argmax(b["selection"]) for a, b in zip(part, single))
        safe_cells.append({"router": router, "dataset": dataset, "m": m, "group": group, "seeds": seeds,
                           "diff": point, "lo": lo, "hi": hi, "ok": lo > -0.005, "routed": routed,
                           "anchor_is_best_single": None if routed else bool(same_anchor)})

    # Per dataset: means over its pools (every m and group) and seeds, with joint intervals.
    per_dataset = defaultdict(list)
    for r in rows:
        per_dataset[r["dataset"]].append({**r, "m": 0, "group": "all"})
    leaders, dataset_cells = {}, {}
    for dataset, part in per_dataset.items():
        cells = {c["router"]: c for c in summarise(part, n_boot=N_BOOT, seed=SEED)}
        dataset_cells[dataset] = cells
        learned = {k: c for k, c in cells.items() if k not in BOUNDS}
        best = max(learned, key=lambda k: learned[k]["mean_score"])
        top_baseline_hi = max(cells[b]["mean_score_hi"] for b in BASELINES if b in cells)
        baseline = max((b for b in BASELINES if b in cells), key=lambda b: cells[b]["mean_score"])
        # The paired view: the same prompts, pools and seeds under both routers.
        keys = sorted({(int(r["m"]), r["group"], int(r["seed"])) for r in rows if r["dataset"] == dataset
                       and r["router"] == best} & {(int(r["m"]), r["group"], int(r["seed"])) for r in rows
                                                   if r["dataset"] == dataset and r["router"] == baseline})
        index = {(r["router"], int(r["m"]), r["group"], int(r["seed"])): r for r in rows if r["dataset"] == dataset}
        diff = paired_interval([index[(best, *k)] for k in keys], [index[(baseline, *k)] for k in keys])
        leaders[dataset] = {
            "best_router": best, "mean_score": learned[best]["mean_score"], "mean_score_lo": learned[best]["mean_score_lo"],
            "mean_score_hi": learned[best]["mean_score_hi"], "gap_closed": learned[best]["gap_closed"],
            "best_baseline": baseline, "best_baseline_mean_score": cells[baseline]["mean_score"],
            "best_baseline_mean_score_hi": cells[baseline]["mean_score_hi"],
            "beats_every_baseline_with_separate_intervals": learned[best]["mean_score_lo"] > top_baseline_hi,
            "paired_diff_vs_best_baseline": {"mean": diff[0], "lo": diff[1], "hi": diff[2]},
            "gap_closed_by_router": {k: c["gap_closed"] for k, c in sorted(learned.items())},
        }
    # The router with the best gap closed averaged over datasets.
    routers = set.intersection(*(set(v["gap_closed_by_router"]) for v in leaders.values()))
    mean_gap = {k: float(np.mean([v["gap_closed_by_router"][k] for v in leaders.values()])) for k in routers}
    overall = max(mean_gap, key=mean_gap.get)
    if args.markdown:
        with open(args.markdown, "w") as out:
            out.write(leaderboard(rows))
    if args.summary:
        with open(args.summary, "w") as out:
            out.write(summary_tables(dataset_cells, leaders, mean_gap))
    write(args.name, {
        "store": args.store,
        "safe_vs_best_single": safe_cells,
        "safe_never_below": {router: all(c["ok"] for c in safe_cells if c["router"] == router)
                             for router in sorted({c["router"] for c in safe_cells})},
        "per_dataset": leaders,
        "mean_gap_closed_over_datasets": dict(sorted(mean_gap.items(), key=lambda kv: -kv[1])),
        "best_router_overall": overall,
        "best_router_mean_gap_closed": mean_gap[overall],
    })


if __name__ == "__main__":
    main()
