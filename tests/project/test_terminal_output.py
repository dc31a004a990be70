"""Every table readable at 80 columns and whole in a file; progress of building a dataset; ties go to the cheaper.

Terminal runs are real subprocesses on a pseudo-terminal of 80 columns (rich reads COLUMNS); file runs
write stdout to a real file. A table may wrap a name after a separator or move columns into a second
table; it may never cut a number or a name ("…") nor print a line wider than the terminal.
"""

from __future__ import annotations

import io
import subprocess

import numpy as np
import pytest
from rich.console import Console
from support.terminal import CLI, assert_readable, cell_lines, on_terminal, to_file

from routereval.cli.output import Column, print_table
from routereval.policies import Rule

#: Model names alike up to their last part: cut to 'meta-llama/llama-...' they could not be told apart.
LONG_MODELS = ["meta-llama/llama-3.1-70b-instruct-turbo", "meta-llama/llama-3.1-8b-instruct-turbo",
               "meta-llama/llama-3.3-70b-instruct-turbo-free"]


@pytest.fixture
def long_names(tmp_path):
    """An imported dataset whose three models share a long prefix; stored under the name 'long'."""
    lines = ["prompt_id,prompt,task," + ",".join(LONG_MODELS)]
    rng = np.random.default_rng(0)
    for i in range(30):
        lines.append(f"p{i},question number {i},task-{i % 3}," + ",".join(str(int(v)) for v in rng.random(3) > 0.5))
    (tmp_path / "long.csv").write_text("\n".join(lines) + "\n")
    subprocess.run(CLI + ["data", "import", str(tmp_path / "long.csv"), "--name", "long"], check=True,
                   capture_output=True)
    return "long"


# -- the rule, on the renderer itself ----------------------------------------------------------------


ROWS = [[name, f"0.{i}234", f"{i},108", "100.0%", "0.88", "0.90", "0.0123", "512/256"] for i, name in
        enumerate(LONG_MODELS, 1)]
COLUMNS = [Column("model", "name")] + [Column(h) for h in ("mean score", "records", "coverage", "$/1M in",
                                                           "$/1M out", "$/1k queries", "tokens in/out")]


@pytest.mark.parametrize("width", [80, 60, 44])
def test_a_narrow_terminal_wraps_names_at_a_separator_and_never_cuts_a_number(width):
    out = io.StringIO()
    print_table("models", COLUMNS, ROWS, console=Console(file=out, force_terminal=True, width=width,
                                                         color_system=None))
    text = out.getvalue()
    assert_readable(text, width)
    cells = [c for row in cell_lines(text) for c in row]
    for row in ROWS:
        for number in row[1:]:
            assert number in cells  # whole, in a cell of its own
    # Each model name is on at most two lines, split only after a '-' or a '/', and the three stay distinct.
    firsts = [row[0] for row in cell_lines(text) if row[0] and row[1]]
    seconds = [row[0] for row in cell_lines(text) if row[0] and not row[1]]
    for name in LONG_MODELS:
        assert any(first + second == name or first == name for first in firsts for second in seconds + [""])
    assert all(first[-1] in "-/" for first in firsts if first not in LONG_MODELS)


def test_off_a_terminal_every_column_is_printed_whole_on_one_line():
    out = io.StringIO()
    print_table("models", COLUMNS, ROWS, console=Console(file=out, width=80))
    rows = cell_lines(out.getvalue())
    assert rows == ROWS  # no wrap, nothing moved, nothing cut, although the table is wider than 80


def test_ties_in_quality_go_to_the_cheaper_candidate_then_the_first_listed():
    quality = np.array([[0.7, 0.7, 0.2], [0.5, 0.5, 0.5]])
    costs = np.array([[2.0, 1.0, 0.1], [1.0, 1.0, 3.0]])
    assert Rule().rank(quality, costs)[:, 0].tolist() == [1, 0]  # the cheaper; equal prices: the first
    assert Rule().rank(quality)[:, 0].tolist() == [0, 0]  # no prices: the first listed
    assert Rule().rank(quality, costs, allowed=np.array([True, True, True]))[:, 0].tolist() == [1, 0]
    assert Rule(max_cost=2.5).rank(quality, costs)[:, 0].tolist() == [1, 0]


@pytest.mark.slow  # whole commands on a terminal and into a file
def test_route_sends_a_tie_to_the_cheaper_model(tmp_path):
    # Two models right on exactly the same prompts, the dearer listed first: the cheaper one is chosen.
    from support.tiny_routing import tiny_benchmark

    from routereval.deploy.train import train_model
    from routereval.records import Benchmark

    tiny = tiny_benchmark()
    scores = tiny.values()
    models = tiny.models.copy()
    models["name"] = ["dear-model", "cheap-model", "poem-model"]
    models["input_price"] = [5.0, 0.5, 0.1]
    models["output_price"] = [10.0, 1.0, 0.2]
    same = np.column_stack([scores[:, 0], scores[:, 0], scores[:, 2]])
    bench = Benchmark.from_values("tie", same, tiny.prompts, models)
    train_model(bench, "knn", {"k": 3}, "tfidf-16", progress=False).save(tmp_path / "art")
    proc = subprocess.run(CLI + ["route", str(tmp_path / "art"), "solve the quadratic equation please"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "chosen: cheap-model" in proc.stdout


# -- the commands --------------------------------------------------------------------------------


def test_data_list_is_one_line_per_dataset_with_whole_names_at_80_columns():
    from routereval.sources.registry import all_specs

    code, text = on_terminal("data", "list")
    assert code == 0
    assert_readable(text)
    assert len(text.strip().splitlines()) < 40
    names = [row[0] for row in cell_lines(text)]
    # Each whole on its own line, none broken. Compared as sets: the registry lists sources in the order their
    # modules were imported, which differs between this test process and the command's fresh one.
    assert sorted(names) == sorted(all_specs()) and len(names) == len(set(names))


@pytest.mark.slow  # whole commands on a terminal and into a file
def test_data_info_keeps_model_names_distinct_at_80_columns_and_whole_in_a_file(long_names, tmp_path):
    code, text = on_terminal("data", "info", long_names)
    assert code == 0
    assert_readable(text)
    assert "llama-..." not in text
    in_file = to_file(tmp_path, "data", "info", long_names)
    assert {row[0] for row in cell_lines(in_file)} >= set(LONG_MODELS)
    header = next(line for line in in_file.splitlines() if "model" in line and "tokens in/out" in line)
    assert "$/1k queries" in header


@pytest.fixture
def pool_file(tmp_path):
    from support.builders import router_layout, write

    raw, _ = router_layout(seed=1, n=40, n_models=20)
    return write(tmp_path / "gsm8k_router_dataset.pkl", raw)


BENCH = ("bench", "--sizes", "3", "--routers", "best-single,knn:k=7,oracle", "--n-boot", "50")


@pytest.mark.slow  # whole commands on a terminal and into a file
def test_bench_at_80_columns_cuts_no_number_and_in_a_file_shows_every_column(pool_file, tmp_path):
    code, text = on_terminal(*BENCH, "--dataset", str(pool_file))
    assert code == 0, text
    assert_readable(text)
    for column in ("mu_o", "V_B_train", "E_sel", "n_test"):
        assert column in text  # moved into a second table if need be, never dropped
    assert "knn[k=7]" in text
    in_file = to_file(tmp_path, *BENCH, "--dataset", str(pool_file))
    assert "wider terminal" not in in_file
    header = next(line for line in in_file.splitlines() if "router" in line and "mu_o" in line)
    for column in ("95% CI", "V_B_train", "gap closed", "E_p", "E_sel", "n_test"):
        assert column in header  # one table, every column


def test_building_a_dataset_shows_each_stage_as_a_line_in_a_log(mirror, tmp_path):
    proc = subprocess.run(CLI + ["data", "pull", "routellm-mtbench"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("building routellm-mtbench")]
    assert [ln.split(" (stage")[0].split(",")[0] for ln in lines] == [
        "building routellm-mtbench: reading and converting the records",
        "building routellm-mtbench: writing the store and its checksums",
        "building routellm-mtbench: checking the store",
        "building routellm-mtbench: done"]
