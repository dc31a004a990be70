"""Cost-quality figures and tables from a study document (:meth:`routereval.evaluation.curves.Study.to_dict`).

The figure: each router's operating points (small markers) and its
non-decreasing upper hull (line), the single models as grey points with
their Pareto front dashed (as steps), and the AIQ cost range as a shaded band. Costs are
per 1,000 queries on a log axis when they span more than a factor of 20.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from routereval.reports.figures import RouterStyle, new_figure, place_labels, router_styles

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Shown per 1,000 queries: per-query dollar costs are fractions of a cent.
PER = 1000.0


def aiq_range_text(doc: dict[str, Any]) -> str:
    """A study's AIQ cost range as shown everywhere: ``[lo, hi] per 1,000 queries``."""
    lo, hi = doc["aiq_cost_range"]
    return f"[{lo * PER:.4g}, {hi * PER:.4g}] per 1,000 queries"


def _unit_label(unit: str) -> str:
    return {"dollars": "$ per 1,000 queries", "input-dollars": "$ per 1,000 queries (prompt tokens only)", "compute": "FLOPs per 1,000 queries",
            "calls": "calls to the strong model per 1,000 queries"}.get(unit, f"{unit} per 1,000 queries")


def _hull_line(hull: list[dict[str, float]], right: float) -> tuple[list[float], list[float]]:
    """The hull as a dense polyline (straight in linear cost, so it stays true on a log axis), flat to ``right``."""
    import numpy as np

    xs, ys = [], []
    for a, b in zip(hull[:-1], hull[1:]):
        t = np.linspace(0.0, 1.0, 40)
        xs += list((a["cost"] + t * (b["cost"] - a["cost"])) * PER)
        ys += list(a["quality"] + t * (b["quality"] - a["quality"]))
    xs.append(max(right, hull[-1]["cost"] * PER))
    ys.append(hull[-1]["quality"])
    return xs, ys


def plot_cost_quality(doc: dict[str, Any], *, label_models: int = 12,
                      styles: dict[str, RouterStyle] | None = None) -> Figure:
    """Routers' hulls against the single models and their Pareto front (see the module docstring).

    Each router has its colour and marker from ``styles`` (a report's, so that they match its other
    figures; by default dealt over this document's routers). Model names are placed so that none
    overlaps another.
    """
    styles = styles or router_styles(c["router"] for c in doc["curves"])
    fig = new_figure(8.0, 5.2)
    ax = fig.add_subplot()
    singles = doc["singles"]
    costs = [s["cost"] * PER for s in singles]
    ax.scatter(costs, [s["quality"] for s in singles], s=14, color="0.55", zorder=2, label="single models")
    front = sorted((s for s in singles if s["pareto"]), key=lambda s: s["cost"])
    # As steps: the best single model a budget buys (a straight chord would promise mixtures on a log axis).
    ax.plot([s["cost"] * PER for s in front] + [max(costs)], [s["quality"] for s in front] + [front[-1]["quality"]],
            color="0.2", ls="--", lw=1.2, drawstyle="steps-post", zorder=5, label="Pareto front of single models")
    # Name the models on the front, and the best ones elsewhere, up to label_models in all.
    named = {s["model"] for s in front}
    for s in sorted(singles, key=lambda s: -s["quality"]):
        if len(named) >= label_models:
            break
        named.add(s["model"])
    for curve in doc["curves"]:
        style = styles[str(curve["router"])]
        pts = curve["points"]
        hull = curve["hull"]
        ax.scatter([p["cost"] * PER for p in pts], [p["quality"] for p in pts], s=9, marker=style.marker,
                   color=style.colour, alpha=0.35, zorder=3)
        if len(hull) > 1:
            xs, ys = _hull_line(hull, max(costs))
            ax.plot(xs, ys, color=style.colour, lw=1.8, zorder=4)
        ax.scatter([h["cost"] * PER for h in hull], [h["quality"] for h in hull], s=30, marker=style.marker,
                   color=style.colour, edgecolors="black", linewidths=0.4, zorder=4)
        # One legend entry per router: its line and marker together, as the report's other figures show it.
        ax.plot([], [], color=style.colour, marker=style.marker, markeredgecolor="black", markeredgewidth=0.4,
                lw=1.8 if len(hull) > 1 else 0, label=f"{curve['router']} (hull)" if len(hull) > 1 else curve["router"])
    lo, hi = doc["aiq_cost_range"]
    ax.axvspan(lo * PER, hi * PER, color="0.92", zorder=0, label="AIQ cost range")
    if min(costs) > 0 and max(costs) / min(costs) > 20:
        ax.set_xscale("log")
    ax.set_xlabel(_unit_label(doc["unit"]))
    ax.set_ylabel("mean score on held-out prompts")
    ax.set_title(f"{doc['dataset']}: cost-quality ({doc['n_test']} prompts, {len(doc['models'])} priced models)",
                 fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    # Last: placing labels fixes the layout, so everything else must be drawn first.
    place_labels(ax, [(s["model"], s["cost"] * PER, s["quality"]) for s in singles if s["model"] in named],
                 offset=(3, -3), fontsize=6, color="0.3")
    return fig


def metrics_table(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per router for tables: AIQ, cost to reach the best single model, saving, quality at the cheapest's cost."""
    def number(value: Any, scale: float = 1.0) -> float:
        # A study read back from JSON has null where it had NaN (a router that never reaches a level).
        return float("nan") if value is None else float(value) * scale

    return [{
        "router": r["router"],
        "AIQ": number(r["AIQ"]),
        "max quality": number(r["max_quality"]),
        "cost/1k at max": number(r["cost_at_max_quality"], PER),
        "cost/1k to best single": number(r["cost_to_best_single"], PER),
        "saving vs best single": number(r["saving_vs_best_single"]),
        "quality at cheapest's cost": number(r["quality_at_cheapest_cost"]),
    } for r in doc.get("metrics", [])]


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """A GitHub Markdown table of rows (numbers to 4 significant digits, blanks for NaN)."""
    import math

    if not rows:
        return ""
    cols = list(rows[0])

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return "" if not math.isfinite(v) else f"{v:.4g}"
        return str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"
