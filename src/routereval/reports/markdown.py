"""A results store's report as one Markdown document: tables, notes and links to the figure files.

As the HTML report does, a section with nothing to show is left out and named, with how to fill
it, in one line under the title; an unset setting reads "not set: <what that means>", never a
bare null; and where figures are linked, each router's name in the tables is led by the marker
it has in every figure.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from routereval.reports.collect import ReportData
from routereval.reports.figures import RouterStyle
from routereval.reports.wording import absent_reason, compare_note, seeds_note

#: Names of the router colours (routereval.reports.figures.ROUTER_COLOURS), for the marker key:
#: Markdown cannot colour a marker, so the key says in words which colour goes with it.
COLOUR_NAMES = {"#1f77b4": "blue", "#ff7f0e": "orange", "#2ca02c": "green", "#d62728": "red",
                "#9467bd": "purple", "#8c564b": "brown", "#e377c2": "pink", "#bcbd22": "olive",
                "#17becf": "cyan"}
#: What a table cell shows for a missing number (NaN, or null in a document read back from JSON),
#: as the HTML report and the leaderboard tables show it.
MISSING = "-"

Label = Callable[[str], str]


def _plain(name: str) -> str:
    return name


def router_label(styles: dict[str, RouterStyle] | None) -> Label:
    """How tables name a router: led by its figure marker ("■ knn") where ``styles`` are given, else as is."""
    if not styles:
        return _plain

    def label(name: str) -> str:
        style = styles.get(name)
        return f"{style.symbol} {name}" if style else name

    return label


def marker_key(styles: dict[str, RouterStyle]) -> str:
    """One line telling which marker and colour stands for which router, in the figures and the tables."""
    entries = [f"{s.symbol} {_cell(name)} ({COLOUR_NAMES.get(s.colour, s.colour)})" for name, s in styles.items()]
    return ("Each router keeps one marker and colour in every figure, and its name in the tables is led by the "
            "same marker: " + ", ".join(entries) + ".")


def _cell(text: str) -> str:
    """Text from data, safe in a Markdown table cell: no column break, no HTML tag, one line."""
    text = " ".join(str(text).split())
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def _shown_rows(rows: list[dict[str, Any]], label: Label) -> list[dict[str, Any]]:
    """Rows for :func:`routereval.reports.cost_figures.markdown_table`: routers labelled, missing numbers as '-'."""
    out = []
    for row in rows:
        shown = {}
        for key, value in row.items():
            if value is None or (isinstance(value, float) and not math.isfinite(value)):
                value = MISSING
            elif key == "router":
                value = label(str(value))
            shown[key] = value
        out.append(shown)
    return out


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


def curve_tables_markdown(data: ReportData, styles: dict[str, RouterStyle] | None = None) -> list[str]:
    """Each cost-quality document's metrics (and pair metrics) as Markdown tables, with the AIQ range they share.

    A metric a router never reaches (null in the document) shows as '-'; ``styles`` lead each router
    with its figure marker.
    """
    from routereval.reports.cost_figures import (
        aiq_range_text,
        markdown_table,
        metrics_table,
    )

    label = router_label(styles)
    lines = []
    for cdoc in data.curves:
        doc = cdoc.doc
        held_out = f"{doc['n_test']} held-out prompts; " if doc.get("n_test") is not None else ""
        lines += [f"**{doc['dataset']}** (cost unit {doc['unit']}; {held_out}AIQ over "
                  f"{aiq_range_text(doc)}, shared by every router)", ""]
        for rows in (metrics_table(doc), doc.get("pair") or []):
            if rows:
                lines += [markdown_table(_shown_rows(rows, label))]
    return lines


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


def rank_section_markdown(data: ReportData, styles: dict[str, RouterStyle] | None = None) -> list[str]:
    """The average-rank tables and their tests, one per pool size measured on two datasets or more."""
    from routereval.reports.cost_figures import markdown_table
    from routereval.reports.tables import rank_text

    label = router_label(styles)
    lines = []
    summaries = dict(data.ranks)
    for m, rows in rank_tables(data):
        lines += [f"**m = {m}** (cells: mean mu_o on the dataset and the router's rank there, 1 = best)", "",
                  markdown_table(_shown_rows(rows, label)), rank_text(summaries[m]), ""]
    return lines


def settings_markdown(data: ReportData) -> list[str]:
    """The store's sweep settings as a two-column table; an unset one says what that means."""
    from routereval.reports.tables import setting_text

    lines = ["| setting | value |", "|---|---|"]
    for key, value in sorted(data.settings.items()):
        lines.append(f"| `{_cell(key)}` | {_cell(setting_text(key, value, data.settings))} |")
    return lines + [""]


def _notes(data: ReportData) -> list[str]:
    lines = [f"* {_cell(s.dataset)}: {s.text}" for s in data.skipped]
    if lines:
        lines = ["Pool sizes the sweep could not build:", "", *lines, ""]
    note = seeds_note(data)
    return lines + ([note, ""] if note else [])


def _absent(key: str, data: ReportData) -> str:
    """Why a section is left out, and how to fill it (the HTML report's reasons where it has the section)."""
    if key == "groups":
        return data.no_rows_text.rstrip(".")
    if key == "figures":
        return "`routereval report --plots DIR` writes them and links them here"
    return absent_reason(key, data)


def _meta(data: ReportData) -> str:
    """The line under the title: what the store holds (for a folder of curves alone, what curves)."""
    if not data.rows and data.curves:
        n = len(data.curves)
        names = ", ".join(dict.fromkeys(d.dataset for d in data.curves))
        return f"Cost-quality curves only: {n} document{'s' if n > 1 else ''} ({_cell(names)})."
    seeds = f"; seeds {', '.join(map(str, data.seeds))}" if data.seeds else ""
    return f"{len(data.rows)} result rows{seeds}."


def markdown_report(data: ReportData, by_group: bool, figure_files: dict[str, list[Path]], titles: dict[str, str],
                    markdown_file: Path) -> str:
    """The report as Markdown: settings, tables, notes and (with --plots) the figure files, linked relatively.

    A section with nothing to show is left out; one line under the title names each such section
    and how to fill it. Where figures are linked, routers in the tables are led by their figure
    markers, with a key under the title.
    """
    from routereval.reports.leaderboard_figures import report_styles
    from routereval.reports.tables import markdown

    styles = report_styles(data) if figure_files else None
    label = router_label(styles)
    leaderboard = ([compare_note(data), "", markdown(data.means, label=label)] if data.means else [])
    figures = _figure_links(figure_files, titles, markdown_file) if figure_files else []
    # (key, title, body lines) in page order; an empty body leaves the section out.
    sections: list[tuple[str, str, list[str]]] = [
        ("settings", "Settings", settings_markdown(data) if data.settings else []),
        ("leaderboard", "Leaderboard", leaderboard),
        ("ranks", "Average ranks across datasets", rank_section_markdown(data, styles) if data.ranks else []),
    ]
    if by_group:
        sections.append(("groups", "Per candidate group (mean over seeds)",
                         [markdown(data.groups, by_group=True, label=label)] if data.groups else []))
    sections += [
        ("cost", "Cost and quality", curve_tables_markdown(data, styles) if data.curves else []),
        ("notes", "Notes", _notes(data)),
        ("figures", "Figures", figures),
    ]
    absent = [f"{title} ({_absent(key, data)})" for key, title, body in sections if not body]

    parts = [f"# routereval report: {data.store.name or data.store}", "", _meta(data), ""]
    if data.unread:
        parts += [f"**{data.partial_text}**", ""]
    if absent:
        parts += [f"Not in this report, for want of anything to show: {'; '.join(absent)}.", ""]
    if styles:
        parts += [marker_key(styles), ""]
    for _, title, body in sections:
        if body:
            parts += [f"## {title}", "", *body]
    return "\n".join(parts).rstrip("\n") + "\n"
