"""Result rows -> RouterEval-shaped tables: one block per pool size, one row per router."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

COLUMNS = ("router", "mu_o", "95% CI", "V_R", "V_B", "E_p", "E_sel", "n_test")
#: Against the best single model chosen on the training prompts (deployable), shown after V_B
#: where the rows carry them (rows stored before these existed do not).
DEPLOYABLE_COLUMNS = ("V_B_train", "gap closed")
#: Row keys of the columns whose header is not the key.
ROW_KEYS = {"gap closed": "gap_closed"}
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


def columns_of(rows: Iterable[dict[str, Any]], deployable: bool = True) -> tuple[str, ...]:
    """:data:`COLUMNS`, with the deployable columns and the cost column where the rows carry them."""
    rows = list(rows)
    deployable = DEPLOYABLE_COLUMNS if deployable and any("gap_closed" in r for r in rows) else ()
    cost = (COST_COLUMN,) if any("cost_per_1k" in r for r in rows) else ()
    at = COLUMNS.index("V_B") + 1
    return COLUMNS[:at] + deployable + COLUMNS[at:] + cost


def row_key(column: str) -> str:
    """The result-row key a table column shows."""
    return ROW_KEYS.get(column, column)


def table_rows(rows: list[dict[str, Any]], columns: tuple[str, ...] | None = None) -> list[list[str]]:
    """Formatted cells in the order of ``columns`` (by default :func:`columns_of` the rows)."""
    columns = columns or columns_of(rows)
    out = []
    for r in rows:
        cells = []
        for col in columns:
            if col == "router":
                cells.append(r["router"])
            elif col == "95% CI":
                cells.append(f"{fmt(r['mu_o_lo'])}-{fmt(r['mu_o_hi'])}")
            elif col == COST_COLUMN:
                cells.append(fmt(r.get("cost_per_1k"), 4))
            else:
                cells.append(fmt(r.get(row_key(col))))
        out.append(cells)
    return out


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


def literal_cells(*cells: Any) -> list[Any]:
    """Table cells shown as written: Rich would read a label like ``safe[z=2.5]`` as markup and drop ``[z=2.5]``."""
    from rich.text import Text

    return [Text(c) if isinstance(c, str) else c for c in cells]


def print_tables(rows: list[dict[str, Any]], by_group: bool = False, console=None) -> None:
    """Rich tables on the terminal, with the V_R reference under each block."""
    from rich.console import Console
    from rich.measure import Measurement
    from rich.table import Table

    console = console or Console()
    narrowed = False
    for title, block in blocks(rows, by_group):
        # Router names are never cut: where the deployable columns would not fit the terminal
        # they are left to --markdown / --json / report, and a note says so.
        for deployable in (True, False):
            columns = columns_of(block, deployable)
            table = Table(title=title, title_justify="left")
            for col in columns:
                table.add_column(col, justify="left" if col == "router" else "right", no_wrap=True)
            for cells in table_rows(block, columns):
                table.add_row(*literal_cells(*cells))
            # Measured without the terminal's limit: the width the table needs uncut.
            if Measurement.get(console, console.options.update_width(10_000), table).maximum <= console.width:
                break
            narrowed = narrowed or columns != columns_of(block, False)
        console.print(table)
        console.print(f"  V_R reference: {block[0]['reference']} = {block[0]['mu_ref']:.4f}", highlight=False, markup=False)
    if narrowed:
        console.print(f"  ({' and '.join(DEPLOYABLE_COLUMNS)} need a wider terminal: they are in --markdown, --json "
                      "and the report)", highlight=False, markup=False)


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
