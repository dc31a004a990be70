"""Result rows -> RouterEval-shaped tables: one block per pool size, one row per router."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from routereval.evaluation.row_keys import SYMBOLS

COLUMNS = ("router", "mu_o", "95% CI", "V_R", "V_B", "E_p", "E_sel", "n_test")
#: Against the best single model chosen on the training prompts (deployable), shown after V_B
#: where the rows carry them (rows stored before these existed do not).
DEPLOYABLE_COLUMNS = ("V_B_train", "gap closed")
#: Row keys of the columns whose header is not the key: the paper's symbols head the tables.
ROW_KEYS = {**{symbol: key for key, symbol in SYMBOLS.items()}, "gap closed": "gap_closed"}
#: Shown after the others when the rows carry costs (``--cost``).
COST_COLUMN = "$/1k"
#: The paired comparison to the best learned router of the block, where the rows carry it
#: (summarise(compare=True)): difference in mu_o, Holm-corrected p, and the tied-with-best mark.
COMPARE_COLUMNS = ("vs best", "p (Holm)", "tied")
#: What the tied column shows: the best itself, a router not significantly worse, one that is.
TIED_MARKS = {"best": "best", True: "=", False: ""}


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
    compare = COMPARE_COLUMNS if any("tied_with_best" in r for r in rows) else ()
    at = COLUMNS.index("V_B") + 1
    return COLUMNS[:at] + deployable + COLUMNS[at:] + cost + compare


def tied_mark(row: dict[str, Any]) -> str:
    """'best', '=' (tied with the best: not significantly worse after Holm), '' (worse) or '-' (not compared)."""
    if "tied_with_best" not in row:
        return "-"
    return TIED_MARKS["best" if row.get("best") == row["router"] else bool(row["tied_with_best"])]


def difference_text(row: dict[str, Any], digits: int = 3) -> str:
    """'-0.012 [-0.020, -0.004]': a row's paired difference to the best router with its 95% interval."""
    if row.get("diff_vs_best") is None or row.get("best") == row["router"]:
        return "-"
    return (f"{row['diff_vs_best']:+.{digits}f} [{row['diff_vs_best_lo']:+.{digits}f}, "
            f"{row['diff_vs_best_hi']:+.{digits}f}]")


def p_text(value: Any) -> str:
    """A p-value in 3 decimals, '<0.001' below that; '-' for missing."""
    if value is None or value != value:
        return "-"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


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
                cells.append(f"{fmt(r['mean_score_lo'])}-{fmt(r['mean_score_hi'])}")
            elif col == COST_COLUMN:
                cells.append(fmt(r.get("cost_per_1k"), 4))
            elif col == "vs best":
                cells.append(difference_text(r))
            elif col == "p (Holm)":
                cells.append(p_text(r.get("p_holm")))
            elif col == "tied":
                cells.append(tied_mark(r))
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
        splits = block[0].get("split_seeds")
        over = f"; {len(splits)} splits" if splits and len(splits) > 1 else ""
        titled.append((f"{name}, m = {m} ({group}{over})", block))
    return titled


def setting_text(key: str, value: Any, settings: dict[str, Any] | None = None) -> str:
    """A store setting as a report shows it: a string as written, other values as JSON, and an unset
    one (None) as "not set" with what that means, so a reader never meets a bare ``null``."""
    import json

    if value is None:
        return "not set: " + unset_meaning(key, settings or {})
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def unset_meaning(key: str, settings: dict[str, Any]) -> str:
    """What a sweep does when the setting ``key`` is not set (``settings``: the store's others)."""
    if key == "reference":
        # As routereval.evaluation.reference resolves it: the protocol decides where the best model is chosen.
        chosen_on = "train + val" if settings.get("protocol") == "clean" else "the test prompts"
        return (f"RouterEval's published constant on its own benchmarks, else the best single model chosen on "
                f"{chosen_on}")
    return {
        "cost": 'no cost columns (cost = "dollars" in the sweep file adds them)',
        "prices": "the prices the datasets carry",
        "split_seed": "one split per split seed of the rows",
    }.get(key, "the default")


# The terminal tables are printed by routereval.cli.output.print_tables (one table renderer for every command).


def markdown(rows: list[dict[str, Any]], by_group: bool = False, label: Callable[[str], str] | None = None) -> str:
    """The same tables as GitHub Markdown; ``label`` names each router (by default its name alone)."""
    parts = []
    for title, block in blocks(rows, by_group):
        parts.append(f"**{title}** (V_R reference: {block[0]['reference']} = {block[0]['reference_score']:.4f})\n")
        cols = columns_of(block)
        parts.append("| " + " | ".join(cols) + " |")
        parts.append("|" + "|".join(["---"] + ["---:"] * (len(cols) - 1)) + "|")
        for cells in table_rows(block):
            if label is not None:
                cells = [label(str(cells[0]))] + cells[1:]
            parts.append("| " + " | ".join(cells) + " |")
        parts.append("")
    return "\n".join(parts)


def rank_text(summary: Any) -> str:
    """The tests under a rank table: Friedman, Iman-Davenport and the Nemenyi critical difference."""
    fr = summary.friedman
    return (f"{fr.k} routers on {fr.n} datasets: Friedman chi2 = {fr.chi2:.2f} (p = {fr.p_chi2:.3g}); "
            f"Iman-Davenport F = {fr.f:.2f} (p = {fr.p_f:.3g}); Nemenyi critical difference at alpha = "
            f"{summary.alpha:g}: CD = {summary.cd:.2f} (routers whose average ranks differ by less are not told "
            "apart).")


@dataclass(frozen=True)
class Column:
    """A table column: its header and what its cells hold.

    ``kind``: ``number`` (never wrapped or cut, right-aligned), ``key`` (a name
    typed whole, never wrapped or cut), ``name`` (may wrap after a separator) or
    ``text`` (prose, may wrap at spaces).
    """

    header: str
    kind: str = "number"

    @property
    def justify(self) -> str:
        return "right" if self.kind == "number" else "left"
