"""Bring-your-own tables: real files in every supported format, good and bad.

Every expected matrix below is written out by hand from the file text next to
it. Every bad-input test checks that the error names the file, the line (or
Parquet row) a user would find the problem on, and the column.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from routereval.errors import DataError
from routereval.records import load_benchmark, save_benchmark
from routereval.sources.tables import read_table

nan = np.nan


def write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def jsonl(path: Path, *records: object) -> Path:
    return write(path, "".join(r if isinstance(r, str) else json.dumps(r) for r in records))


def raises(path: Path, row: int | None, column: str | None, *fragments: str, **kwargs) -> DataError:
    """read_table(path) fails with a DataError that names the file, row and column."""
    with pytest.raises(DataError) as info:
        read_table(path, **kwargs)
    err = info.value
    message = str(err)
    assert str(path) in message
    assert err.file == str(path)
    assert err.row == row, message
    assert err.column == column, message
    for fragment in fragments:
        assert fragment in message, message
    return err


# A long CSV with every optional column, a prompt whose text spans two lines,
# a blank line, an empty score cell (missing record) and absent records.
LONG_CSV = (
    "prompt_id,model,score,task,prompt,cost\n"  # line 1
    "q1,alpha,1,math,What is 2+2?,0.002\n"  # 2
    "q1,beta,0,math,,0.001\n"  # 3
    'q2,beta,0.5,bio,"Name a\n'  # 4
    'cell organelle.",0.004\n'  # 5
    "\n"  # 6
    "q2,alpha,,bio,,\n"  # 7
    "q3,gamma,0.25,,,\n"  # 8
    "q1,gamma,0.75,math,,0.003\n"  # 9
)


def test_long_csv_gives_the_exact_matrix(tmp_path):
    bench = read_table(write(tmp_path / "results.csv", LONG_CSV))
    expected = np.array(
        [  # alpha, beta, gamma
            [1.0, 0.0, 0.75],  # q1
            [nan, 0.5, nan],  # q2
            [nan, nan, 0.25],  # q3
        ]
    )
    assert bench.name == "results"
    assert bench.model_names == ["alpha", "beta", "gamma"]
    assert bench.prompts["prompt_id"].tolist() == ["q1", "q2", "q3"]
    np.testing.assert_array_equal(bench.values(), expected)
    assert bench.kind == "continuous"
    assert bench.prompts["task"].tolist() == ["math", "bio", "default"]
    assert bench.prompts["text"].tolist() == ["What is 2+2?", "Name a\ncell organelle.", None]
    expected_costs = np.array([[0.002, 0.001, 0.003], [nan, 0.004, nan], [nan, nan, nan]], dtype=np.float32)
    np.testing.assert_array_equal(bench.costs, expected_costs)
    assert bench.n_records == 5  # q2-alpha is an empty cell, four more pairs have no line
    prov = bench.provenance
    assert prov["source"] == "table" and prov["layout"] == "long" and prov["file"] == str(tmp_path / "results.csv")
    assert prov["sha256"] == hashlib.sha256(LONG_CSV.encode()).hexdigest()


def test_line_numbers_count_multiline_cells_and_blank_lines(tmp_path):
    # The same file with a bad score on line 8: lines 5 and 6 (the second line
    # of a quoted cell, and a blank line) must both be counted.
    path = write(tmp_path / "r.csv", LONG_CSV.replace("q3,gamma,0.25", "q3,gamma,0.2x"))
    raises(path, 8, "score", "line 8", "'0.2x'", "not a number")


def test_binary_kind_and_round_trip_through_the_store(tmp_path):
    text = "prompt_id,model,score,task\np1,m1,1,t\np1,m2,0,t\np2,m2,1,u\n"
    bench = read_table(write(tmp_path / "b.csv", text), name="mine")
    assert bench.kind == "binary"
    np.testing.assert_array_equal(bench.values(), [[1, 0], [nan, 1]])
    loaded = load_benchmark(save_benchmark(bench, tmp_path / "store"))
    assert loaded.name == "mine" and loaded.kind == "binary"
    np.testing.assert_array_equal(loaded.values(), [[1, 0], [nan, 1]])
    assert loaded.model_names == ["m1", "m2"]
    assert loaded.prompts["task"].tolist() == ["t", "u"]
    assert loaded.provenance == bench.provenance


def test_round_trip_keeps_costs_and_text(tmp_path):
    bench = read_table(write(tmp_path / "results.csv", LONG_CSV))
    loaded = load_benchmark(save_benchmark(bench, tmp_path / "store"))
    np.testing.assert_array_equal(loaded.values(), bench.values())
    np.testing.assert_array_equal(np.asarray(loaded.costs), bench.costs)
    assert loaded.prompts["text"].tolist() == ["What is 2+2?", "Name a\ncell organelle.", None]


def test_wide_csv(tmp_path):
    text = (
        "prompt_id,question,subject,gpt-x,llama 7b,Mistral\n"
        "a1,Capital of France?,geo,1,0,\n"
        "a2,,math,0.5,1,0\n"
        "a3,Why?,geo,,,\n"
    )
    bench = read_table(write(tmp_path / "wide.csv", text))
    assert bench.provenance["layout"] == "wide"
    assert bench.model_names == ["gpt-x", "llama 7b", "Mistral"]
    np.testing.assert_array_equal(bench.values(), [[1, 0, nan], [0.5, 1, 0], [nan, nan, nan]])
    assert bench.prompts["text"].tolist() == ["Capital of France?", None, "Why?"]
    assert bench.prompts["task"].tolist() == ["geo", "math", "geo"]


def test_tsv_gzip_and_explicit_format(tmp_path):
    text = "prompt_id\tm1\tm2\nx\t1\t0\ny\t0\t\n"
    gz = tmp_path / "scores.tsv.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    bench = read_table(gz)
    assert bench.name == "scores"
    np.testing.assert_array_equal(bench.values(), [[1, 0], [0, nan]])
    other = write(tmp_path / "scores.txt", text.replace("\t", ","))
    bench = read_table(other, format="csv")
    assert bench.name == "scores"
    np.testing.assert_array_equal(bench.values(), [[1, 0], [0, nan]])


def test_jsonl_long(tmp_path):
    path = jsonl(
        tmp_path / "r.jsonl",
        '{"prompt_id": 1, "model": "m1", "score": true, "task": "t1", "prompt": "hello"}\n',
        "\n",
        '{"prompt_id": 2, "model": "m1", "score": 0.25}\n',
        '{"prompt_id": 1, "model": "m2", "score": 0, "cost": 0.5}\n',
        '{"prompt_id": 2, "model": "m2", "score": null}\n',
    )
    bench = read_table(path)
    assert bench.prompts["prompt_id"].tolist() == ["1", "2"]
    assert bench.model_names == ["m1", "m2"]
    np.testing.assert_array_equal(bench.values(), [[1, 0], [0.25, nan]])
    np.testing.assert_array_equal(bench.costs, [[nan, 0.5], [nan, nan]])
    assert bench.prompts["text"].tolist() == ["hello", None]
    assert bench.prompts["task"].tolist() == ["t1", "default"]


def test_jsonl_wide(tmp_path):
    path = jsonl(tmp_path / "w.ndjson", {"id": "a", "m1": 1, "m2": 0.5}, "\n", {"id": "b", "m2": 1}, "\n")
    bench = read_table(path)
    assert bench.model_names == ["m1", "m2"]
    np.testing.assert_array_equal(bench.values(), [[1, 0.5], [nan, 1]])


def test_parquet_long_and_wide(tmp_path):
    long = pd.DataFrame(
        {
            "prompt_id": ["p1", "p1", "p2"],
            "model": ["a", "b", "a"],
            "score": [0.25, None, 1.0],
            "category": ["x", "x", "y"],
        }
    )
    long.to_parquet(tmp_path / "long.parquet", index=False)
    bench = read_table(tmp_path / "long.parquet")
    np.testing.assert_array_equal(bench.values(), [[0.25, nan], [1, nan]])
    assert bench.prompts["task"].tolist() == ["x", "y"]

    wide = pd.DataFrame({"prompt_id": [10, 11], "m1": [True, False], "m2": [1, 0]}, index=[5, 6])
    wide.to_parquet(tmp_path / "wide.parquet")  # keeps the pandas index: it must not become a model
    bench = read_table(tmp_path / "wide.parquet")
    assert bench.model_names == ["m1", "m2"]
    assert bench.prompts["prompt_id"].tolist() == ["10", "11"]
    np.testing.assert_array_equal(bench.values(), [[1, 1], [0, 0]])
    assert bench.kind == "binary"


def test_aliases_booleans_whitespace_bom_and_crlf(tmp_path):
    text = (
        "\ufeff Question_ID , Question ,LLM,Correct, Category \r\n"
        "\r\n"
        " q1 , What? , m1 , Yes , t \r\n"
        "q1,,m2,no,t\r\n"
        "q2,,m1,TRUE,u\r\n"
        "q2,,m2,false,\r\n"
        "q3,,m2,  ,u\r\n"
    )
    bench = read_table(write(tmp_path / "messy.csv", text))
    assert bench.provenance["layout"] == "long"
    assert bench.prompts["prompt_id"].tolist() == ["q1", "q2", "q3"]
    assert bench.model_names == ["m1", "m2"]
    np.testing.assert_array_equal(bench.values(), [[1, 0], [1, 0], [nan, nan]])
    assert bench.prompts["text"].tolist() == ["What?", None, None]
    assert bench.prompts["task"].tolist() == ["t", "u", "u"]


def test_score_scale_rescales(tmp_path):
    text = "id,model,accuracy\nq1,a,0\nq1,b,100\nq2,a,25\nq2,b,\n"
    bench = read_table(write(tmp_path / "pct.csv", text), score_scale=(0, 100))
    np.testing.assert_array_equal(bench.values(), [[0, 1], [0.25, nan]])
    assert bench.provenance["score_scale"] == [0, 100]
    shifted = write(tmp_path / "likert.csv", "id,model,score\nq1,a,1\nq1,b,5\nq2,a,2\n")
    np.testing.assert_array_equal(read_table(shifted, score_scale=(1, 5)).values(), [[0, 1], [0.25, nan]])


def test_explicit_layout(tmp_path):
    # With layout="long" forced, a missing model column is named.
    path = write(tmp_path / "r.csv", "prompt_id,score\nq,1\n")
    raises(path, 1, "model", "needs the columns prompt_id, model and score", "llm", layout="long")


# -- one test per kind of bad input ----------------------------------------


def test_unsupported_extension(tmp_path):
    path = write(tmp_path / "scores.xlsx", "x")
    raises(path, None, None, ".csv", ".tsv", ".jsonl", ".parquet")


def test_duplicate_record_names_both_lines(tmp_path):
    path = write(tmp_path / "d.csv", "prompt_id,model,score\nq1,a,1\nq2,a,0\nq1,b,1\nq1,a,0\n")
    raises(path, 5, "prompt_id", "duplicate record", "'q1'", "'a'", "lines 2 and 5")


def test_duplicate_prompt_in_wide_layout(tmp_path):
    path = write(tmp_path / "d.csv", "prompt_id,a,b\nq1,1,0\nq2,1,0\nq1,,1\n")
    raises(path, 4, "prompt_id", "'q1'", "lines 2 and 4")


def test_score_outside_unit_interval(tmp_path):
    path = write(tmp_path / "s.csv", "prompt_id,model,score\nq1,a,1\nq2,a,1.5\n")
    raises(path, 3, "score", "1.5", "line 3", "outside [0, 1]", "score_scale")


def test_score_outside_declared_scale(tmp_path):
    path = write(tmp_path / "s.csv", "prompt_id,model,score\nq1,a,100\nq2,a,-3\n")
    raises(path, 3, "score", "-3", "outside the declared score_scale [0, 100]", score_scale=(0, 100))


def test_literal_nan_asks_for_an_empty_cell(tmp_path):
    path = write(tmp_path / "n.csv", "prompt_id,model,score\nq1,a,1\nq2,a,\nq3,a,nan\n")
    raises(path, 4, "score", "'nan'", "line 4", "write an empty cell for a missing record")


def test_infinite_score(tmp_path):
    path = write(tmp_path / "n.csv", "prompt_id,model,score\nq1,a,1\nq2,a,inf\n")
    raises(path, 3, "score", "infinite")


def test_non_numeric_score_in_wide_layout(tmp_path):
    path = write(tmp_path / "w.csv", "prompt_id,m1,notes\nq1,1,ok\n")
    raises(path, 2, "notes", "'ok'", "line 2", "not a number", "read as a model")


def test_nan_in_parquet_is_not_a_missing_record(tmp_path):
    # pandas would turn None in a float column into NaN; arrow keeps the null and the NaN apart.
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(
        pa.table({"prompt_id": ["a", "b", "c"], "m": pa.array([1.0, None, float("nan")], from_pandas=False)}),
        tmp_path / "n.parquet",
    )
    raises(tmp_path / "n.parquet", 3, "m", "row 3", "NaN", "store a null for a missing record")


def test_parquet_rows_are_one_based(tmp_path):
    pd.DataFrame({"prompt_id": ["a", "b", "c"], "model": ["m"] * 3, "score": [0.5, 0.1, 7.0]}).to_parquet(
        tmp_path / "p.parquet", index=False
    )
    raises(tmp_path / "p.parquet", 3, "score", "row 3", "outside [0, 1]")


def test_unknown_long_columns_are_named_with_the_accepted_ones(tmp_path):
    # A blank first line: the header is line 2.
    path = write(tmp_path / "u.csv", "\nprompt_id,model,score,response,latency\nq,a,1,hi,3\n")
    err = raises(path, 2, "response", "'response', 'latency'", "accepted columns", "prompt_id (or id")
    assert "cost" in str(err) and "reference" in str(err)


def test_two_columns_with_the_same_meaning(tmp_path):
    path = write(tmp_path / "u.csv", "id,prompt_id,model,score\n1,q,a,1\n")
    raises(path, 1, "prompt_id", "'id' and 'prompt_id' both mean 'prompt_id'")


def test_empty_file(tmp_path):
    raises(write(tmp_path / "e.csv", ""), None, None, "is empty")
    raises(write(tmp_path / "e.jsonl", "\n  \n"), None, None, "is empty")


def test_header_only(tmp_path):
    raises(write(tmp_path / "h.csv", "prompt_id,model,score\n\n"), 1, None, "no data rows")


def test_wide_layout_without_model_columns(tmp_path):
    raises(write(tmp_path / "w.csv", "prompt_id,prompt,task\nq,hi,t\n"), 1, None, "no model columns")


def test_long_column_in_a_table_read_as_wide(tmp_path):
    # A long table that lost its model column must not turn "score" into a model.
    raises(write(tmp_path / "w.csv", "prompt_id,score\nq,1\n"), 1, "score", "belongs to the long layout")


def test_jsonl_column_mixing_numbers_and_objects(tmp_path):
    path = jsonl(
        tmp_path / "m.jsonl",
        {"prompt_id": 1, "model": "a", "score": 1},
        "\n",
        {"prompt_id": 2, "model": "a", "score": 0},
        "\n",
        {"prompt_id": {"n": 3}, "model": "a", "score": 1},
        "\n",
    )
    raises(path, 3, "prompt_id", "line 3", "holds an object", "single value")


def test_jsonl_column_mixing_numbers_and_strings(tmp_path):
    path = jsonl(
        tmp_path / "m.jsonl",
        '{"prompt_id": 1, "model": "a", "score": 1}\n',
        '{"prompt_id": "2", "model": "a", "score": 0}\n',
    )
    raises(path, 2, "prompt_id", "mixes types", "numbers (line 1)", "strings (line 2)")


def test_jsonl_score_given_as_a_list(tmp_path):
    path = jsonl(
        tmp_path / "l.jsonl",
        '{"prompt_id": "q1", "model": "a", "score": 1}\n',
        "\n",
        '{"prompt_id": "q2", "model": "a", "score": [1, 0]}\n',
    )
    raises(path, 3, "score", "line 3", "holds a list")


def test_jsonl_nan_literal(tmp_path):
    path = jsonl(tmp_path / "n.jsonl", '{"prompt_id": "q1", "model": "a", "score": NaN}\n')
    raises(path, 1, "score", "NaN", "write null")


def test_non_utf8_csv_names_line_byte_and_column(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"prompt_id,model,score,prompt\nq1,a,1,ok\nq2,a,0,caf\xe9\n")
    # Line 1 is 29 bytes and line 2 is 10, so line 3 starts at offset 39; "q2,a,0,caf" is
    # 10 bytes, so 0xe9 is byte 11 of the line, at offset 49.
    raises(path, 3, "prompt", "not UTF-8", "0xe9", "line 3", "byte 11 of the line", "offset 49")


def test_non_utf8_jsonl_names_line_and_key(tmp_path):
    path = tmp_path / "latin.jsonl"
    path.write_bytes(b'{"prompt_id": "q1", "model": "a", "score": 1}\n{"prompt_id": "q2", "prompt": "\xff"}\n')
    raises(path, 2, "prompt", "not UTF-8", "0xff", "line 2")


def test_conflicting_task_names_both_lines(tmp_path):
    path = write(
        tmp_path / "c.csv",
        "prompt_id,model,score,task\nq1,a,1,math\nq2,a,1,bio\nq1,b,0,\nq1,c,0,physics\n",
    )
    raises(path, 5, "task", "'q1'", "'math' on line 2", "'physics' on line 5")


def test_conflicting_prompt_texts_both_lines(tmp_path):
    path = jsonl(
        tmp_path / "c.jsonl",
        '{"prompt_id": "q1", "model": "a", "score": 1, "text": "2+2?"}\n',
        '{"prompt_id": "q1", "model": "b", "score": 1, "text": "2+3?"}\n',
    )
    raises(path, 2, "text", "two different texts", "'2+2?' on line 1", "'2+3?' on line 2")


def test_malformed_jsonl_line(tmp_path):
    path = jsonl(
        tmp_path / "bad.jsonl",
        '{"prompt_id": "q1", "model": "a", "score": 1}\n',
        "\n",
        '{"prompt_id": "q2", "model": "a", "score": 1,}\n',
    )
    raises(path, 3, None, "line 3", "not valid JSON")


def test_csv_line_with_too_many_fields(tmp_path):
    path = write(tmp_path / "f.csv", 'prompt_id,model,score\nq1,a,1\nq2,"a,\nb",1\nq3,a,1,extra\n')
    raises(path, 5, None, "line 5", "4 fields", "header has 3")


def test_empty_model_name(tmp_path):
    raises(write(tmp_path / "m.csv", "prompt_id,model,score\nq1,a,1\nq2, ,1\n"), 3, "model", "model is empty")


def test_column_without_a_header(tmp_path):
    # What pandas writes with its index: an unnamed first column.
    path = write(tmp_path / "i.csv", ",prompt_id,m1\n0,q1,1\n1,q2,0\n")
    raises(path, 1, None, "column 1 has no header")


def test_duplicate_model_column(tmp_path):
    raises(write(tmp_path / "w.csv", "prompt_id,m1,m2,m1\nq,1,0,1\n"), 1, "m1", "appears twice", "columns 2 and 4")


def test_both_jsonl_readers_agree(tmp_path, monkeypatch):
    # Most files take Arrow's fast parser; odd ones are read line by line. Same file, same result.
    from routereval.sources import tables
    from routereval.sources.tables.headers import planner
    from routereval.sources.tables.json_lines import read_jsonl_arrow

    path = jsonl(
        tmp_path / "r.jsonl",
        '{"id": "q1", "model": "a", "score": 1, "subject": "s", "cost": 0.25}\n',
        "   \n",
        '{"model": "b", "id": "q1", "score": 0.5}\n',
        '{"id": "q2", "model": "b", "score": null, "question": " why? "}\n',
        '{"id": "q3", "model": "a", "score": 0.75, "cost": null}\n',
    )
    fast = read_table(path)
    assert read_jsonl_arrow(path.read_bytes(), str(path), planner(str(path), None)) is not None
    monkeypatch.setattr(tables, "read_jsonl_arrow", lambda *args: None)
    slow = read_table(path)
    expected = np.array([[1, 0.5], [nan, nan], [0.75, nan]])
    for bench in (fast, slow):
        np.testing.assert_array_equal(bench.values(), expected)
        np.testing.assert_array_equal(bench.costs, [[0.25, nan], [nan, nan], [nan, nan]])
        assert bench.prompts["prompt_id"].tolist() == ["q1", "q2", "q3"]
        assert bench.prompts["text"].tolist() == [None, "why?", None]
        assert bench.prompts["task"].tolist() == ["s", "default", "default"]
    # A bad score on line 5 is placed on line 5 by both readers.
    bad = write(tmp_path / "bad.jsonl", path.read_text().replace("0.75", "1.75"))
    raises(bad, 5, "score", "line 5", "outside [0, 1]")
    monkeypatch.undo()
    raises(bad, 5, "score", "line 5", "outside [0, 1]")


def test_missing_file(tmp_path):
    raises(tmp_path / "nope.csv", None, None, "does not exist")


def test_unclosed_quote(tmp_path):
    path = write(tmp_path / "q.csv", 'prompt_id,model,score\nq1,a,1\nq2,"a,1\nq3,a,1\n')
    raises(path, 3, None, "quoted cell opened on line 3 is never closed")


def test_non_utf8_bytes_in_a_parquet_column(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"prompt_id": ["a", "b"], "question": pa.array([b"ok", b"caf\xe9"], pa.binary()), "m": [1, 0]})
    pq.write_table(table, tmp_path / "b.parquet")
    raises(tmp_path / "b.parquet", 2, "question", "row 2", "not UTF-8", "0xe9", "byte 4 of the cell")


def test_bad_options(tmp_path):
    path = write(tmp_path / "s.csv", "prompt_id,model,score\nq1,a,1\n")
    raises(path, None, None, "lo < hi", score_scale=(100, 0))
    raises(path, None, None, "layout must be 'long' or 'wide'", layout="tall")


def test_token_columns_are_read_per_record_and_refused_when_negative(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(
        "prompt_id,model,score,prompt_tokens,completion_tokens\n"
        "q1,a,1,10,5\n"
        "q1,b,0,10,\n"
        "q2,a,0,20,7\n"
    )
    bench = read_table(path)
    np.testing.assert_array_equal(bench.input_tokens, [[10, 10], [20, nan]])
    np.testing.assert_array_equal(bench.output_tokens, [[5, nan], [7, nan]])
    assert bench.costs is None
    path.write_text("prompt_id,model,score,output_tokens\nq1,a,1,-3\n")
    with pytest.raises(DataError) as err:
        read_table(path)
    assert "line 2" in str(err.value) and "output tokens -3" in str(err.value)


def test_token_columns_belong_to_the_long_layout(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("prompt_id,input_tokens,m1\nq1,3,1\n")
    with pytest.raises(DataError) as err:
        read_table(path, layout="wide")
    assert "'input_tokens' belongs to the long layout" in str(err.value)
