"""Figures of the model-choice analyses (:mod:`routereval.selection.analyses`), drawn with
the plotting helpers of :mod:`routereval.reports.figures` (matplotlib imported on use).

They read the analyses' rows only, so model choice itself never needs matplotlib."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from routereval.reports.figures import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STYLE = {
    "S1": {"color": "tab:blue", "marker": "o"},
    "S2": {"color": "tab:orange", "marker": "s"},
    "S3": {"color": "tab:green", "marker": "^"},
    "S3 (true p)": {"color": "tab:olive", "marker": "v"},
    "BMA": {"color": "black", "marker": "D", "ls": "--"},
    "Pointwise": {"color": "tab:purple", "marker": "*"},
    "Oracle": {"color": "grey", "marker": "", "ls": ":"},
}


def _label(ax: Any, xlabel: str, ylabel: str, title: str) -> None:
    """Axis labels, the title on the left, a light grid and the legend: the finish of a one-axes figure."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10, loc="left")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def plot_distance(summary: Sequence[dict[str, Any]], title: str) -> Figure:
    """Accuracy ratio to the bin's oracle against the prompts' distance to the training pool, per method."""
    fig = new_figure(7.0, 4.4)
    ax = fig.add_subplot()
    for method in dict.fromkeys(r["method"] for r in summary):
        if method == "Oracle":
            continue
        pts = sorted((r for r in summary if r["method"] == method), key=lambda r: r["u"])
        ax.plot([r["u"] for r in pts], [r["ratio"] for r in pts], label=method, lw=1.4, ms=5,
                **STYLE.get(method, {}))
    _label(ax, "mean cosine distance of the prompts to their 19 nearest training prompts (bin mean)",
           "accuracy / best model on those prompts", title)
    return fig


def plot_correlation(per_task: Sequence[dict[str, Any]], summary: Sequence[dict[str, Any]], title: str) -> Figure:
    """Per task: Pearson correlation of each score with true accuracy, against the task descriptor u."""
    fig = new_figure(7.0, 4.4)
    ax = fig.add_subplot()
    rho = {r["method"]: r["spearman_u"] for r in summary}
    for method in ("S1", "S2", "S3"):
        pts = [r for r in per_task if r[method] == r[method]]
        style = {k: v for k, v in STYLE[method].items() if k != "ls"}
        ax.scatter([r["u"] for r in pts], [r[method] for r in pts], s=22, alpha=0.8,
                   label=f"{method} (Spearman with u: {rho.get(method, float('nan')):+.2f})",
                   color=style["color"], marker=style["marker"])
    ax.axhline(0.0, color="grey", lw=0.8)
    _label(ax, "task descriptor u(d'): mean distance of the task's prompts to the training pool",
           "Pearson correlation of scores with true accuracy", title)
    return fig


def plot_against(summary: Sequence[dict[str, Any]], title: str) -> Figure:
    """Mean accuracy and share of tasks matching the reference model, against alpha, per method."""
    fig = new_figure(9.0, 4.8)
    left, right = fig.subplots(1, 2)
    methods = list(dict.fromkeys(r["method"] for r in summary))
    for method in methods:
        pts = sorted((r for r in summary if r["method"] == method), key=lambda r: r["alpha"])
        alphas = [r["alpha"] for r in pts]
        left.plot(alphas, [r["accuracy"] for r in pts], label=method, lw=1.4, ms=5, **STYLE.get(method, {}))
        right.plot(alphas, [r["match_share"] for r in pts], label=method, lw=1.4, ms=5, **STYLE.get(method, {}))
    if summary:
        ref = summary[0]
        left.axhline(ref["reference_accuracy"], color="tab:red", lw=1.2, label=f"{ref['reference']} (reference)")
    left.set_xlabel("alpha (share of the new task's prompts revealed with labels)")
    left.set_ylabel("mean accuracy over tasks")
    right.set_xlabel("alpha")
    right.set_ylabel("share of tasks matching the reference")
    right.set_ylim(-0.02, 1.02)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.legend(*left.get_legend_handles_labels(), loc="outside lower center", ncol=4, fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig
