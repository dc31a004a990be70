"""The sentences both reports use (HTML and Markdown): how to read the leaderboard, how a cell averages
seeds, and why a section is left out. One place, so the two reports never word the same thing twice."""

from __future__ import annotations

from routereval.reports.collect import ReportData


def compare_note(data: ReportData) -> str:
    """How to read the leaderboard's intervals and its comparison columns."""
    splits = data.split_seeds
    over = (f"Each row is the mean over candidate groups, seeds and {len(splits)} random splits (split seeds "
            f"{', '.join(map(str, splits))}); its 95% interval is a two-level bootstrap (splits resampled, then "
            "test prompts within each split drawn), so it holds the split-to-split variance. "
            if len(splits) > 1 else
            "Each row is the mean over candidate groups and seeds on one split; its 95% interval resamples the "
            "test prompts. ")
    return over + ("'vs best' is the paired difference in mu_o to the best learned router of the table (same "
                   "pools, seeds and splits), with its 95% interval; 'p (Holm)' its two-sided bootstrap p-value, "
                   "Holm-corrected over the table's comparisons; 'tied' marks with '=' the routers not "
                   "significantly worse than the best at the corrected 5% level. The oracle family is a bound and "
                   "is not compared.")


def seeds_note(data: ReportData) -> str:
    """How a cell averages several seeds ("" for one seed)."""
    seeds = data.seeds
    if len(seeds) < 2:
        return ""
    return (f"Each table cell averages {len(seeds)} seeds ({', '.join(map(str, seeds))}); the interval of a mean "
            "row resamples test prompts jointly over groups and seeds.")


def absent_reason(key: str, data: ReportData) -> str:
    """Why a section is left out, and how to fill it."""
    if key == "settings":
        return "the folder records no sweep settings"
    if key in ("leaderboard", "selection", "tradeoff"):
        return data.no_rows_text.rstrip(".")
    if key == "notes":
        return "no pool size was skipped, one seed" if data.rows else "no sweep notes"
    return {
        "scaling": "no scaling documents: a sweep writes them to <store>/scaling/; add others with --scaling",
        "cost": ('no costs: sweep with cost = "dollars" (or bench --cost) for cost columns, and add the --out '
                 "folder of `routereval curve` with --curves for cost-quality curves"),
        "ranks": "ranks need two datasets or more measured at one pool size, with two learned routers or more",
    }[key]
