"""The real-data sources (LLMRouter, MMLU-Pro, RouteLLM) built from the offline mirror.

Expected figures come from reading the raw files a second, simpler way in the
test itself (or from counts worked out by hand from the upstream files).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from routereval.errors import DataError
from routereval.records import load_benchmark, save_benchmark
from routereval.sources import llmrouter, mmlu_pro, routellm
from routereval.sources.registry import DatasetSpec

SPECS = {
    spec.name: spec
    for spec in (llmrouter.SPEC, mmlu_pro.SPEC, routellm.MMLU_SPEC, routellm.GSM8K_SPEC, routellm.MTBENCH_SPEC)
}
_BUILT: dict[tuple[str, str], object] = {}


def local_files(spec: DatasetSpec, mirror: Path) -> dict[str, Path]:
    return {f.path: mirror / f.mirror_path for f in spec.files}


def built(name: str, mirror: Path):
    """Each dataset is built once per test session (mmlu-pro takes several seconds)."""
    key = (name, str(mirror))
    if key not in _BUILT:
        spec = SPECS[name]
        _BUILT[key] = spec.build(local_files(spec, mirror))
    return _BUILT[key]


def column(bench, model: str) -> np.ndarray:
    return bench.values(models=bench.model_index([model]))[:, 0]


# -- pinned files -------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SPECS))
def test_pinned_sha256_and_size_match_the_mirror(mirror, name):
    spec = SPECS[name]
    assert spec.files and not spec.optional_files
    for f in spec.files:
        path = mirror / f.mirror_path
        assert f.url.startswith("https://raw.githubusercontent.com/")
        assert os.stat(path).st_size == f.size, f.path
        assert hashlib.sha256(path.read_bytes()).hexdigest() == f.sha256, f.path


# -- LLMRouter ------------------------------------------------------------------

LR_ROOT = "ulab-uiuc/LLMRouter/4e7a796942ce26e9d5f2b93191c7c2585c99c2e3/data"


def test_llmrouter_shape_tasks_and_splits(mirror):
    bench = built("llmrouter", mirror)
    assert (bench.n_prompts, bench.n_models) == (6108, 9)
    assert bench.kind == "continuous"
    assert len(bench.tasks) == 14
    assert bench.prompts["split"].value_counts().to_dict() == {"train": 5608, "test": 500}
    assert bench.prompts["prompt_id"].iloc[0] == "train-0"
    assert bench.prompts["prompt_id"].iloc[5608] == "test-0"
    assert bench.n_missing == 0
    # Models in the candidates file but never scored are not models of the benchmark.
    assert "palmyra-creative-122b" not in bench.model_names


def test_llmrouter_scores_match_the_raw_files(mirror):
    bench = built("llmrouter", mirror)
    raw = []
    for split in ("train", "test"):
        raw += json.loads((mirror / LR_ROOT / "dcrouter_preprocessed" / f"{split}.json").read_text())
    for model in ("gemma-2-9b-it", "llama3-chatqa-1.5-70b"):
        expected = np.mean([r["scores"][model] for r in raw])
        assert column(bench, model).mean(dtype=np.float64) == pytest.approx(expected, abs=3e-4)
    first = bench.values(prompts=[0])[0]
    for model, value in raw[0]["scores"].items():
        assert first[bench.model_index([model])[0]] == pytest.approx(value, abs=1e-3)


def test_llmrouter_prices_and_sizes(mirror):
    models = built("llmrouter", mirror).models.set_index("name")
    # default_llm.json: "size": "49B", "input_price": 0.90, "output_price": 0.90
    row = models.loc["llama-3.3-nemotron-super-49b-v1"]
    assert (row.n_params, row.input_price, row.output_price) == (49e9, 0.9, 0.9)
    row = models.loc["gemma-2-9b-it"]
    assert (row.n_params, row.input_price, row.output_price) == (9e9, 0.1, 0.1)


def test_llmrouter_size_labels():
    assert llmrouter.parse_size("7B") == 7e9
    assert llmrouter.parse_size("1.5b") == 1.5e9
    assert np.isnan(llmrouter.parse_size("8x7B"))
    assert np.isnan(llmrouter.parse_size(None))


def test_llmrouter_text_with_two_tasks_takes_the_first_listing(mirror):
    bench = built("llmrouter", mirror)
    listings: dict[str, list[tuple[str, str]]] = {}
    with open(mirror / LR_ROOT / "example_data/query_data/default_query_train.jsonl") as f:
        for line in f:
            row = json.loads(line)
            listings.setdefault(row["query"], []).append((row["task_name"], row["ground_truth"]))
    train = bench.prompts[bench.prompts["split"] == "train"]
    two_tasks = [q for q in train["text"] if len({t for t, _ in listings[q]}) > 1]
    assert len(two_tasks) == 6
    assert any(note.startswith("6 questions are listed under two task names") for note in bench.provenance["notes"])
    by_text = train.set_index("text")
    for q in two_tasks:
        assert (by_text.loc[q, "task"], by_text.loc[q, "reference"]) == listings[q][0]


def test_llmrouter_accepts_scores_stored_as_dict_literals(mirror, tmp_path):
    local = local_files(llmrouter.SPEC, mirror)
    records = json.loads(local["data/dcrouter_preprocessed/test.json"].read_text())
    for r in records:
        r["scores"] = repr(r["scores"])  # "{'qwen2.5-7b-instruct': 0.0, ...}"
    as_strings = tmp_path / "test.json"
    as_strings.write_text(json.dumps(records))
    local["data/dcrouter_preprocessed/test.json"] = as_strings
    bench = llmrouter.build(local)
    np.testing.assert_array_equal(bench.values(), built("llmrouter", mirror).values())


def test_llmrouter_refuses_a_scores_string_that_is_code(mirror, tmp_path):
    local = local_files(llmrouter.SPEC, mirror)
    records = json.loads(local["data/dcrouter_preprocessed/test.json"].read_text())
    records[2]["scores"] = "__import__('os').getcwd()"
    bad = tmp_path / "test.json"
    bad.write_text(json.dumps(records))
    local["data/dcrouter_preprocessed/test.json"] = bad
    with pytest.raises(DataError) as err:
        llmrouter.build(local)
    assert (err.value.file, err.value.row, err.value.column) == (str(bad), 3, "scores")


# -- MMLU-Pro -------------------------------------------------------------------


MP_ROOT = "TIGER-AI-Lab/MMLU-Pro/f418b116db00b065c2aea046518d8fcf74d39872"


def raw_mmlu_pro(mirror: Path, model: str) -> bytes:
    """The JSON text inside a model's zip, read without the source module."""
    with zipfile.ZipFile(mirror / MP_ROOT / f"eval_results/model_outputs_{model}_5shots.zip") as zf:
        (name,) = zf.namelist()
        return zf.read(name)


@pytest.mark.slow  # builds MMLU-Pro from every real file
def test_mmlu_pro_shape_and_categories(mirror):
    bench = built("mmlu-pro", mirror)
    assert (bench.n_prompts, bench.n_models) == (12032, 29)
    assert bench.kind == "binary"
    assert len(bench.tasks) == 14
    assert {"math", "law", "computer science", "history"} <= set(bench.tasks)
    ids = bench.prompts["prompt_id"].astype(int).to_numpy()
    assert np.all(np.diff(ids) > 0)
    assert bench.prompts["reference"].isin(list("ABCDEFGHIJ")).all()


@pytest.mark.slow  # builds MMLU-Pro from every real file
def test_mmlu_pro_missing_records_counted_from_the_raw_text(mirror):
    bench = built("mmlu-pro", mirror)
    # Second method: count the "question_id" keys in each raw JSON text.
    present = {}
    for f in mmlu_pro.SPEC.files:
        model = mmlu_pro.model_name(f.path)
        present[model] = len(re.findall(rb'"question_id"\s*:', raw_mmlu_pro(mirror, model)))
    expected = 12032 * 29 - sum(present.values())
    # By hand from the upstream files: DeepSeek-Coder-V2 has 10,351 records,
    # gemini-1.5-flash-002 12,012 and gemini-1.5-pro-002 12,020.
    assert expected == (12032 - 10351) + (12032 - 12012) + (12032 - 12020) == 1713
    assert bench.n_missing == expected
    summary = bench.model_summary().set_index("name")["n_records"]
    assert summary.to_dict() == present


@pytest.mark.slow  # reads a model's whole zip
def test_mmlu_pro_accuracy_of_llama_2_7b_from_the_zip(mirror):
    bench = built("mmlu-pro", mirror)
    records = json.loads(raw_mmlu_pro(mirror, "Llama-2-7b-hf"))
    n_correct = sum(r["pred"] == r["answer"] for r in records)
    n_unparsed = sum(r["pred"] is None for r in records)
    assert n_unparsed > 0  # None predictions are present and must count as wrong, not missing
    col = column(bench, "Llama-2-7b-hf")
    assert not np.isnan(col).any()
    assert int(col.sum()) == n_correct
    assert col.mean() == pytest.approx(n_correct / 12032)


def test_mmlu_pro_skips_stray_strings_in_deepseek(mirror):
    bench = built("mmlu-pro", mirror)
    entries = json.loads(raw_mmlu_pro(mirror, "DeepSeek-Coder-V2"))
    stray = sum(not isinstance(e, dict) for e in entries)
    assert stray == 43
    assert f"DeepSeek-Coder-V2: {stray} non-record entries (stray strings) skipped" in bench.provenance["notes"]
    records = [e for e in entries if isinstance(e, dict)]
    col = column(bench, "DeepSeek-Coder-V2")
    assert np.isnan(col).sum() == 12032 - len(records)
    assert np.nansum(col) == sum(r["pred"] == r["answer"] for r in records)


def test_mmlu_pro_models_are_scored_against_their_own_answer_key(mirror):
    bench = built("mmlu-pro", mirror)
    old = {int(r["question_id"]): r for r in json.loads(raw_mmlu_pro(mirror, "Llama-2-7b-hf"))}
    new = {int(r["question_id"]): r for r in json.loads(raw_mmlu_pro(mirror, "gemini-1.5-pro-002"))}
    revised = [q for q in new if q in old and new[q]["answer"] != old[q]["answer"]]
    assert revised  # the question set was revised between the two runs
    row = {int(p): i for i, p in enumerate(bench.prompts["prompt_id"])}
    g, l = bench.model_index(["gemini-1.5-pro-002", "Llama-2-7b-hf"])
    values = bench.values()
    for q in revised:
        assert values[row[q], g] == float(new[q]["pred"] == new[q]["answer"])
        assert values[row[q], l] == float(old[q]["pred"] == old[q]["answer"])


# -- RouteLLM --------------------------------------------------------------------

RL_ROOT = "lm-sys/RouteLLM/0b64fdafe049e596a3f5657c219329f24af24198/routellm/evals"
WEAK, STRONG = "mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"


@pytest.mark.slow  # builds MMLU-Pro from every real file
def test_mmlu_pro_files_read_in_workers_give_what_one_process_reads(mirror, tmp_path):
    files = local_files(mmlu_pro.SPEC, mirror)
    paths = [files[f.path] for f in mmlu_pro.SPEC.files[:3]]
    serial = [mmlu_pro._read_counted(p) for p in paths]
    assert all(len(versions) > 1000 for versions, *_ in serial)
    assert list(mmlu_pro._read_all(paths)) == serial  # in order, through worker processes where CPUs allow
    # A damaged file read by a worker is reported as in one process: a DataError naming the file.
    broken = tmp_path / "model_outputs_broken_5shots.zip"
    broken.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a valid zip archive") as err:
        list(mmlu_pro._read_all([paths[0], broken]))
    assert str(broken) in str(err.value)


@pytest.mark.slow  # builds MMLU-Pro from every real file
def test_a_script_without_a_main_guard_can_build_mmlu_pro(mirror, tmp_path):
    # Workers must not re-import the caller's script (spawned workers do, and a script without
    # `if __name__ == "__main__":` then fails): a user's plain script reads the files in workers.
    files = local_files(mmlu_pro.SPEC, mirror)
    paths = [str(files[f.path]) for f in mmlu_pro.SPEC.files[:2]]
    script = tmp_path / "plain.py"
    script.write_text(
        "from pathlib import Path\n"
        "from routereval.sources import mmlu_pro\n"
        f"rows = list(mmlu_pro._read_all([Path(p) for p in {paths!r}]))\n"
        "print(len(rows), sum(len(r[1]) for r in rows))\n"
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    expected = sum(len(mmlu_pro._read_counted(Path(p))[1]) for p in paths)
    assert proc.stdout.split() == ["2", str(expected)]


def test_routellm_mmlu_shape_and_means(mirror):
    bench = built("routellm-mmlu", mirror)
    assert (bench.n_prompts, bench.n_models) == (14042, 2)
    assert bench.kind == "binary"
    assert bench.model_names == [WEAK, STRONG]
    files = sorted((mirror / RL_ROOT / "mmlu" / "responses").glob("mmlu_*.csv"))
    subjects = [f.name[len("mmlu_") : -len(".csv")] for f in files]
    assert len(subjects) == 57
    assert bench.tasks == subjects
    tables = [pd.read_csv(f) for f in files]
    assert sum(len(t) for t in tables) == 14042
    for model in (WEAK, STRONG):
        n_true = sum(int(t[model].sum()) for t in tables)
        assert int(column(bench, model).sum()) == n_true
    first = tables[0]
    assert bench.prompts["text"].iloc[1] == first["prompt"].iloc[1]
    assert bench.prompts["prompt_id"].iloc[1] == f"{subjects[0]}-1"


def test_routellm_gsm8k(mirror):
    bench = built("routellm-gsm8k", mirror)
    assert (bench.n_prompts, bench.n_models) == (1319, 2)
    assert bench.tasks == ["gsm8k"]
    table = pd.read_csv(mirror / RL_ROOT / "gsm8k" / "gsm8k_responses.csv")
    for model in (WEAK, STRONG):
        assert column(bench, model).mean() == pytest.approx(table[model].mean())


def test_routellm_mtbench_shape_and_rescaling(mirror):
    bench = built("routellm-mtbench", mirror)
    assert (bench.n_prompts, bench.n_models) == (160, 2)
    assert bench.kind == "continuous"
    assert len(bench.tasks) == 8
    assert bench.n_missing == 0
    lines = (mirror / RL_ROOT / "mt_bench" / "judgements.jsonl").read_text().splitlines()
    ids = bench.prompts["prompt_id"].tolist()
    # Line 53: question 114, turn 1, GPT-4, score 4; line 95: question 93, turn 1, score 9.5.
    for line_no, pid, score in ((53, "114-t1", 4), (95, "93-t1", 9.5)):
        raw = json.loads(lines[line_no - 1])
        assert (f"{raw['question_id']}-t{raw['turn']}", raw["model"], raw["score"]) == (pid, STRONG, score)
        value = bench.values(prompts=[ids.index(pid)], models=bench.model_index([STRONG]))[0, 0]
        assert value == pytest.approx((score - 1) / 9, abs=1e-3)
    all_scores = [json.loads(line) for line in lines]
    expected = np.mean([(j["score"] - 1) / 9 for j in all_scores if j["model"] == STRONG])
    assert column(bench, STRONG).mean(dtype=np.float64) == pytest.approx(expected, abs=1e-3)


def test_routellm_mtbench_turn_two_text_holds_both_turns(mirror):
    bench = built("routellm-mtbench", mirror)
    first = json.loads((mirror / RL_ROOT / "mt_bench" / "question.jsonl").read_text().splitlines()[0])
    texts = bench.prompts.set_index("prompt_id")["text"]
    qid = first["question_id"]
    assert texts[f"{qid}-t1"] == first["turns"][0]
    assert texts[f"{qid}-t2"] == first["turns"][0] + "\n\n" + first["turns"][1]
    assert bench.prompts.set_index("prompt_id").loc[f"{qid}-t2", "task"] == first["category"]


def test_routellm_mtbench_judge_failure_is_missing(mirror, tmp_path):
    local = local_files(routellm.MTBENCH_SPEC, mirror)
    lines = local[routellm.MT_JUDGEMENTS].read_text().splitlines()
    j = json.loads(lines[52])  # line 53: question 114, turn 1, GPT-4
    j["score"] = -1
    lines[52] = json.dumps(j)
    copy = tmp_path / "judgements.jsonl"
    copy.write_text("\n".join(lines) + "\n")
    local[routellm.MT_JUDGEMENTS] = copy
    bench = routellm.build_mtbench(local)
    assert bench.n_missing == 1
    ids = bench.prompts["prompt_id"].tolist()
    assert np.isnan(bench.values(prompts=[ids.index("114-t1")], models=bench.model_index([STRONG]))[0, 0])
    assert any(n.startswith("1 judgements with score -1") for n in bench.provenance["notes"])


def test_routellm_mtbench_duplicate_judgement_is_an_error(mirror, tmp_path):
    local = local_files(routellm.MTBENCH_SPEC, mirror)
    lines = local[routellm.MT_JUDGEMENTS].read_text().splitlines()
    copy = tmp_path / "judgements.jsonl"
    copy.write_text("\n".join(lines + [lines[4]]) + "\n")  # line 5 again, as line 321
    local[routellm.MT_JUDGEMENTS] = copy
    with pytest.raises(DataError, match="first is on line 5") as err:
        routellm.build_mtbench(local)
    assert (err.value.file, err.value.row) == (str(copy), len(lines) + 1)


def test_routellm_corrupted_mmlu_csv_names_file_row_line_and_column(mirror, tmp_path):
    local = local_files(routellm.MMLU_SPEC, mirror)
    path = routellm.mmlu_path("anatomy")
    text = local[path].read_text(encoding="utf-8")
    # Every anatomy prompt ends in 'Answer:' and its two cells follow on that line.
    ends = [m.end() for m in re.finditer(r'Answer:",', text)]
    assert len(ends) == 135
    nl = text.index("\n", ends[9])
    weak_cell = text[ends[9] : nl].split(",")[0]
    corrupted = text[: ends[9]] + f"{weak_cell},maybe" + text[nl:]
    expected_line = text[: ends[8]].count("\n") + 2  # the line after data row 9 ends
    copy = tmp_path / "mmlu_anatomy.csv"
    copy.write_text(corrupted, encoding="utf-8")
    local[path] = copy
    with pytest.raises(DataError) as err:
        routellm.build_mmlu(local)
    assert (err.value.file, err.value.row, err.value.column) == (str(copy), 10, STRONG)
    assert f"line {expected_line}" in str(err.value)
    assert "'maybe'" in str(err.value)
    assert expected_line > 11  # multi-line prompts: the line is not the row number


def test_routellm_csv_reader_with_multiline_cells(tmp_path):
    rows = [
        ["prompt", "A", "B", "A_response", "B_response"],
        ["p1", "True", "False", "first\nanswer", "b"],  # lines 2-3
        ["p2\nmore", "False", "True", "x", "y"],  # lines 4-5
        ["p3", "True", "", "z", "w"],  # line 6: empty cell in B
    ]
    path = tmp_path / "gsm8k_responses.csv"
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    with pytest.raises(DataError, match="line 6") as err:
        routellm.build_gsm8k({routellm.GSM8K: path})
    assert (err.value.file, err.value.row, err.value.column) == (str(path), 3, "B")

    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows[:3])
    bench = routellm.build_gsm8k({routellm.GSM8K: path})
    assert bench.model_names == ["A", "B"]
    np.testing.assert_array_equal(bench.values(), [[1, 0], [0, 1]])
    assert bench.prompts["text"].tolist() == ["p1", "p2\nmore"]


# -- store round trip -------------------------------------------------------------


def test_llmrouter_round_trips_through_the_store(mirror, tmp_path):
    bench = built("llmrouter", mirror)
    loaded = load_benchmark(save_benchmark(bench, tmp_path / "llmrouter"))
    assert loaded.name == "llmrouter" and loaded.kind == bench.kind
    np.testing.assert_array_equal(loaded.values(), bench.values())
    pd.testing.assert_frame_equal(loaded.prompts, bench.prompts)
    pd.testing.assert_frame_equal(loaded.models, bench.models)
    assert loaded.provenance == bench.provenance
    assert loaded.provenance["license"] == "MIT"
    assert len(loaded.provenance["files"]) == 5
