"""`routereval report --markdown` as a reader meets it: settings without bare nulls, no empty sections
(each left-out one named, with how to fill it), missing numbers as '-', and the HTML report's router
markers wherever figures are linked.

Stores are written by hand (rows with known scores), so every number checked here is worked out from
the scores in this file, not read back from the code under test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from support.processes import run_cli

N = 40
#: Router -> number of prompts (of N) it gets right, on both datasets: mu_o = hits / N, worked out by hand.
HITS = {"alpha": 30, "beta": 26, "gamma": 22}
SETTINGS = {"protocol": "clean", "reference": None, "prices": None, "comment": "<b>bold</b> | piped"}


def write_store(folder: Path, datasets: tuple[str, ...] = ("d1", "d2"), notes: dict | None = None) -> Path:
    """One seed, one split, m = 3, three routers whose per-prompt scores are fixed above."""
    from routereval.results.store import ResultsStore

    store = ResultsStore(folder)
    with store.writing(SETTINGS):
        for dataset in datasets:
            for router, hits in HITS.items():
                scores = np.zeros(N)
                scores[:hits] = 1.0
                store.write_row({"source": dataset, "dataset": dataset, "benchmark": dataset, "m": 3,
                                 "group": "all_weak", "router": router, "seed": 0, "split_seed": 0,
                                 "positions": np.arange(N), "per_prompt": scores, "mean_score": scores.mean(),
                                 "n_test": N, "reference": "given", "reference_score": 1.0, "models": ["m1", "m2", "m3"],
                                 "selection": [1.0, 0.0, 0.0], "choice_entropy": 0.0, "proba_entropy": 0.0,
                                 "vs_reference": scores.mean(), "vs_best_single": 1.0})
        if notes:
            store.write_notes(notes)
    return folder


def report_text(folder: Path, tmp_path: Path, **kwargs) -> str:
    from routereval.reports.collect import collect
    from routereval.reports.markdown import markdown_report

    data = collect(folder, n_boot=50, **kwargs)
    return markdown_report(data, False, {}, {}, tmp_path / "r.md")


def sections(text: str) -> dict[str, str]:
    """Each '## ' section's body, by title."""
    out, title = {}, None
    for line in text.splitlines():
        if line.startswith("## "):
            title = line[3:]
            out[title] = ""
        elif title is not None:
            out[title] += line + "\n"
    return out


def absent_line(text: str) -> str:
    (line,) = [ln for ln in text.splitlines() if ln.startswith("Not in this report")]
    return line


def assert_no_raw_nulls(text: str) -> None:
    for word in ("None", "null", "NaN", "nan"):
        assert not re.search(rf"\b{word}\b", text), (word, [ln for ln in text.splitlines() if word in ln])


def test_settings_say_what_an_unset_value_means_and_data_cannot_inject_markup(tmp_path):
    text = report_text(write_store(tmp_path / "s"), tmp_path)
    body = sections(text)["Settings"]
    assert "| `prices` | not set: the prices the datasets carry |" in body
    # protocol = clean: the best single model is chosen on train + val (docs/experiments.md, "reference").
    assert "| `reference` | not set: RouterEval's published constant on its own benchmarks, else the best " \
           "single model chosen on train + val |" in body
    assert "| `protocol` | clean |" in body
    # A value's '|' would split the row into another column, its '<b>' would render as bold.
    assert "| `comment` | &lt;b&gt;bold&lt;/b&gt; \\| piped |" in body
    assert "<b>" not in text
    assert_no_raw_nulls(text)


def test_the_leaderboard_holds_the_hand_worked_means(tmp_path):
    text = report_text(write_store(tmp_path / "s"), tmp_path)
    board = sections(text)["Leaderboard"]
    for dataset in ("d1", "d2"):
        assert f"**{dataset}, m = 3 (mean of all_weak)**" in board
    rows = [line for line in board.splitlines() if re.match(r"\| (alpha|beta|gamma) \|", line)]
    assert len(rows) == 6
    for line in rows:
        router, mu = [c.strip() for c in line.strip("|").split("|")][:2]
        assert mu == f"{HITS[router] / N:.3f}"  # 0.750, 0.650, 0.550


def test_sections_with_nothing_to_show_are_left_out_and_named_in_one_line(tmp_path):
    text = report_text(write_store(tmp_path / "s", datasets=("d1",)), tmp_path)
    shown = sections(text)
    # One dataset: no ranks; one seed and no skipped size: no notes; no costs; no figures without --plots.
    assert list(shown) == ["Settings", "Leaderboard"]
    line = absent_line(text)
    for title in ("Average ranks across datasets (ranks need two datasets or more",
                  "Cost and quality (no costs:", "Notes (no pool size was skipped, one seed)",
                  "Figures (`routereval report --plots DIR` writes them"):
        assert title in line, title
    # No heading without a body.
    for title, body in shown.items():
        assert body.strip(), title
    assert "No pool sizes were skipped" not in text


def test_notes_and_ranks_appear_when_there_is_something_to_show(tmp_path):
    store = write_store(tmp_path / "s", notes={"d1": {"10": "m = 10 needs 10 models; this benchmark has 3"}})
    text = report_text(store, tmp_path)
    shown = sections(text)
    assert "* d1: m = 10 needs 10 models; this benchmark has 3" in shown["Notes"]
    # alpha > beta > gamma on both datasets: average ranks 1, 2, 3, each cell ranked as on its dataset.
    ranks = shown["Average ranks across datasets"]
    assert "| alpha | 1 | 0.750 (1) | 0.750 (1) |" in ranks
    assert "| gamma | 3 | 0.550 (3) | 0.550 (3) |" in ranks
    assert "Notes" not in absent_line(text) and "Average ranks" not in absent_line(text)


def curves_doc() -> dict:
    """A cost-quality document as `routereval curve` writes it, where two metrics and a CPT are never
    reached (NaN in the study, null once written as JSON)."""
    return {"dataset": "pairset", "unit": "dollars", "aiq_cost_range": [0.001, 0.01], "n_test": 40,
            "singles": [], "curves": [{"router": "knn", "points": [], "hull": []}],
            "metrics": [{"router": "knn", "AIQ": 0.7, "max_quality": 0.8, "cost_at_max_quality": 0.004,
                         "cost_to_best_single": None, "saving_vs_best_single": None,
                         "quality_at_cheapest_cost": 0.6}],
            "pair": [{"router": "knn", "APGR_dollars": 0.5, "CPT20_dollars": 0.002, "CPT50_dollars": None,
                      "CPT80_dollars": None}]}


def test_a_metric_never_reached_shows_as_a_dash_not_none(tmp_path):
    folder = tmp_path / "curves"
    folder.mkdir()
    (folder / "curves.json").write_text(json.dumps(curves_doc()))
    text = report_text(folder, tmp_path)
    assert text.splitlines()[2] == "Cost-quality curves only: 1 document (pairset)."
    cost = sections(text)["Cost and quality"]
    # cost/1k at max = 1000 x 0.004 = 4; the two metrics never reached are '-'.
    assert "| knn | 0.7 | 0.8 | 4 | - | - | 0.6 |" in cost
    assert "| knn | 0.5 | 0.002 | - | - |" in cost
    assert "40 held-out prompts" in cost and "[1, 10] per 1,000 queries" in cost
    # A folder of curves alone has no settings and no leaderboard: both named, neither an empty heading.
    assert list(sections(text)) == ["Cost and quality"]
    assert "Settings (the folder records no sweep settings)" in absent_line(text)
    assert "Leaderboard (This folder holds cost-quality curves only" in absent_line(text)
    assert_no_raw_nulls(text)


def _html_marks(html: str) -> dict[str, str]:
    from support.html_page import parse

    marks = {}
    for table in parse(html).tables.values():
        for cells in table["rows"]:
            if cells[0].get("data-mark"):
                marks.setdefault(cells[0]["text"], set()).add(cells[0]["data-mark"])
    assert all(len(m) == 1 for m in marks.values()), marks
    return {name: m.pop() for name, m in marks.items()}


@pytest.mark.slow  # draws every figure
def test_with_figures_each_router_has_the_html_reports_marker(tmp_path):
    pytest.importorskip("matplotlib")
    from routereval.reports.figures import ROUTER_MARKERS, MARKER_SYMBOLS

    store = write_store(tmp_path / "s")
    md, html = tmp_path / "out" / "r.md", tmp_path / "r.html"
    proc = run_cli("report", str(store), "--markdown", str(md), "--html", str(html), "--plots", str(tmp_path / "plots"),
                   "--n-boot", "50", check=False)
    assert proc.returncode == 0, proc.stderr
    text, marks = md.read_text(encoding="utf-8"), _html_marks(html.read_text(encoding="utf-8"))
    assert set(marks) == set(HITS)
    # Dealt over the sorted names, as in every figure: alpha gets the first marker, beta the second...
    assert [marks[r] for r in sorted(HITS)] == [MARKER_SYMBOLS[m] for m in ROUTER_MARKERS[:3]]
    board = sections(text)["Leaderboard"] + sections(text)["Average ranks across datasets"]
    labelled = re.findall(r"^\| (\S+) (alpha|beta|gamma) \|", board, flags=re.MULTILINE)
    assert len(labelled) == 6 + 3  # 2 leaderboard tables and one rank table, 3 routers each
    for mark, router in labelled:
        assert mark == marks[router], router
    # The key under the title says which colour goes with each marker (tab10: blue, orange, green).
    assert f"{marks['alpha']} alpha (blue), {marks['beta']} beta (orange), {marks['gamma']} gamma (green)" in text
    assert "Figures" in sections(text) and "Figures" not in absent_line(text)
    assert_no_raw_nulls(text)


def test_without_figures_router_names_stand_alone(tmp_path):
    from routereval.reports.figures import MARKER_SYMBOLS

    text = report_text(write_store(tmp_path / "s"), tmp_path)
    assert not any(symbol in text for symbol in MARKER_SYMBOLS.values())
    assert "| alpha | 0.750 |" in text
