"""Result rows -> RouterEval-shaped tables: one block per pool size, one row per router."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

COLUMNS = ("router", "mu_o", "95% CI", "V_R", "V_B", "E_p", "E_sel", "n_test")
#: Shown after the others when the rows carry costs (``--cost``).
COST_COLUMN = "$/1k"


def fmt(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` decimals; '-' for missing."""
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def display_name(dataset: str, benchmark: str) -> str:
    """'mmlu' or 'routellm / mmlu' when the dataset holds another benchmark."""
    return dataset if dataset == benchmark else f"{dataset} / {benchmark}"


def columns_of(rows: Iterable[dict[str, Any]]) -> tuple[str, ...]:
    """:data:`COLUMNS`, and the cost column where the rows carry costs."""
    return COLUMNS + ((COST_COLUMN,) if any("cost_per_1k" in r for r in rows) else ())


def table_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    """Formatted cells in :func:`columns_of` order."""
    with_cost = COST_COLUMN in columns_of(rows)
    return [
        [
            r["router"],
            fmt(r["mu_o"]),
            f"{fmt(r['mu_o_lo'])}-{fmt(r['mu_o_hi'])}",
            fmt(r["V_R"]),
            fmt(r["V_B"]),
            fmt(r["E_p"]),
            fmt(r["E_sel"]),
            fmt(r["n_test"]),
        ] + ([fmt(r.get("cost_per_1k"), 4)] if with_cost else [])
        for r in rows
    ]


def blocks(rows: list[dict[str, Any]], by_group: bool = False) -> list[tuple[str, list[dict[str, Any]]]]:
    """(title, rows) per (dataset, benchmark, m[, group]) in first-seen order."""
    wanted = [r for r in rows if (r["group"] != "mean") == by_group]
    out: dict[tuple, list] = {}
    for r in wanted:
        key = (r["dataset"], r["benchmark"], r["m"]) + ((r["group"],) if by_group else ())
        out.setdefault(key, []).append(r)
    titled = []
    for key, block in out.items():
        dataset, benchmark, m = key[:3]
        name = display_name(dataset, benchmark)
        group = key[3] if by_group else "mean of " + ", ".join(block[0].get("groups", []))
        titled.append((f"{name}, m = {m} ({group})", block))
    return titled


def print_tables(rows: list[dict[str, Any]], by_group: bool = False, console=None) -> None:
    """Rich tables on the terminal, with the V_R reference under each block."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    for title, block in blocks(rows, by_group):
        table = Table(title=title, title_justify="left")
        for col in columns_of(block):
            table.add_column(col, justify="left" if col == "router" else "right")
        for cells in table_rows(block):
            table.add_row(*cells)
        console.print(table)
        console.print(f"  V_R reference: {block[0]['reference']} = {block[0]['mu_ref']:.4f}", highlight=False)


def markdown(rows: list[dict[str, Any]], by_group: bool = False) -> str:
    """The same tables as GitHub Markdown."""
    parts = []
    for title, block in blocks(rows, by_group):
        parts.append(f"**{title}** (V_R reference: {block[0]['reference']} = {block[0]['mu_ref']:.4f})\n")
        cols = columns_of(block)
        parts.append("| " + " | ".join(cols) + " |")
        parts.append("|" + "|".join(["---"] + ["---:"] * (len(cols) - 1)) + "|")
        parts += ["| " + " | ".join(cells) + " |" for cells in table_rows(block)]
        parts.append("")
    return "\n".join(parts)
