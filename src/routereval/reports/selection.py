"""Model-choice results (``routereval select``) -> terminal tables: the summary, the per-task
choices, a new task's scores.

Each ``*_table`` gives columns and cells; :func:`routereval.cli.output.print_table` (the command line) prints them,
the one renderer that never cuts a name or a number."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from routereval.reports.tables import fmt

if TYPE_CHECKING:
    from routereval.reports.tables import Column

SUMMARY_COLUMNS = ("method", "accuracy", "ratio to oracle", "Pearson", "Spearman", "BMA chosen", "mean rank")
PER_TASK_METHODS = ("Oracle", "BMA", "S1", "S2", "S3", "S3 (true p)")


def _summary_cells(r: dict[str, Any]) -> list[str]:
    return [r["method"], fmt(r["accuracy"]), fmt(r["ratio"]), fmt(r["pearson"]), fmt(r["spearman"]),
            f"{100 * r['bma_share']:.0f}%", fmt(r["mean_rank"], 2)]


def summary_table(rows: Sequence[dict[str, Any]]) -> tuple[list[Column], list[list[str]]]:
    """One line per method: accuracy of the chosen model, its ratio to the oracle, correlations, BMA share, rank.

    Columns and cells for :func:`routereval.cli.output.print_table`, which never cuts them.
    """
    from routereval.reports.tables import Column

    return ([Column("method", "key")] + [Column(c) for c in SUMMARY_COLUMNS[1:]],
            [_summary_cells(r) for r in rows])


def summary_markdown(rows: Sequence[dict[str, Any]], title: str) -> str:
    """The summary table as GitHub Markdown, with the same cells as the terminal's."""
    lines = [f"**{title}**", "", "| " + " | ".join(SUMMARY_COLUMNS) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(SUMMARY_COLUMNS) - 1)) + "|"]
    lines += ["| " + " | ".join(_summary_cells(r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def per_task_table(rows: Sequence[dict[str, Any]]) -> tuple[list[Column], list[list[str]]]:
    """Each task's choices: one line per method (model, its accuracy on the task, its rank); the task is
    named on its first line. Columns and cells for :func:`routereval.cli.output.print_table`."""
    from routereval.reports.tables import Column

    cells = []
    for task in dict.fromkeys(r["task"] for r in rows):
        by_method = {r["method"]: r for r in rows if r["task"] == task}
        for j, method in enumerate(PER_TASK_METHODS):
            r = by_method[method]
            label = f"{task} (n={r['n_prompts']})" if j == 0 else ""
            cells.append([label, method, r["model"], fmt(r["accuracy"]), str(r["rank"])])
    return ([Column("task", "text"), Column("method", "key"), Column("model", "name"), Column("accuracy"),
             Column("rank")], cells)


def new_task_table(rows: Sequence[dict[str, Any]]) -> tuple[list[Column], list[list[str]]]:
    """One line per candidate model, best S3 first. Columns and cells for
    :func:`routereval.cli.output.print_table`."""
    from routereval.reports.tables import Column

    ranked = sorted(rows, key=lambda r: (-(r["s3"] if r["s3"] == r["s3"] else -1.0), r["model"]))
    cells = [[r["model"], fmt(r["s1"]), fmt(r["s2"]), fmt(r["p"]), fmt(r["s3"]), fmt(r["bma_score"]),
              ", ".join(r["chosen_by"])] for r in ranked]
    return ([Column("model", "name")] + [Column(c) for c in ("S1", "S2", "p (est.)", "S3", "mean task accuracy")]
            + [Column("chosen by", "text")], cells)
