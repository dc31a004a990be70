"""Model-choice results (``routereval select``) -> terminal tables: the summary, the per-task
choices, a new task's scores."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from routereval.reports.tables import fmt, literal_cells

SUMMARY_COLUMNS = ("method", "accuracy", "ratio to oracle", "Pearson", "Spearman", "BMA chosen", "mean rank")
PER_TASK_METHODS = ("Oracle", "BMA", "S1", "S2", "S3", "S3 (true p)")


def _summary_cells(r: dict[str, Any]) -> list[str]:
    return [r["method"], fmt(r["accuracy"]), fmt(r["ratio"]), fmt(r["pearson"]), fmt(r["spearman"]),
            f"{100 * r['bma_share']:.0f}%", fmt(r["mean_rank"], 2)]


def summary_table(rows: Sequence[dict[str, Any]], title: str):
    """One line per method: accuracy of the chosen model, its ratio to the oracle, correlations, BMA share, rank."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in SUMMARY_COLUMNS:
        table.add_column(col, justify="left" if col == "method" else "right", no_wrap=col == "method")
    for r in rows:
        table.add_row(*literal_cells(*_summary_cells(r)))
    return table


def summary_markdown(rows: Sequence[dict[str, Any]], title: str) -> str:
    """The summary table as GitHub Markdown, with the same cells as the terminal's."""
    lines = [f"**{title}**", "", "| " + " | ".join(SUMMARY_COLUMNS) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(SUMMARY_COLUMNS) - 1)) + "|"]
    lines += ["| " + " | ".join(_summary_cells(r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def per_task_table(rows: Sequence[dict[str, Any]], title: str):
    """Each task's choices: one line per method (model, its accuracy on the task, its rank)."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("task")
    table.add_column("method", no_wrap=True)
    table.add_column("model")
    table.add_column("accuracy", justify="right")
    table.add_column("rank", justify="right")
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    for task in tasks:
        by_method = {r["method"]: r for r in rows if r["task"] == task}
        for j, method in enumerate(PER_TASK_METHODS):
            r = by_method[method]
            label = f"{task} (n={r['n_prompts']})" if j == 0 else ""
            table.add_row(*literal_cells(label, method, r["model"], fmt(r["accuracy"]), str(r["rank"])),
                          end_section=j == len(PER_TASK_METHODS) - 1)
    return table


def new_task_table(rows: Sequence[dict[str, Any]], title: str):
    """One line per candidate model, best S3 first."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in ("model", "S1", "S2", "p (est.)", "S3", "mean task accuracy", "chosen by"):
        table.add_column(col, justify="left" if col in ("model", "chosen by") else "right")
    ranked = sorted(rows, key=lambda r: (-(r["s3"] if r["s3"] == r["s3"] else -1.0), r["model"]))
    for r in ranked:
        table.add_row(*literal_cells(
            r["model"], fmt(r["s1"]), fmt(r["s2"]), fmt(r["p"]), fmt(r["s3"]), fmt(r["bma_score"]),
            ", ".join(r["chosen_by"]),
        ))
    return table
