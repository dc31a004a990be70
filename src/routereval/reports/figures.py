"""Figures drawn from result documents, and one way to write them to disk.

matplotlib is optional (``pip install 'routereval[plots]'``) and is imported
inside the functions, so ``import routereval`` stays light. Figures are built
as :class:`matplotlib.figure.Figure` objects without pyplot: no GUI backend is
touched and no global figure list grows, whatever backend the caller uses.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from routereval.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# The sequential colormap along p = 0 (random) .. 1 (oracle).
P_CMAP = "viridis"
INSTALL_HINT = "figures need matplotlib: pip install 'routereval[plots]'"


def require_matplotlib() -> None:
    """Fail early, with the install hint, where matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ConfigError(INSTALL_HINT) from exc


def new_figure(width: float = 7.5, height: float = 4.8) -> Figure:
    """A figure detached from pyplot (rendered by Agg for PNG, by the SVG backend for SVG)."""
    require_matplotlib()
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


# -- one look per router, across a whole report -------------------------------------------------
#
# A router keeps one colour and one marker in every figure and table of a report: a square is
# always the same router. Styles are dealt out over the sorted router labels of the whole report
# (not per figure), so they do not change between datasets, and not between runs of one store.

#: tab10 without its grey: grey is kept for single models and other context.
ROUTER_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
                  "#17becf")
ROUTER_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p")
#: The same markers as text, for tables (HTML) that show a router's look beside its name.
MARKER_SYMBOLS = {"o": "\u25cf", "s": "\u25a0", "^": "\u25b2", "D": "\u25c6", "v": "\u25bc", "P": "\u271a",
                  "X": "\u2716", "*": "\u2605", "<": "\u25c0", ">": "\u25b6", "h": "\u2b22", "p": "\u2b1f"}


@dataclass(frozen=True)
class RouterStyle:
    """How one router is drawn: a colour (hex) and a matplotlib marker."""

    colour: str
    marker: str

    @property
    def symbol(self) -> str:
        """The marker as one character, for text."""
        return MARKER_SYMBOLS[self.marker]


def router_styles(labels: Iterable[str]) -> dict[str, RouterStyle]:
    """A style per router label, dealt out over the *sorted* labels: the i-th takes colour i mod 9 and
    marker i mod 12, so neighbours differ in both and the first 36 labels each get a pair of their own."""
    names = sorted(set(map(str, labels)))
    return {name: RouterStyle(ROUTER_COLOURS[i % len(ROUTER_COLOURS)], ROUTER_MARKERS[i % len(ROUTER_MARKERS)])
            for i, name in enumerate(names)}


# -- labels that do not overlap ---------------------------------------------------------------

#: The gid prefix of point labels placed by :func:`place_labels` (tests and SVG readers find them by it);
#: each label's gid adds its number, since an SVG id must be unique.
LABEL_GID = "point-label"


def place_labels(ax: Any, labels: Sequence[tuple[str, float, float]], *, offset: tuple[float, float] = (5, 3),
                 leader_colour: str = "0.55", **text_kw: Any) -> list[Any]:
    """Write ``(text, x, y)`` labels next to their data points so that no two overlap.

    Deterministic: labels are taken in order of their point (lowest first); each goes to the
    nearest free height (up, then down, in steps of half a line) at the same x offset, inside the
    axes where possible; a label moved off its point gets a thin leader line to it. The figure's
    layout is drawn once and then frozen, since a later re-layout would stretch the axes under
    labels set in points and could make them touch again.
    Returns the label texts (gids :data:`LABEL_GID`-0, -1, ...).
    """
    if not labels:
        return []
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = ax.figure
    renderer = FigureCanvasAgg(fig).get_renderer()
    order = sorted(range(len(labels)), key=lambda i: (labels[i][2], labels[i][1], labels[i][0]))
    drafts = [ax.annotate(labels[i][0], (labels[i][1], labels[i][2]), xytext=offset, textcoords="offset points",
                          **text_kw) for i in order]
    fig.draw(renderer)  # the layout, and with it the axes' place, is settled here
    if fig.get_layout_engine() is not None:
        fig.set_layout_engine("none")
    inside = ax.get_window_extent(renderer)
    boxes = [d.get_window_extent(renderer) for d in drafts]
    for d in drafts:
        d.remove()
    to_points = 72.0 / fig.dpi
    placed: list[Any] = []
    texts = []
    for n, (i, box) in enumerate(zip(order, boxes)):
        step = box.height / 2
        shifts = [0.0] + [s * k * step for k in range(1, 200) for s in (1, -1)]

        def free(dy: float) -> bool:
            return not any(box.translated(0, dy).overlaps(p) for p in placed)

        fits = [dy for dy in shifts if free(dy) and inside.y0 <= box.y0 + dy and box.y1 + dy <= inside.y1]
        dy = fits[0] if fits else next(dy for dy in shifts if dy >= 0 and free(dy))
        placed.append(box.translated(0, dy))
        text, x, y = labels[i]
        xytext = (offset[0], offset[1] + dy * to_points)
        if abs(dy) > step:
            ax.annotate("", (x, y), xytext=xytext, textcoords="offset points",
                        arrowprops={"arrowstyle": "-", "color": leader_colour, "lw": 0.5, "shrinkA": 0, "shrinkB": 2})
        t = ax.annotate(text, (x, y), xytext=xytext, textcoords="offset points", **text_kw)
        t.set_gid(f"{LABEL_GID}-{n}")
        texts.append(t)
    return texts


def plot_scaling(doc: dict[str, Any]) -> Figure:
    """The model-level scaling curve: mu_o of r_o(p) against the pool size m.

    ``doc`` is the document of :func:`routereval.evaluation.scaling.scaling_study`.
    One line per p (colour along :data:`P_CMAP`; the band of pools shaded for the
    lowest, middle and highest p), the
    reference as a dashed line, the benchmark's best single model dotted, and the
    mean best single model inside a pool as a thin line.
    """
    fig = new_figure()
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

    ax = fig.add_subplot()
    cmap, norm = colormaps[P_CMAP], Normalize(0.0, 1.0)
    sizes = sorted({pt["m"] for pt in doc["points"]})
    by_p: dict[float, list[dict[str, Any]]] = {}
    for pt in doc["points"]:
        by_p.setdefault(pt["p"], []).append(pt)
    # Bands of neighbouring p overlap into a blur: shade only the lowest, middle and highest p
    # (the files hold every band).
    ps = sorted(by_p)
    banded = {ps[0], ps[-1], min(ps, key=lambda p: abs(p - 0.5))}
    for p, pts in sorted(by_p.items()):
        pts = sorted(pts, key=lambda pt: pt["m"])
        ms = [pt["m"] for pt in pts]
        colour = cmap(norm(p))
        if p in banded:
            ax.fill_between(ms, [pt["lo"] for pt in pts], [pt["hi"] for pt in pts], color=colour, alpha=0.15, lw=0)
        ax.plot(ms, [pt["mean"] for pt in pts], color=colour, lw=1.6, marker="o", ms=3)
    pool = sorted(doc.get("best_in_pool", []), key=lambda r: r["m"])
    if pool:
        ax.plot([r["m"] for r in pool], [r["mean"] for r in pool], color="tab:red", lw=0.9,
                label="best single model in the pool (mean over pools)")
    ref = doc["reference"]
    ax.axhline(ref["value"], color="black", ls="--", lw=1.1, label=f"reference ({ref['source']}): {ref['value']:.3f}")
    best = doc["best_single"]
    ax.axhline(best["value"], color="0.45", ls=":", lw=1.3,
               label=f"best single model ({best['model']}): {best['value']:.3f}")
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(sizes))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_locator(NullLocator())
    if len(sizes) == 1:
        ax.set_xlim(sizes[0] / 1.5, sizes[0] * 1.5)
    ax.set_xlabel("pool size m (candidate models drawn at random)")
    ax.set_ylabel(r"$\mu_o$ of $r_o(p)$ (mean score)")
    lo, hi = doc["band"]
    ax.set_title(
        f"{doc['dataset']}: model-level scaling ({doc['n_models']} models, {doc['n_prompts']:,} prompts)\n"
        f"{doc['n_draws']:,} random pools per m (all pools where fewer), seed {doc['seed']}; "
        f"bands (p = {', '.join(f'{p:g}' for p in sorted(banded))}): {100 * lo:g}-{100 * hi:g}% of pools",
        fontsize=9,
    )
    ax.grid(True, which="major", alpha=0.25)
    ax.legend(loc="lower right", fontsize=7, framealpha=0.9)
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, pad=0.01)
    bar.set_label("p: share of prompts sent to the oracle's pick", fontsize=8)
    return fig


def save_figure(fig: Figure, stem: Path, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Write ``stem.<format>`` for each format, each atomically, then close the figure.

    The same figure gives the same bytes on every run: no date in SVG or PDF metadata, and SVG
    ids drawn from a salt named after the file instead of a random one.
    """
    import matplotlib

    from routereval.atomic import write_atomic

    def save(tmp: Path, fmt: str) -> None:
        metadata = {"Date": None} if fmt == "svg" else {"CreationDate": None} if fmt == "pdf" else None
        with matplotlib.rc_context({"svg.hashsalt": Path(stem).name}):
            fig.savefig(tmp, format=fmt, dpi=150, metadata=metadata)

    written = []
    try:
        for fmt in formats:
            path = Path(f"{stem}.{fmt}")
            write_atomic(path, lambda tmp, fmt=fmt: save(tmp, fmt))
            written.append(path)
    finally:
        if "matplotlib.pyplot" in sys.modules:
            # Figures made through pyplot stay registered until closed; others need nothing.
            sys.modules["matplotlib.pyplot"].close(fig)
    return written
