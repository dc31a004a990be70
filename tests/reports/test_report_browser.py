"""The HTML report opened in a real headless Chromium, as a user opens it: served by a real HTTP server on
127.0.0.1, every request watched. It must load with no console error and no script error, ask for nothing
but itself, draw every figure (inline SVG or PNG) at a real size, paint a page that is not blank, and show
nothing a reader would stumble on: no raw null/None/NaN/undefined, no heading without anything under it,
no contents link to nowhere, nothing wider than the window.

The report is real: `routereval report --html` run as a process on a store written by hand (two datasets,
three routers, a skipped size, a scaling document and cost-quality curves), so that every section and
every kind of figure is on the page.

Chromium is Debian's (/usr/bin/chromium, or $ROUTEREVAL_CHROMIUM), driven by the playwright package
(`pip install 'routereval[test]'`); playwright's own browser download is never used. Without either
the tests skip, saying which is missing.
"""

from __future__ import annotations

import functools
import http.server
import io
import json
import os
import re
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from support.processes import run_cli

pytestmark = pytest.mark.slow  # drives a real headless Chromium

pytest.importorskip("matplotlib")

CHROMIUM = os.environ.get("ROUTEREVAL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
#: No sandbox: CI runs as root, where Chromium's sandbox cannot start; the page is our own file.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 900}
#: Words that are a renderer's leftovers, not a reader's text.
RAW = re.compile(r"\b(null|None|NaN|nan|undefined|Infinity|\[object Object\])\b")


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed: pip install 'routereval[test]'")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set ROUTEREVAL_CHROMIUM)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def curves_doc(dataset: str, routers: list[str]) -> dict:
    """A cost-quality document in the shape `routereval curve` writes: four priced single models (three on the
    Pareto front), and per router its operating points and their upper hull."""
    singles = [{"model": f"org/model-{k}", "cost": c, "quality": q, "pareto": k != 2}
               for k, (c, q) in enumerate([(1e-4, 0.40), (5e-4, 0.55), (2e-3, 0.50), (4e-3, 0.70)])]
    curves, metrics = [], []
    for i, router in enumerate(routers):
        points = [{"cost": c, "quality": min(0.95, 0.42 + 0.08 * i + 60 * c)} for c in (1e-4, 3e-4, 1e-3, 2e-3, 4e-3)]
        curves.append({"router": router, "points": points, "hull": points})
        metrics.append({"router": router, "AIQ": 0.5 + 0.05 * i, "max_quality": points[-1]["quality"],
                        "cost_at_max_quality": 4e-3, "cost_to_best_single": None if i == 0 else 3e-3,
                        "saving_vs_best_single": None if i == 0 else 0.25, "quality_at_cheapest_cost": 0.42})
    return {"dataset": dataset, "unit": "dollars", "aiq_cost_range": [1e-4, 4e-3], "n_test": 40,
            "models": [s["model"] for s in singles], "singles": singles, "curves": curves, "metrics": metrics,
            "pair": []}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One report with every section (settings, leaderboard with per-group tables, notes, scaling, selection,
    trade-off, cost and ranks), written by `routereval report` as a user runs it, served over HTTP on
    127.0.0.1 (a free port); yields the server's URL and the folder it serves."""
    from test_report import scaling_doc
    from test_report_markdown import HITS, write_store

    root = tmp_path_factory.mktemp("served")
    store = write_store(root / "store", notes={"d1": {"10": "m = 10 needs 10 models; this benchmark has 3"}})
    (store / "scaling").mkdir()
    (store / "scaling" / "d1.json").write_text(json.dumps(scaling_doc("d1", "d1")))
    (store / "curves.json").write_text(json.dumps(curves_doc("d1", list(HITS))))
    proc = run_cli("report", str(store), "--html", str(root / "report.html"), "--by-group", "--n-boot", "50", check=False)
    assert proc.returncode == 0, proc.stderr
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_address[1]}/", "root": root}
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


def open_report(browser, url: str) -> dict:
    """Load ``url`` in a fresh page; what the page logged, asked for and showed."""
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    page = context.new_page()
    seen = {"console": [], "errors": [], "requests": [], "failed": []}
    page.on("console", lambda m: seen["console"].append((m.type, m.text)))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.on("requestfailed", lambda r: seen["failed"].append(r.url))
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status == 200, url
    seen.update(page=page, context=context)
    return seen


def _figures(page) -> list[dict]:
    """Each <figure>: how its SVGs and images are drawn (sizes in CSS pixels)."""
    return page.evaluate("""() => [...document.querySelectorAll('figure')].map(f => ({
        id: f.id,
        svgs: [...f.querySelectorAll(':scope > svg')].map(s => {
            const r = s.getBoundingClientRect(), b = s.getBBox();
            return {w: r.width, h: r.height, bw: b.width, bh: b.height, drawn: s.querySelectorAll('path, text').length};
        }),
        imgs: [...f.querySelectorAll('img')].map(i => ({complete: i.complete, nw: i.naturalWidth, nh: i.naturalHeight,
                                                         w: i.getBoundingClientRect().width})),
        caption: (f.querySelector('figcaption') || {}).textContent || '',
    }))""")


def _empty_headings(page) -> list[str]:
    """Headings with nothing shown after them before the next heading of the same or a higher level."""
    return page.evaluate("""() => {
        const out = [];
        for (const h of document.querySelectorAll('h2, h3')) {
            let next = h.nextElementSibling, shown = false;
            while (next && !(/^H[1-3]$/.test(next.tagName) && next.tagName <= h.tagName)) {
                if (next.textContent.trim() || next.querySelector('svg, img')) { shown = true; break; }
                next = next.nextElementSibling;
            }
            if (!shown) out.push(h.textContent);
        }
        return out;
    }""")


def _screenshot_pixels(page) -> np.ndarray:
    from PIL import Image

    png = page.screenshot(full_page=True)
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)


def check_page(browser, url: str) -> dict:
    """Every check a user's eye makes, on one report; returns what was seen for report-specific checks."""
    seen = open_report(browser, url)
    page = seen["page"]
    try:
        # Self-contained: the page asks for nothing but itself (figures are inline or data: URLs).
        assert [r for r in seen["requests"] if r != url and not r.startswith("data:")] == []
        assert not seen["failed"], seen["failed"]
        errors = [text for kind, text in seen["console"] if kind in ("error", "warning")]
        assert not errors and not seen["errors"], (errors, seen["errors"])

        figures = _figures(page)
        assert figures, "no figure on the page"
        for f in figures:
            assert f["svgs"] or f["imgs"], f["id"]
            for s in f["svgs"]:
                # Laid out at a real size, and the drawing inside it has extent and marks.
                assert s["w"] > 200 and s["h"] > 100 and s["bw"] > 0 and s["bh"] > 0 and s["drawn"] > 10, (f["id"], s)
                assert s["w"] <= VIEWPORT["width"], (f["id"], s)
            for i in f["imgs"]:
                assert i["complete"] and i["nw"] > 0 and i["nh"] > 0 and i["w"] > 0, (f["id"], i)
            assert f["caption"].strip(), f["id"]

        text = page.inner_text("body")
        assert not RAW.findall(text), [ln for ln in text.splitlines() if RAW.search(ln)][:5]
        assert _empty_headings(page) == []
        # Every contents link leads somewhere on the page.
        dead = page.evaluate("""() => [...document.querySelectorAll('nav a[href^="#"]')]
            .map(a => a.getAttribute('href').slice(1)).filter(id => !document.getElementById(id))""")
        assert dead == []
        # Nothing makes the window scroll sideways.
        wide = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert wide <= 0, f"the page is {wide} px wider than the window"

        pixels = _screenshot_pixels(page)
        height = page.evaluate("() => document.documentElement.scrollHeight")
        assert pixels.shape == (height, VIEWPORT["width"]), pixels.shape
        assert height > VIEWPORT["height"], height  # tables and figures run past the first screen
        # Not blank: much of the page is white, but text, rules and figures make real variance.
        inked = float((pixels < 200).mean())
        assert pixels.std() > 20 and 0.01 < inked < 0.6, f"pixels.std() = {pixels.std():.1f}, inked = {inked:.3f}"
        return {"text": text, "figures": figures, "title": page.title()}
    finally:
        seen["context"].close()


def test_the_report_renders_whole_in_chromium(browser, served):
    shown = check_page(browser, served["url"] + "report.html")
    assert shown["title"] == "routereval report: store"
    kinds = sorted(f["id"].split("-")[1] for f in shown["figures"])
    # One scaling document; classification bias for d1 and d2 at m = 3; mu_o vs E_sel per dataset; the cost
    # curves; the critical-difference diagram of the ranks.
    assert kinds == ["cost", "ranks", "scaling", "selection", "selection", "tradeoff", "tradeoff"], kinds
    # Nothing left out: every section has something to show.
    assert "Not in this report" not in shown["text"]
    assert "not set: the prices the datasets carry" in shown["text"]


#: Defects a reader would notice, each put into a copy of the real page, and what the failed check says: the
#: checks above must catch every one, each by the check meant for it.
DEFECTS = {
    "script-error": ("</body>", "<script>undefinedFunction()</script></body>", "undefinedFunction is not defined"),
    "console-error": ("</body>", "<script>console.error('boom')</script></body>", "boom"),
    "external-request": ("</body>", '<img alt="x" src="https://example.invalid/x.png"></body>', "example.invalid"),
    "broken-image": ("<figcaption>", '<img alt="x" src="data:image/png;base64,AAAA"><figcaption>', "'nw': 0"),
    "raw-null": ("</header>", "<p>reference: null</p></header>", "reference: null"),
    "empty-heading": ("</body>", '<section id="x"><h2>Extra</h2></section></body>', "Extra"),
    "too-wide": ("</body>", '<div style="width: 3000px">wide</div></body>', "wider than the window"),
    "blank-page": ("<body>", '<body style="visibility: hidden">', "pixels.std"),
    "collapsed-figure": ("<svg ", '<svg width="0" height="0" ', "'w': 0"),
    "dead-link": ("<ol>", '<ol><li><a href="#nowhere">gone</a></li>', "nowhere"),
}


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_each_check_catches_the_defect_it_is_for(browser, served, defect):
    page = (served["root"] / "report.html").read_text(encoding="utf-8")
    old, new, says = DEFECTS[defect]
    assert old in page, old
    (served["root"] / f"{defect}.html").write_text(page.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(AssertionError, match=re.escape(says)):
        check_page(browser, served["url"] + f"{defect}.html")
