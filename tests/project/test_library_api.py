"""The library API: any router object, any policy, one evaluation path; and the defects it fixed.

Numbers are worked out by hand on small matrices (or read off the raw matrix
by a second route), never taken from an earlier run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.builders import router_layout, write
from support.requirements import needs_minilm
from support.processes import CLI, REPO

import routereval as rv
from routereval.records import Benchmark
from routereval.routers import Router



def tiny_bench(n: int = 200, m: int = 6, seed: int = 0, texts: bool = True) -> tuple[Benchmark, np.ndarray]:
    """Binary records where candidate k is right when feature k of the prompt is positive."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, m)).astype(np.float32)
    values = (x + 0.3 * rng.standard_normal((n, m)) > 0).astype(np.float32)
    prompts = pd.DataFrame({
        "prompt_id": [f"p{i}" for i in range(n)],
        "task": ["a"] * (n // 2) + ["b"] * (n - n // 2),
        "text": [f"prompt {i}" if texts else None for i in range(n)],
    })
    return Benchmark.from_values("tiny", values, prompts, [f"m{k}" for k in range(m)]), x


class ColumnRouter:
    """Not registered, not a subclass: always estimates candidate ``best`` highest."""

    def __init__(self, best: int = 0) -> None:
        self.best = best

    def fit(self, prompts, labels):
        self.m_ = labels.shape[1]
        return self

    def predict_quality(self, prompts):
        q = np.full((len(prompts), self.m_), 0.25)
        q[:, self.best] = 0.75
        return q


def test_public_names_load_lazily():
    code = ("import sys, routereval as rv; assert 'routereval.evaluation.evaluate' not in sys.modules; "
            "rv.evaluate; rv.policies.threshold; rv.metrics.mean_score; rv.make_router('knn'); print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    assert {"load_dataset", "router_datasets", "embed", "make_router", "evaluate", "policies", "metrics",
            "RoutingModel"} <= set(rv.__all__)


def test_any_object_with_fit_and_predict_quality_is_evaluated():
    bench, x = tiny_bench()
    data = rv.router_datasets(bench, sizes=[3], protocol="clean")
    result = rv.evaluate(ColumnRouter(best=1), data, x, n_boot=50)
    assert len(result.rows) == 3
    for row, pool in zip(result.rows, data.pools):
        # It always picks its second candidate: mu_o is that column's test mean, E_sel is 0.
        assert row["mean_score"] == pytest.approx(pool.test.scores[:, 1].mean())
        assert row["choice_entropy"] == 0 and row["router"] == "ColumnRouter"
    table = result.table()
    assert list(table["router"]) == ["ColumnRouter"]
    assert table["mean_score"].iloc[0] == pytest.approx(np.mean([r["mean_score"] for r in result.rows]))
    assert set(result.frame()["group"]) == {"all_strong", "all_weak", "strong_to_weak"}


class SplitRouter(Router):
    """A Router subclass without its own pi: estimates 0.6 / 0.2 for candidates 0 / 1, 0 elsewhere."""

    def fit(self, prompts, labels):
        self.m_ = labels.shape[1]
        return self

    def predict_quality(self, prompts):
        q = np.zeros((len(prompts), self.m_))
        q[:, 0], q[:, 1] = 0.6, 0.2
        return q


def test_a_router_without_its_own_pi_reports_the_entropy_of_its_normalised_estimates():
    bench, x = tiny_bench()
    data = rv.router_datasets(bench, sizes=[3], protocol="clean")
    result = rv.evaluate(SplitRouter(), data, x, n_boot=20)
    # pi = (0.75, 0.25, 0) on every prompt: H = -(0.75 log2 0.75 + 0.25 log2 0.25), worked out by hand.
    by_hand = 0.8112781244591328
    for row in result.rows:
        assert row["proba_entropy"] == pytest.approx(by_hand) and row["choice_entropy"] == 0


def test_a_policy_changes_the_choice_not_the_router():
    bench, x = tiny_bench()
    data = rv.router_datasets(bench, sizes=[3])
    plain = rv.evaluate("knn", data, x, n_boot=20)
    # A threshold above every estimate cannot be met: the best estimate is chosen, as with argmax.
    never = rv.evaluate("knn", data, x, policy=rv.policies.threshold(1.01), n_boot=20)
    assert [r["mean_score"] for r in never.rows] == [r["mean_score"] for r in plain.rows]
    # A threshold of 0 is met by every candidate: the preferred one (weakest on train) takes every prompt.
    always = rv.evaluate("knn", data, x, policy=rv.policies.threshold(0.0), n_boot=20)
    for row, pool in zip(always.rows, data.pools):
        weakest = int(np.argmin(np.nanmean(pool.train.scores, axis=0)))
        assert row["selection"][weakest] == 1.0
        assert row["policy"] == "threshold=0"


def test_oracle_family_are_policies_and_ro_reports_monte_carlo():
    bench, _ = tiny_bench()
    data = rv.router_datasets(bench, sizes=[3])
    half = rv.evaluate("ro:p=0.5", data, n_boot=20).rows
    for row, pool in zip(half, data.pools):
        s = pool.test.scores
        exact = 0.5 * s.max(axis=1).mean() + 0.5 * s.mean()
        assert row["mean_score"] == pytest.approx(exact)
        # 1,000 Monte Carlo runs: their mean within a few standard errors of the expectation.
        assert abs(row["mean_score_mc"] - exact) < 4 * row["mean_score_mc_sd"] / np.sqrt(1000) + 1e-9
    oracle = rv.evaluate(rv.policies.oracle(), data, n_boot=20).rows
    assert [r["router"] for r in oracle] == ["oracle"] * 3


def test_clean_protocol_reference_is_chosen_without_test_prompts():
    bench, _ = tiny_bench(seed=3)
    clean = rv.router_datasets(bench, sizes=[3], protocol="clean")
    from routereval.evaluation.evaluate import reference_for

    ref = reference_for(clean)
    trainval = np.concatenate([clean.split.train, clean.split.val])
    chosen = int(np.argmax(bench.values(prompts=trainval).mean(axis=0)))
    assert ref.value == pytest.approx(bench.values(prompts=clean.split.test)[:, chosen].mean())
    assert "train + val" in ref.source
    faithful = reference_for(rv.router_datasets(bench, sizes=[3]))
    assert faithful.value == pytest.approx(bench.values(prompts=clean.split.test).mean(axis=0).max())


def test_learners_use_prompts_with_missing_records_and_metrics_say_what_they_scored():
    bench, x = tiny_bench(n=300)
    values = bench.values()
    values[::3, 2] = np.nan  # every third prompt lacks candidate 2's record
    sparse = Benchmark.from_values("sparse", values, bench.prompts, bench.model_names)
    data = rv.router_datasets(sparse, sizes=[3], groups=["strong_to_weak"], protocol="clean")
    pool = data.pools[0]
    assert len(pool.test) == len(data.split.test)  # no prompt dropped
    oracle = rv.evaluate("oracle", data, n_boot=20).rows[0]
    complete = ~np.isnan(pool.test.scores).any(axis=1)
    assert oracle["n_test"] == int(complete.sum())
    assert oracle["n_unscored"] == int((~complete).sum())
    knn = rv.evaluate("knn", data, x, n_boot=20).rows[0]
    assert knn["n_test"] + knn["n_unscored"] == len(pool.test)
    assert np.isfinite(knn["mean_score"])


@pytest.mark.slow  # real data and MiniLM, or a bench and a sweep run
def test_router_named_by_class_path_runs_in_bench_and_in_sweep_workers(tmp_path):
    pkg = tmp_path / "plug"
    pkg.mkdir()
    (pkg / "myrouters.py").write_text(textwrap.dedent('''
        import numpy as np
        from routereval.routers.base import Router

        class Second(Router):
            name = "second"
            inputs = "none"

            def __init__(self, weight: float = 0.75) -> None:
                self.weight = weight

            def fit(self, prompts, labels):
                self.m_ = labels.shape[1]
                return self

            def predict_quality(self, prompts):
                q = np.full((len(prompts), self.m_), 0.1)
                q[:, 1] = self.weight
                return q
    '''))
    bench, _ = tiny_bench(n=60, m=4)
    table = tmp_path / "tiny.csv"
    frame = bench.prompts[["prompt_id", "task"]].copy()
    for k, name in enumerate(bench.model_names):
        frame[name] = bench.values()[:, k]
    frame.to_csv(table, index=False)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(pkg), os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "bench.json"
    done = subprocess.run(CLI + ["bench", "--dataset", str(table), "--sizes", "3", "--routers",
                                 "myrouters:Second:weight=0.9,oracle", "--json", str(out), "--n-boot", "20"],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    rows = [r for r in json.loads(out.read_text()) if r["router"] == "myrouters:Second[weight=0.9]"]
    assert len(rows) == 4 and all(r["selection"][1] == 1.0 for r in rows if r["group"] != "mean")
    sweep = tmp_path / "s.toml"
    sweep.write_text(f'name = "s"\ndatasets = ["{table.name}"]\nsizes = [3]\nseeds = [0]\nscaling = false\n'
                     'routers = ["myrouters:Second:weight=0.9"]\n')
    done = subprocess.run(CLI + ["sweep", str(sweep), "--out", str(tmp_path / "res"), "--workers", "1", "--quiet"],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    from routereval.results import ResultsStore

    stored = ResultsStore(tmp_path / "res").read_rows(arrays=False)
    assert len(stored) == 3 and all(r["selection"][1] == 1.0 for r in stored)


def test_entry_point_plugins_are_discovered(tmp_path):
    site = tmp_path / "site"
    (site / "plugdemo").mkdir(parents=True)
    (site / "plugdemo" / "__init__.py").write_text(textwrap.dedent('''
        import numpy as np
        from routereval.routers.base import Router

        class Flat(Router):
            name = "flat"
            inputs = "none"

            def fit(self, prompts, labels):
                self.m_ = labels.shape[1]
                return self

            def predict_quality(self, prompts):
                return np.full((len(prompts), self.m_), 0.5)
    '''))
    dist = site / "plugdemo-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: plugdemo\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[routereval.routers]\nflat = plugdemo:Flat\n")
    code = "from routereval.routers import all_routers; print(all_routers()['flat'].__name__)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and done.stdout.strip() == "Flat", done.stderr


# -- defects ---------------------------------------------------------------------------


def test_routers_that_read_no_prompt_run_alone(tmp_path):
    raw, truth = router_layout(seed=1, n=40, n_models=12)
    path = write(tmp_path / "gsm8k_router_dataset.pkl", raw)
    out = tmp_path / "rows.json"
    done = subprocess.run(CLI + ["bench", "--dataset", str(path), "--sizes", "3", "--routers", "best-single,random",
                                 "--json", str(out), "--n-boot", "20"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rows = json.loads(out.read_text())
    test = truth["cut"]["test"]
    for r in rows:
        if r["group"] != "mean" and r["router"] == "random":
            cols = truth["pools"][("easy", 3, r["group"])]
            assert r["mean_score"] == pytest.approx(truth["master"][test][:, cols].mean())


def test_a_stored_routereval_file_keeps_its_split_and_pools(tmp_path):
    raw, truth = router_layout(seed=2, n=40, n_models=12)
    path = write(tmp_path / "gsm8k_router_dataset.pkl", raw)
    from routereval.records.store import load_benchmark, save_benchmark

    # The same benchmark straight from the file and after a round trip through a records store.
    direct = rv.load_dataset(str(path))
    save_benchmark(direct, tmp_path / "stored")
    stored = load_benchmark(tmp_path / "stored")
    for bench in (direct, stored):
        data = rv.router_datasets(bench, sizes=[3, 5])
        ids = bench.prompts["prompt_id"].to_numpy()
        assert sorted(ids[data.split.test].astype(int)) == sorted(truth["cut"]["test"].tolist())
        for pool in data.pools:
            cols = truth["pools"][("easy", pool.m, pool.group)]
            assert pool.models == [truth["names"][c] for c in cols]
        assert data.benchmark == "gsm8k"  # B5: the row's benchmark is RouterEval's name


def test_prompts_without_text_are_refused_not_embedded_as_zeros():
    from routereval.errors import DataError

    bench, _ = tiny_bench(texts=False)
    data = rv.router_datasets(bench, sizes=[3])
    with pytest.raises(DataError, match=r"200 of 200 prompts of 'tiny' have no text"):
        rv.embed(data, "tfidf")
    # Routers that read no prompt still run.
    assert np.isfinite(rv.evaluate("best-single", data, n_boot=10).rows[0]["mean_score"])


def test_the_seed_reaches_every_seeded_router_under_one_name():
    from routereval.evaluation.evaluate import seeded
    from routereval.evaluation.specs import RouterSpec
    from routereval.sweeps.tasks import Task

    for name in ("cluster", "linear", "mlp", "mlc"):
        assert seeded(rv.make_router(name), 5).get_params()["random_state"] == 5
    # A seed the user wrote down wins over the sweep's.
    assert seeded(rv.make_router("cluster", random_state=9), 5, {"random_state": 9}).random_state == 9
    # Two seeds of the cluster router on the same pool are different grid points.
    spec = RouterSpec("cluster")
    assert Task("d", "d", 3, "all_weak", spec, 0).key != Task("d", "d", 3, "all_weak", spec, 1).key


def test_benchmark_key_comes_from_the_source():
    raw, _ = router_layout(seed=4, n=40, n_models=12)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp) / "bbh_router_dataset.pkl", raw)
        bench = rv.load_dataset(str(path))
    bench.name = "my-copy"
    data = rv.router_datasets(bench, sizes=[3])
    assert {p.benchmark for p in data.pools} == {"bbh"}
    row = rv.evaluate("oracle", data, n_boot=10).rows[0]
    assert row["benchmark"] == "bbh" and row["reference_score"] == pytest.approx(0.8303)


def test_cluster_runs_kmeans_once_by_default_like_scikit_learn():
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(0)
    x = rng.standard_normal((120, 5)).astype(np.float32)
    labels = (rng.random((120, 3)) < 0.5).astype(float)
    router = rv.make_router("cluster")
    assert router.n_init == 1
    router.fit(rv.routers.Prompts(embeddings=x), labels)
    # n_init=1 is scikit-learn's default for k-means++ since 1.4 (n_init='auto'); 1.3 ran 10 by default.
    reference = KMeans(n_clusters=3, n_init=1, random_state=0).fit(x.astype(np.float64))
    np.testing.assert_allclose(router.centroids_, reference.cluster_centers_, rtol=1e-6)


@pytest.mark.slow  # real data and MiniLM, or a bench and a sweep run
@needs_minilm
def test_readme_api_snippet_runs(mirror, tmp_path):
    text = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"## Use it as a library.*?```python\n(.*?)```", text, re.S)
    assert match, "the README's library section lost its Python snippet"
    script = tmp_path / "snippet.py"
    script.write_text(match.group(1) + "\nprint('SNIPPET-OK', float(result.table()['mean_score'].iloc[0]))\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env={**os.environ, "ROUTEREVAL_MIRROR": str(mirror)}, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "SNIPPET-OK" in done.stdout


def test_precomputed_vectors_reach_routers_as_shipped(tmp_path):
    raw, truth = router_layout(seed=6, n=40, n_models=12)
    truth_emb = truth["emb"]
    bench = rv.load_dataset(str(write(tmp_path / "arc_router_dataset.pkl", raw)))
    data = rv.router_datasets(bench, sizes=[3])
    X = rv.embed(data)  # auto: the file's own vectors
    ids = bench.prompts["prompt_id"].to_numpy().astype(int)
    np.testing.assert_allclose(X, truth_emb[ids], rtol=1e-6)  # not scaled to unit length
    # The cluster router clusters those raw vectors, as RouterEval's code does.
    from sklearn.cluster import KMeans

    pool = data.pools[0]
    router = rv.make_router("cluster").fit(rv.routers.Prompts(embeddings=X[pool.train.positions]), pool.train.labels)
    expected = KMeans(n_clusters=3, n_init=1, random_state=0).fit(X[pool.train.positions].astype(np.float64))
    np.testing.assert_allclose(router.centroids_, expected.cluster_centers_, rtol=1e-5)


def test_zoo_names_every_router_of_the_field():
    from routereval.evaluation.specs import ROUTER_SETS, parse_routers

    zoo = [s.name for s in parse_routers("zoo")]
    assert zoo == list(ROUTER_SETS["zoo"]) and len(set(zoo)) == len(zoo)
    registered = set(rv.routers.all_routers()) | {"oracle", "ro", "random"}
    assert set(zoo) <= registered
    # Nothing registered is left out of the zoo but MLC (minutes per pool on a CPU) and auto, which
    # chooses among zoo members by refitting each of them per fold (benchmarks/auto_targets.py measures it).
    assert registered - set(zoo) == {"mlc", "auto"}
    # An entry written twice is kept once; parameters still apply to named entries.
    specs = parse_routers("baselines,knn,knn:k=7")
    assert [s.label for s in specs].count("knn") == 1 and "knn[k=7]" in [s.label for s in specs]


# -- several routers in one call; tables printed in full ------------------------------


def test_several_routers_in_one_call_keep_the_order_given_and_match_separate_calls():
    bench, x = tiny_bench()
    data = rv.router_datasets(bench, sizes=[3, 5], protocol="clean")
    together = rv.evaluate(["knn", "best-single", ColumnRouter(best=1)], data, x, n_boot=20)
    n = len(data.pools)
    assert [r["router"] for r in together.rows] == ["knn"] * n + ["best-single"] * n + ["ColumnRouter"] * n
    # The same numbers as one call per router (a second route to each row).
    alone = [rv.evaluate(r, data, x, n_boot=20).rows for r in ("knn", "best-single", ColumnRouter(best=1))]
    for mine, theirs in zip(together.rows, [row for rows in alone for row in rows], strict=True):
        for key in ("mean_score", "mean_score_lo", "mean_score_hi", "proba_entropy", "choice_entropy", "vs_best_single", "selection", "group", "m"):
            assert mine[key] == theirs[key]
    # The table: per m, routers in the order given (not alphabetical).
    table = together.table()
    assert list(zip(table["m"], table["router"])) == [(m, r) for m in (3, 5) for r in ("knn", "best-single",
                                                                                      "ColumnRouter")]
    # A dict names them; a name may list several.
    named = rv.evaluate({"second": ColumnRouter(best=1), "first": ColumnRouter(best=0)}, data, x, n_boot=20)
    assert list(named.table()["router"]) == ["second", "first", "second", "first"]
    assert [r["router"] for r in rv.evaluate("best-single,oracle", data, n_boot=20).rows] == \
        ["best-single"] * n + ["oracle"] * n


def test_a_single_router_gives_the_rows_it_always_gave():
    bench, x = tiny_bench()
    data = rv.router_datasets(bench, sizes=[3], protocol="clean")
    rows = rv.evaluate(ColumnRouter(best=2), data, x, n_boot=20).rows
    assert len(rows) == 3 and all("order" not in r for r in rows)
    for row, pool in zip(rows, data.pools):
        assert row["mean_score"] == pytest.approx(pool.test.scores[:, 2].mean())


def test_several_routers_are_refused_where_rows_could_not_be_told_apart():
    from routereval.errors import ArgumentError

    bench, x = tiny_bench()
    data = rv.router_datasets(bench, sizes=[3], protocol="clean")
    with pytest.raises(ArgumentError, match=r"'ColumnRouter' named more than once.*rv\.evaluate\(\{"):
        rv.evaluate([ColumnRouter(best=0), ColumnRouter(best=1)], data, x)
    with pytest.raises(ArgumentError, match=r"the list is empty"):
        rv.evaluate([], data, x)
    with pytest.raises(ArgumentError, match=r"router 'pair': 'knn,oracle' names 2 routers"):
        rv.evaluate({"pair": "knn,oracle"}, data, x)
    with pytest.raises(ArgumentError, match=r"keys are the labels"):
        rv.evaluate({3: "knn"}, data, x)


def test_a_printed_table_shows_every_row_and_column_whatever_the_display_limits():
    bench, x = tiny_bench()
    data = rv.router_datasets(bench, sizes=[3, 5], protocol="clean")
    result = rv.evaluate({f"r{k}": ColumnRouter(best=k % 3) for k in range(4)}, data, x, n_boot=10)
    table = result.table()
    assert isinstance(table, pd.DataFrame)  # still a DataFrame for code that reads it
    with pd.option_context("display.max_rows", 3, "display.max_columns", 3, "display.width", 40):
        text = str(table)
        shown = repr(table.round(3))  # frames made from it print in full too
    assert "..." not in text and "..." not in shown
    lines = text.splitlines()
    assert len(lines) == 1 + len(table) == 9
    assert lines[0].split() == list(table.columns)
    assert [line.split()[3] for line in lines[1:]] == [f"r{k}" for k in range(4)] * 2


def test_the_front_door_gives_the_routers_module_for_writing_and_wrapping_routers():
    code = ("import routereval as rv; print(rv.routers.from_sklearn.__name__, rv.routers.Router.__name__, "
            "rv.routers.Prompts.__name__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.split() == ["from_sklearn", "Router", "Prompts"], done.stderr
