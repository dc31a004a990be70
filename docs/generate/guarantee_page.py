"""Blocks of the "The guarantee" section of docs/zoo.md: safe's violation rate and auto's targets, from the
benchmark scripts' JSON (benchmarks/safe_guarantee.py, benchmarks/auto_targets.py)."""

from __future__ import annotations

from registry import block
from runner import benchmark_result


def split_interval(rows: list[dict], dataset: str) -> str:
    """95% interval of a dataset's gap closed over split seeds: each split's mean over its pools, then
    mean +- t * sd / sqrt(splits), so the spread from one split to the next is in it."""
    import numpy as np
    from scipy import stats

    by_split: dict[int, list[float]] = {}
    for r in rows:
        if r["dataset"] == dataset and np.isfinite(r["gap_closed"]):
            by_split.setdefault(r["split"], []).append(r["gap_closed"])
    means = np.array([np.mean(v) for v in by_split.values()])
    if len(means) < 2:
        return ""
    half = stats.t.ppf(0.975, len(means) - 1) * means.std(ddof=1) / np.sqrt(len(means))
    return f" [{means.mean() - half:.1%}, {means.mean() + half:.1%}]"


def _table(doc: dict) -> str:
    s = doc["summary"]
    lines = ["| dataset | cells | mean difference | worst cell | cells below -0.01 | gap closed [95% over splits] |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, d in s["by_dataset"].items():
        lines.append(f"| {name} | {d['cells']} | {d['mean_diff']:+.4f} | {d['min_diff']:+.4f} | "
                     f"{d['violation_rate']:.1%} | {d['gap_closed']:.1%}{split_interval(doc['rows'], name)} |")
    n = s["below_minus_epsilon"]
    # The last column's "all" is the mean over the datasets (each weighs the same, whatever its cell count).
    mean_gap = sum(d["gap_closed"] for d in s["by_dataset"].values()) / len(s["by_dataset"])
    lines.append(f"| all | {s['cells']} | | | {s['violation_rate']:.1%} ({n} cell{'' if n == 1 else 's'}) | "
                 f"{mean_gap:.1%} (mean of the datasets) |")
    return "\n".join(lines)


def _scope(doc: dict) -> str:
    return (f"{doc['splits']} split seeds, encoder `{doc['encoder']}`, test prompts of the clean pools; "
            f"`{doc['command']}`.")


@block("safe-guarantee")
def safe_guarantee(run) -> str:
    """safe minus the train-chosen best single model per dataset: mean, worst cell, share of cells below -0.01."""
    doc = benchmark_result("safe_guarantee")
    return _table(doc) + "\n\n" + _scope(doc)


@block("auto-targets")
def auto_targets(run) -> str:
    """auto minus the train-chosen best single model per dataset, and which member it chose how often."""
    doc = benchmark_result("auto_targets")
    chosen = ", ".join(f"{k} {v}" for k, v in sorted(doc["chosen"].items(), key=lambda kv: -kv[1]))
    return _table(doc) + f"\n\nChosen (cells): {chosen}. " + _scope(doc)


@block("deploy-summary")
def deploy_summary(run) -> str:
    """One row per deployable router (auto, safe): its cells below the best single model, its worst dataset
    mean, and its gap closed per dataset; the whole tables are docs/zoo.md's."""
    lines = ["| router | splits | cells below by > 0.01 | lowest mean difference of a dataset | gap closed (per dataset) |",
             "|---|---:|---:|---:|---|"]
    for name, result in (("auto", "auto_targets"), ("safe", "safe_guarantee")):
        doc = benchmark_result(result)
        s = doc["summary"]
        by = s["by_dataset"]
        worst = min(d["mean_diff"] for d in by.values())
        gaps = ", ".join(f"{dataset} {d['gap_closed']:.1%}" for dataset, d in by.items())
        lines.append(f"| `{name}` | {doc['splits']} | {s['below_minus_epsilon']} of {s['cells']} | {worst:+.4f} | "
                     f"{gaps} |")
    return "\n".join(lines)
