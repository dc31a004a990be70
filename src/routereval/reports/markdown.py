"""A results store's report as one Markdown document: tables, notes and links to the figure files."""

from __future__ import annotations

import os
from pathlib import Path
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


def markdown_report(data: ReportData, by_group: bool, figure_files: dict[str, list[Path]], titles: dict[str, str],
                    markdown_file: Path) -> str:
    """The report as Markdown: tables, skipped sizes and (with --plots) the figure files, linked relatively."""
    from routereval.reports.tables import markdown

    parts = [f"# routereval report: {data.store.name or data.store}", "",
             f"{len(data.rows)} result rows; seeds {', '.join(map(str, data.seeds)) or '-'}.", "",
             "## Leaderboard", "", markdown(data.means) if data.means else data.no_rows_text + "\n"]
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
