"""Sweeps: checked sweep files, the results store, resuming after a real kill, local and Ray executors."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from support.processes import CLI, REPO
from support.requirements import needs_torch
from support.toy_sweep import comparable, write_toy_csv

from routereval.errors import ConfigError
from routereval.evaluation.aggregate import summary_rows
from routereval.results import ResultsStore, grid_key
from routereval.sources.catalog import load_dataset
from routereval.sweeps.config import load_sweep, parse_sweep
from routereval.sweeps.executors import AutoExecutor, LocalExecutor
from routereval.sweeps.runner import run_sweep

# A learned, seeded router that needs no optional package (the grid also runs where torch is absent).
ROUTERS = '["oracle", "knn", "ro:p=0.3", "best-single", {name = "cluster", n_clusters = 3}]'
# 1 dataset x sizes (3, 5) x 3 groups x 5 routers x 2 seeds
GRID_SIZE = 2 * 3 * 5 * 2


def write_sweep(folder: Path, body: str = "", name: str = "toy") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "toy.csv").exists():
        write_toy_csv(folder / "toy.csv")
    text = body or (
        f'name = "{name}"\ndatasets = ["toy.csv"]\nsizes = [3, 5]\nencoder = "tfidf-32"\n'
        f"seeds = [0, 1]\nscaling = false\nn_boot = 200\nrouters = {ROUTERS}\n"
    )
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """The toy grid run once, uninterrupted, with two local workers."""
    folder = tmp_path_factory.mktemp("sweep-reference")
    sweep = load_sweep(write_sweep(folder))
    store = ResultsStore(folder / "results")
    outcome = run_sweep(sweep, store, LocalExecutor(2), progress=False)
    return folder, store, outcome


# -- sweep files --------------------------------------------------------------------------


def problems_of(text: str, tmp_path: Path) -> str:
    if not (tmp_path / "toy.csv").exists():
        write_toy_csv(tmp_path / "toy.csv")
    (tmp_path / "s.toml").write_text(text)
    with pytest.raises(ConfigError) as err:
        load_sweep(tmp_path / "s.toml")
    return str(err.value)


def test_every_problem_is_reported_with_its_line(tmp_path):
    text = (
        'datasets = ["toy.csv",\n'          # 1
        '  "no-such-dataset"]\n'            # 2
        'sizes = [3, 5]\n'                  # 3
        'groups = ["all_weak", "al_strong"]\n'  # 4
        'protocl = "clean"\n'               # 5
        'routers = ["oracle",\n'            # 6
        '  "knnn",\n'                       # 7
        '  {name = "knn", kk = 3}]\n'       # 8
    )
    message = problems_of(text, tmp_path)
    assert "s.toml:2: unknown dataset 'no-such-dataset'" in message
    assert "s.toml:4: unknown group 'al_strong'" in message
    assert "s.toml:5: unknown key 'protocl' (did you mean 'protocol'?)" in message
    assert "s.toml:7: unknown router 'knnn'" in message
    assert "s.toml:8: router 'knn'" in message and "kk" in message


def test_router_tables_name_the_line_of_the_bad_parameter(tmp_path):
    text = 'datasets = ["toy.csv"]\n\n[[routers]]\nname = "oracle"\n\n[[routers]]\nname = "mlp"\nepochz = 3\n'
    message = problems_of(text, tmp_path)
    assert "s.toml:7: router 'mlp'" in message and "epochz" in message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('protocol = "dirty"', "s.toml:3: protocol must be one of faithful, clean"),
        ('sizes = "medium"', "s.toml:3: sizes must be a list of integers or one of easy, hard, all"),
        ("sizes = [1, 3]", "s.toml:3: a pool needs at least 2 candidates, got size 1"),
        ("seeds = [0, 0]", "s.toml:3: seeds lists a seed twice"),
        ('encoder = "word2vec"', "s.toml:3: unknown encoder 'word2vec'"),
        ("n_boot = 0", "s.toml:3: n_boot must lie in 1..100000"),
        ('split_seed = "42"', "s.toml:3: split_seed must be an integer"),
        ('routers = ["knn", "knn"]', "router knn is listed twice"),
    ],
)
def test_bad_values(tmp_path, line, expected):
    base = 'datasets = ["toy.csv"]\nrouters = ["oracle"]\n'
    text = base + line + "\n" if not line.startswith("routers") else 'datasets = ["toy.csv"]\n\n' + line + "\n"
    assert expected in problems_of(text, tmp_path)


def test_not_toml_and_missing_keys(tmp_path):
    assert "not valid TOML" in problems_of("datasets = [\n", tmp_path)
    message = problems_of('sizes = [3]\n', tmp_path)
    assert "datasets is required" in message and "routers is required" in message


def test_a_valid_file_reads_back_with_defaults_and_paths_beside_it(tmp_path):
    path = write_sweep(tmp_path / "exp")
    sweep = load_sweep(path)
    assert sweep.name == "toy" and sweep.sizes == (3, 5) and sweep.seeds == (0, 1)
    assert sweep.groups == ("all_strong", "all_weak", "strong_to_weak") and sweep.protocol == "faithful"
    assert [r.label for r in sweep.routers] == ["oracle", "knn", "ro(0.3)", "best-single", "cluster[n_clusters=3]"]
    # The dataset is found beside the sweep file, whatever the working folder.
    assert Path(sweep.location("toy.csv")) == tmp_path / "exp" / "toy.csv"
    named = parse_sweep('datasets = ["mmlu-pro"]\nsizes = "hard"\nrouters = ["oracle"]\n')
    assert named.sizes == (10, 100, 1000) and named.location("mmlu-pro") == "mmlu-pro"


def test_cli_check_refuses_before_running(tmp_path):
    path = write_sweep(tmp_path, 'datasets = ["toy.csv"]\nrouters = ["oracle", "nope"]\n', name="bad")
    proc = subprocess.run(CLI + ["sweep", str(path), "--out", str(tmp_path / "r")], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "bad.toml:2: unknown router 'nope'" in proc.stderr
    assert not (tmp_path / "r").exists()


# -- the results store ----------------------------------------------------------------------


def test_reference_run_stores_one_row_per_grid_point_with_right_numbers(reference_run):
    folder, store, outcome = reference_run
    rows = store.read_rows()
    assert outcome.stored == GRID_SIZE and not outcome.failed
    assert len(rows) == GRID_SIZE == len({grid_key(r) for r in rows})
    bench = load_dataset(folder / "toy.csv")
    values = bench.values()
    for row in rows:
        scores = values[np.ix_(row["positions"], bench.model_index(row["models"]))]
        if row["router"] == "oracle":  # worked out from the raw matrix, not from the router
            assert row["mean_score"] == pytest.approx(scores.max(axis=1).mean())
        if row["router"] == "ro(0.3)":
            assert row["mean_score"] == pytest.approx(0.3 * scores.max(axis=1).mean() + 0.7 * scores.mean())
        assert row["per_prompt"] and len(row["per_prompt"]) == row["n_test"] == len(row["positions"])
        assert sum(row["selection"]) == pytest.approx(1.0)  # shares of the test prompts
    means = [r for r in summary_rows(rows) if r["group"] == "mean"]
    assert len(means) == 2 * 5
    for mean in means:
        parts = [r["mean_score"] for r in rows if (r["m"], r["router"]) == (mean["m"], mean["router"])]
        assert len(parts) == 6 and mean["mean_score"] == pytest.approx(np.mean(parts)) and mean["seeds"] == [0, 1]


@pytest.mark.slow  # a second sweep over the reference store
def test_a_rerun_skips_finished_rows(reference_run):
    folder, store, _ = reference_run
    before = {p.name: p.stat().st_mtime_ns for p in store.rows_dir.glob("*.parquet")}
    outcome = run_sweep(load_sweep(folder / "toy.toml"), store, LocalExecutor(2), progress=False)
    assert outcome.stored == 0 and outcome.already_done == GRID_SIZE
    assert {p.name: p.stat().st_mtime_ns for p in store.rows_dir.glob("*.parquet")} == before


def test_a_store_refuses_rows_made_with_other_settings(reference_run, tmp_path):
    folder, store, _ = reference_run
    clean = (folder / "toy.toml").read_text() + 'protocol = "clean"\n'
    with pytest.raises(ConfigError, match="protocol: 'faithful' there, 'clean' now"):
        run_sweep(parse_sweep(clean, base=folder), store, LocalExecutor(1), progress=False)


def test_only_one_sweep_writes_a_store(tmp_path):
    store = ResultsStore(tmp_path / "s")
    with store.writing({"protocol": "faithful"}):
        with pytest.raises(ConfigError, match="another sweep is writing"):
            with ResultsStore(tmp_path / "s").writing({"protocol": "faithful"}):
                pass


@pytest.mark.slow  # whole sweeps, several processes
def test_damaged_and_half_written_rows_are_not_taken_as_done(reference_run, tmp_path):
    folder, store, _ = reference_run
    copy = ResultsStore(tmp_path / "copy")
    copy.rows_dir.mkdir(parents=True)
    for p in list(store.rows_dir.glob("*.parquet"))[:5]:
        (copy.rows_dir / p.name).write_bytes(p.read_bytes())
    (copy.folder / "settings.json").write_bytes((store.folder / "settings.json").read_bytes())
    victim = sorted(copy.rows_dir.glob("*.parquet"))[0]
    victim.write_bytes(victim.read_bytes()[:100])  # a disk that lied about a flush
    (copy.rows_dir / ".tmp-123-abc.parquet").write_bytes(b"PAR1 half a row")
    with pytest.warns(UserWarning, match="unreadable result row"):
        assert len(copy.done_keys()) == 4
    assert (copy.rows_dir / "broken" / victim.name).is_file()
    outcome = run_sweep(load_sweep(folder / "toy.toml"), copy, LocalExecutor(2), progress=False)
    assert outcome.already_done == 4 and outcome.stored == GRID_SIZE - 4
    assert not list(copy.rows_dir.glob(".tmp-*"))
    assert comparable(copy.read_rows()) == comparable(store.read_rows())


# -- killing and resuming, executors ------------------------------------------------------


def finished_files(store: Path) -> list[Path]:
    # Temporary files (a row being written when the kill came) are not finished rows.
    return [p for p in (store / "rows").glob("*.parquet") if not p.name.startswith(".tmp-")]


@pytest.mark.slow  # whole sweeps, several processes
def test_a_sweep_killed_mid_run_resumes_to_exactly_one_row_per_grid_point(reference_run, tmp_path):
    folder, reference, _ = reference_run
    out = tmp_path / "killed"
    args = CLI + ["sweep", str(folder / "toy.toml"), "--out", str(out), "--workers", "1", "--quiet"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(finished_files(out)) < 5:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the sweep stored no rows in two minutes"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the runner and its worker, with no chance to clean up
    proc.communicate()
    partial = len(finished_files(out))
    assert 5 <= partial < GRID_SIZE

    resumed = subprocess.run(args, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming: {partial} of {GRID_SIZE} grid points already done" in resumed.stderr
    rows = ResultsStore(out).read_rows()
    assert len(rows) == GRID_SIZE == len({grid_key(r) for r in rows})
    assert not list((out / "rows").glob(".tmp-*"))
    assert comparable(rows) == comparable(reference.read_rows())


@pytest.mark.slow  # whole sweeps, several processes
def test_progress_of_the_grid_starts_when_the_grid_does(tmp_path):
    # Loading the records and embedding come first and show their own progress; a grid bar
    # started before them printed "routers x pools: 0, 5 s" lines (no total) all through them,
    # and its time left then counted the embedding's minutes as the grid's.
    write_toy_csv(tmp_path / "toy.csv")
    env = {**os.environ, "ROUTEREVAL_PROGRESS_SECONDS": "0.02", "ROUTEREVAL_HOME": str(tmp_path / "home")}
    env.pop("ROUTEREVAL_PROGRESS", None)
    small = ('name = "small"\ndatasets = ["toy.csv"]\nsizes = [3]\nencoder = "tfidf-32"\nseeds = [0]\n'
             'scaling = false\nn_boot = 50\nrouters = ["oracle", "knn"]\n')
    for args in (["bench", "--dataset", str(tmp_path / "toy.csv"), "--encoder", "tfidf-32", "--n-boot", "50",
                  "--sizes", "3", "--routers", "oracle,knn"],
                 ["sweep", str(write_sweep(tmp_path / "sweep", small, name="small")), "--out", str(tmp_path / "out"),
                  "--workers", "1"]):
        run = subprocess.run(CLI + args, capture_output=True, text=True, env=env, timeout=300, check=False)
        assert run.returncode == 0, run.stderr
        grid = [line for line in run.stderr.splitlines() if line.startswith(("routers x pools", "grid points"))]
        assert grid, run.stderr
        assert all(re.match(r"(routers x pools|grid points)[^:]*: \d+/\d+ \(", line) for line in grid), grid


@pytest.mark.slow  # whole sweeps, several processes
def test_one_worker_gives_the_same_rows_as_two(reference_run, tmp_path):
    folder, reference, _ = reference_run
    text = (folder / "toy.toml").read_text().replace("seeds = [0, 1]", "seeds = [1]")
    store = ResultsStore(tmp_path / "one")
    run_sweep(parse_sweep(text, base=folder), store, LocalExecutor(1), progress=False)
    mine = comparable(store.read_rows())
    theirs = {k: v for k, v in comparable(reference.read_rows()).items() if k.seed == 1}
    assert mine == theirs


@pytest.mark.slow  # whole sweeps, several processes
def test_ray_runs_the_same_grid_with_identical_results(reference_run, tmp_path):
    pytest.importorskip("ray", reason='Ray is not installed: pip install "routereval[ray]"')
    from routereval.sweeps.executors import RayExecutor

    folder, reference, _ = reference_run
    text = (folder / "toy.toml").read_text().replace("seeds = [0, 1]", "seeds = [0]").replace("sizes = [3, 5]", "sizes = [5]")
    store = ResultsStore(tmp_path / "ray")
    outcome = run_sweep(parse_sweep(text, base=folder), store, RayExecutor(workers=2), progress=False)
    assert outcome.stored == 3 * 5 and not outcome.failed
    theirs = {k: v for k, v in comparable(reference.read_rows()).items() if k.seed == 0 and k.m == 5}
    assert comparable(store.read_rows()) == theirs


@pytest.mark.parametrize(("name", "sizes"), [("routereval-easy", (3, 5)), ("routereval-hard", (10, 100, 1000))])
@needs_torch  # the shipped grids name LinearR and MLPR
def test_shipped_experiments_are_valid_published_grids(name, sizes):
    sweep = load_sweep(REPO / "experiments" / f"{name}.toml")
    assert sweep.name == name and sweep.sizes == sizes and sweep.protocol == "faithful"
    assert sweep.groups == ("all_strong", "all_weak", "strong_to_weak") and sweep.split_seed == 42
    assert {"mmlu-pro", "llmrouter"} <= set(sweep.datasets)
    assert [r.label for r in sweep.routers] == [
        "oracle", "ro(0.5)", "linear", "mlp", "cluster", "knn", "random", "best-single"]


@pytest.mark.slow  # whole sweeps, several processes
def test_bench_gives_exactly_the_rows_of_a_sweep(reference_run):
    """One code path: `routereval bench` on one seed equals the sweep's rows for that seed, field by field."""
    import json

    folder, store, _ = reference_run
    out = folder / "bench.json"
    proc = subprocess.run(
        CLI + ["bench", "--dataset", str(folder / "toy.csv"), "--sizes", "3,5", "--encoder", "tfidf-32",
               "--routers", "oracle,knn,ro:p=0.3,best-single,cluster:n_clusters=3", "--seed", "1", "--n-boot", "200",
               "--json", str(out)],
        capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    bench_rows = [r for r in json.loads(out.read_text()) if r["group"] != "mean"]
    sweep_rows = [r for r in store.read_rows(arrays=False) if r["seed"] == 1]
    assert len(bench_rows) == len(sweep_rows) == GRID_SIZE // 2
    skip = {"seconds", "source", "order"}
    by_key = {(r["m"], r["group"], r["router"]): r for r in sweep_rows}
    for row in bench_rows:
        theirs = by_key[(row["m"], row["group"], row["router"])]
        mine = {k: v for k, v in row.items() if k not in skip}
        assert mine == {k: v for k, v in theirs.items() if k not in skip}, row["router"]


@pytest.mark.slow  # whole sweeps, several processes
def test_bench_executor_uses_workers_only_where_they_pay(reference_run, monkeypatch):
    """`routereval bench`'s executor: by default the toy grid (240 prompts) stays in this process, and with the
    threshold below its size goes to one worker per core; --workers given is obeyed; the rows are the sweep's
    every way."""
    from routereval.results.store import MemoryStore
    from routereval.sweeps import executors

    folder, store, _ = reference_run
    monkeypatch.setattr(executors, "available_cpus", lambda: 2)  # the same choices on any CI machine
    went_local = []
    local_run = LocalExecutor.run

    def recording_run(self, tasks, context):
        went_local.append(self.workers)
        yield from local_run(self, tasks, context)

    monkeypatch.setattr(LocalExecutor, "run", recording_run)
    expected = comparable(store.read_rows(arrays=False))
    for threshold, workers, local in ((AutoExecutor.MIN_PROMPTS, None, []), (200, None, [2]),
                                      (AutoExecutor.MIN_PROMPTS, 2, [2]), (200, 1, [])):
        monkeypatch.setattr(AutoExecutor, "MIN_PROMPTS", threshold)
        went_local.clear()
        here = MemoryStore()
        outcome = run_sweep(load_sweep(folder / "toy.toml"), here, AutoExecutor(workers), progress=False)
        assert outcome.stored == GRID_SIZE and went_local == local, (threshold, workers)
        assert comparable(here.read_rows(arrays=False)) == expected
        # In the same order too (the sweep's, not completion order), in memory as on disk.
        assert [grid_key(r) for r in here.read_rows(arrays=False)] == [grid_key(r) for r in store.read_rows(arrays=False)]


def test_relative_dataset_paths_are_read_from_the_sweep_files_folder(tmp_path, monkeypatch):
    sweep_dir = tmp_path / "sweeps"
    write_sweep(sweep_dir)
    # A different file with the same name in the current folder must not be used.
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    write_toy_csv(elsewhere / "toy.csv", n_models=4, seed=9)
    monkeypatch.chdir(elsewhere)
    sweep = load_sweep(sweep_dir / "toy.toml")
    assert Path(sweep.location("toy.csv")).resolve() == (sweep_dir / "toy.csv").resolve()


def one_point(router: str, extra: str = "") -> str:
    """A sweep of a single grid point on the toy data."""
    return ('name = "t"\ndatasets = ["toy.csv"]\nsizes = [3]\ngroups = ["all_weak"]\nseeds = [0]\n'
            f'scaling = false\nn_boot = 50\n{extra}routers = ["{router}"]\n')


@pytest.mark.slow  # whole sweeps, several processes
def test_rows_from_re_imported_data_are_refused_or_recomputed(tmp_path):
    folder = tmp_path / "s"
    path = write_sweep(folder, one_point("oracle"), name="t")
    store = ResultsStore(folder / "res")
    first = run_sweep(load_sweep(path), store, LocalExecutor(1), progress=False)
    assert first.stored == 1
    before = store.read_rows(arrays=False)[0]
    write_toy_csv(folder / "toy.csv", seed=5)  # same name, other records
    with pytest.raises(ConfigError, match="computed from other records.*--recompute-stale"):
        run_sweep(load_sweep(path), store, LocalExecutor(1), progress=False)
    again = run_sweep(load_sweep(path), store, LocalExecutor(1), progress=False, recompute_stale=True)
    after = store.read_rows(arrays=False)
    assert again.stored == 1 and len(after) == 1
    assert after[0]["dataset_sha256"] != before["dataset_sha256"]


@pytest.mark.slow  # whole sweeps, several processes
def test_lost_settings_are_recovered_from_the_rows(tmp_path):
    folder = tmp_path / "s"
    body = one_point("knn", 'encoder = "tfidf-32"\n')
    path = write_sweep(folder, body, name="t")
    store = ResultsStore(folder / "res")
    run_sweep(load_sweep(path), store, LocalExecutor(1), progress=False)
    (folder / "res" / "settings.json").unlink()
    assert store.settings()["encoder"] == "tfidf-32"
    other = load_sweep(write_sweep(folder, body.replace("tfidf-32", "tfidf-16"), name="t"))
    with pytest.raises(ConfigError, match="other settings.*encoder"):
        run_sweep(other, store, LocalExecutor(1), progress=False)


@pytest.mark.slow  # whole sweeps, several processes
def test_workers_die_with_a_killed_sweep(tmp_path):
    folder = tmp_path / "s"
    path = write_sweep(folder)
    proc = subprocess.Popen(CLI + ["sweep", str(path), "--out", str(folder / "res"), "--workers", "2", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def children() -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    deadline = time.time() + 120
    workers: list[int] = []
    while time.time() < deadline and len(workers) < 2:
        time.sleep(0.5)
        workers = children()
    assert len(workers) >= 2, "the sweep never started its workers"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    def running(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
        except OSError:
            return False

    deadline = time.time() + 30
    alive = workers
    while time.time() < deadline and alive:
        time.sleep(0.5)
        alive = [p for p in alive if running(p)]
    assert not alive, f"workers {alive} outlived the killed sweep"


def test_a_store_of_older_minilm_vectors_is_refused_not_resumed(tmp_path):
    # Rows made before MiniLM's vectors became a function of the text alone carry no revision: resuming
    # such a store would mix the two kinds of rows, so the run is refused with what to do.

    folder = tmp_path / "s"
    sweep = load_sweep(write_sweep(folder, one_point("knn", 'encoder = "minilm"\n'), name="t"))
    assert sweep.context().settings()["minilm_vectors"] == 2
    store = ResultsStore(folder / "res")
    old = {k: v for k, v in sweep.context().settings().items() if k != "minilm_vectors"}
    with store.writing(old):
        store.write_row({"dataset": "toy", "benchmark": "toy", "source": "toy.csv", "m": 3, "group": "all_weak",
                         "router": "knn", "seed": 0, "mean_score": 0.5, "n_test": 1, "positions": [0], "per_prompt": [0.5],
                         "settings": json.dumps(old)})
    with pytest.raises(ConfigError, match="other settings.*minilm_vectors: None there, 2 now"):
        run_sweep(sweep, store, LocalExecutor(1), progress=False)


# -- split seeds ------------------------------------------------------------------------------------


@pytest.mark.slow  # whole sweeps, several processes
def test_split_seeds_are_a_grid_axis_that_resumes_and_never_mixes(tmp_path):
    from routereval.datasets.router_dataset import router_datasets

    folder = tmp_path / "s"
    path = write_sweep(folder, one_point("oracle", "split_seeds = [1, 2]\n"), name="t")
    store = ResultsStore(folder / "res")
    first = run_sweep(load_sweep(path), store, LocalExecutor(1), progress=False)
    rows = store.read_rows()
    assert first.stored == 2 and sorted(r["split_seed"] for r in rows) == [1, 2]
    bench = load_dataset(folder / "toy.csv")
    for row in rows:
        # Each row was measured on its own split's test prompts, and its oracle number is that split's.
        (pool,) = router_datasets(bench, [3], ["all_weak"], "faithful", split_seed=row["split_seed"]).pools
        assert list(row["positions"]) == list(pool.test.positions)
        scores = bench.values()[np.ix_(row["positions"], bench.model_index(row["models"]))]
        assert row["mean_score"] == pytest.approx(scores.max(axis=1).mean())
    assert list(rows[0]["positions"]) != list(rows[1]["positions"])
    again = run_sweep(load_sweep(path), store, LocalExecutor(1), progress=False)
    assert again.stored == 0 and again.already_done == 2
    # One more split adds exactly its row; a one-split run of a split already there finds it done.
    more = write_sweep(folder, one_point("oracle", "split_seeds = \"1-3\"\n"), name="t")
    assert run_sweep(load_sweep(more), store, LocalExecutor(1), progress=False).stored == 1
    single = write_sweep(folder, one_point("oracle", "split_seed = 2\n"), name="t")
    assert run_sweep(load_sweep(single), store, LocalExecutor(1), progress=False).already_done == 1
    assert sorted(grid_key(r).split_seed for r in store.read_rows(arrays=False)) == [1, 2, 3]


def test_split_seed_and_split_seeds_are_checked(tmp_path):
    assert "not both" in problems_of(one_point("oracle", "split_seed = 1\nsplit_seeds = [1, 2]\n"), tmp_path)
    assert "split_seeds lists a seed twice" in problems_of(one_point("oracle", "split_seeds = [1, 1]\n"), tmp_path)
    assert "split_seeds must be seeds such as 0-9" in problems_of(one_point("oracle", 'split_seeds = "0-x"\n'),
                                                                  tmp_path)


@pytest.mark.slow  # whole sweeps, several processes
def test_a_store_written_before_split_seeds_still_reads_and_resumes(tmp_path):
    import hashlib

    import pyarrow.parquet as pq

    folder = tmp_path / "s"
    path = write_sweep(folder, one_point("oracle", "split_seed = 7\n"), name="t")
    store = ResultsStore(folder / "res")
    run_sweep(load_sweep(path), store, LocalExecutor(1), progress=False)
    # Make it a store of before: no split_seed column, the file named by the five-field key.
    (file,) = store.rows_dir.glob("*.parquet")
    table = pq.read_table(file)
    old = table.drop(["split_seed"])
    legacy = hashlib.sha256(json.dumps(["toy.csv", 3, "all_weak", "oracle", 0]).encode()).hexdigest()[:24]
    file.unlink()
    pq.write_table(old, store.rows_dir / f"{legacy}.parquet")
    (row,) = store.read_rows()
    assert "split_seed" not in row and grid_key(row).split_seed == 7  # read from the row's own settings
    assert run_sweep(load_sweep(path), store, LocalExecutor(1), progress=False).already_done == 1
    # Recomputing that point replaces the old file instead of leaving a second row beside it.
    write_toy_csv(folder / "toy.csv", seed=9)
    run_sweep(load_sweep(path), store, LocalExecutor(1), progress=False, recompute_stale=True)
    (row,) = store.read_rows()
    assert row["split_seed"] == 7 and len(list(store.rows_dir.glob("*.parquet"))) == 1
