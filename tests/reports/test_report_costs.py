"""Costs in `routereval report`: the $/1k leaderboard column, the quality-against-cost figure, and the
cost-quality curves of `routereval curve` (its --out folder alone, or added with --curves), checked
against the stored rows and the curve document."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support.html_page import parse
from support.priced import costly_benchmark
from support.processes import run_cli


@pytest.fixture(scope="module")
def cost_store(tmp_path_factory):
    """A results store whose rows carry costs: best-single and oracle on the pools of m = 3, two seeds."""
    from routereval.datasets.router_dataset import router_datasets
    from routereval.records.costs import PoolCosts
    from routereval.evaluation.evaluate import evaluate_pool, seeded
    from routereval.evaluation.features import Features
    from routereval.evaluation.reference import Reference
    from routereval.evaluation.specs import RouterSpec, contender
    from routereval.results.store import ResultsStore

    bench = costly_benchmark()
    pools = router_datasets(bench, [3], n_draws=20).pools
    folder = tmp_path_factory.mktemp("cost-store")
    store = ResultsStore(folder)
    with store.writing({"cost": "dollars"}):
        for seed in (0, 1):
            for pool in pools:
                for name in ("best-single", "oracle"):
                    entry = contender(RouterSpec(name))
                    if entry.router is not None:
                        seeded(entry.router, seed)
                    costs = PoolCosts.for_pool(bench.costs, bench.model_names, pool)
                    row = evaluate_pool(entry, pool, Features(None, None), Reference(0.8, "given (0.8)"),
                                        n_boot=50, seed=seed, costs=costs)
                    store.write_row({**row, "source": "priced", "seed": seed})
    return folder


def test_leaderboard_shows_the_mean_cost_per_1k_of_the_stored_rows(cost_store, tmp_path):
    from routereval.results.store import ResultsStore

    proc = run_cli("report", str(cost_store), "--html", str(tmp_path / "r.html"), "--n-boot", "50", check=False)
    assert proc.returncode == 0, proc.stderr
    page = parse((tmp_path / "r.html").read_text(encoding="utf-8"))
    (table,) = [t for t in page.tables.values() if t["attrs"].get("class") == "leaderboard"]
    rows = ResultsStore(cost_store).read_rows(arrays=False)
    for cells in table["rows"]:
        router = cells[0]["text"]
        cost = next(c for c in cells if c.get("data-col") == "$/1k")
        # The mean over groups and seeds, worked out here from the stored rows.
        expected = np.mean([r["cost_per_1k"] for r in rows if r["router"] == router])
        assert float(cost["data-value"]) == pytest.approx(expected, rel=1e-9)
    # The oracle picks the cheapest correct model, so it spends less than always asking the best one.
    by_router = {c[0]["text"]: float(next(x for x in c if x.get("data-col") == "$/1k")["data-value"])
                 for c in table["rows"]}
    assert by_router["oracle"] < by_router["best-single"]
    assert any(f.startswith("figure-cost-") for f in page.figures), page.figures
    assert "$/1k" in proc.stdout


@pytest.mark.slow  # runs `routereval curve` and reports
def test_the_curve_folder_alone_makes_a_report_with_its_metrics(curve_out, tmp_path):
    doc = json.loads((curve_out / "curves.json").read_text())
    html, md = tmp_path / "r.html", tmp_path / "r.md"
    proc = run_cli("report", str(curve_out), "--html", str(html), "--markdown", str(md), check=False)
    assert proc.returncode == 0, proc.stderr
    assert "cost-quality curves only" in proc.stdout and "AIQ" in proc.stdout
    page = parse(html.read_text(encoding="utf-8"))
    assert len(page.ids) == len(set(page.ids))
    (figure,) = [f for f in page.figures if f.startswith("figure-cost-quality-")]
    assert page.figures[figure]["svg"] == 1
    assert "#" + figure in page.contents
    (table,) = [t for t in page.tables.values() if t["attrs"]["id"].startswith("table-cost-metrics-")]
    shown = {cells[0]["text"]: {c["data-col"]: c.get("data-value") for c in cells[1:]} for cells in table["rows"]}
    assert set(shown) == {"best-single", "oracle", "random"}
    for metric in doc["metrics"]:
        cells = shown[metric["router"]]
        assert float(cells["AIQ"]) == pytest.approx(metric["AIQ"], rel=1e-12)
        assert float(cells["cost/1k at max"]) == pytest.approx(1000 * metric["cost_at_max_quality"], rel=1e-12)
    # A model pool of four is not a strong/weak pair: no pair table.
    assert not any(t.startswith("table-cost-pair-") for t in page.tables)
    text = md.read_text()
    assert "## Cost and quality" in text and "| router | AIQ |" in text


@pytest.mark.slow  # runs `routereval curve` and reports
def test_curves_added_to_a_store_and_a_broken_document_named(cost_store, curve_out, tmp_path):
    proc = run_cli("report", str(cost_store), "--curves", str(curve_out), "--html", str(tmp_path / "r.html"),
                   "--n-boot", "50", check=False)
    assert proc.returncode == 0, proc.stderr
    page = parse((tmp_path / "r.html").read_text(encoding="utf-8"))
    assert any(t.startswith("table-cost-metrics-") for t in page.tables)
    assert any(t["attrs"].get("class") == "leaderboard" for t in page.tables.values())
    broken = tmp_path / "not-curves.json"
    broken.write_text(json.dumps({"dataset": "x", "points": []}))
    proc = run_cli("report", str(cost_store), "--curves", str(broken), check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert str(broken) in proc.stderr and "not a cost-quality document" in proc.stderr
    # A folder given with --curves that holds no curve document is named, not shown as an empty section.
    empty = tmp_path / "no-curves"
    empty.mkdir()
    proc = run_cli("report", str(cost_store), "--curves", str(empty), check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"{empty}: holds no cost-quality document" in proc.stderr
