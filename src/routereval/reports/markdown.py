"""A results store's report as one Markdown document: tables, notes and links to the figure files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from routereval.reports.collect import ReportData


def _figure_links(figure_files: dict[str, list[Path]], titles: dict[str, str], markdown_file: Path) -> list[str]:
    lines = []
    home = markdown_file.resolve().parent
    for fid, files in figure_files.items():
        # Relative and URL-quoted, so the links survive moving both folders together and spaces in names.
        rel = {p.suffix.lstrip("."): quote(Path(os.path.relpath(p.resolve(), home)).as_posix()) for p in files}
        image = rel.get("png") or next(iter(rel.values()))
        others = ", ".join(f"[{fmt.upper()}]({path})" for fmt, path in rel.items())
        lines += [f"**{titles[fid]}** ({others})", "", f"![{titles[fid]}]({image})", ""]
    return lines


def curve_tables_markdown(data: ReportData) -> list[str]:
    """Each cost-quality document's metrics (and pair metrics) as Markdown tables, with the AIQ range they share."""
    from routereval.reports.cost_figures import (
        aiq_range_text,
        markdown_table,
        metrics_table,
    )

    lines = []
    for cdoc in data.curves:
        doc = cdoc.doc
        lines += [f"**{doc['dataset']}** (cost unit {doc['unit']}; {doc.get('n_test', '?')} held-out prompts; AIQ over "
                  f"{aiq_range_text(doc)}, shared by every router)", ""]
        for rows in (metrics_table(doc), doc.get("pair") or []):
            if rows:
                lines += [markdown_table(rows)]
    return lines


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


def rank_tables(data: ReportData) -> list[tuple[int, list[dict[str, Any]]]]:
    """Per pool size m: a row per router in rank order: its average rank, then its mean mu_o and rank per dataset."""
    from scipy.stats import rankdata

    out = []
    for m, summary in data.ranks:
        per_dataset = rankdata(-summary.table, axis=1, method="average")
        rows = []
        for i in summary.order():
            row: dict[str, Any] = {"router": summary.routers[i], "average rank": round(float(summary.ranks[i]), 3)}
            for d, name in enumerate(summary.datasets):
                row[name] = f"{summary.table[d, i]:.3f} ({per_dataset[d, i]:g})"
            rows.append(row)
        out.append((m, rows))
    return out


def rank_section_markdown(data: ReportData) -> list[str]:
    """The average-rank tables and their tests, one per pool size measured on two datasets or more."""
    from routereval.reports.cost_figures import markdown_table
    from routereval.reports.tables import rank_text

    lines = []
    summaries = dict(data.ranks)
    for m, rows in rank_tables(data):
        lines += [f"**m = {m}** (cells: mean mu_o on the dataset and the router's rank there, 1 = best)", "",
                  markdown_table(rows), rank_text(summaries[m]), ""]
    return lines


def markdown_report(data: ReportData, by_group: bool, figure_files: dict[str, list[Path]], titles: dict[str, str],
                    markdown_file: Path) -> str:
    """The report as Markdown: tables, skipped sizes and (with --plots) the figure files, linked relatively."""
    from routereval.reports.tables import markdown

    parts = [f"# routereval report: {data.store.name or data.store}", "",
             f"{len(data.rows)} result rows; seeds {', '.join(map(str, data.seeds)) or '-'}.", "",
             *([f"**{data.partial_text}**", ""] if data.unread else []),
             "## Leaderboard", ""] + ([compare_note(data), ""] if data.means else []) + [
             markdown(data.means) if data.means else data.no_rows_text + "\n"]
    if data.ranks:
        parts += ["## Average ranks across datasets", ""] + rank_section_markdown(data)
    if by_group and data.groups:
        parts += ["## Per candidate group (mean over seeds)", "", markdown(data.groups, by_group=True)]
    if data.curves:
        parts += ["## Cost and quality", ""] + curve_tables_markdown(data)
    parts += ["## Notes", ""]
    parts += [f"* {s.dataset}: {s.text}" for s in data.skipped] or ["No pool sizes were skipped."]
    parts.append("")
    if figure_files:
        parts += ["## Figures", ""] + _figure_links(figure_files, titles, markdown_file)
    return "\n".join(parts)
