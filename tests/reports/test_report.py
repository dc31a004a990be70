"""`routereval report` on a real results store: real routers on a small synthetic benchmark,
two seeds, a skipped size and hand-written scaling documents; the HTML page is parsed and
checked against the stored rows."""

from __future__ import annotations

import base64
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pytest
from support.html_page import Page, parse
from support.processes import run_cli

PNG = b"\x89PNG\r\n\x1a\n"
ROUTERS = ("oracle", "random", "best-single", "knn")
SEEDS = (0, 1)
DATASET = "toy & co"
SETTINGS = {"protocol": "faithful", "encoder": "precomputed:vec", "comment": "<script>alert(1)</script>"}


def scaling_doc(dataset: str, benchmark: str) -> dict:
    points = [{"m": m, "p": p, "mean": 0.5 + 0.1 * p * np.log2(m), "lo": 0.45 + 0.1 * p * np.log2(m) - 0.02,
               "hi": 0.55 + 0.1 * p * np.log2(m) + 0.02, "sem": 0.002, "n_subsets": 20, "enumerated": m == 1}
              for m in (1, 2, 3, 5) for p in (0.0, 0.5, 1.0)]
    return {"dataset": dataset, "benchmark": benchmark, "n_prompts": 160, "n_models": 8, "kind": "binary",
            "n_draws": 20, "seed": 0, "band": [0.025, 0.975],
            "reference": {"value": 0.8, "source": "given (0.8)"},
            "best_single": {"model": "org/<b>m3</b>", "value": 0.61},
            "points": points,
            "best_in_pool": [{"m": m, "mean": 0.5 + 0.02 * m, "lo": 0.48, "hi": 0.6} for m in (1, 2, 3, 5)]}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A results store of 4 routers x 6 pools x 2 seeds, the evaluated pools kept for checking."""
    from routereval.datasets.router_dataset import router_datasets
    from routereval.evaluation.evaluate import evaluate_pool, seeded
    from routereval.evaluation.features import Features
    from routereval.evaluation.reference import Reference
    from routereval.evaluation.specs import RouterSpec, contender
    from routereval.records import Benchmark
    from routereval.results.store import ResultsStore

    rng = np.random.default_rng(7)
    n, n_models = 160, 8
    emb = rng.standard_normal((n, 16)).astype(np.float32)
    # Some models are good on one half of the embedding space, so knn has something to learn.
    skill = rng.uniform(0.2, 0.8, n_models) + np.outer(emb[:, 0] > 0, rng.uniform(-0.3, 0.3, n_models))
    values = (rng.random((n, n_models)) < np.clip(skill, 0.05, 0.95)).astype(np.float32)
    prompts = pd.DataFrame({"prompt_id": [f"p{i}" for i in range(n)], "task": ["a"] * 90 + ["b"] * 70})
    models = [f"org/<b>m{k}</b>" for k in range(n_models)]
    bench = Benchmark.from_values(DATASET, values, prompts, models)
    data = router_datasets(bench, [3, 5, 10], n_draws=50)
    pools, skipped = data.pools, data.skipped
    assert 10 in skipped and {p.m for p in pools} == {3, 5}
    features = Features(embeddings=emb, texts=None)
    reference = Reference(0.8, "given (0.8)")
    folder = tmp_path_factory.mktemp("store")
    results = []
    store = ResultsStore(folder)
    with store.writing(SETTINGS):
        for seed in SEEDS:
            for data in pools:
                for name in ROUTERS:
                    entry = contender(RouterSpec(name))
                    if entry.router is not None:
                        seeded(entry.router, seed)
                    row = evaluate_pool(entry, data, features, reference, n_boot=100, seed=seed)
                    row = {**row, "source": DATASET, "seed": seed}
                    store.write_row(row)
                    results.append((seed, data, row))
        store.write_notes({DATASET: {str(m): why for m, why in skipped.items()}})
    (folder / "scaling").mkdir()
    (folder / "scaling" / "toy.json").write_text(json.dumps(scaling_doc(DATASET, DATASET)))
    extra = tmp_path_factory.mktemp("more-scaling")
    (extra / "other.json").write_text(json.dumps(scaling_doc("other <b>set</b>", "mmlu")))
    return {"store": folder, "extra": extra, "results": results, "pools": pools}


@pytest.fixture(scope="module")
def report_run(built, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    proc = run_cli("report", str(built["store"]), "--html", str(out / "report.html"),
                   "--markdown", str(out / "md" / "report.md"), "--plots", str(out / "plots"),
                   "--by-group", "--scaling", str(built["extra"]), "--n-boot", "200", check=False)
    assert proc.returncode == 0, proc.stderr
    return {"out": out, "proc": proc, "html": (out / "report.html").read_text(encoding="utf-8")}


def stored_rows(store: Path) -> list[dict]:
    from routereval.results.store import ResultsStore

    return ResultsStore(store).read_rows(arrays=False)


def test_html_contents_link_to_what_exists_and_figures_are_embedded(report_run):
    page = parse(report_run["html"])
    assert len(page.ids) == len(set(page.ids)), "duplicate ids"
    targets = [h[1:] for h in page.contents]
    assert all(h.startswith("#") for h in page.contents)
    assert set(targets) <= set(page.ids)
    listed_figures = [t for t in targets if t.startswith("figure-")]
    # 2 scaling documents, classification bias for m = 3 and 5, one mu_o vs E_sel scatter.
    kinds = sorted(t.split("-")[1] for t in listed_figures)
    assert kinds == ["scaling", "scaling", "selection", "selection", "tradeoff"]
    for fid in listed_figures:
        fig = page.figures[fid]
        assert fig["svg"] or fig["png"], fid
        for src in fig["png"]:
            assert src.startswith("data:image/png;base64,")
            assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG)
    listed_tables = [t for t in targets if t.startswith("table-")]
    assert set(listed_tables) == set(page.tables)
    for section in ("settings", "leaderboard", "notes", "scaling", "selection", "tradeoff"):
        assert section in targets


def test_html_is_self_contained_and_escaped(report_run):
    text = report_run["html"]
    page = parse(text)
    for url in page.urls:
        assert not url.lower().startswith(("http://", "https://", "//")), url
    assert "script" not in page.tags and "link" not in page.tags
    assert "<b>" not in text and "b" not in page.tags
    assert "&lt;b&gt;" in text
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "toy &amp; co" in text
    assert "m = 10" in text  # the skipped size is noted


def test_tables_hold_one_row_per_router_with_the_stored_means(built, report_run):
    rows = stored_rows(built["store"])
    page = parse(report_run["html"])
    means = [t for t in page.tables.values() if t["attrs"]["data-group"] == "mean"]
    groups = [t for t in page.tables.values() if t["attrs"]["data-group"] != "mean"]
    assert sorted(int(t["attrs"]["data-m"]) for t in means) == [3, 5]
    assert len(groups) == 2 * 3
    for table in page.tables.values():
        attrs = table["attrs"]
        m, group = int(attrs["data-m"]), attrs["data-group"]
        mine = [r for r in rows if r["m"] == m and group in ("mean", r["group"])]
        assert attrs["data-dataset"] == DATASET
        assert int(attrs["data-rows"]) == len(table["rows"]) == len(ROUTERS)
        assert sorted(r[0]["text"] for r in table["rows"]) == sorted({r["router"] for r in mine})
        for cells in table["rows"]:
            router = cells[0]["text"]
            expected = np.mean([r["mean_score"] for r in mine if r["router"] == router])
            (mu,) = [c for c in cells if c.get("data-col") == "mu_o"]
            assert float(mu["data-value"]) == pytest.approx(expected, abs=1e-12)
            assert mu["text"] == f"{expected:.3f}"
            assert len([r for r in mine if r["router"] == router]) == len(SEEDS) * (3 if group == "mean" else 1)
            # The deployable columns, from each row's own figures by the definitions, then averaged.
            own = [r for r in mine if r["router"] == router]
            gaps = [(r["mean_score"] - r["best_single_train"]) / (r["oracle_test"] - r["best_single_train"]) for r in own]
            (gap,) = [c for c in cells if c.get("data-col") == "gap closed"]
            assert float(gap["data-value"]) == pytest.approx(np.mean(gaps), abs=1e-12)
            (vb,) = [c for c in cells if c.get("data-col") == "V_B_train"]
            assert float(vb["data-value"]) == pytest.approx(np.mean([r["mean_score"] / r["best_single_train"] for r in own]))
        # Leaderboard order: best mu_o first.
        values = [float(next(c for c in cells if c.get("data-col") == "mu_o")["data-value"]) for cells in table["rows"]]
        assert values == sorted(values, reverse=True)


def test_selection_shares_are_the_routed_fractions(built):
    from routereval.reports.leaderboard_figures import selection_panels

    rows = stored_rows(built["store"])
    panels = {(p.m, p.group): p for p in selection_panels(rows)}
    assert len(panels) == 6
    for data in built["pools"]:
        panel = panels[(data.m, data.group)]
        assert panel.models == data.models and sorted(panel.routers) == sorted(ROUTERS)
        assert panel.n_seeds == 2
        for i, router in enumerate(panel.routers):
            results = [r for s, d, r in built["results"] if d is data and r["router"] == router]
            # A row's selection is the share of test prompts sent to each candidate, per seed.
            expected = np.mean([r["selection"] for r in results], axis=0)
            np.testing.assert_allclose(panel.shares[i], expected, atol=1e-12)
            assert panel.shares[i].sum() == pytest.approx(1.0)
            assert panel.e_sel[i] == pytest.approx(np.mean([r["choice_entropy"] for r in results]))
        best = panel.shares[panel.routers.index("best-single")]
        train_best = int(np.argmax(data.train.scores.mean(axis=0)))
        np.testing.assert_allclose(best, np.eye(data.m)[train_best])
        np.testing.assert_allclose(panel.shares[panel.routers.index("random")], np.full(data.m, 1 / data.m))


def test_large_pools_show_the_nine_most_picked_and_other():
    from routereval.reports.leaderboard_figures import OTHER, selection_panels

    models = [f"m{k}" for k in range(12)]
    counts = [[5, 0, 9, 1, 0, 3, 2, 0, 7, 4, 6, 3], [0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20]]
    rows = [{"dataset": "d", "benchmark": "d", "m": 12, "group": "g", "router": name, "models": models,
             "selection": [k / 40 for k in c], "n_test": 40, "choice_entropy": 1.0, "seed": 0}
            for name, c in zip(("a", "b"), counts)]
    (panel,) = selection_panels(rows, router_order=["b", "a"])
    assert panel.routers == ["b", "a"]
    assert len(panel.models) == 10 and panel.models[-1] == OTHER
    totals = np.array(counts).sum(axis=0) / 40
    kept = [models.index(m) for m in panel.models[:-1]]
    assert sorted(totals[kept], reverse=True) == list(totals[kept])
    dropped = sorted(set(range(12)) - set(kept))
    assert all(totals[d] <= totals[kept].min() for d in dropped)
    np.testing.assert_allclose(panel.shares[1, :-1], np.array(counts[0])[kept] / 40)
    np.testing.assert_allclose(panel.shares[1, -1], np.array(counts[0])[dropped].sum() / 40)
    np.testing.assert_allclose(panel.shares.sum(axis=1), 1.0)


def test_plots_markdown_and_terminal(report_run):
    out, proc = report_run["out"], report_run["proc"]
    page = parse(report_run["html"])
    figure_ids = [h[1:] for h in page.contents if h.startswith("#figure-")]
    pngs, svgs = sorted((out / "plots").glob("*.png")), sorted((out / "plots").glob("*.svg"))
    assert {p.stem for p in pngs} == {p.stem for p in svgs} == {f.removeprefix("figure-") for f in figure_ids}
    for p in pngs:
        assert p.read_bytes().startswith(PNG)
    for p in svgs:
        assert ET.parse(p).getroot().tag.endswith("svg")
    md_file = out / "md" / "report.md"
    md = md_file.read_text()
    assert "| router |" in md and "m = 10" in md
    links = [line.split("](", 1)[1].rstrip(")") for line in md.splitlines() if line.startswith("![")]
    assert len(links) == len(figure_ids)
    assert all((md_file.parent / unquote(link)).resolve().is_file() for link in links)
    assert all(not Path(link).is_absolute() for link in links)
    assert "m = 3" in proc.stdout and "skipped" in proc.stdout
    for path in (out / "report.html", md_file, *pngs, *svgs):
        assert f"wrote {path}" in proc.stdout


def test_missing_or_foreign_folder_is_a_clear_error(tmp_path):
    proc = run_cli("report", str(tmp_path / "nowhere"), check=False)
    assert proc.returncode == 1
    # Rich wraps the message to the terminal width.
    assert "nowhere: no such folder" in " ".join(proc.stderr.split()) and "Traceback" not in proc.stderr
    (tmp_path / "plain").mkdir()
    proc = run_cli("report", str(tmp_path / "plain"), "--html", str(tmp_path / "x.html"), check=False)
    assert proc.returncode == 1
    assert "is not a results store" in " ".join(proc.stderr.split()) and "Traceback" not in proc.stderr
    assert not (tmp_path / "x.html").exists()


def test_a_broken_scaling_document_names_its_file(built, tmp_path):
    from routereval.errors import DataError
    from routereval.reports.collect import collect

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"dataset": "x"}))
    with pytest.raises(DataError, match="bad.json.*points"):
        collect(built["store"], [bad], n_boot=10)


def test_a_huge_svg_is_embedded_as_png_instead():
    from matplotlib.figure import Figure

    from routereval.reports.html import figure_markup

    fig = Figure(figsize=(2, 2))
    fig.subplots().plot([0, 1], [1, 0])
    inline = figure_markup(fig, "figure-x", "a <b>line</b>")
    assert inline.startswith("<svg") and 'id="figure-x-' in inline and "<b>" not in inline
    img = figure_markup(fig, "figure-x", "a <b>line</b>", svg_limit=100)
    page = Page()
    page.feed(f'<figure id="f">{img}</figure>')
    (src,) = page.figures["f"]["png"]
    assert base64.b64decode(src.removeprefix("data:image/png;base64,")).startswith(PNG)
    assert 'alt="a &lt;b&gt;line&lt;/b&gt;"' in img


def test_a_saved_figure_is_the_same_bytes_every_time(tmp_path):
    # Figures in docs/ are rewritten by `python docs/generate`: an unchanged figure must not show as changed
    # (matplotlib writes the date into SVG metadata and draws random ids for clip paths by default).
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from routereval.reports.figures import save_figure

    written = []
    for attempt in ("first", "second"):
        fig = Figure(figsize=(3, 2))
        ax = fig.add_subplot()
        ax.plot([0, 1, 2], [0.2, 0.5, 0.4])
        ax.set_title("cost-quality")
        (tmp_path / attempt).mkdir()
        written.append(save_figure(fig, tmp_path / attempt / "curve"))
    for a, b in zip(*written):
        assert a.read_bytes() == b.read_bytes(), a.name


@pytest.mark.slow  # report runs in processes
def test_report_of_repeated_splits_has_paired_marks_and_the_rank_section(tmp_path):
    """Two datasets x three routers x two splits, written by hand: ranks worked out from the means."""
    from routereval.reports.collect import collect
    from routereval.reports.figures import save_figure
    from routereval.reports.leaderboard_figures import report_figures
    from routereval.reports.markdown import markdown_report
    from routereval.results.store import ResultsStore

    store = ResultsStore(tmp_path / "store")
    rng = np.random.default_rng(0)
    # Router quality per dataset: on "a" the order is r1 > r2 > r3, on "b" r2 > r1 > r3.
    quality = {"a": {"r1": 0.8, "r2": 0.6, "r3": 0.3}, "b": {"r1": 0.6, "r2": 0.8, "r3": 0.3}}
    with store.writing({"protocol": "clean"}):
        for dataset, routers in quality.items():
            for split in (0, 1):
                truth = rng.random(300)
                for router, q in routers.items():
                    scores = (truth < q).astype(float)
                    store.write_row({"source": dataset, "dataset": dataset, "benchmark": dataset, "m": 3,
                                     "group": "all_weak", "router": router, "seed": 0, "split_seed": split,
                                     "positions": np.arange(300), "per_prompt": scores, "mean_score": scores.mean(),
                                     "n_test": 300, "reference": "x", "reference_score": 1.0, "models": ["m1", "m2", "m3"],
                                     "selection": [1.0, 0.0, 0.0], "choice_entropy": 0.0, "proba_entropy": 0.0,
                                     "vs_reference": scores.mean(), "vs_best_single": 1.0})
    data = collect(store.folder, n_boot=200)
    (m, summary), = data.ranks
    assert dict(zip(summary.routers, summary.ranks)) == pytest.approx({"r1": 1.5, "r2": 1.5, "r3": 3.0})
    by = {(r["dataset"], r["router"]): r for r in data.means}
    assert by[("a", "r1")]["tied_with_best"] and not by[("a", "r3")]["tied_with_best"]
    text = markdown_report(data, False, {}, {}, tmp_path / "r.md")
    assert "two-level bootstrap" in text and "## Average ranks across datasets" in text
    assert re.search(r"\| r3 \| 3 \| 0\.[23]\d\d \(3\) \| 0\.[23]\d\d \(3\) \|", text) and "CD = " in text
    figures = report_figures(data)
    (cd,) = [f for f in figures if f.kind == "ranks"]
    # Same stem in two folders: the SVG ids are salted by the file's name, so bytes must match exactly.
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = save_figure(cd.figure, tmp_path / "one" / "cd")
    again = save_figure(report_figures(data)[-1].figure, tmp_path / "two" / "cd")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in again]


def _copy_store(built, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(built["store"], tmp_path / "store"))


def test_a_report_of_a_store_with_an_unreadable_row_says_it_is_partial(built, tmp_path):
    store = _copy_store(built, tmp_path)
    rows = sorted((store / "rows").glob("*.parquet"))
    rows[0].write_bytes(b"not a parquet file")
    proc = run_cli("report", str(store), "--markdown", str(tmp_path / "r.md"), check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "UserWarning" not in proc.stderr
    assert any(line.startswith("warning: unreadable result row") for line in proc.stderr.splitlines())
    text = (tmp_path / "r.md").read_text()
    assert f"{len(rows) - 1} result rows" in text
    assert "Partial: 1 stored row file could not be read" in text


@pytest.mark.slow  # report runs in processes
def test_damaged_settings_and_notes_of_a_store_are_one_clear_line(built, tmp_path):
    store = _copy_store(built, tmp_path)
    settings = (store / "settings.json").read_text()
    (store / "settings.json").write_text('{"x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    proc = run_cli("report", str(store), check=False)
    # These rows were stored without their settings, so nothing can stand in for settings.json.
    assert proc.returncode == 3 and "Traceback" not in proc.stderr, proc.stderr
    assert "settings.json: cannot be read as the store's settings" in " ".join(proc.stderr.split())
    (store / "settings.json").write_text(settings)
    (store / "notes.json").write_text("[" * 100_000 + "]" * 100_000)
    proc = run_cli("report", str(store), check=False)
    assert proc.returncode == 3 and "Traceback" not in proc.stderr, proc.stderr
    assert "notes.json: nests 100000 levels deep" in " ".join(proc.stderr.split())


#: The row keys routereval 0.1.0 wrote (the paper's symbols), as those versions spelled them.
KEYS_BEFORE_THE_RENAME = {"mean_score": "mu_o", "mean_score_lo": "mu_o_lo", "mean_score_hi": "mu_o_hi",
                          "vs_reference": "V_R", "vs_best_single": "V_B", "vs_best_single_train": "V_B_train",
                          "proba_entropy": "E_p", "choice_entropy": "E_sel", "reference_score": "mu_ref"}


@pytest.mark.slow  # report runs in processes
def test_a_store_written_with_the_paper_symbols_as_row_keys_reads_and_reports_the_same(built, tmp_path):
    import pyarrow.parquet as pq

    import shutil

    from routereval.results.store import ResultsStore

    # Same folder name: the report's title names it.
    old = Path(shutil.copytree(built["store"], tmp_path / "old" / Path(built["store"]).name))
    for path in sorted((old / "rows").glob("*.parquet")):
        table = pq.read_table(path)
        renamed = [KEYS_BEFORE_THE_RENAME.get(name, name) for name in table.column_names]
        assert renamed != table.column_names
        pq.write_table(table.rename_columns(renamed), path)
    assert "mu_o" in pq.read_table(next((old / "rows").glob("*.parquet"))).column_names
    assert ResultsStore(old).read_rows(arrays=False) == ResultsStore(built["store"]).read_rows(arrays=False)
    reports = []
    for store, name in ((built["store"], "new.md"), (old, "old.md")):
        proc = run_cli("report", str(store), "--markdown", str(tmp_path / name), check=False)
        assert proc.returncode == 0, proc.stderr
        reports.append((tmp_path / name).read_text())
    assert reports[0] == reports[1] and "mu_o" in reports[0] and "V_B" in reports[0]
