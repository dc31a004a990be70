"""The model-level scaling study and ``routereval scaling``.

Expected numbers are worked out by hand on tiny matrices, or computed a second,
plain way (itertools.combinations and per-prompt Python loops) in the test.
"""

from __future__ import annotations

import itertools
import json
import math
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from support.processes import run_cli

from routereval.evaluation.reference import Reference, resolve_reference

from routereval.errors import ConfigError
from routereval.evaluation.scaling import (
    DEFAULT_PS,
    default_sizes,
    scaling_study,
    scaling_table,
    write_study,
)
from routereval.records import Benchmark

NAN = float("nan")


def bench_of(values, name: str = "tiny", **kw) -> Benchmark:
    values = np.asarray(values, dtype=np.float32)
    n, m = values.shape
    return Benchmark.from_values(name, values, [f"q{j}" for j in range(n)], [f"model-{k}" for k in range(m)], **kw)


def point(doc: dict, m: int, p: float) -> dict:
    [pt] = [pt for pt in doc["points"] if pt["m"] == m and math.isclose(pt["p"], p)]
    return pt


def plain_pool(values: np.ndarray, pool: tuple[int, ...]) -> tuple[float, float]:
    """oracle(P) and random(P) with Python loops: prompts with a record in the pool, present records only."""
    best, mean = [], []
    for row in values:
        present = [row[k] for k in pool if not math.isnan(row[k])]
        if present:
            best.append(max(present))
            mean.append(sum(present) / len(present))
    return sum(best) / len(best), sum(mean) / len(mean)


# -- worked by hand ---------------------------------------------------------------

# Models A, B, C on prompts q0..q3. Means: A 0.5, B 0.5, C 0.25.
HAND = [
    [1, 0, 0],
    [0, 1, 0],
    [1, 1, 0],
    [0, 0, 1],
]


def test_every_pool_of_a_hand_matrix_is_exact():
    doc = scaling_study(bench_of(HAND), ps=[0, 0.5, 1])
    assert [pt["m"] for pt in doc["best_in_pool"]] == [1, 2, 3]
    # m = 1: oracle = random = the model's mean: 0.5, 0.5, 0.25.
    for p in (0, 0.5, 1):
        pt = point(doc, 1, p)
        assert pt["mean"] == pytest.approx(1.25 / 3)
        # numpy's linear quantiles of [0.25, 0.5, 0.5] at 2.5% and 97.5%.
        assert (pt["lo"], pt["hi"]) == (pytest.approx(0.25 + 0.05 * 0.25), pytest.approx(0.5))
        assert (pt["n_subsets"], pt["enumerated"], pt["sem"]) == (3, True, 0.0)
    # m = 2: {A,B} max 1,1,1,0 -> 0.75, mean .5,.5,1,0 -> 0.5; {A,C} and {B,C}: 0.75 and 0.375.
    assert point(doc, 2, 1)["mean"] == pytest.approx(0.75)
    assert point(doc, 2, 0)["mean"] == pytest.approx((0.5 + 0.375 + 0.375) / 3)
    half = point(doc, 2, 0.5)  # per pool: 0.625, 0.5625, 0.5625
    assert half["mean"] == pytest.approx((0.625 + 0.5625 + 0.5625) / 3)
    assert (half["lo"], half["hi"]) == (pytest.approx(0.5625), pytest.approx(0.5625 + 0.95 * 0.0625))
    assert point(doc, 2, 1)["n_subsets"] == 3
    # m = 3: one pool; every prompt has a correct model, the mean is (1/3 + 1/3 + 2/3 + 1/3) / 4.
    for p, want in ((0, 5 / 12), (0.5, 0.5 + 0.5 * 5 / 12), (1, 1.0)):
        pt = point(doc, 3, p)
        assert pt["mean"] == pt["lo"] == pt["hi"] == pytest.approx(want)
        assert (pt["n_subsets"], pt["enumerated"]) == (1, True)
    pools = {r["m"]: r for r in doc["best_in_pool"]}
    assert pools[1]["mean"] == pytest.approx(1.25 / 3)
    assert pools[2]["mean"] == pools[3]["mean"] == pytest.approx(0.5)
    assert doc["best_single"] == {"model": "model-0", "value": 0.5}
    assert (doc["n_prompts"], doc["n_models"], doc["kind"]) == (4, 3, "binary")


def test_missing_records_by_hand():
    # A answers q0 and q2, B answers q1 and q2, C has no record at all (left out), nobody answers q3.
    values = [
        [1, NAN, NAN],
        [NAN, 0, NAN],
        [0, 1, NAN],
        [NAN, NAN, NAN],
    ]
    doc = scaling_study(bench_of(values), ps=[0, 0.5, 1])
    assert doc["n_models"] == 2 and [r["m"] for r in doc["best_in_pool"]] == [1, 2]
    # m = 1: A = 1/2 on its two prompts, B = 1/2 on its two prompts.
    assert point(doc, 1, 0)["mean"] == point(doc, 1, 1)["mean"] == pytest.approx(0.5)
    # m = 2: q0, q1, q2 count (q3 has no record); max 1, 0, 1 -> 2/3; mean 1, 0, 0.5 -> 1/2.
    assert point(doc, 2, 1)["mean"] == pytest.approx(2 / 3)
    assert point(doc, 2, 0)["mean"] == pytest.approx(0.5)
    assert point(doc, 2, 0.5)["mean"] == pytest.approx(0.5 * 2 / 3 + 0.5 * 0.5)


def test_pool_of_every_model_is_one_subset_and_singletons_average_the_model_means():
    rng = np.random.default_rng(3)
    values = (rng.random((50, 12)) < rng.random(12)).astype(np.float32)
    bench = bench_of(values)
    doc = scaling_study(bench, sizes=[1, 12], ps=[0, 1], n_draws=100)
    for p in (0, 1):
        single = point(doc, 1, p)
        assert (single["n_subsets"], single["enumerated"]) == (12, True)
        assert single["mean"] == pytest.approx(values.mean(axis=0).mean())
        whole = point(doc, 12, p)
        assert (whole["n_subsets"], whole["enumerated"]) == (1, True)
    assert point(doc, 12, 1)["mean"] == pytest.approx(values.max(axis=1).mean())
    assert point(doc, 12, 0)["mean"] == pytest.approx(values.mean())


# -- against a plain second implementation --------------------------------------------


@pytest.mark.parametrize("continuous", [False, True])
def test_enumerated_pools_match_a_plain_implementation(continuous):
    # 70 models: pools of 1 and 2 take the gathering path, large ones the matrix product.
    rng = np.random.default_rng(7 + continuous)
    n, m_all = 25, 70
    raw = rng.random((n, m_all)) if continuous else (rng.random((n, m_all)) < rng.random(m_all)).astype(float)
    raw[rng.random((n, m_all)) < 0.15] = np.nan
    bench = bench_of(raw)
    values = bench.values().astype(np.float64)  # continuous scores are stored as float16
    doc = scaling_study(bench, sizes=[1, 2, 69, 70], ps=[0, 0.3, 1], n_draws=2415)
    assert doc["kind"] == ("continuous" if continuous else "binary")
    for m in (1, 2, 69, 70):
        pools = list(itertools.combinations(range(m_all), m))
        per_pool = np.array([plain_pool(values, pool) for pool in pools])
        for p in (0, 0.3, 1):
            ro = p * per_pool[:, 0] + (1 - p) * per_pool[:, 1]
            pt = point(doc, m, p)
            assert (pt["n_subsets"], pt["enumerated"]) == (len(pools), True)
            assert pt["mean"] == pytest.approx(ro.mean(), abs=1e-6)
            assert pt["lo"] == pytest.approx(np.quantile(ro, 0.025), abs=1e-6)
            assert pt["hi"] == pytest.approx(np.quantile(ro, 0.975), abs=1e-6)
        means = np.array([np.nanmean(values[:, k]) for k in range(m_all)])
        best = np.array([means[list(pool)].max() for pool in pools])
        [row] = [r for r in doc["best_in_pool"] if r["m"] == m]
        assert row["mean"] == pytest.approx(best.mean(), abs=1e-6)


@pytest.mark.parametrize("continuous", [False, True])
def test_random_pools_estimate_the_exact_mean(continuous):
    rng = np.random.default_rng(11)
    raw = rng.random((30, 12)) if continuous else (rng.random((30, 12)) < 0.4).astype(float)
    raw[rng.random(raw.shape) < 0.1] = np.nan
    bench = bench_of(raw)
    values = bench.values().astype(np.float64)
    doc = scaling_study(bench, sizes=[6], ps=[0, 1], n_draws=400, seed=5)  # C(12, 6) = 924 pools
    exact = np.array([plain_pool(values, pool) for pool in itertools.combinations(range(12), 6)])
    for p, col in ((0, 1), (1, 0)):
        pt = point(doc, 6, p)
        assert (pt["n_subsets"], pt["enumerated"]) == (400, False)
        assert 0 < pt["sem"] < 0.01
        assert abs(pt["mean"] - exact[:, col].mean()) < 4 * pt["sem"]
        assert exact[:, col].min() <= pt["lo"] <= pt["mean"] <= pt["hi"] <= exact[:, col].max()


def test_seed_makes_the_study_repeatable_and_sizes_draw_independently():
    rng = np.random.default_rng(0)
    bench = bench_of((rng.random((40, 15)) < 0.5).astype(np.float32))
    a = scaling_study(bench, sizes=[4, 8], n_draws=50, seed=1)
    assert a == scaling_study(bench, sizes=[4, 8], n_draws=50, seed=1)
    b = scaling_study(bench, sizes=[4, 8], n_draws=50, seed=2)
    assert point(a, 4, 1)["mean"] != point(b, 4, 1)["mean"]
    # Each m has its own stream: asking for more sizes leaves the others unchanged.
    c = scaling_study(bench, sizes=[2, 4, 8, 15], n_draws=50, seed=1)
    assert point(c, 8, 0.7) == point(a, 8, 0.7)


# -- settings, reference, document ------------------------------------------------------


def test_default_sizes_grid():
    assert default_sizes(1) == [1]
    assert default_sizes(4) == [1, 2, 3, 4]
    assert default_sizes(10) == [1, 2, 3, 5, 10]
    assert default_sizes(29) == [1, 2, 3, 5, 10, 20, 29]
    assert default_sizes(2000) == [1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000]
    assert default_sizes(8567)[-3:] == [2000, 5000, 8567]
    assert DEFAULT_PS == (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def test_bad_settings_are_config_errors():
    bench = bench_of(HAND)
    for kwargs, words in (
        ({"ps": [0.5, 1.2]}, "[0, 1]"),
        ({"sizes": [0, 2]}, ">= 1"),
        ({"sizes": [4]}, "larger than the 3 models"),
        ({"n_draws": 0}, "draws"),
    ):
        with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("]", r"\]")):
            scaling_study(bench, **kwargs)
    with pytest.raises(ConfigError, match="neither a number nor a model"):
        resolve_reference(bench, "no-such-model")
    for number in ("1.5", "0", "nan"):  # V_R divides by the reference: 0 is no reference either
        with pytest.raises(ConfigError, match=r"\(0, 1\]"):
            resolve_reference(bench, number)


def test_reference_sources():
    values = np.array(HAND, dtype=np.float32)
    assert resolve_reference(bench_of(values, name="gsm8k")) == Reference(0.92, "RouterEval reference for gsm8k")
    tagged = bench_of(values, name="my-copy", provenance={"routereval_benchmark": "mmlu_pro"})
    assert resolve_reference(tagged).value == 0.637
    plain = bench_of(values)
    assert resolve_reference(plain) == Reference(0.5, "best model on all prompts: model-0")
    assert resolve_reference(plain, "0.8") == Reference(0.8, "given (0.8)")
    assert resolve_reference(plain, "model-2") == Reference(0.25, "model-2 on all prompts")
    doc = scaling_study(plain, sizes=[2], reference=Reference(0.9, "mine"))
    assert doc["reference"] == {"value": 0.9, "source": "mine"}


def check_schema(doc: dict, sizes: list[int], ps: list[float]) -> None:
    assert set(doc) == {"dataset", "benchmark", "n_prompts", "n_models", "kind", "n_draws", "seed", "band",
                        "reference", "best_single", "points", "best_in_pool"}
    assert doc["band"] == [0.025, 0.975] and doc["kind"] in ("binary", "continuous")
    assert isinstance(doc["reference"]["value"], float) and isinstance(doc["reference"]["source"], str)
    assert isinstance(doc["best_single"]["model"], str) and isinstance(doc["best_single"]["value"], float)
    assert [(pt["m"], pt["p"]) for pt in doc["points"]] == [(m, p) for m in sizes for p in ps]
    for pt in doc["points"]:
        assert set(pt) == {"m", "p", "mean", "lo", "hi", "sem", "n_subsets", "enumerated"}
        assert pt["lo"] <= pt["mean"] + 1e-12 and pt["mean"] <= pt["hi"] + 1e-12
        assert isinstance(pt["enumerated"], bool) and isinstance(pt["n_subsets"], int)
    assert [r["m"] for r in doc["best_in_pool"]] == sizes
    for r in doc["best_in_pool"]:
        assert set(r) == {"m", "mean", "lo", "hi"}


def test_document_is_json_ready_and_flattens_to_a_table():
    doc = scaling_study(bench_of(HAND), n_draws=2)
    check_schema(json.loads(json.dumps(doc, allow_nan=False)), [1, 2, 3], list(DEFAULT_PS))
    table = scaling_table(doc)
    assert list(table.columns) == ["m", "p", "mean", "lo", "hi", "sem", "n_subsets", "enumerated"]
    assert len(table) == 3 * 11
    assert table.loc[(table["m"] == 3) & (table["p"] == 1.0), "mean"].item() == pytest.approx(1.0)


def test_figure_is_written_atomically(tmp_path):
    pytest.importorskip("matplotlib")
    from routereval.reports.figures import plot_scaling, save_figure

    doc = scaling_study(bench_of(HAND), ps=[0, 0.5, 1])
    written = save_figure(plot_scaling(doc), tmp_path / "hand", formats=("png", "svg"))
    assert written == [tmp_path / "hand.png", tmp_path / "hand.svg"]
    assert written[0].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert ET.parse(written[1]).getroot().tag.endswith("svg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hand.png", "hand.svg"]


def test_write_study_appends_suffixes(tmp_path):
    doc = scaling_study(bench_of(HAND), n_draws=2, reference="model-2")
    assert doc["reference"] == {"value": 0.25, "source": "model-2 on all prompts"}
    written = write_study(doc, tmp_path / "file.pkl_bbh")
    assert written == [tmp_path / "file.pkl_bbh.json", tmp_path / "file.pkl_bbh.csv"]
    assert json.loads(written[0].read_text()) == doc
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.pkl_bbh.csv", "file.pkl_bbh.json"]


# -- the command, as a user runs it ------------------------------------------------------


@pytest.mark.slow  # real data, or the command with its figures
def test_command_writes_json_csv_and_figures(tmp_path):
    pytest.importorskip("matplotlib")
    rng = np.random.default_rng(4)
    scores = (rng.random((8, 5)) < 0.5).astype(int)
    lines = ["prompt_id,model,score"]
    for j in range(8):
        for k in range(5):
            cell = "" if (j, k) in {(0, 1), (3, 4)} else str(scores[j, k])
            lines.append(f"q{j},llm-{k},{cell}")
    csv = tmp_path / "results.csv"
    csv.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    proc = run_cli("scaling", "--dataset", str(csv), "--out", str(out), "--sizes", "1,2,5,9",
                   "--ps", "0,0.5,1", "--draws", "50", "--seed", "3")
    assert "skipping m = 9" in proc.stderr
    names = ["results.json", "results.csv", "results.png", "results.svg"]
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    for name in names:
        assert str(out / name) in proc.stdout
    assert "p = 0.5" in proc.stdout and "best single model" in proc.stdout
    doc = json.loads((out / "results.json").read_text())
    check_schema(doc, [1, 2, 5], [0.0, 0.5, 1.0])
    assert (doc["n_prompts"], doc["n_models"], doc["n_draws"], doc["seed"]) == (8, 5, 50, 3)
    values = scores.astype(float)
    values[0, 1] = values[3, 4] = np.nan
    oracle, random = plain_pool(values, tuple(range(5)))
    assert point(doc, 5, 1)["mean"] == pytest.approx(oracle)
    assert point(doc, 5, 0)["mean"] == pytest.approx(random)
    rows = pd.read_csv(out / "results.csv")
    assert len(rows) == 3 * 3
    assert list(rows.columns) == ["m", "p", "mean", "lo", "hi", "sem", "n_subsets", "enumerated"]
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ET.parse(out / "results.svg").getroot().tag.endswith("svg")


def test_command_rejects_bad_values(tmp_path):
    from typer.testing import CliRunner

    from routereval.cli import app

    csv = tmp_path / "r.csv"
    csv.write_text("prompt_id,model,score\nq1,a,1\nq1,b,0\nq2,a,0\nq2,b,1\n")
    base = ["scaling", "--dataset", str(csv), "--out", str(tmp_path / "o")]
    # As a user sees it: one red line, exit code 1.
    proc = run_cli(*base, "--reference", "gpt-9", check=False)
    assert proc.returncode == 1
    assert "'gpt-9' is neither a number nor a model" in proc.stderr
    for args, words in (
        (["--ps", "0,1.5"], "[0, 1]"),
        (["--sizes", "0,2"], ">= 1"),
        (["--sizes", "2,x"], "list of integers"),
        (["--draws", "0"], "--draws"),
        (["--reference", "7"], "(0, 1]"),
        (["--formats", "png,doc"], "cannot write 'doc'"),
    ):
        result = CliRunner().invoke(app, base + args)
        assert isinstance(result.exception, ConfigError), (args, result.output)
        assert words in str(result.exception)
    assert not (tmp_path / "o").exists()


# -- real data --------------------------------------------------------------------------


@pytest.mark.slow  # real data, or the command with its figures
def test_mmlu_pro_on_the_mirror(mirror, shared_home, monkeypatch):
    from routereval.sources.catalog import load_dataset

    monkeypatch.setenv("ROUTEREVAL_HOME", str(shared_home))  # built once per test session

    bench = load_dataset("mmlu-pro", progress=False)
    doc = scaling_study(bench, n_draws=50, seed=0)
    values = bench.values().astype(np.float64)
    assert doc["n_models"] == 29 and [r["m"] for r in doc["best_in_pool"]] == [1, 2, 3, 5, 10, 20, 29]
    covered = ~np.isnan(values).all(axis=1)
    oracle = np.nanmax(values[covered], axis=1).mean()
    whole = point(doc, 29, 1)
    assert (whole["n_subsets"], whole["enumerated"]) == (1, True)
    assert whole["mean"] == pytest.approx(oracle)
    assert point(doc, 1, 0)["mean"] == pytest.approx(np.nanmean(values, axis=0).mean())
    at_one = [point(doc, m, 1)["mean"] for m in default_sizes(29)]
    assert all(b >= a for a, b in itertools.pairwise(at_one))
    means = np.nanmean(values, axis=0)
    assert doc["best_single"] == {"model": bench.model_names[int(means.argmax())], "value": pytest.approx(means.max())}
