"""`routereval select` run as a user would: real processes, real files."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.processes import run_cli


FAMILIES = {
    "numbers": ["sum", "integer", "equation", "solve", "number", "multiply", "divide", "prime", "fraction", "root"],
    "words": ["rhyme", "verse", "stanza", "metaphor", "poem", "meter", "sonnet", "imagery", "line", "love"],
}
# Two tasks per family, so the held-out task always has a close relative in the pool.
TASKS = {"arithmetic": "numbers", "algebra": "numbers", "poetry": "words", "prose": "words"}
# P(correct) per model and family: each specialist wins its family, the generalist is second everywhere.
SKILL = {"numbers": {"calc": 0.95, "bard": 0.15, "generalist": 0.6},
         "words": {"calc": 0.15, "bard": 0.95, "generalist": 0.6}}


@pytest.fixture
def records(tmp_path) -> Path:
    """A wide CSV: 4 tasks x 30 prompts, 3 models with family-dependent skill."""
    rng = np.random.default_rng(0)
    rows = []
    for task, family in TASKS.items():
        extra = task[:4]  # a word only this task uses
        for i in range(30):
            words = list(rng.choice(FAMILIES[family], size=6)) + [extra]
            row = {"prompt_id": f"{task}-{i}", "task": task, "prompt": " ".join(words) + f" item{i}"}
            for model, p in SKILL[family].items():
                row[model] = int(rng.uniform() < p)
            rows.append(row)
    path = tmp_path / "records.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def direct_accuracy(path: Path) -> pd.DataFrame:
    """Per-task accuracy from the CSV itself."""
    return pd.read_csv(path).groupby("task", sort=False)[["calc", "bard", "generalist"]].mean()


def test_help_lists_select():
    assert "select" in run_cli("--help").stdout
    assert "--new-task" in run_cli("select", "--help").stdout


@pytest.mark.slow  # several select runs
def test_leave_one_task_out_table_and_json(records, tmp_path):
    out, md = tmp_path / "rows.json", tmp_path / "tables.md"
    proc = run_cli("select", "--dataset", str(records), "--encoder", "tfidf-8", "--per-task",
                   "--alpha", "0,0.1", "--json", str(out), "--markdown", str(md))
    assert "leave one task out, 4 tasks x 3 models" in proc.stdout
    assert "alpha = 0.1" in proc.stdout and "poetry" in proc.stdout
    rows = json.loads(out.read_text())
    tasks = [r for r in rows if r["kind"] == "task"]
    summary = [r for r in rows if r["kind"] == "summary"]
    assert len(tasks) == 4 * 6 * 2 and len(summary) == 6 * 2
    assert {"task", "method", "model", "accuracy", "oracle_accuracy", "encoder", "seed"} <= set(tasks[0])
    acc = direct_accuracy(records)
    for r in tasks:
        truth = acc.loc[r["task"]]
        assert r["accuracy"] == pytest.approx(truth[r["model"]])
        assert r["oracle_accuracy"] == pytest.approx(truth.max()) and r["accuracy"] <= r["oracle_accuracy"]
        if r["method"] == "BMA":
            assert r["model"] == acc.drop(index=r["task"]).mean().idxmax()
        if r["method"] == "S1":
            # The held-out task's neighbours are its sibling's prompts, where the specialist shines.
            assert r["model"] == ("calc" if TASKS[r["task"]] == "numbers" else "bard")
    for s in summary:
        block = [r for r in tasks if r["method"] == s["method"] and r["alpha"] == s["alpha"]]
        assert s["accuracy"] == pytest.approx(np.mean([r["accuracy"] for r in block]))
        assert s["n_tasks"] == 4
    # --markdown: one table per alpha, a line per method with the JSON's accuracy to three decimals.
    text = md.read_text()
    assert text.count("| method | accuracy |") == 2 and "alpha = 0.1**" in text
    for s in summary:
        assert f"| {s['method']} | {s['accuracy']:.3f} |" in text


@pytest.mark.slow  # several select runs
def test_new_task_from_a_text_file_and_a_csv(records, tmp_path):
    prompts = tmp_path / "mine.txt"
    prompts.write_text("solve the equation for the prime root\n\nmultiply each fraction integer\n"
                       "solve the equation for the prime root\n")
    out = tmp_path / "choice.json"
    proc = run_cli("select", "--dataset", str(records), "--encoder", "tfidf-8", "--new-task", str(prompts),
                   "--json", str(out))
    assert "mine.txt: 2 prompts" in proc.stdout and "chosen:" in proc.stdout
    rows = json.loads(out.read_text())
    models = {r["model"]: r for r in rows if r["kind"] == "model"}
    choice = next(r for r in rows if r["kind"] == "choice")
    assert set(models) == {"calc", "bard", "generalist"} and choice["n_prompts"] == 2
    for r in models.values():
        assert r["s3"] == pytest.approx(r["p"] * r["s2"] + (1 - r["p"]) * (1 - r["s2"]))
    # Arithmetic-like prompts: the neighbours are number prompts, where calc is right 95% of the time.
    assert max(models, key=lambda m: models[m]["s1"]) == "calc"
    assert choice["model"] in (choice["m_star"], choice["bma"])
    as_csv = tmp_path / "mine.csv"
    pd.DataFrame({"prompt": ["write a sonnet with rhyme and meter", "a verse of love imagery"]}).to_csv(as_csv)
    proc = run_cli("select", "--dataset", str(records), "--encoder", "tfidf-8", "--new-task", str(as_csv))
    assert "mine.csv: 2 prompts" in proc.stdout


@pytest.mark.slow  # several select runs
def test_user_errors_are_one_clear_line(records, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,question_text\n1,hello\n")
    proc = run_cli("select", "--dataset", str(records), "--encoder", "tfidf-8", "--new-task", str(bad), check=False)
    assert proc.returncode == 1 and "bad.csv" in proc.stderr and "'prompt'" in proc.stderr
    proc = run_cli("select", "--dataset", str(records), "--new-task", str(bad), "--alpha", "0.1", check=False)
    assert proc.returncode == 1 and "--alpha" in proc.stderr
    proc = run_cli("select", "--dataset", str(records), "--predictor", "forest", check=False)
    assert proc.returncode == 1 and "knn, mlp" in proc.stderr
    proc = run_cli("select", "--dataset", str(records), "--alpha", "0,1.5", check=False)
    assert proc.returncode == 1 and "[0, 1]" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_llmrouter_from_the_mirror_with_default_tfidf(tmp_path):
    from support.requirements import mirror_root

    root = mirror_root()
    if root is None:
        pytest.skip("real-data mirror not found: set ROUTEREVAL_MIRROR or place ../shared/data/github beside the repo")
    env = {**os.environ, "ROUTEREVAL_MIRROR": str(root), "ROUTEREVAL_HOME": str(tmp_path / "home")}
    out = tmp_path / "rows.json"
    proc = run_cli("select", "--dataset", "llmrouter", "--encoder", "tfidf", "--json", str(out), env=env)
    assert "14 tasks x 9 models" in proc.stdout
    assert "continuous scores counted correct where >= 0.5" in proc.stdout
    summary = {r["method"]: r for r in json.loads(out.read_text()) if r["kind"] == "summary"}
    assert all(summary["Oracle"]["accuracy"] >= r["accuracy"] for r in summary.values())
    assert summary["BMA"]["bma_share"] == 1.0 and summary["Oracle"]["mean_rank"] == 1.0


@pytest.mark.slow  # several select runs
def test_analyses_tables_figures_and_json(records, tmp_path):
    out, figs = tmp_path / "rows.json", tmp_path / "figs"
    proc = run_cli("select", "--dataset", str(records), "--encoder", "tfidf-8", "--alpha", "0,0.1", "--pointwise",
                   "--candidates", "calc,bard", "--against", "generalist", "--correlation", "--distance-bins", "2",
                   "--figures", str(figs), "--json", str(out))
    assert "Pointwise" in proc.stdout and "chosen among the candidates against generalist" in proc.stdout
    assert "ratio to the best model on the prompts" in proc.stdout
    assert "correlation of scores with true accuracy" in proc.stdout
    for stem in ("correlation", "distance", "against"):
        for ext in ("png", "svg"):
            assert (figs / f"{records.stem}-{stem}.{ext}").stat().st_size > 1000
    rows = json.loads(out.read_text())
    tasks = [r for r in rows if r["kind"] == "task"]
    assert {r["method"] for r in tasks} == {"S1", "S2", "S3", "S3 (true p)", "BMA", "Oracle", "Pointwise"}
    assert all(r["model"] != "generalist" for r in tasks) and all(r["n_candidates"] == 2 for r in tasks)
    acc = direct_accuracy(records)
    against = [r for r in rows if r["kind"] == "against"]
    assert {(r["alpha"], r["method"]) for r in against} == {
        (a, m) for a in (0.0, 0.1) for m in ("S1", "S2", "S3", "Pointwise", "BMA", "Oracle")}
    for r in against:
        block = [t for t in tasks if t["alpha"] == r["alpha"] and t["method"] == r["method"]]
        ref = np.array([acc.loc[t["task"], "generalist"] for t in block])
        got = np.array([t["accuracy"] for t in block])
        assert r["reference_accuracy"] == pytest.approx(acc["generalist"].mean())
        assert r["match_share"] == pytest.approx(np.mean(got >= ref))
        assert r["mean_difference"] == pytest.approx(np.mean(got - ref))
    # Oracle among the specialists beats the generalist on every task (0.95 against 0.6 by design).
    assert next(r for r in against if r["method"] == "Oracle" and r["alpha"] == 0)["match_share"] == 1.0
    assert len([r for r in rows if r["kind"] == "correlation"]) == 4 * 2
    assert {r["bin"] for r in rows if r["kind"] == "distance_summary"} == {0, 1}


def test_ties_are_reported_in_the_output(records, tmp_path):
    proc = run_cli("select", "--dataset", str(records), "--encoder", "tfidf-8")
    assert "tie" in proc.stdout  # either the tied tasks with their rule, or "no tie at the top of any score"


@pytest.mark.slow  # several select runs
def test_analysis_errors_are_one_clear_line(records, tmp_path):
    cases = [
        (["--candidates", "params<=13e9"], "no parameter counts"),
        (["--against", "generalst"], "did you mean generalist"),
        (["--figures", str(tmp_path / "f")], "--distance-bins"),
        (["--references", "leaky"], "loto, published"),
        (["--distance-bins", "-1"], "--distance-bins"),
        (["--new-task", str(records), "--references", "published"], "--new-task"),
    ]
    for args, message in cases:
        proc = run_cli("select", "--dataset", str(records), "--encoder", "tfidf-8", *args, check=False)
        assert proc.returncode == 1, args
        assert message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


# The user's embedding cache (read before the autouse fixture isolates each test's home):
# the MiniLM vectors of LLMRouter are computed once and reused.
USER_HOME = os.environ.get("ROUTEREVAL_HOME")


@pytest.mark.slow
def test_llmrouter_minilm_published_references_and_the_mmlu_tie(tmp_path):
    """The done-when numbers of the published comparison: S3 = 0.615 +- 0.005 with the authors'
    reference scheme at alpha = 0; on the MMLU task two models have S1 = 1898/2750 exactly."""
    from support.requirements import mirror_root

    root = mirror_root()
    if root is None:
        pytest.skip("real-data mirror not found: set ROUTEREVAL_MIRROR or place ../shared/data/github beside the repo")
    env = {**os.environ, "ROUTEREVAL_MIRROR": str(root)}
    env.pop("ROUTEREVAL_HOME")
    if USER_HOME:
        env["ROUTEREVAL_HOME"] = USER_HOME
    out = tmp_path / "published.json"
    run_cli("select", "--dataset", "llmrouter", "--references", "published", "--alpha", "0", "--json", str(out), env=env)
    summary = {r["method"]: r for r in json.loads(out.read_text()) if r["kind"] == "summary"}
    assert summary["S3"]["accuracy"] == pytest.approx(0.615, abs=0.005)
    out = tmp_path / "loto.json"
    proc = run_cli("select", "--dataset", "llmrouter", "--json", str(out), env=env)
    assert "mmlu, S1: llama-3.1-nemotron-51b-instruct tied with qwen2.5-7b-instruct; settled by bma" in proc.stdout
    rows = json.loads(out.read_text())
    s1 = next(r for r in rows if r["kind"] == "task" and r["task"] == "mmlu" and r["method"] == "S1")
    assert s1["model"] == "llama-3.1-nemotron-51b-instruct" and s1["tie_rule"] == "bma"
    summary = {r["method"]: r for r in rows if r["kind"] == "summary"}
    # leak-free references: S3 0.594 (as the authors' code gives with the same scheme)
    assert summary["S3"]["accuracy"] == pytest.approx(0.594, abs=0.001)
    assert summary["S1"]["n_ties"] == 1


# -- tables at 80 columns: select and scaling print through the one renderer (cli/output.print_table) ----------

#: Long model names alike up to their last part: cut to 'meta-llama/llama-3…' they could not be told apart.
LONG = {"calc": "meta-llama/llama-3.1-70b-instruct-turbo-calculator", "bard": "meta-llama/llama-3.1-70b-instruct-turbo-bard",
        "generalist": "meta-llama/llama-3.3-70b-instruct-turbo-generalist"}


@pytest.fixture
def long_records(records, tmp_path) -> Path:
    """The same records, the models renamed to long names that share a prefix."""
    path = tmp_path / "long-records.csv"
    pd.read_csv(records).rename(columns=LONG).to_csv(path, index=False)
    return path


@pytest.mark.slow  # several select runs
def test_select_and_scaling_tables_keep_every_name_and_number_whole_at_80_columns(long_records, tmp_path):
    from support.terminal import cell_lines, on_terminal

    code, text = on_terminal("select", "--dataset", str(long_records), "--encoder", "tfidf-8", "--per-task",
                             "--alpha", "0,0.1", "--against", LONG["generalist"], "--correlation",
                             "--distance-bins", "2")
    assert code == 0, text
    assert_readable(text)
    for title in ("choices per task", "chosen among the candidates", "correlation of scores", "ratio to the best"):
        assert title in text
    _assert_names_whole(cell_lines(text), [LONG["calc"], LONG["bard"]])
    code, text = on_terminal("select", "--dataset", str(long_records), "--encoder", "tfidf-8", "--new-task",
                             str(_prompts(tmp_path)))
    assert code == 0, text
    assert_readable(text)
    _assert_names_whole(cell_lines(text), list(LONG.values()))
    out = tmp_path / "scaling"
    code, text = on_terminal("scaling", "--dataset", str(long_records), "--out", str(out), "--draws", "20",
                             "--formats", "")
    assert code == 0, text
    assert_readable(text)
    rows = cell_lines(text)
    assert [r[0] for r in rows if r[0]] == ["1", "2", "3"]  # one row per pool size, m whole
    assert all(re.fullmatch(r"\d\.\d{3}", c) for r in rows for c in r[2:] if c)


@pytest.mark.slow  # several select runs
def test_select_tables_in_a_file_are_whole_on_one_line(long_records, tmp_path):
    from support.terminal import cell_lines, to_file

    text = to_file(tmp_path, "select", "--dataset", str(long_records), "--encoder", "tfidf-8", "--per-task")
    assert "…" not in text
    models = {row[2] for row in cell_lines(text) if len(row) == 5}
    assert {LONG["calc"], LONG["bard"]} <= models  # off a terminal nothing wraps: each name whole in its cell


def assert_readable(text: str, width: int = 80) -> None:
    """No '…' anywhere, and no table line wider than the terminal. (Sentences are printed unwrapped on
    purpose, to copy and to grep whole: the terminal wraps them, so only table lines are measured.)"""
    assert "…" not in text
    too_long = [line for line in text.splitlines() if line[:1] in "┏┃┡│└╷╵├" and line and len(line) > width]
    assert not too_long, f"table lines wider than {width}: {too_long}"
    assert any(line[:1] == "│" for line in text.splitlines()), "no table printed"


def _assert_names_whole(rows: list[list[str]], names: list[str]) -> None:
    """Each name whole in a cell, or wrapped after a '-' or '/' onto the next line of the same column."""
    wrapped = {a[i] + b[i] for a, b in zip(rows, rows[1:]) for i in range(min(len(a), len(b)))}
    for name in names:
        assert any(name in row for row in rows) or name in wrapped, name


def _prompts(tmp_path: Path) -> Path:
    path = tmp_path / "mine.txt"
    path.write_text("solve the equation for the prime root\nmultiply each fraction integer\n")
    return path
