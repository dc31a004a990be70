"""``routereval report``: the leaderboard of a results store, as tables, Markdown, figures and one HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from routereval.metrics.core import DEFAULT_N_BOOT


def report(
    store: Path = typer.Argument(..., help="A results store: the --out folder of `routereval sweep`."),
    markdown_out: Optional[Path] = typer.Option(None, "--markdown", help="Write the tables and notes as Markdown."),
    html_out: Optional[Path] = typer.Option(
        None, "--html", help="Write one self-contained HTML page: tables, notes and every figure."),
    plots: Optional[Path] = typer.Option(None, "--plots", help="Write every figure to this folder as PNG and SVG."),
    by_group: bool = typer.Option(False, "--by-group", help="Add a table per candidate group, not only their mean."),
    scaling: Optional[list[Path]] = typer.Option(
        None, "--scaling",
        help="A folder (or file) of scaling documents to show besides <store>/scaling/; repeatable."),
    curves: Optional[list[Path]] = typer.Option(
        None, "--curves",
        help="A cost-quality document (curves.json) or the --out folder of `routereval curve`, besides the "
             "store's own; repeatable."),
    n_boot: int = typer.Option(DEFAULT_N_BOOT, help="Bootstrap resamples for the intervals of the mean rows."),
) -> None:
    """Show what a sweep measured: leaderboard tables, and on request Markdown, figures and an HTML page."""
    from rich.markup import escape

    from routereval.atomic import check_output, check_output_dir
    from routereval.cli.output import console
    from routereval.reports.collect import collect
    from routereval.cli.output import print_tables

    # Output paths that cannot be written are refused before the (slow) bootstrap and figures.
    for out in (markdown_out, html_out):
        if out is not None:
            check_output(out)
    if plots is not None:
        check_output_dir(plots)
    data = collect(store, scaling or [], curves=curves or [], by_group=by_group, n_boot=n_boot)
    console.print(f"[bold]{escape(str(data.store))}[/]: {len(data.rows)} result rows, seeds "
                  f"{', '.join(map(str, data.seeds)) or '-'}", highlight=False, soft_wrap=True)
    if data.unread:
        console.print(data.partial_text, style="yellow", highlight=False, soft_wrap=True)
    if not data.rows:
        console.print(data.no_rows_text, style="yellow", highlight=False, soft_wrap=True)
    print_tables(data.means, console=console)
    if data.ranks:
        from routereval.reports.markdown import rank_section_markdown

        # Plain print, as for the cost tables: Markdown tables must not be wrapped to the terminal's width.
        print("\nAverage ranks across datasets\n\n" + "\n".join(rank_section_markdown(data)))
    if data.curves:
        from routereval.reports.markdown import curve_tables_markdown

        # Plain print: the Markdown tables must not be wrapped to the terminal's width.
        print("\n".join(curve_tables_markdown(data)))
    if by_group:
        print_tables(data.groups, by_group=True, console=console)
    for s in data.skipped:
        console.print(f"[yellow]skipped[/] {escape(s.dataset)}: {escape(s.text)}",
                      highlight=False, soft_wrap=True)

    written: list[Path] = []
    figures = []
    figure_files: dict[str, list[Path]] = {}
    try:
        if html_out is not None or plots is not None:
            from routereval.reports.figures import require_matplotlib
            from routereval.reports.leaderboard_figures import report_figures

            require_matplotlib()

            figures = report_figures(data)
        if plots is not None:
            from routereval.atomic import make_dirs
            from routereval.reports.figures import save_figure

            make_dirs(plots)
            for f in figures:
                files = [Path(p) for p in save_figure(f.figure, plots / f.id.removeprefix("figure-"))]
                figure_files[f.id] = files
                written += files
        if markdown_out is not None:
            from routereval.atomic import write_text_atomic
            from routereval.reports.markdown import markdown_report

            titles = {f.id: f.title for f in figures}
            text = markdown_report(data, by_group, figure_files, titles, markdown_out)
            written.append(write_text_atomic(markdown_out, text))
        if html_out is not None:
            from routereval.reports.html import render_html, write_html

            written.append(write_html(html_out, render_html(data, figures, by_group=by_group)))
    finally:
        from routereval.reports.leaderboard_figures import close_figures

        close_figures(figures)
    for path in written:
        console.print(f"wrote {path}", highlight=False, soft_wrap=True)
