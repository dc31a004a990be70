"""`routereval data ...` run as a user would: real processes, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.processes import REPO, run_cli



@pytest.fixture(scope="module")
def mirror_env(tmp_path_factory) -> dict:
    """One home for the module, so each mirror dataset is built once."""
    from support.requirements import mirror_root

    root = mirror_root()
    if root is None:
        pytest.skip("real-data mirror not found: set ROUTEREVAL_MIRROR or place ../shared/data/github beside the repo")
    env = os.environ.copy()
    env["ROUTEREVAL_MIRROR"] = str(root)
    env["ROUTEREVAL_HOME"] = str(tmp_path_factory.mktemp("cli-home"))
    return env


def test_start_up_imports_nothing_heavy():
    code = (
        "import sys, routereval.cli; "
        "print(sorted(m for m in ('torch', 'pandas', 'sklearn', 'sentence_transformers', 'pyarrow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert "data" in run_cli("--help").stdout


def test_command_options_are_typed_so_the_oldest_typer_reads_them():
    """typer 0.12 (pyproject's lower bound) cannot read ``X | None`` option types: every command uses Optional[X]."""
    import ast

    cli = REPO / "src" / "routereval" / "cli"
    found = []
    for module in sorted(cli.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if not isinstance(node, ast.FunctionDef):
                continue
            # Defaults belong to the last arguments; a typer option is an argument whose default calls typer.
            with_defaults = zip(node.args.args[len(node.args.args) - len(node.args.defaults):], node.args.defaults)
            for arg, default in with_defaults:
                text = ast.unparse(arg.annotation) if arg.annotation is not None else ""
                if "|" in text and "typer." in ast.unparse(default):
                    found.append(f"{module.name}:{node.lineno} {arg.arg}: {text}")
    assert not found, found


def test_list_json_names_the_registered_datasets():
    doc = json.loads(run_cli("data", "list", "--json").stdout)
    names = {d["name"] for d in doc["datasets"]}
    assert {"llmrouter", "mmlu-pro", "routellm-mmlu", "routellm-gsm8k", "routellm-mtbench"} <= names
    assert "routereval-mmlu" in names


@pytest.mark.slow  # builds real datasets, or several imports
def test_info_llmrouter_and_mmlu_pro_on_real_data(mirror_env):
    llm = json.loads(run_cli("data", "info", "llmrouter", "--json", env=mirror_env).stdout)
    assert (llm["n_prompts"], llm["n_models"]) == (6108, 9)
    assert len(llm["tasks"]) == 14
    assert llm["n_records"] + llm["n_missing"] == 6108 * 9
    pro = json.loads(run_cli("data", "info", "mmlu-pro", "--json", env=mirror_env).stdout)
    assert (pro["n_prompts"], pro["n_models"]) == (12032, 29)
    assert len(pro["tasks"]) == 14
    assert pro["n_missing"] > 0  # some models cover fewer questions
    for m in pro["models"]:
        assert set(m) >= {"name", "mean_score", "n_records"}
        assert 0 <= m["mean_score"] <= 1 and 0 < m["n_records"] <= 12032
    assert sum(m["n_records"] for m in pro["models"]) == pro["n_records"]
    table = run_cli("data", "info", "mmlu-pro", env=mirror_env).stdout
    assert "12,032 prompts x 29 models" in table


@pytest.mark.slow  # several data commands in processes
def test_import_long_csv_and_use_it_by_name(tmp_path):
    csv = tmp_path / "results.csv"
    csv.write_text(
        "prompt_id,model,score,task\n"
        "q1,alpha,1,math\n"
        "q1,beta,0,math\n"
        "q2,alpha,0,history\n"
        "q2,beta,1,history\n"
        "q3,alpha,1,history\n"
    )
    out = run_cli("data", "import", str(csv), "--name", "my-bench")
    assert "my-bench" in out.stdout
    doc = json.loads(run_cli("data", "info", "my-bench", "--json").stdout)
    assert (doc["name"], doc["n_prompts"], doc["n_models"]) == ("my-bench", 3, 2)
    assert (doc["n_records"], doc["n_missing"]) == (5, 1)
    by_name = {m["name"]: m for m in doc["models"]}
    assert by_name["alpha"]["mean_score"] == pytest.approx(2 / 3)
    assert by_name["beta"]["mean_score"] == pytest.approx(1 / 2)
    assert by_name["beta"]["n_records"] == 2
    assert [t["name"] for t in doc["tasks"]] == ["math", "history"]
    # The same file also works as a path, without importing.
    assert json.loads(run_cli("data", "info", str(csv), "--json").stdout)["n_records"] == 5
    assert "my-bench" in {d["name"] for d in json.loads(run_cli("data", "list", "--json").stdout)["datasets"]}


@pytest.mark.slow  # builds real datasets, or several imports
def test_import_with_tokens_and_prices_gives_costs_worked_out_by_hand(tmp_path):
    csv = tmp_path / "usage.csv"
    csv.write_text(
        "prompt_id,model,score,input_tokens,output_tokens,cost\n"
        "q1,big,1,1000,500,\n"
        "q1,small,0,1000,200,\n"
        "q2,big,1,3000,100,0.5\n"  # a stored cost wins over tokens x prices
        "q2,small,1,3000,,\n"  # no output count and no cost: unknown
    )
    prices = tmp_path / "prices.csv"
    prices.write_text("model,input,output\nbig,10,30\nsmall,1,2\n")
    run_cli("data", "import", str(csv), "--name", "priced", "--prices", str(prices))
    by_name = {m["name"]: m for m in json.loads(run_cli("data", "info", "priced", "--json").stdout)["models"]}
    assert (by_name["big"]["input_price"], by_name["big"]["output_price"]) == (10, 30)
    # big: q1 = 1000 x 10e-6 + 500 x 30e-6 = 0.025 $, q2 stored 0.5 $ -> mean 0.2625 $ = 262.5 $ per 1k queries.
    assert by_name["big"]["cost_per_1k"] == pytest.approx(262.5)
    # small: q1 = 1000 x 1e-6 + 200 x 2e-6 = 0.0014 $; q2 unknown and left out -> 1.4 $ per 1k queries.
    assert by_name["small"]["cost_per_1k"] == pytest.approx(1.4)
    assert by_name["small"]["input_tokens"] == pytest.approx(2000)

    typo = tmp_path / "typo.csv"
    typo.write_text("model,input,output\nbgi,10,30\n")
    proc = run_cli("data", "import", str(csv), "--name", "priced2", "--prices", str(typo), check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert str(typo) in proc.stderr and "'bgi'" in proc.stderr and "'big'" in proc.stderr
    assert "priced2" not in {d["name"] for d in json.loads(run_cli("data", "list", "--json").stdout)["datasets"]}


def test_bad_input_exits_non_zero_naming_row_and_column(tmp_path):
    csv = tmp_path / "bad.csv"
    csv.write_text("prompt_id,model,score\nq1,alpha,1\nq2,alpha,1.7\n")
    proc = run_cli("data", "import", str(csv), "--name", "bad", check=False)
    assert proc.returncode != 0
    assert "bad.csv" in proc.stderr and "line 3" in proc.stderr and "score" in proc.stderr
    proc = run_cli("data", "info", "no-such-dataset", check=False)
    assert proc.returncode != 0 and "no-such-dataset" in proc.stderr


@pytest.mark.slow  # builds real datasets, or several imports
def test_a_damaged_registered_store_is_refused_then_rebuilt_by_pull(mirror_env):
    run_cli("data", "pull", "llmrouter", env=mirror_env)
    scores = Path(mirror_env["ROUTEREVAL_HOME"]) / "datasets" / "llmrouter" / "scores.bin"
    data = bytearray(scores.read_bytes())
    data[0] ^= 1  # one flipped bit in the first sampled block
    scores.write_bytes(bytes(data))
    proc = run_cli("data", "info", "llmrouter", env=mirror_env, check=False)
    assert proc.returncode == 3
    assert "routereval data pull llmrouter --force" in proc.stderr and "Traceback" not in proc.stderr
    # `data pull` does not keep the damaged copy, and says so.
    proc = run_cli("data", "pull", "llmrouter", env=mirror_env)
    assert "damaged" in proc.stderr and "rebuilding" in proc.stderr
    assert run_cli("data", "verify", "llmrouter", env=mirror_env).returncode == 0
    assert json.loads(run_cli("data", "info", "llmrouter", "--json", env=mirror_env).stdout)["n_prompts"] == 6108
