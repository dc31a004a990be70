"""The crux source: the upstream correctness rule, token counts, prices, and the real files.

The rule is checked on replies written here by hand; the real files are
checked against upstream's own summary (``crux.summary.json``), read in the
test with plain ``json``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from routereval.sources import crux
from routereval.sources.prices import shipped_prices
from routereval.sources.tokens import count_tokens

_BUILT: dict[str, object] = {}


def built(mirror: Path):
    if "crux" not in _BUILT:
        local = {f.path: mirror / f.mirror_path for f in crux.SPEC.files}
        _BUILT["crux"] = (crux.build(local), local)
    return _BUILT["crux"]


# -- the rule, on replies written by hand ----------------------------------------------------


def test_answer_from_the_first_json_object():
    reply = 'Reasoning...\n```json\n{\n  "reasoning": "x {y}",\n  "answer": "[1, 2]"\n}\n```\n{"answer": "3"}'
    assert crux.extract_answer(reply, "gpt-4o") == (True, "[1, 2]")
    assert crux.is_correct(reply, "[1, 2]", "gpt-4o")
    assert not crux.is_correct(reply, "3", "gpt-4o")


def test_non_string_answers_compare_as_python_text():
    # A JSON list parses to a Python list; its str() is the Python literal.
    reply = '{"reasoning": "r", "answer": [1, "a"]}'
    assert crux.is_correct(reply, "[1, 'a']", "m")
    assert crux.is_correct('{"answer": true}', "True", "m")
    assert crux.is_correct("{\"answer\": \"'abc'\"}", "'abc'", "m")  # quotes stripped on both sides


def test_unparseable_first_object_falls_back_to_the_text_patterns():
    # The first object is not JSON (single quotes): the quoted pattern finds the answer.
    reply = "{'answer': 'no'} then \"answer\": \"42\", done"
    assert crux.extract_answer(reply, "m") == (True, "42")
    # Unquoted value: runs to the next comma or white space.
    assert crux.extract_answer('"answer": 17, "reasoning": "..."', "m") == (True, "17")
    assert crux.extract_answer("The answer: 5 is final", "m") == (True, "5")


def test_boxed_answers_count_only_for_llama_3_1_files():
    reply = "so the result is $\\boxed{36}$"
    assert crux.extract_answer(reply, "Meta-Llama-3.1-8B-Instruct") == (True, "36")
    assert crux.extract_answer(reply, "gemma-2-9b-it") == (False, None)
    assert not crux.is_correct(reply, "36", "gemma-2-9b-it")


def test_empty_answers_and_newlines_published_rule_and_revised_rule():
    empty = '{"answer": ""}'
    assert not crux.is_correct(empty, "''", "m")
    assert crux.is_correct(empty, "''", "m", revised=True)
    newline = '{"answer": "a\\nb"}'  # the parsed answer holds a real newline
    assert not crux.is_correct(newline, "a\\nb", "m")
    assert crux.is_correct(newline, "a\\nb", "m", revised=True)


def test_no_answer_is_wrong():
    assert not crux.is_correct("I cannot tell.", "1", "m")


# -- token counts and prices -----------------------------------------------------------------


def test_token_counts_are_o200k():
    # Token ids of "hello world" in o200k_base are 24912 ("hello") and 2375 (" world").
    counts = count_tokens(["hello world", "", None])
    assert counts[:2].tolist() == [2.0, 0.0] and math.isnan(counts[2])


def test_price_table_has_one_row_per_model_with_source_and_date():
    table = shipped_prices("crux")
    names = {crux.display_name(stem) for stem, _, _ in crux._MODELS}
    assert set(table["model"]) == names and len(table) == 48
    assert table["source"].str.startswith("https://").all() and table["date"].notna().all()
    unpriced = table[table["input"].isna() | table["output"].isna()]
    assert len(unpriced) > 0
    assert unpriced["note"].str.contains("no public price|no price").all()
    priced = table.dropna(subset=["input", "output"])
    assert (priced["provider"].notna()).all()


# -- the real files ---------------------------------------------------------------------------


@pytest.mark.slow  # reads every real file
def test_accuracies_match_the_upstream_summary(mirror):
    bench, local = built(mirror)
    summary = {r["Model"]: float(r["Acc"]) for r in json.loads(Path(local[crux.SUMMARY]).read_text())}
    assert bench.n_prompts == 800 and bench.n_models == 48
    assert set(bench.model_names) == set(summary)
    ours = dict(zip(bench.model_names, bench.model_summary()["mean_score"]))
    # The summary prints percentages with two decimals.
    worst = max(abs(round(ours[m] * 100, 2) - summary[m]) for m in summary)
    assert worst < 1e-9, worst


def test_tokens_and_prices_in_the_records(mirror):
    bench, local = built(mirror)
    first = json.loads(Path(local[crux.model_path("gpt-4o-2024-05-13")]).read_text())[0]
    j = bench.model_names.index("gpt-4o-2024-05-13")
    row = bench.prompts["prompt_id"].tolist().index(first["id"])
    assert bench.output_tokens[row, j] == count_tokens([first["output"][0]])[0]
    assert bench.input_tokens[row, j] == count_tokens([first["chat_history"][0]])[0]
    assert not np.isnan(bench.input_tokens).any() and not np.isnan(bench.output_tokens).any()
    models = bench.models.set_index("name")
    assert models.loc["gpt-4o-2024-05-13", "input_price"] == 5.0
    assert math.isnan(models.loc["gemini-1.5-pro-exp-0827", "input_price"])
    assert models.loc["Qwen2.5-3B-Instruct", "n_params"] == pytest.approx(3.09e9)
