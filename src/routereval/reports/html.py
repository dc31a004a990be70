"""A results store as one self-contained HTML page.

The page needs nothing but itself: styles are inline, figures are inline SVG
(or base64 PNG when an SVG would be very large), there are no scripts, fonts or
external links. It is also meant to be checked by a program: every table and
figure has an id, the contents list links each of them, tables carry their row
count (``data-rows``) and numeric cells their full value (``data-value``).
Every text that comes from data is escaped.
"""

from __future__ import annotations

import base64
import io
import math
import re
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

from routereval.reports.collect import ReportData
from routereval.reports.figures import RouterStyle
from routereval.reports.leaderboard_figures import Ids, ReportFigure, report_styles
from routereval.reports.tables import (
    COST_COLUMN,
    DEPLOYABLE_COLUMNS,
    columns_of,
    display_name,
    row_key,
    setting_text,
    table_rows,
)
from routereval.reports.wording import absent_reason, compare_note, seeds_note

#: Above this size an SVG is embedded as a PNG instead (dense scatter plots can reach megabytes).
SVG_LIMIT = 1_500_000
PNG_DPI = 110
#: Columns whose stored value is kept in ``data-value`` for checking (the interval has data-lo/-hi), by row key.
_VALUE_COLUMNS = {**{col: row_key(col) for col in ("mu_o", "V_R", "V_B", *DEPLOYABLE_COLUMNS, "E_p", "E_sel", "n_test")},
                  COST_COLUMN: "cost_per_1k", "vs best": "diff_vs_best", "p (Holm)": "p_holm",
                  "tied": "tied_with_best"}
_SECTIONS = (
    ("scaling", "Scaling curves"),
    ("selection", "Classification bias: which models each router picks"),
    ("tradeoff", "mu_o against E_sel"),
    ("cost", "Cost and quality"),
    ("ranks", "Average ranks across datasets"),
)

_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1150px;
       padding: 1rem 1.5rem 4rem; color: #1d1d1f; line-height: 1.45; }
h1 { margin-bottom: .2rem; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2.5rem; }
.meta { color: #555; margin-top: 0; }
nav ol, nav ul { margin: .2rem 0; } nav li { margin: .1rem 0; }
table { border-collapse: collapse; margin: .8rem 0 .3rem; font-variant-numeric: tabular-nums; font-size: .92rem; }
caption { text-align: left; font-weight: 600; padding-bottom: .3rem; }
th, td { padding: .22rem .7rem; border-bottom: 1px solid #e4e4e4; }
thead th { border-bottom: 2px solid #999; text-align: right; }
thead th:first-child, tbody th { text-align: left; font-weight: normal; }
td { text-align: right; } tbody tr:nth-child(even) { background: #f6f7f9; }
tfoot td { text-align: left; color: #555; font-size: .85rem; border: none; }
table.kv td { text-align: left; } table.kv th { text-align: left; }
details { margin: .4rem 0 1.2rem 1rem; } summary { cursor: pointer; color: #234; }
figure { margin: 1.2rem 0 2rem; } figure svg, figure img { max-width: 100%; height: auto; display: block; }
figcaption { color: #444; font-size: .9rem; margin-top: .3rem; }
code { background: #f2f2f2; padding: 0 .25rem; border-radius: 3px; }
.empty, .absent { color: #777; font-style: italic; }
th[data-mark]::before { content: attr(data-mark) "\\a0"; color: var(--mark); }
"""


def _prefix_ids(svg: str, prefix: str) -> str:
    # Several inline SVGs share one id space; matplotlib reuses names (clip paths, glyphs) across figures.
    ids = set(re.findall(r'\bid="([^"]+)"', svg))

    def rename(match: re.Match) -> str:
        name = match.group(2)
        return f"{match.group(1)}{prefix}{name}" if name in ids else match.group(0)

    return re.sub(r'(\bid="|url\(#|href="#)([^")]+)', rename, svg)


def svg_markup(fig: Any, prefix: str, label: str) -> str:
    """A figure as inline SVG: no XML prolog or metadata, ids prefixed, text kept as text."""
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": prefix}):
        fig.savefig(buf, format="svg")
    text = buf.getvalue().decode("utf-8")
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.DOTALL)
    text = _prefix_ids(text, f"{prefix}-")
    return text.replace("<svg", f'<svg role="img" aria-label="{escape(label)}"', 1)


def png_markup(fig: Any, label: str, dpi: int = PNG_DPI) -> str:
    """A figure as an ``<img>`` holding a base64 PNG."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{escape(label)}" src="data:image/png;base64,{data}">'


def figure_markup(fig: Any, prefix: str, label: str, svg_limit: int = SVG_LIMIT) -> str:
    """Inline SVG, or a PNG when the SVG would exceed ``svg_limit`` characters."""
    svg = svg_markup(fig, prefix, label)
    return svg if len(svg) <= svg_limit else png_markup(fig, label)


def _value(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return repr(float(value)) if isinstance(value, float) else str(value)


def _router_cell(name: str, col: str, styles: dict[str, RouterStyle] | None) -> str:
    """A router's name as a row header, led by its marker in its colour (the same as in the figures).

    The marker is drawn by CSS from ``data-mark``, so the cell's text stays the router's name alone.
    """
    style = (styles or {}).get(name)
    look = (f' data-mark="{escape(style.symbol)}" data-colour="{style.colour}" data-marker="{escape(style.marker)}"'
            f' style="--mark: {style.colour}"') if style else ""
    return f'<th scope="row" data-col="{escape(col)}"{look}>{escape(name)}</th>'


def table_html(table_id: str, caption: str, rows: list[dict[str, Any]],
               styles: dict[str, RouterStyle] | None = None) -> str:
    """One leaderboard table: a body row per router, numbers as shown plus ``data-value``; each router
    led by its marker from ``styles``."""
    first = rows[0]
    columns = columns_of(rows)
    attrs = {"id": table_id, "class": "leaderboard", "data-rows": len(rows), "data-dataset": first["dataset"],
             "data-benchmark": first["benchmark"], "data-m": first["m"], "data-group": first["group"]}
    out = ["<table " + " ".join(f'{k}="{escape(str(v))}"' for k, v in attrs.items()) + ">",
           f"<caption>{escape(caption)}</caption>",
           "<thead><tr>" + "".join(f'<th scope="col">{escape(c)}</th>' for c in columns) + "</tr></thead>",
           "<tbody>"]
    for row, cells in zip(rows, table_rows(rows)):
        tds = [_router_cell(str(cells[0]), "router", styles)]
        for col, text in zip(columns[1:], cells[1:]):
            if col in _VALUE_COLUMNS:
                tds.append(f'<td data-col="{escape(col)}" data-value="{escape(_value(row.get(_VALUE_COLUMNS[col])))}">'
                           f"{escape(text)}</td>")
            else:
                tds.append(f'<td data-col="{escape(col)}" data-lo="{escape(_value(row["mean_score_lo"]))}" '
                           f'data-hi="{escape(_value(row["mean_score_hi"]))}">{escape(text)}</td>')
        out.append(f'<tr data-router="{escape(str(row["router"]))}">' + "".join(tds) + "</tr>")
    out.append("</tbody>")
    ref = f"V_R reference: {first['reference']} = {float(first['reference_score']):.4f}"
    out.append(f'<tfoot><tr><td colspan="{len(columns)}">{escape(ref)}</td></tr></tfoot>')
    out.append("</table>")
    return "\n".join(out)


def records_table_html(table_id: str, caption: str, rows: list[dict[str, Any]], note: str = "",
                       styles: dict[str, RouterStyle] | None = None) -> str:
    """A table of plain records (the first column names the row); numbers carry their full value in ``data-value``.

    Where the first column holds routers, ``styles`` leads each with its marker.
    """
    cols = list(rows[0])
    out = [f'<table id="{escape(table_id)}" class="records" data-rows="{len(rows)}">',
           f"<caption>{escape(caption)}</caption>",
           "<thead><tr>" + "".join(f'<th scope="col">{escape(c)}</th>' for c in cols) + "</tr></thead>", "<tbody>"]
    for row in rows:
        tds = [_router_cell(str(row[cols[0]]), cols[0], styles)]
        for col in cols[1:]:
            v = row.get(col)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                shown = f"{v:.4g}" if math.isfinite(float(v)) else "-"
                tds.append(f'<td data-col="{escape(col)}" data-value="{escape(_value(v))}">{escape(shown)}</td>')
            else:
                tds.append(f'<td data-col="{escape(col)}">{escape("-" if v is None else str(v))}</td>')
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</tbody>")
    if note:
        out.append(f'<tfoot><tr><td colspan="{len(cols)}">{escape(note)}</td></tr></tfoot>')
    out.append("</table>")
    return "\n".join(out)


def _curve_tables(docs: list[Any], ids: Ids, styles: dict[str, RouterStyle]) -> tuple[str, str]:
    """Each cost-quality document's metrics (and pair metrics) as tables: (contents links, body)."""
    from routereval.reports.cost_figures import aiq_range_text, metrics_table

    links, body = [], []
    for cdoc in docs:
        doc = cdoc.doc
        name = str(doc["dataset"])
        note = (f"cost unit {doc['unit']}; AIQ over {aiq_range_text(doc)} (cheapest to dearest single model), "
                f"shared by every router; from {cdoc.path}")
        for kind, rows in (("metrics", metrics_table(doc)), ("pair", doc.get("pair") or [])):
            if not rows:
                continue
            tid = ids.make("table", "cost", kind, name)
            title = (f"{name}: cost-quality metrics" if kind == "metrics"
                     else f"{name}: strong/weak pair (PGR, APGR, CPT)")
            body.append(records_table_html(tid, title, rows, note, styles))
            links.append(f"<li>{_link(tid, title, 'table')}</li>")
    return "".join(links), "\n".join(body)


def _blocks(rows: list[dict[str, Any]]) -> dict[tuple, list[dict[str, Any]]]:
    out: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault((str(r["dataset"]), str(r["benchmark"]), int(r["m"])), []).append(r)
    return out


def _link(target: str, text: str, kind: str, extra: str = "") -> str:
    return f'<a href="#{escape(target)}" data-kind="{kind}">{escape(text)}</a>{escape(extra)}'


def _settings_html(data: ReportData) -> str:
    cells = []
    for key, value in sorted(data.settings.items()):
        shown = setting_text(key, value, data.settings)
        cells.append(f"<tr><th scope=\"row\"><code>{escape(str(key))}</code></th><td>{escape(shown)}</td></tr>")
    return '<table id="settings-table" class="kv"><tbody>\n' + "\n".join(cells) + "\n</tbody></table>"


def render_html(data: ReportData, figures: list[ReportFigure], *, by_group: bool = False,
                svg_limit: int = SVG_LIMIT) -> str:
    """The whole report page.

    Leaderboard tables come from ``data.means`` (and ``data.groups`` inside
    ``<details>`` when ``by_group``); figures are embedded in their sections.
    A section with nothing to show (no settings, no rows, no scaling documents, ...)
    is left out with its contents entry; one line under the contents names what
    is not shown and how to get it, so nothing is left out silently.
    """
    ids = Ids()
    styles = report_styles(data)
    datasets = list(dict.fromkeys(display_name(str(r["dataset"]), str(r["benchmark"])) for r in data.means))
    routers = sorted({str(r["router"]) for r in data.rows})
    seeds = data.seeds
    group_names = sorted({str(r["group"]) for r in data.rows})
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    nav_tables, body_tables = [], []
    groups_by_block = _blocks(data.groups) if by_group else {}
    for (dataset, benchmark, m), block in _blocks(data.means).items():
        name = display_name(dataset, benchmark)
        tid = ids.make("table", name, f"m{m}")
        caption = (f"{name}, m = {m}: mean of {', '.join(block[0].get('groups', []))}"
                   f" over seeds {', '.join(str(s) for s in block[0].get('seeds', seeds))}")
        body_tables.append(f"<h3>{escape(name)}, m = {m}</h3>")
        body_tables.append(table_html(tid, caption, block, styles))
        sub_links, sub_tables = [], []
        per_group: dict[str, list[dict[str, Any]]] = {}
        for r in groups_by_block.get((dataset, benchmark, m), []):
            per_group.setdefault(str(r["group"]), []).append(r)
        for group, grows in per_group.items():
            gid = ids.make("table", name, f"m{m}", group)
            sub_tables.append(table_html(gid, f"{name}, m = {m}, group {group} (mean over seeds)", grows, styles))
            sub_links.append(f"<li>{_link(gid, group, 'table', f' ({len(grows)} routers)')}</li>")
        if sub_tables:
            body_tables.append(f"<details><summary>Per candidate group ({len(sub_tables)} tables)</summary>\n"
                               + "\n".join(sub_tables) + "\n</details>")
        sub = f"<ul>{''.join(sub_links)}</ul>" if sub_links else ""
        nav_tables.append(f"<li>{_link(tid, f'{name}, m = {m}', 'table', f' ({len(block)} routers)')}{sub}</li>")

    notes = []
    if data.skipped:
        notes.append("<p>Pool sizes the sweep could not build:</p><ul>")
        for s in data.skipped:
            notes.append(f"<li><strong>{escape(s.dataset)}</strong>: {escape(s.text)}</li>")
        notes.append("</ul>")
    if seeds_note(data):
        notes.append(f"<p>{escape(seeds_note(data))}</p>")

    nav_figures, body_figures = {}, {}
    for key, _ in _SECTIONS:
        mine = [f for f in figures if f.kind == key]
        nav_figures[key] = "".join(f"<li>{_link(f.id, f.title, 'figure')}</li>" for f in mine)
        body_figures[key] = "\n".join(
            f'<figure id="{escape(f.id)}" data-kind="{escape(f.kind)}">\n'
            f"{figure_markup(f.figure, f.id, f.title, svg_limit)}\n"
            f"<figcaption><strong>{escape(f.title)}.</strong> {escape(f.caption)}</figcaption>\n</figure>"
            for f in mine
        )
    cost_links, cost_tables = _curve_tables(data.curves, ids, styles)
    nav_figures["cost"] += cost_links
    body_figures["cost"] = "\n".join(part for part in (body_figures["cost"], cost_tables) if part)
    from routereval.reports.markdown import rank_tables

    for m, table in rank_tables(data):
        tid = ids.make("table", "ranks", f"m{m}")
        body_figures["ranks"] += "\n" + records_table_html(tid, f"Average ranks, m = {m}", table, styles=styles)
        nav_figures["ranks"] += f"<li>{_link(tid, f'Average ranks, m = {m}', 'table')}</li>"

    # (id, title, nav extra, nav inner list, body), in page order; an empty body leaves the section out.
    sections: list[tuple[str, str, str, str, str]] = [
        ("settings", "Settings", "", "", _settings_html(data) if data.settings else ""),
        ("leaderboard", "Leaderboard", f" ({len(nav_tables)} tables)", "".join(nav_tables),
         "\n".join([_compare_note_html(data), _LEADERBOARD_NOTE, *body_tables]) if body_tables else ""),
        ("notes", "Notes", "", "", "\n".join(notes)),
    ] + [(key, title, "", nav_figures[key], body_figures[key].strip()) for key, title in _SECTIONS]
    shown = [s for s in sections if s[4]]
    absent = [f"{title} ({absent_reason(key, data)})" for key, title, _, _, body in sections if not body]

    nav = ['<nav id="contents" aria-label="Contents"><h2>Contents</h2><ol>']
    for key, title, extra, inner, _ in shown:
        nav.append(f"<li>{_link(key, title, 'section', extra)}" + (f"<ul>{inner}</ul>" if inner else "") + "</li>")
    nav.append("</ol>")
    if absent:
        nav.append(f'<p class="absent">Not in this report, for want of anything to show: '
                   f"{escape('; '.join(absent))}.</p>")
    nav.append("</nav>")

    title = f"routereval report: {data.store.name or data.store}"
    page = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
        f"<header><h1>{escape(title)}</h1>",
        f'<p class="meta">{_meta_html(data, datasets, group_names, seeds, routers)} Generated {escape(generated)}.</p>'
        + (f'<p class="partial"><strong>{escape(data.partial_text)}</strong></p>' if data.unread else "")
        + "</header>",
        "\n".join(nav),
    ]
    for key, title_text, _, _, body in shown:
        page += [f'<section id="{key}"><h2>{escape(title_text)}</h2>', body, "</section>"]
    page += ["</body>", "</html>", ""]
    return "\n".join(page)


_LEADERBOARD_NOTE = (
    "<p>mu_o: mean score of the routed system on the test prompts, with its 95% bootstrap interval; "
    "V_R = mu_o / reference; V_B = mu_o / best single model of the pool on the test prompts (hindsight); "
    "V_B_train = mu_o / the best single model chosen on the training prompts (deployable); gap closed = "
    "(mu_o - that model's) / (oracle - that model's); E_p: mean entropy of the router's "
    "probabilities (not comparable across routers); E_sel: entropy of its choices (bits). "
    "Each router's marker is the one it has in every figure.</p>")


def _meta_html(data: ReportData, datasets: list[str], groups: list[str], seeds: list[int], routers: list[str]) -> str:
    """The line under the title: what the store holds (for a folder of curves alone, what curves)."""
    if not data.rows and data.curves:
        names = list(dict.fromkeys(d.dataset for d in data.curves))
        curve_routers = sorted({str(c["router"]) for d in data.curves for c in d.doc["curves"]})
        n = len(data.curves)
        return (f"Folder <code>{escape(str(data.store))}</code>: cost-quality curves only, {n} document"
                f"{'s' if n > 1 else ''}; datasets: {escape(', '.join(names))}; routers: "
                f"{escape(', '.join(curve_routers) or '-')}.")
    return (f"Store <code>{escape(str(data.store))}</code>; {len(data.rows)} result rows; "
            f"datasets: {escape(', '.join(datasets) or '-')}; groups: {escape(', '.join(groups) or '-')}; "
            f"seeds: {escape(', '.join(map(str, seeds)) or '-')}; routers: {escape(', '.join(routers) or '-')}.")


def _compare_note_html(data: ReportData) -> str:
    """How to read the comparison columns (and the interval over splits, where there are several)."""
    return f"<p>{escape(compare_note(data))}</p>" if data.means else ""


def write_html(path: str | Path, text: str) -> Path:
    """Write the page atomically (a temporary file renamed into place)."""
    from routereval.atomic import write_text_atomic

    return write_text_atomic(path, text)
