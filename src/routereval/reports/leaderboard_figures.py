"""Figures of a results store: which models each router picks (classification bias),
quality against selection entropy and against cost, the scaling curves of the
store's scaling documents and the cost-quality curves of its curve documents.

Data and pictures are kept apart: :func:`selection_panels` computes what a
classification-bias chart shows and can be tested on its own; the ``plot_*``
functions only draw. Figures are built as :class:`matplotlib.figure.Figure`
objects, never through pyplot, so no window or global figure list is involved
and rendering uses Agg whatever the user's default backend is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from routereval.reports.collect import ReportData
from routereval.reports.cost_figures import aiq_range_text
from routereval.reports.figures import RouterStyle, place_labels, router_styles
from routereval.reports.tables import display_name

OTHER = "other"
#: Pools larger than this show their most picked models and one "other" segment.
MAX_SEGMENTS = 10


@dataclass(frozen=True)
class SelectionPanel:
    """Shares of test prompts each router sent to each pool model, for one pool.

    ``shares[i, j]`` is router ``routers[i]``'s share for ``models[j]``, summed
    over seeds (total prompts routed to the model / total test prompts); the
    last model is :data:`OTHER` when the pool was trimmed.
    """

    dataset: str
    benchmark: str
    m: int
    group: str
    models: list[str]
    routers: list[str]
    shares: np.ndarray
    e_sel: list[float]
    n_test: int
    n_seeds: int


@dataclass
class ReportFigure:
    """One figure of a report, with the id it is linked and saved under."""

    id: str
    kind: str
    title: str
    caption: str
    figure: Any


class Ids:
    """HTML ids (also file stems) made from free text, unique within one report."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def make(self, *parts: Any) -> str:
        base = "-".join(re.sub(r"[^a-z0-9]+", "-", str(p).lower()).strip("-") or "x" for p in parts)
        name, k = base, 2
        while name in self._taken:
            name, k = f"{base}-{k}", k + 1
        self._taken.add(name)
        return name


def selection_counts(row: dict[str, Any]) -> np.ndarray:
    """Test prompts a row's router sent to each pool model (expected counts for random routers).

    Rows store the selection histogram as shares of the test prompts
    (:func:`routereval.metrics.selection_histogram`).
    """
    return np.asarray(row["selection"], dtype=float) * float(row["n_test"])


def selection_panels(
    rows: Iterable[dict[str, Any]],
    router_order: list[str] | None = None,
    max_segments: int = MAX_SEGMENTS,
) -> list[SelectionPanel]:
    """One panel per (dataset, benchmark, m, group) of the stored per-seed rows.

    Routers follow ``router_order`` (others after, by name). For pools of more
    than ``max_segments`` models, the ``max_segments - 1`` most picked models
    (over all routers) are kept and the rest summed as :data:`OTHER`.
    """
    pools: dict[tuple, dict[str, dict[str, Any]]] = {}
    for row in rows:
        key = (str(row["dataset"]), str(row["benchmark"]), int(row["m"]), str(row["group"]))
        acc = pools.setdefault(key, {}).setdefault(
            str(row["router"]), {"counts": {}, "n": 0.0, "e_sel": [], "seeds": set()})
        for model, count in zip(row["models"], selection_counts(row)):
            acc["counts"][model] = acc["counts"].get(model, 0.0) + count
        acc["n"] += float(row["n_test"])
        acc["e_sel"].append(float(row["choice_entropy"]))
        acc["seeds"].add(row.get("seed"))
    order = {name: i for i, name in enumerate(router_order or [])}
    panels = []
    for (dataset, benchmark, m, group), by_router in sorted(pools.items()):
        routers = sorted(by_router, key=lambda r: (order.get(r, len(order)), r))
        models = list(dict.fromkeys(model for r in routers for model in by_router[r]["counts"]))
        shares = np.array([
            [by_router[r]["counts"].get(model, 0.0) / by_router[r]["n"] if by_router[r]["n"] else 0.0
             for model in models]
            for r in routers
        ]).reshape(len(routers), len(models))
        if len(models) > max_segments:
            totals = shares.sum(axis=0)
            keep = sorted(np.argsort(-totals, kind="stable")[: max_segments - 1], key=lambda j: -totals[j])
            rest = np.setdiff1d(np.arange(len(models)), keep)
            shares = np.column_stack([shares[:, keep], shares[:, rest].sum(axis=1)])
            models = [models[j] for j in keep] + [OTHER]
        panels.append(SelectionPanel(
            dataset, benchmark, m, group, models, routers, shares,
            [float(np.mean(by_router[r]["e_sel"])) for r in routers],
            round(max(by_router[r]["n"] for r in routers)),
            max(len(by_router[r]["seeds"]) for r in routers),
        ))
    return panels


def _model_colours(n: int) -> list:
    """Pastel colours for pool models: routers own the saturated ones (:data:`ROUTER_COLOURS`), so a
    colour never means a model in one figure and a router in another."""
    from matplotlib import colormaps

    cmap = colormaps["Set3"]
    pastel = [cmap(j) for j in range(cmap.N) if j != 8]  # Set3's grey is left to "other"
    return [pastel[j % len(pastel)] for j in range(n)]


def plot_selection(panels: list[SelectionPanel], styles: dict[str, RouterStyle] | None = None):
    """Horizontal stacked bars, one per router, one panel per candidate group of one (dataset, m).

    Each router's marker, in its colour (``styles``, by default dealt over the panels' routers),
    stands left of its bar, as in every other figure of the report.
    """
    from matplotlib.figure import Figure
    from matplotlib.transforms import blended_transform_factory

    styles = styles or router_styles(r for p in panels for r in p.routers)

    heights = [0.9 + 0.38 * len(p.routers) for p in panels]
    fig = Figure(figsize=(11, sum(heights) + 0.6), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False, height_ratios=heights)[:, 0]
    for ax, panel in zip(axes, panels):
        y = np.arange(len(panel.routers))
        left = np.zeros(len(panel.routers))
        colours = _model_colours(len(panel.models))
        for j, model in enumerate(panel.models):
            colour = "#c8c8c8" if model == OTHER else colours[j]
            bars = ax.barh(y, panel.shares[:, j], left=left, color=colour, label=model,
                           edgecolor="white", linewidth=0.5, height=0.7)
            ax.bar_label(bars, labels=[f"{v:.0%}" if v >= 0.08 else "" for v in panel.shares[:, j]],
                         label_type="center", fontsize=7)
            left += panel.shares[:, j]
        ax.set_yticks(y, [f"{r}  (E_sel {e:.2f})" for r, e in zip(panel.routers, panel.e_sel)])
        ax.tick_params(axis="y", pad=12)  # room for the router's marker between its name and its bar
        left_of = blended_transform_factory(ax.transAxes, ax.transData)
        for yy, router in zip(y, panel.routers):
            style = styles[router]
            ax.plot([-0.012], [yy], linestyle="", marker=style.marker, color=style.colour, markersize=6,
                    markeredgecolor="black", markeredgewidth=0.3, transform=left_of, clip_on=False)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter("{x:.0%}")
        seeds = f", {panel.n_seeds} seeds" if panel.n_seeds > 1 else ""
        ax.set_title(f"{panel.group}: {panel.n_test} test prompts{seeds}", loc="left", fontsize=10)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False,
                  title="pool model", title_fontsize=8)
    axes[-1].set_xlabel("share of test prompts sent to each pool model")
    first = panels[0]
    fig.suptitle(f"Which models each router picks: {display_name(first.dataset, first.benchmark)}, "
                 f"m = {first.m}", fontsize=11)
    return fig


#: What the x axis of :func:`plot_tradeoff` can show: (row key, axis label).
TRADEOFF_AXES = {
    "choice_entropy": ("choice_entropy", "E_sel (bits): entropy of the routers' choices over the pool (dotted: log2 m)"),
    "cost": ("cost_per_1k", "cost of the routed system per 1,000 test prompts, in the sweep's cost unit"),
}


#: Routers beyond this many in one figure are told apart by the legend alone: labels would bury the markers.
MAX_LABELLED = 30


def plot_tradeoff(rows: list[dict[str, Any]], x: str = "choice_entropy", styles: dict[str, RouterStyle] | None = None):
    """mu_o (95% interval) against E_sel (or cost) for the mean rows of one dataset.

    A router has its colour and marker (``styles``: the report's, so they match every other figure;
    by default dealt over these rows' routers); its points at several pool sizes are joined by a thin
    line, the marker growing with m. Routers are named once each, at their largest m, by labels that
    are moved apart so none overlaps another (:func:`~routereval.reports.figures.place_labels`).
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    key, label = TRADEOFF_AXES[x]
    rows = [r for r in rows if r.get(key) is not None and math.isfinite(float(r[key]))]
    sizes = sorted({int(r["m"]) for r in rows})
    marker_size = {m: s for m, s in zip(sizes, np.linspace(5.0, 10.0, len(sizes)) if len(sizes) > 1 else [7.0])}
    routers = list(dict.fromkeys(str(r["router"]) for r in rows))
    styles = styles or router_styles(routers)
    fig = Figure(figsize=(8.5, 5.2), layout="constrained")
    ax = fig.subplots()
    if x == "choice_entropy":
        for m in sizes:
            # The most even choice possible: a router cannot exceed log2 m bits.
            ax.axvline(math.log2(m), color="0.6", linestyle=":", linewidth=1)
    by_router: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_router.setdefault(str(r["router"]), []).append(r)
    for router, points in by_router.items():
        style = styles[router]
        points = sorted(points, key=lambda r: int(r["m"]))
        if len(points) > 1:
            ax.plot([float(r[key]) for r in points], [float(r["mean_score"]) for r in points], color=style.colour,
                    linewidth=0.8, alpha=0.6, zorder=1)
        for r in points:
            mu = float(r["mean_score"])
            lo, hi = (float(r[k]) if r[k] is not None else float("nan") for k in ("mean_score_lo", "mean_score_hi"))
            err = [[max(mu - lo, 0.0) if math.isfinite(lo) else 0.0],
                   [max(hi - mu, 0.0) if math.isfinite(hi) else 0.0]]
            ax.errorbar([float(r[key])], [mu], yerr=err, fmt=style.marker, color=style.colour,
                        markersize=marker_size[int(r["m"])], capsize=3, elinewidth=1, markeredgecolor="black",
                        markeredgewidth=0.4, zorder=2)
    xs = [float(r[key]) for r in rows]
    if x == "cost" and xs and min(xs) > 0 and max(xs) / min(xs) > 20:
        ax.set_xscale("log")
    ax.set_xlabel(label)
    ax.set_ylabel("mu_o, mean over groups and seeds (95% interval)")
    ax.grid(alpha=0.3)
    router_handles = [Line2D([], [], linestyle="", marker=styles[r].marker, color=styles[r].colour,
                             markeredgecolor="black", markeredgewidth=0.4, label=r) for r in sorted(routers)]
    size_handles = [Line2D([], [], linestyle="", marker="o", color="0.6", markersize=marker_size[m],
                           label=f"m = {m}") for m in sizes]
    fig.legend(handles=router_handles, title="router", loc="outside right upper", fontsize=8, frameon=False)
    if sizes:
        fig.legend(handles=size_handles, title="pool size", loc="outside right lower", fontsize=8, frameon=False)
    name = display_name(str(rows[0]["dataset"]), str(rows[0]["benchmark"])) if rows else ""
    what = "classification bias" if x == "choice_entropy" else "cost"
    ax.set_title(f"Quality against {what}: {name}", loc="left", fontsize=11)
    if len(by_router) <= MAX_LABELLED:
        ends = [max(points, key=lambda r: int(r["m"])) for points in by_router.values()]
        place_labels(ax, [(str(r["router"]), float(r[key]), float(r["mean_score"])) for r in ends], fontsize=7,
                     color="#333333")
    return fig


def _curves_caption(doc: dict[str, Any]) -> str:
    """What a cost-quality figure shows, with the facts needed to read its numbers."""
    parts = [f"{doc.get('n_test', '?')} held-out prompts; cost unit {doc['unit']}"
             + (f" ({doc['cost_note']})" if doc.get("cost_note") else ""),
             "each router's operating points (one per cost weight where its choices change) and their "
             "non-decreasing upper hull; grey: single models, dashed: their Pareto front",
             f"AIQ averages each hull over the shaded cost range {aiq_range_text(doc)}, the same for every router"]
    if doc.get("dropped_models"):
        parts.append(f"left out for lack of a known cost: {', '.join(map(str, doc['dropped_models']))}")
    if doc.get("n_dropped_prompts"):
        parts.append(f"{doc['n_dropped_prompts']} prompts left out (a model lacks a score or a cost)")
    return "; ".join(parts)


def _scaling_caption(doc: dict[str, Any]) -> str:
    parts = []
    if "n_prompts" in doc and "n_models" in doc:
        parts.append(f"{doc['n_prompts']} prompts, {doc['n_models']} models")
    if "kind" in doc:
        parts.append(f"{doc['kind']} scores")
    if "n_draws" in doc:
        parts.append(f"up to {doc['n_draws']} pools drawn per size (seed {doc.get('seed', '-')})")
    if "band" in doc:
        parts.append(f"band {doc['band'][0]:g}-{doc['band'][1]:g} quantiles over pools")
    ref = doc.get("reference") or {}
    if "value" in ref:
        parts.append(f"reference {float(ref['value']):.3f} ({ref.get('source', '')})")
    best = doc.get("best_single") or {}
    if "value" in best:
        parts.append(f"best single model {best.get('model', '')} = {float(best['value']):.3f}")
    return "; ".join(parts)


def plot_critical_difference(summary: Any, title: str = ""):
    """Demsar's critical-difference diagram: routers on an axis of average rank (1 = best, at the left),
    with the CD as a scale bar and a thick line joining each run of routers it does not tell apart."""
    from routereval.reports.figures import new_figure

    order = summary.order()
    k = len(order)
    ranks = [float(summary.ranks[i]) for i in order]
    names = [summary.routers[i] for i in order]
    half = (k + 1) // 2
    rows_needed = max(half, k - half)
    fig = new_figure(7.5, 1.6 + 0.28 * rows_needed)
    ax = fig.add_subplot()
    ax.set_xlim(0.5, k + 0.5)
    ax.set_ylim(-(rows_needed + 1.5), 2.4)
    ax.axis("off")
    ax.hlines(0, 1, k, color="black", lw=1)
    for tick in range(1, k + 1):
        ax.vlines(tick, 0, 0.18, color="black", lw=1)
        ax.text(tick, 0.3, str(tick), ha="center", va="bottom", fontsize=8)
    # The best half is labelled on the left, the rest on the right, each with an elbow to its rank.
    for at, (rank, name) in enumerate(zip(ranks, names)):
        left = at < half
        level = -(at + 1) if left else -(k - at)
        x_text = 0.6 if left else k + 0.4
        ax.plot([rank, rank, x_text], [0, level, level], color="0.25", lw=0.8)
        ax.text(x_text + (-0.05 if left else 0.05), level, f"{name} ({rank:.2f})", fontsize=8,
                ha="right" if left else "left", va="center")
    for n_run, (a, b) in enumerate(summary.cliques()):
        y = -0.35 - 0.22 * n_run
        ax.plot([ranks[a] - 0.03, ranks[b] + 0.03], [y, y], color="black", lw=3, solid_capstyle="butt")
    cd = summary.cd
    ax.plot([1, 1 + cd], [1.6, 1.6], color="black", lw=1.2)
    ax.vlines([1, 1 + cd], 1.5, 1.7, color="black", lw=1.2)
    ax.text(1 + cd / 2, 1.8, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=8)
    ax.set_title(title or f"average rank over {len(summary.datasets)} datasets", fontsize=9)
    return fig


def rank_caption(summary: Any) -> str:
    """What a critical-difference figure shows, with its test results."""
    from routereval.reports.tables import rank_text

    return ("Average rank of each router (rank 1 = highest mean mu_o on a dataset, ties averaged); routers "
            "joined by a thick line are not told apart. " + rank_text(summary))


def report_styles(data: ReportData) -> dict[str, RouterStyle]:
    """Every router of a report (its result rows and its cost-quality documents) with its one style."""
    labels = {str(r["router"]) for r in data.rows}
    labels |= {str(c["router"]) for cdoc in data.curves for c in cdoc.doc["curves"]}
    return router_styles(labels)


def report_figures(data: ReportData) -> list[ReportFigure]:
    """Every figure of a report: scaling curves, classification bias per (dataset, m), mu_o vs E_sel (and
    vs cost, where rows carry costs) per dataset, and each cost-quality document's curves.

    The caller owns the figures; :func:`close_figures` releases them.
    """
    from routereval.reports.cost_figures import plot_cost_quality
    from routereval.reports.figures import plot_scaling

    ids = Ids()
    out = []
    styles = report_styles(data)
    for sdoc in data.scaling:
        doc = sdoc.doc
        name = display_name(str(doc["dataset"]), str(doc.get("benchmark", doc["dataset"])))
        out.append(ReportFigure(ids.make("figure", "scaling", name), "scaling", f"Scaling: {name}",
                                _scaling_caption(doc), plot_scaling(doc)))
    router_order = list(dict.fromkeys(str(r["router"]) for r in data.means))
    panels = selection_panels(data.rows, router_order)
    by_pool_size: dict[tuple, list[SelectionPanel]] = {}
    for panel in panels:
        by_pool_size.setdefault((panel.dataset, panel.benchmark, panel.m), []).append(panel)
    for (dataset, benchmark, m), group_panels in by_pool_size.items():
        name = display_name(dataset, benchmark)
        trimmed = any(OTHER in p.models for p in group_panels)
        caption = ("Share of test prompts each router sends to each pool model, summed over seeds, one panel "
                   "per candidate group (pools differ per group); E_sel is the entropy of those shares in bits"
                   + (f"; the {MAX_SEGMENTS - 1} most picked models are shown, the rest as '{OTHER}'" if trimmed
                      else ""))
        out.append(ReportFigure(ids.make("figure", "selection", name, f"m{m}"), "selection",
                                f"Classification bias: {name}, m = {m}", caption, plot_selection(group_panels, styles)))
    by_dataset: dict[tuple, list[dict[str, Any]]] = {}
    for row in data.means:
        by_dataset.setdefault((str(row["dataset"]), str(row["benchmark"])), []).append(row)
    for (dataset, benchmark), rows in by_dataset.items():
        name = display_name(dataset, benchmark)
        out.append(ReportFigure(ids.make("figure", "tradeoff", name), "tradeoff", f"mu_o against E_sel: {name}",
                                "Each marker is one router at one pool size (mean over groups and seeds) with the "
                                "95% bootstrap interval of mu_o; further right means choices spread over more models.",
                                plot_tradeoff(rows, styles=styles)))
        costed = [r for r in rows if r.get("cost_per_1k") is not None and math.isfinite(float(r["cost_per_1k"]))]
        if costed:
            out.append(ReportFigure(
                ids.make("figure", "cost", name), "cost", f"mu_o against cost: {name}",
                "Each marker is one router at one pool size (mean over groups and seeds) under the sweep's policy, "
                "with the 95% bootstrap interval of mu_o; x is what the routed system spent per 1,000 test prompts "
                "(prompts without a known cost left out).", plot_tradeoff(costed, x="cost", styles=styles)))
    for cdoc in data.curves:
        name = str(cdoc.doc["dataset"])
        out.append(ReportFigure(ids.make("figure", "cost-quality", name), "cost", f"Cost-quality curves: {name}",
                                _curves_caption(cdoc.doc), plot_cost_quality(cdoc.doc, styles=styles)))
    for m, summary in data.ranks:
        title = f"Average ranks across datasets, m = {m}"
        out.append(ReportFigure(ids.make("figure", "ranks", f"m{m}"), "ranks", title, rank_caption(summary),
                                plot_critical_difference(summary, f"{title} ({len(summary.datasets)} datasets)")))
    return out


def close_figures(figures: Iterable[ReportFigure]) -> None:
    """Release figures (those made through pyplot stay registered there until closed)."""
    import sys

    pyplot = sys.modules.get("matplotlib.pyplot")
    for f in figures:
        if pyplot is not None:
            pyplot.close(f.figure)
