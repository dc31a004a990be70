"""The HTML report as a new user reads it, on the real docs-zoo store (17 routers x 5 datasets) and on a
folder of cost curves alone: one look per router across figures and tables, point labels that never
overlap, settings without bare nulls, no empty sections, and a page that is well formed and whole.

The docs-zoo store is copied first: reading a store may move an unreadable row file aside.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import numpy as np
import pytest
from support.html_page import parse
from support.processes import REPO, run_cli

pytestmark = pytest.mark.slow  # every test reads the report of the 17-router docs-zoo store, built once (a minute)

pytest.importorskip("matplotlib")

ZOO = REPO / "results" / "docs-zoo"


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """The docs-zoo report built in this process (so the figure objects can be read), and its page."""
    if not (ZOO / "rows").is_dir():
        pytest.skip("results/docs-zoo is not in this checkout")
    from routereval.reports.collect import collect
    from routereval.reports.html import render_html
    from routereval.reports.leaderboard_figures import close_figures, report_figures

    store = tmp_path_factory.mktemp("zoo") / "docs-zoo"
    shutil.copytree(ZOO, store)
    data = collect(store, n_boot=50)
    figures = report_figures(data)
    html = render_html(data, figures)
    yield {"data": data, "figures": {f.id: f for f in figures}, "html": html}
    close_figures(figures)


@pytest.fixture(scope="module")
def curves_only(curve_out, tmp_path_factory):
    out = tmp_path_factory.mktemp("curves-report") / "r.html"
    proc = run_cli("report", str(curve_out), "--html", str(out), check=False)
    assert proc.returncode == 0, proc.stderr
    return out.read_text(encoding="utf-8")


def _rendered(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    return renderer


def _looks_in_tradeoff(fig, rows) -> dict[str, tuple[str, str]]:
    """(colour, marker) each router's data points are drawn with, found by the points' coordinates."""
    from matplotlib.colors import to_hex

    ax = fig.axes[0]
    # Markers of data points; not the caps of error bars ("_"), which can sit on a point with no interval.
    drawn = [line for line in ax.get_lines() if line.get_marker() not in (None, "", "None", "_")]
    out: dict[str, set] = {}
    for r in rows:
        at = (float(r["choice_entropy"]), float(r["mean_score"]))
        hits = [line for line in drawn if len(line.get_xdata()) == 1
                and np.allclose((line.get_xdata()[0], line.get_ydata()[0]), at)]
        assert hits, (r["router"], at)
        out.setdefault(str(r["router"]), set()).update((to_hex(h.get_color()), h.get_marker()) for h in hits)
    looks = {}
    for router, seen in out.items():
        assert len(seen) == 1, (router, seen)  # one look for all of a router's points in one figure
        (looks[router],) = seen
    return looks


def test_a_router_has_one_colour_and_marker_in_every_figure_and_table(zoo):
    from matplotlib.colors import to_hex

    data, figures = zoo["data"], zoo["figures"]
    rows_of = {d: [r for r in data.means if r["dataset"] == d] for d in ("llmrouter", "mmlu-pro")}
    a = _looks_in_tradeoff(figures["figure-tradeoff-llmrouter"].figure, rows_of["llmrouter"])
    b = _looks_in_tradeoff(figures["figure-tradeoff-mmlu-pro"].figure, rows_of["mmlu-pro"])
    shared = set(a) & set(b)
    assert len(shared) >= 15, shared
    for router in shared:
        assert a[router] == b[router], router
    # The looks differ between routers (17 routers, 36 pairs before one repeats)...
    assert len(set(a.values())) == len(a)
    # ...and are dealt over the sorted labels: the same store gives the same looks on every run.
    from routereval.reports.figures import ROUTER_COLOURS, ROUTER_MARKERS

    for i, router in enumerate(sorted({str(r["router"]) for r in data.rows})):
        if router in a:
            assert a[router] == (ROUTER_COLOURS[i % 9], ROUTER_MARKERS[i % 12])
    # The legend shows each router as its points are drawn.
    legend = figures["figure-tradeoff-llmrouter"].figure.legends[0]
    for handle, text in zip(legend.legend_handles, legend.get_texts()):
        assert (to_hex(handle.get_color()), handle.get_marker()) == a[text.get_text()]
    # The classification-bias figure marks each bar with the router's marker, in its colour.
    sel = figures["figure-selection-mmlu-pro-m3"].figure
    ax = sel.axes[0]
    names = [t.get_text().split("  (E_sel")[0] for t in ax.get_yticklabels()]
    marks = [line for line in ax.get_lines() if line.get_marker() not in (None, "", "None")]
    assert len(marks) == len(names)
    for line in marks:
        router = names[int(round(line.get_ydata()[0]))]
        assert (to_hex(line.get_color()), line.get_marker()) == b[router]
    # The leaderboard tables lead each router with the same marker and colour.
    page = parse(zoo["html"])
    for table in page.tables.values():
        if table["attrs"].get("class") != "leaderboard":
            continue
        for cells in table["rows"]:
            if cells[0]["text"] in a:
                assert (cells[0]["data-colour"], cells[0]["data-marker"]) == a[cells[0]["text"]]


def _labels_overlap(fig) -> tuple[list[tuple[str, str]], int]:
    """Pairs of point labels whose text boxes overlap once drawn, and how many labels there are."""
    from matplotlib.text import Text

    from routereval.reports.figures import LABEL_GID

    renderer = _rendered(fig)
    labels = [t for t in fig.findobj(Text) if str(t.get_gid() or "").startswith(LABEL_GID)]
    boxes = [Text.get_window_extent(t, renderer) for t in labels]  # the text alone, not a leader line
    return [(labels[i].get_text(), labels[j].get_text()) for i in range(len(boxes)) for j in range(i)
            if boxes[i].overlaps(boxes[j])], len(labels)


def test_point_labels_never_overlap_on_the_zoo_nor_in_a_crowd(zoo):
    from routereval.reports.cost_figures import plot_cost_quality
    from routereval.reports.html import svg_markup
    from routereval.reports.leaderboard_figures import plot_tradeoff

    for fid, f in zoo["figures"].items():
        if f.kind == "tradeoff":
            overlaps, n = _labels_overlap(f.figure)
            assert n == 17 and not overlaps, (fid, overlaps)
    # A crowd: 25 routers at almost the same point, whose labels would sit on one another.
    rows = [{"dataset": "d", "benchmark": "d", "m": 3, "router": f"router-{k:02d}", "mean_score": 0.6 + 0.0004 * k,
             "mean_score_lo": 0.55, "mean_score_hi": 0.65, "choice_entropy": 1.0 + 0.002 * k} for k in range(25)]
    fig = plot_tradeoff(rows)
    overlaps, n = _labels_overlap(fig)
    assert n == 25 and not overlaps, overlaps
    svg_markup(fig, "crowd", "crowd")  # saving does not lay the figure out again...
    assert not _labels_overlap(fig)[0]  # ...so the labels stay apart
    # Single models labelled in a cost-quality figure, many at nearly one cost and quality.
    singles = [{"model": f"org/model-{k}", "cost": 0.001 * (1 + 0.01 * k), "quality": 0.5 + 0.001 * k,
                "pareto": k % 3 == 0} for k in range(12)]
    doc = {"dataset": "crowd", "unit": "dollars", "n_test": 10, "models": [s["model"] for s in singles],
           "singles": singles, "aiq_cost_range": [0.001, 0.0012],
           "curves": [{"router": "knn", "points": [{"cost": 0.0011, "quality": 0.51}],
                       "hull": [{"cost": 0.001, "quality": 0.5}, {"cost": 0.0011, "quality": 0.51}]}]}
    overlaps, n = _labels_overlap(plot_cost_quality(doc))
    assert n == 12 and not overlaps, overlaps


def test_settings_show_no_null_and_say_what_unset_means(zoo):
    text = zoo["html"]
    table = re.search(r'<table id="settings-table".*?</table>', text, re.S).group(0)
    cells = dict(re.findall(r"<code>([^<]+)</code></th><td>([^<]*)</td>", table))
    settings = zoo["data"].settings
    assert set(cells) == set(settings)
    assert "null" not in table and "None" not in table
    for key, value in settings.items():
        if value is None:
            assert cells[key].startswith("not set: "), key
    # docs-zoo is a clean-protocol store with no reference given: the best model chosen on train + val.
    assert settings["reference"] is None and settings["protocol"] == "clean"
    assert "best single model chosen on train + val" in cells["reference"]
    assert cells["cost"].startswith("not set: no cost columns")


def _section_ids(text: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)"', text)


def test_sections_with_nothing_to_show_are_left_out_and_named(zoo, curves_only):
    page = parse(zoo["html"])
    # docs-zoo has no scaling documents and no costs: neither section, nor its contents entry.
    sections = _section_ids(zoo["html"])
    assert sections == ["settings", "leaderboard", "notes", "selection", "tradeoff", "ranks"]
    assert {h[1:] for h in page.contents if "-" not in h} == set(sections)
    absent = re.search(r'<p class="absent">(.*?)</p>', zoo["html"]).group(1)
    assert "Scaling curves (no scaling documents" in absent and "--scaling" in absent
    assert "Cost and quality (no costs" in absent
    # A folder of curves alone: only the cost section, and no "0 result rows" or "(0 tables)".
    assert _section_ids(curves_only) == ["cost"]
    assert "0 result rows" not in curves_only and "0 tables" not in curves_only
    assert '<p class="empty">' not in curves_only
    assert "cost-quality curves only, 1 document" in curves_only
    page = parse(curves_only)
    assert [h for h in page.contents if "-" not in h] == ["#cost"]
    absent = re.search(r'<p class="absent">(.*?)</p>', curves_only).group(1)
    for name in ("Settings", "Leaderboard", "Notes", "Scaling curves"):
        assert name in absent


#: Elements that have no end tag in HTML.
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Strict(HTMLParser):
    """Records every problem a lenient browser would silently repair: an end tag that closes nothing or the
    wrong element, an element left open; also every id, internal link, image source and script-like part."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.ids: list[str] = []
        self.links: list[str] = []
        self.images: list[str] = []
        self.scripts: list[str] = []
        self.svg_depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        for key, value in attrs:
            if key.startswith("on"):
                self.scripts.append(f"{tag} {key}")
            if value and key in ("href", "xlink:href", "src") and value.strip().lower().startswith("javascript:"):
                self.scripts.append(f"{tag} {key}={value}")
            if value and key in ("href", "xlink:href") and value.startswith("#"):
                self.links.append(value[1:])
            if value and "url(#" in value:
                self.links += re.findall(r"url\(#([^)]+)\)", value)
        if tag in ("script", "iframe", "object", "embed"):
            self.scripts.append(tag)
        if tag == "img":
            self.images.append(a.get("src", ""))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):  # <path .../> inside SVG: opened and closed at once
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in VOID:
            self.problems.append(f"end tag of void element </{tag}>")
        elif not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def check_page(text: str) -> Strict:
    """Every check short of a browser; returns the parser for further checks."""
    assert text.startswith("<!DOCTYPE html>")
    page = Strict()
    page.feed(text)
    page.close()
    assert not page.problems, page.problems[:5]
    assert page.stack == [], f"left open: {page.stack}"
    assert len(page.ids) == len(set(page.ids)), "duplicate ids"
    missing = sorted(set(page.links) - set(page.ids))
    assert not missing, f"links to no element: {missing[:5]}"
    assert page.scripts == [], page.scripts
    # Each inline SVG is XML of its own (a browser's SVG parser is strict).
    svgs = re.findall(r"<svg\b.*?</svg>", text, re.S)
    for svg in svgs:
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg")
    for src in page.images:
        kind, _, payload = src.partition(";base64,")
        raw = base64.b64decode(payload, validate=True)
        if kind == "data:image/png":
            import matplotlib.image

            pixels = matplotlib.image.imread(io.BytesIO(raw), format="png")  # decodes every pixel
            assert pixels.shape[0] > 10 and pixels.shape[1] > 10
        elif kind == "data:image/svg+xml":
            assert ET.fromstring(raw).tag.endswith("svg")
        else:
            raise AssertionError(f"an image that is neither an embedded PNG nor SVG: {src[:60]}")
    assert svgs or page.images
    return page


def test_the_page_is_well_formed_linked_whole_and_has_no_scripts(zoo, curves_only):
    """What a headless browser would catch, checked without one.

    No browser is installed on this machine and none can be downloaded (only the package registry
    is reachable), so a real browser check is not possible here. Instead: the page parses with every
    element closed in order; each internal link (#id, in the contents and inside SVGs) has its target;
    every embedded image decodes (PNG to pixels, SVG as XML); and the page has no scripts at all (no
    <script>, no on* handler, no javascript: URL), so there is nothing that could log a console error.
    The report needs none: contents are plain links and figures are static SVG.
    """
    for text in (zoo["html"], curves_only):
        check_page(text)
    zoo_page = check_page(zoo["html"])
    assert any(link.startswith("figure-") for link in zoo_page.links)


def test_a_page_with_a_png_figure_decodes(zoo):
    from routereval.reports.html import render_html

    data = zoo["data"]
    one = [f for f in zoo["figures"].values() if f.kind == "tradeoff"][:1]
    text = render_html(data, one, svg_limit=1000)  # every SVG "too large": embedded as PNG
    page = check_page(text)
    assert len(page.images) == 1
