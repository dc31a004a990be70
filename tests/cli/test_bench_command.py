"""`routereval bench` end to end: a RouterEval pickle used as published, and real mirror data."""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest

from support.builders import router_layout, write
from support.processes import CLI

FAST = "oracle,ro,random,best-single,knn,cluster"


def bench(*args: str, env=None) -> subprocess.CompletedProcess:
    proc = subprocess.run(CLI + ["bench", *args], capture_output=True, text=True, env=env or os.environ.copy())
    assert proc.returncode == 0, proc.stderr
    return proc


def rows_by(rows, **match):
    return [r for r in rows if all(r[k] == v for k, v in match.items())]


@pytest.mark.slow  # whole bench runs
def test_routereval_pickle_runs_unchanged(tmp_path):
    raw, truth = router_layout(seed=3, n=40, n_models=20)
    path = write(tmp_path / "gsm8k_router_dataset.pkl", raw)
    out = tmp_path / "rows.json"
    proc = bench("--dataset", str(path), "--sizes", "3,5,10", "--routers", FAST, "--json", str(out), "--n-boot", "200")
    rows = json.loads(out.read_text())
    test = truth["cut"]["test"]
    for (setting, m, group), cols in truth["pools"].items():
        scores = truth["master"][test][:, cols]
        (oracle,) = rows_by(rows, m=m, group=group, router="oracle")
        (random,) = rows_by(rows, m=m, group=group, router="random")
        (half,) = rows_by(rows, m=m, group=group, router="ro(0.5)")
        (best,) = rows_by(rows, m=m, group=group, router="best-single")
        # The pools are the file's own, in its order.
        assert oracle["models"] == [truth["names"][c] for c in cols]
        assert oracle["benchmark"] == "gsm8k" and oracle["n_test"] == len(test)
        assert oracle["mean_score"] == pytest.approx(scores.max(axis=1).mean())
        assert random["mean_score"] == pytest.approx(scores.mean())
        assert random["proba_entropy"] == pytest.approx(np.log2(m))
        assert half["mean_score"] == pytest.approx((oracle["mean_score"] + random["mean_score"]) / 2)
        # V_R against RouterEval's GSM8K constant, V_B against the pool's best on test.
        assert oracle["vs_reference"] == pytest.approx(oracle["mean_score"] / 0.92)
        assert oracle["vs_best_single"] == pytest.approx(oracle["mean_score"] / scores.mean(axis=0).max())
        # Best single: the best training mean, evaluated on test.
        train_best = int(np.argmax(truth["master"][truth["cut"]["train"]][:, cols].mean(axis=0)))
        assert best["mean_score"] == pytest.approx(scores[:, train_best].mean())
        assert best["proba_entropy"] == 0 and best["choice_entropy"] == 0
    for m in (3, 5, 10):
        mean = rows_by(rows, m=m, group="mean", router="oracle")[0]
        groups = rows_by(rows, m=m, router="oracle")
        per_group = [r["mean_score"] for r in groups if r["group"] != "mean"]
        assert mean["mean_score"] == pytest.approx(np.mean(per_group))
        assert mean["mean_score_lo"] <= mean["mean_score"] <= mean["mean_score_hi"]
    assert "m = 10" in proc.stdout and "RouterEval reference for gsm8k" in proc.stdout


@pytest.fixture(scope="module")
def mirror_env(tmp_path_factory):
    from support.requirements import mirror_root

    root = mirror_root()
    if root is None:
        pytest.skip("real-data mirror not found: set ROUTEREVAL_MIRROR or place ../shared/data/github beside the repo")
    env = os.environ.copy()
    env.update(ROUTEREVAL_MIRROR=str(root), ROUTEREVAL_HOME=str(tmp_path_factory.mktemp("bench-home")))
    return env


@pytest.mark.slow  # whole bench runs
def test_llmrouter_table_on_real_data(mirror_env, tmp_path):
    out = tmp_path / "rows.json"
    proc = bench("--dataset", "llmrouter", "--sizes", "3,5", "--routers", FAST, "--encoder", "tfidf",
                 "--json", str(out), "--n-boot", "200", env=mirror_env)
    rows = json.loads(out.read_text())
    keys = {"dataset", "benchmark", "m", "group", "router", "mean_score", "mean_score_lo", "mean_score_hi",
            "vs_reference", "vs_best_single", "proba_entropy", "choice_entropy", "n_test"}
    assert all(keys <= set(r) for r in rows)
    assert {r["group"] for r in rows} == {"all_strong", "all_weak", "strong_to_weak", "mean"}
    assert len(rows) == 2 * 4 * 6  # sizes x (3 groups + mean) x routers
    for r in rows:
        if r["group"] == "mean":
            continue
        (oracle,) = rows_by(rows, m=r["m"], group=r["group"], router="oracle")
        assert r["mean_score"] <= oracle["mean_score"] + 1e-9  # nothing beats the oracle
        assert 0 <= r["choice_entropy"] <= np.log2(r["m"]) + 1e-9
        assert r["mean_score_lo"] <= r["mean_score"] <= r["mean_score_hi"]
    assert "best model on the test prompts" in proc.stdout
    assert "llmrouter, m = 5" in proc.stdout


@pytest.mark.slow  # a whole bench run
def test_router_labels_with_settings_show_whole_in_the_terminal_table(tmp_path):
    # Rich reads "[k=7]" as markup and drops it unless the cell is literal text: two knn rows looked alike.
    raw, _ = router_layout(seed=1, n=40, n_models=20)
    path = write(tmp_path / "gsm8k_router_dataset.pkl", raw)
    args = ("--dataset", str(path), "--sizes", "3", "--routers", "knn,knn:k=7", "--n-boot", "50")
    wide = bench(*args, env={**os.environ, "COLUMNS": "200"}).stdout
    assert "knn[k=7]" in wide and "gap closed" in wide and "V_B_train" in wide
    # Off a terminal (here a pipe) COLUMNS sets no limit: every column is printed (tests/test_terminal_output.py
    # checks a real 80-column terminal).
    narrow = bench(*args, env={**os.environ, "COLUMNS": "80"}).stdout
    assert "knn[k=7]" in narrow and "gap closed" in narrow.split("V_R reference")[0]
    assert "wider terminal" not in narrow


@pytest.mark.slow  # whole bench runs
def test_rows_are_the_same_bytes_on_one_worker_or_two(tmp_path):
    # Same command, same data: the JSON is identical whatever the worker count (wall times aside), rows
    # in the sweep's order, not the order in which workers finished. Learned routers included.
    raw, _ = router_layout(seed=5, n=60, n_models=20)
    path = write(tmp_path / "arc_router_dataset.pkl", raw)
    written = []
    for workers in ("1", "2"):
        out = tmp_path / f"rows-{workers}.json"
        bench("--dataset", str(path), "--sizes", "3,5", "--routers", FAST + ",linear", "--n-boot", "100",
              "--workers", workers, "--json", str(out))
        rows = json.loads(out.read_text())
        for r in rows:
            r.pop("seconds", None)
        written.append(json.dumps(rows, sort_keys=False))
    assert written[0] == written[1]


@pytest.mark.slow  # whole bench runs
def test_several_split_seeds_give_rows_per_split_and_paired_comparisons(tmp_path):
    raw, _ = router_layout(seed=3, n=40, n_models=20)
    path = write(tmp_path / "gsm8k_router_dataset.pkl", raw)
    out = tmp_path / "rows.json"
    bench("--dataset", str(path), "--sizes", "3", "--routers", "oracle,best-single,knn,cluster", "--split-seeds",
          "0-1", "--json", str(out), "--n-boot", "100", "--workers", "1")
    rows = json.loads(out.read_text())
    pools = [r for r in rows if r["group"] != "mean"]
    assert sorted({r["split_seed"] for r in pools}) == [0, 1] and len(pools) == 2 * 3 * 4
    means = {r["router"]: r for r in rows if r["group"] == "mean"}
    for router, mean in means.items():
        parts = [r["mean_score"] for r in pools if r["router"] == router]
        assert mean["mean_score"] == pytest.approx(np.mean(parts)) and mean["split_seeds"] == [0, 1]
    learned = {k: v for k, v in means.items() if k != "oracle"}
    best = max(learned, key=lambda k: learned[k]["mean_score"])
    assert all(v["best"] == best for v in learned.values()) and "tied_with_best" not in means["oracle"]


def test_split_seed_and_split_seeds_together_are_refused(tmp_path):
    raw, _ = router_layout(seed=3, n=40, n_models=20)
    path = write(tmp_path / "gsm8k_router_dataset.pkl", raw)
    proc = subprocess.run(CLI + ["bench", "--dataset", str(path), "--split-seed", "1", "--split-seeds", "0-1"],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "error: give --split-seed (one split) or --split-seeds (several), not both" in proc.stderr
    proc = subprocess.run(CLI + ["bench", "--dataset", str(path), "--split-seeds", "3-1"], capture_output=True, text=True)
    assert proc.returncode != 0 and "--split-seeds: the range 3-1 must run upwards" in proc.stderr


#: (flag, value, sweep-file line, what both say): one rule per setting, the name as each user wrote it.
SAME_RULES = [
    ("--n-boot", "0", "n_boot = 0", "must lie in 1..100000, got 0"),
    ("--reference", "0", "reference = 0", "must be a model name or a score in (0, 1], got"),
    ("--reference", "1.5", "reference = 1.5", "must be a model name or a score in (0, 1], got"),
    ("--protocol", "dirty", 'protocol = "dirty"', "must be one of faithful, clean, got 'dirty'"),
    ("--groups", "al_strong", 'groups = ["al_strong"]', "unknown group 'al_strong'"),
    ("--sizes", "1,3", "sizes = [1, 3]", "a pool needs at least 2 candidates, got size 1"),
    ("--encoder", "word2vec", 'encoder = "word2vec"', "unknown encoder 'word2vec'"),
]


@pytest.mark.parametrize(("flag", "value", "line", "words"), SAME_RULES, ids=[r[0] + "=" + r[1] for r in SAME_RULES])
def test_bench_flags_and_sweep_keys_refuse_the_same_values(tmp_path, flag, value, line, words):
    from routereval.errors import ConfigError
    from routereval.sweeps.config import load_sweep
    from support.toy_sweep import write_toy_csv

    write_toy_csv(tmp_path / "toy.csv", n_models=4, per_topic=5)
    proc = subprocess.run(CLI + ["bench", "--dataset", str(tmp_path / "toy.csv"), "--routers", "oracle", flag, value],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert words in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    (tmp_path / "s.toml").write_text(f'datasets = ["toy.csv"]\nrouters = ["oracle"]\n{line}\n')
    with pytest.raises(ConfigError) as err:
        load_sweep(tmp_path / "s.toml")
    assert "s.toml:3: " in str(err.value) and words in str(err.value)


def test_the_static_encoder_is_accepted_by_a_sweep_file_as_by_bench(tmp_path):
    from routereval.sweeps.config import load_sweep
    from support.toy_sweep import write_toy_csv

    write_toy_csv(tmp_path / "toy.csv", n_models=4, per_topic=5)
    (tmp_path / "s.toml").write_text('datasets = ["toy.csv"]\nrouters = ["knn"]\nencoder = "minilm-static"\n')
    assert load_sweep(tmp_path / "s.toml").encoder == "minilm-static"
