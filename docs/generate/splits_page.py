"""The repeated-split leaderboard: docs/leaderboard-splits.md, from the sweep ``experiments/zoo-splits.toml``.

The sweep's results store lives in a fixed, git-ignored folder (``results/zoo-splits``, the sweep's own
default), so a later generator run resumes it: a finished store costs a reload. The page's numbers come
from :func:`routereval.reports.collect.collect` (the same means, intervals and paired tests as
``routereval report``); the interval of gap closed is a bootstrap over splits of the per-split means
(1,000 resamples, seed 0), since gap closed is a ratio that has no per-prompt form.
"""

from __future__ import annotations

import numpy as np

from registry import block
from runner import REPO

SWEEP = "experiments/zoo-splits.toml"
FOLDER = REPO / "results" / "zoo-splits"
N_BOOT, SEED = 1000, 0


def _data(run):
    """The sweep's store, complete (``routereval sweep`` runs what it lacks), read as a report reads it."""
    from routereval.reports.collect import collect

    run.routereval("sweep", SWEEP, "--out", str(FOLDER), "--quiet")
    return collect(FOLDER, n_boot=N_BOOT, seed=SEED)


def gap_closed_over_splits(rows: list[dict], dataset: str, m: int, router: str) -> tuple[float, float, float]:
    """Mean gap closed over splits (each split's mean over groups and seeds) and a 95% bootstrap over splits."""
    from routereval.evaluation.aggregate import split_seed_of

    per_split: dict[int, list[float]] = {}
    for r in rows:
        if (r["dataset"], int(r["m"]), r["router"]) == (dataset, m, router) and r.get("gap_closed") is not None:
            per_split.setdefault(split_seed_of(r), []).append(float(r["gap_closed"]))
    means = np.array([np.nanmean(v) for _, v in sorted(per_split.items())])
    if not len(means):
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(SEED)
    draws = means[rng.integers(0, len(means), (N_BOOT, len(means)))].mean(axis=1)
    lo, hi = np.quantile(draws, [0.025, 0.975])
    return float(means.mean()), float(lo), float(hi)


@block("splits-leaderboard")
def splits_leaderboard(run) -> str:
    """Per (dataset, m): mu_o and gap closed over splits with intervals, paired tests against the best, ranks."""
    from routereval.reports.markdown import rank_section_markdown
    from routereval.reports.tables import blocks, difference_text, fmt, p_text, tied_mark

    data = _data(run)
    splits = data.split_seeds
    lines = [f"{len(data.rows)} result rows: {len(splits)} splits (split seeds {', '.join(map(str, splits))}), "
             f"seeds {', '.join(map(str, data.seeds))}.", ""]
    for title, rows in blocks(data.means):
        lines += [f"**{title}**", "",
                  "| router | mu_o | 95% interval | gap closed | its 95% interval | vs best [95%] | p (Holm) | tied |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in rows:
            gap, lo, hi = gap_closed_over_splits(data.rows, r["dataset"], int(r["m"]), r["router"])
            lines.append(f"| {r['router']} | {fmt(r['mean_score'])} | {fmt(r['mean_score_lo'])}-{fmt(r['mean_score_hi'])} | "
                         f"{fmt(gap)} | {fmt(lo)} to {fmt(hi)} | {difference_text(r)} | "
                         f"{p_text(r.get('p_holm'))} | {tied_mark(r)} |")
        lines.append("")
    if data.ranks:
        lines += ["**Average ranks across datasets**", ""] + rank_section_markdown(data)
    return "\n".join(lines).rstrip() + "\n"
