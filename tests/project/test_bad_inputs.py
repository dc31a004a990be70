"""The catalogue of bad inputs: one case per row of docs/errors.md.

Each case is an ordinary mistake or accident (a messy table, a hostile pickle,
a damaged store, a wrong command line, an unusable ROUTEREVAL_HOME) run through
the real command line in-process. Each must end with the exit code in the
table and, when it fails, with exactly one line on stderr that says what is
wrong: never a traceback, never silence. The row of docs/errors.md with the
case's id must show the same exit code and the same message, so the catalogue
cannot drift from what users see.

A few cases run as real subprocesses at the end of the file (exit codes and
stderr of the installed entry point).
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import pickle
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from support.builders import router_layout
from support.catalogue import RO_HOME, Case, check_case, check_doc_lists_exactly, run_case
from support.processes import CLI, REPO

AREAS = ("import", "pickles", "stores", "data commands", "entry point", "routers", "sweeps and reports")


def _import(case_id, text, content, expect, code=1, name="t.csv", extra=()):
    return Case(case_id, "import", text, ("data", "import", name, "--name", "t", *extra), code, tuple(expect),
                {name: content})


# -- writers for binary inputs ---------------------------------------------------


def _parquet(columns: dict, index: bool = False):
    def write(path: Path) -> None:
        import pandas as pd

        frame = pd.DataFrame(columns)
        if index:
            frame.index = [f"r{i}" for i in range(len(frame))]
        frame.to_parquet(path, index=index)

    return write


def _arrow(table_fn):
    def write(path: Path) -> None:
        import pyarrow.parquet as pq

        pq.write_table(table_fn(), path)

    return write


def _table(**columns):
    import pyarrow as pa

    # from_pandas=False: a NaN stays a NaN instead of becoming a null.
    return pa.table({k: pa.array(v, from_pandas=False) for k, v in columns.items()})


def _zip(members: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, v in members.items():
            z.writestr(k, v)
    return buf.getvalue()


def _pickle(obj) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_bytes(pickle.dumps(obj, protocol=4))

    return write


class _System:
    """A pickle that would run a shell command when loaded by plain pickle."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def _hostile(path: Path) -> None:
    path.write_bytes(pickle.dumps({"x": _System(str(path.parent / "pwned"))}))


def _memory_bomb(path: Path) -> None:
    # bytearray(2**50): a petabyte, from an allowed builtin.
    path.write_bytes(b"\x80\x02cbuiltins\nbytearray\n\x8a\x08" + (2**50).to_bytes(8, "little") + b"\x85R.")


def _persistent(path: Path) -> None:
    buf = io.BytesIO()

    class P(pickle.Pickler):
        def persistent_id(self, obj):
            return "db-row-7" if obj == "secret" else None

    P(buf, protocol=2).dump({"a": "secret"})
    path.write_bytes(buf.getvalue())


def _router(mutate=None, **kwargs) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        raw, _ = router_layout(**kwargs)
        if mutate is not None:
            mutate(raw)
        path.write_bytes(pickle.dumps(raw, protocol=4))

    return write


def _all_nan(raw) -> None:
    for setting in ("easy", "hard"):
        for groups in raw.get(setting, {}).values():
            for pool in groups.values():
                for k, v in pool["data"].items():
                    pool["data"][k] = np.full_like(v, np.nan)


def _out_of_range(raw) -> None:
    raw["easy"][3]["all_strong"]["data"]["test_score"][0, 0] = 2.0


def _wrong_rows(raw) -> None:
    raw["easy"][3]["all_weak"]["data"]["val_score"] = np.zeros((99, 3), dtype=np.float32)


def _leaderboard(path: Path, subtasks=("harness_gsm8k_5", "ifeval")) -> None:
    rng = np.random.default_rng(0)
    doc = {"model": ["a", "b", "c"],
           "data": {s: {"correctness": rng.integers(0, 2, (4, 3)).astype(float)} for s in subtasks}}
    path.write_bytes(pickle.dumps(doc, protocol=4))


# -- stores: made with the real import, then damaged ------------------------------

GOOD = "prompt_id,model,score,prompt\nq1,a,1,hi\nq1,b,0,hi\nq2,a,0,yo\nq2,b,1,yo\n"


def _stored(tmp: Path, name: str = "s") -> Path:
    from routereval.sources.catalog import import_table, store_path

    src = tmp / f"{name}-source.csv"
    src.write_text(GOOD)
    import_table(src, name)
    return store_path(name)


def _damage(action: Callable[[Path], None], name: str = "s"):
    def setup(tmp: Path) -> None:
        action(_stored(tmp, name))

    return setup


def _truncate(store: Path) -> None:
    (store / "scores.bin").write_bytes((store / "scores.bin").read_bytes()[:-1])


def _flip_score(store: Path) -> None:
    data = bytearray((store / "scores.bin").read_bytes())
    data[0] ^= 1
    (store / "scores.bin").write_bytes(bytes(data))


def _edit_manifest(store: Path) -> None:
    m = json.loads((store / "manifest.json").read_text())
    m["n_prompts"] = 1
    (store / "manifest.json").write_text(json.dumps(m))


def _bad_json_manifest(store: Path) -> None:
    (store / "manifest.json").write_text('{"format": "routereval-records", ')


def _deep_manifest(store: Path) -> None:
    # Deep enough to reach Python's own parser's recursion limit, small enough to look like a manifest.
    (store / "manifest.json").write_text('{"format": "routereval-records", "x": ' + "[" * 100_000 + "]" * 100_000 + "}")


def _damage_parquet(store: Path) -> None:
    data = bytearray((store / "prompts.parquet").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (store / "prompts.parquet").write_bytes(bytes(data))


def _remove_models(store: Path) -> None:
    (store / "models.parquet").unlink()


def _newer_format(store: Path) -> None:
    m = json.loads((store / "manifest.json").read_text())
    m["format_version"] = 99
    (store / "manifest.json").write_text(json.dumps(m))


def _old_format(store: Path) -> None:
    # What a store written before checksums looks like.
    m = json.loads((store / "manifest.json").read_text())
    for key in ("files", "manifest_sha256"):
        m.pop(key)
    m["format_version"] = 1
    (store / "manifest.json").write_text(json.dumps(m))


def _large_store_mid_change(tmp: Path) -> None:
    """A store big enough that a change in the middle falls between the sampled blocks."""
    from routereval.records import Benchmark
    from routereval.records.store import save_benchmark
    from routereval.sources.catalog import store_path

    rng = np.random.default_rng(1)
    values = rng.integers(0, 2, (3000, 800)).astype(np.float32)  # 2.4 MB of scores
    import pandas as pd

    bench = Benchmark.from_values("big", values, pd.DataFrame({"prompt_id": [f"p{i}" for i in range(3000)]}),
                                  [f"m{k}" for k in range(800)])
    store = save_benchmark(bench, store_path("big"))
    data = bytearray((store / "scores.bin").read_bytes())
    middle = 64 * 2**10 + 1000  # inside the gap after the first sampled block
    data[middle] ^= 1
    (store / "scores.bin").write_bytes(bytes(data))


def _registered_damaged(tmp: Path) -> None:
    import pandas as pd

    from routereval.records import Benchmark
    from routereval.records.store import save_benchmark
    from routereval.sources.catalog import store_path
    from routereval.sources.registry import get_spec

    bench = Benchmark.from_values("llmrouter", np.array([[1.0, 0.0]]), pd.DataFrame({"prompt_id": ["q"]}),
                                  ["a", "b"], provenance={"version": get_spec("llmrouter").version})
    store = save_benchmark(bench, store_path("llmrouter"))
    (store / "scores.bin").write_bytes(b"")


def _home_file(tmp: Path) -> None:
    (tmp / "home-file").write_text("not a folder")


def _read_only_home(tmp: Path) -> None:
    if os.geteuid() != 0:
        (tmp / "ro").mkdir()
        (tmp / "ro").chmod(0o500)


# A home nobody may write in: a read-only folder, or for root (who ignores
# permissions) a path under /sys, where the kernel refuses new folders.


# -- the catalogue ------------------------------------------------------------------

CASES: list[Case] = [
    # ---- import: CSV / TSV -------------------------------------------------------
    _import("csv-empty-file", "an empty CSV file", "", ["is empty"]),
    _import("csv-blank-lines-only", "a CSV of blank lines", "\n\n  \n", ["is empty"]),
    _import("csv-header-only", "a header and no rows", "prompt_id,model,score\n", ["no data rows"]),
    _import("csv-header-then-blank-rows", "a header and only empty rows", "prompt_id,model,score\n,,\n , ,\n",
            ["no data rows"]),
    _import("csv-unnamed-column", "a column without a header (a saved index)", ",prompt_id,model,score\n0,q,a,1\n",
            ["column 1 has no header"]),
    _import("csv-duplicate-header", "the same header twice", "prompt_id,model,score,score\nq,a,1,1\n",
            ["'score' appears twice"]),
    _import("csv-alias-clash", "two headers that mean the same (id and prompt_id)",
            "id,prompt_id,model,score\n1,q,a,1\n", ["both mean 'prompt_id'"]),
    _import("csv-long-missing-score", "--layout long without a score column", "prompt_id,model\nq,a\n",
            ["missing: score"], extra=("--layout", "long")),
    _import("csv-long-unknown-column", "a long table with an unknown column",
            "prompt_id,model,score,temperature\nq,a,1,0.7\n", ["unknown column(s) 'temperature'"]),
    _import("csv-wide-no-prompt-id", "a wide table without an id column", "m1,m2\n1,0\n",
            ["needs a prompt_id column"]),
    _import("csv-wide-no-models", "a wide table with no model columns", "prompt_id,prompt\nq,hi\n",
            ["has no model columns"]),
    _import("csv-wide-with-cost", "a cost column in a wide table", "prompt_id,cost,m1\nq,0.1,1\n",
            ["belongs to the long layout"]),
    _import("csv-too-many-fields", "a row with more cells than the header",
            "prompt_id,model,score\nq1,a,1\nq2,b,0,extra\n", ["line 3 has 4 fields but the header has 3"]),
    _import("csv-unclosed-quote", "a quote that is never closed", 'prompt_id,model,score\nq1,a,1\n"q2,b,0\n',
            ["opened on line 3 is never closed"]),
    _import("csv-not-utf8", "Latin-1 text", "prompt_id,model,score,prompt\nq1,a,1,caf\xe9\n".encode("latin-1"),
            ["is not UTF-8 text", "line 2", "column 'prompt'"]),
    _import("csv-binary-garbage", "a binary file named .csv", bytes(range(256)) * 4, ["is not UTF-8 text"]),
    _import("csv-score-text", "a score that is a word", "prompt_id,model,score\nq1,a,good\n",
            ["score 'good' on line 2 is not a number"]),
    _import("csv-score-nan-text", "'nan' written for a missing score", "prompt_id,model,score\nq1,a,1\nq2,a,nan\n",
            ["line 3", "write an empty cell for a missing record"]),
    _import("csv-score-NA", "'NA' written for a missing score", "prompt_id,model,score\nq1,a,NA\n",
            ["write an empty cell"]),
    _import("csv-score-dash", "'-' written for a missing score", "prompt_id,model,score\nq1,a,-\n",
            ["write an empty cell"]),
    _import("csv-score-inf", "an infinite score", "prompt_id,model,score\nq1,a,inf\n", ["is infinite"]),
    _import("csv-score-above-one", "a score of 1.5", "prompt_id,model,score\nq1,a,1.5\n", ["outside [0, 1]"]),
    _import("csv-score-negative", "a negative score", "prompt_id,model,score\nq1,a,-0.5\n", ["outside [0, 1]"]),
    _import("csv-score-percent", "percentages without --score-scale", "prompt_id,model,score\nq1,a,85\n",
            ["score 85", "score_scale=(lo, hi)"]),
    _import("csv-score-outside-scale", "a score outside the declared scale",
            "prompt_id,model,score\nq1,a,150\n", ["outside the declared score_scale [0, 100]"],
            extra=("--score-scale", "0,100")),
    _import("csv-scale-not-numbers", "--score-scale abc", GOOD, ["Invalid value for --score-scale"], code=2,
            extra=("--score-scale", "abc")),
    _import("csv-scale-three-numbers", "--score-scale 0,1,2", GOOD, ["Invalid value for --score-scale"], code=2,
            extra=("--score-scale", "0,1,2")),
    _import("csv-scale-reversed", "--score-scale 100,0", GOOD, ["finite lo < hi"], extra=("--score-scale", "100,0")),
    _import("csv-scale-nan", "--score-scale nan,1", GOOD, ["finite lo < hi"], extra=("--score-scale", "nan,1")),
    _import("csv-cost-negative", "a negative cost", "prompt_id,model,score,cost\nq1,a,1,-2\n",
            ["cost -2 on line 2 is negative"]),
    _import("csv-cost-text", "a cost that is a word", "prompt_id,model,score,cost\nq1,a,1,cheap\n",
            ["cost 'cheap' on line 2 is not a number"]),
    _import("csv-tokens-negative", "a negative token count", "prompt_id,model,score,output_tokens\nq1,a,1,-3\n",
            ["output tokens -3 on line 2 is negative"]),
    _import("csv-tokens-text", "a token count that is a word",
            "prompt_id,model,score,completion_tokens\nq1,a,1,many\n",
            ["output tokens 'many' on line 2 is not a number"]),
    _import("csv-empty-prompt-id", "a record without a prompt id", "prompt_id,model,score\n,a,1\n",
            ["prompt_id is empty on line 2"]),
    _import("csv-empty-model", "a record without a model", "prompt_id,model,score\nq1,,1\n",
            ["model is empty on line 2"]),
    _import("csv-duplicate-record", "the same (prompt, model) twice", "prompt_id,model,score\nq1,a,1\nq1,a,0\n",
            ["duplicate record", "lines 2 and 3"]),
    _import("csv-conflicting-text", "one prompt with two texts",
            "prompt_id,model,score,prompt\nq1,a,1,hello\nq1,b,0,goodbye\n", ["two different texts"]),
    _import("csv-conflicting-task", "one prompt in two tasks",
            "prompt_id,model,score,task\nq1,a,1,math\nq1,b,0,code\n", ["two different task names"]),
    _import("csv-wide-duplicate-prompt", "a wide table with a prompt on two lines", "prompt_id,m1\nq1,1\nq1,0\n",
            ["one line per prompt"]),
    _import("csv-wide-text-in-model", "text in a model column of a wide table",
            "prompt_id,m1,notes\nq1,1,looks fine\n", ["is not a number", "is read as a model"]),
    _import("csv-wide-alias-target", "a wide model column named 'target' holding scores",
            "prompt_id,gpt-4,target\nq1,1,0\nq2,0,1\n", ["column 'target' holds scores", "rename it"]),
    _import("csv-wide-alias-question", "a wide model column named 'question' holding yes/no",
            "prompt_id,m1,question\nq1,1,yes\nq2,0,no\n", ["column 'question' holds scores"]),
    _import("csv-wide-duplicate-model", "the same model column twice", "prompt_id,m1,m2,m1\nq,1,0,1\n",
            ["'m1' appears twice"]),
    _import("csv-all-missing", "a long table whose scores are all empty", "prompt_id,model,score\nq1,a,\nq2,b,\n",
            ["holds no scores", "4 records"]),
    _import("csv-wide-all-missing", "a wide table whose scores are all empty", "prompt_id,m1,m2\nq1,,\nq2,,\n",
            ["holds no scores"]),
    _import("csv-quoted-newline-line-number", "an error after a cell that spans lines",
            'prompt_id,model,score,prompt\nq1,a,1,"two\nlines"\nq2,a,x,ok\n', ["on line 4"]),
    _import("csv-layout-unknown", "--layout diagonal", GOOD, ["layout must be 'long' or 'wide'"],
            extra=("--layout", "diagonal")),
    _import("tsv-with-commas", "a .tsv file that is really comma-separated", "prompt_id,model,score\nq,a,1\n",
            ["needs a prompt_id column"], name="t.tsv"),
    _import("tsv-not-utf8", "a TSV in Latin-1", "prompt_id\tmodel\tscore\tprompt\nq\ta\t1\tna\xefve\n".encode(
        "latin-1"), ["is not UTF-8 text"], name="t.tsv"),
    _import("csv-gz-corrupt", "a .csv.gz that is not gzip", b"this is not gzip", ["could not be decompressed as .gz"],
            name="t.csv.gz"),
    _import("csv-bz2-corrupt", "a .csv.bz2 that is not bzip2", b"not bz2", ["could not be decompressed as .bz2"],
            name="t.csv.bz2"),
    _import("csv-xz-corrupt", "a .csv.xz that is not xz", b"not xz", ["could not be decompressed as .xz"],
            name="t.csv.xz"),
    _import("csv-zip-two-files", "a .csv.zip holding two files", _zip({"a.csv": GOOD, "b.csv": GOOD}),
            ["must hold exactly one file, this one holds 2"], name="t.csv.zip"),
    _import("csv-zip-corrupt", "a .csv.zip that is not a zip", b"PK not really", ["could not be decompressed as .zip"],
            name="t.csv.zip"),
    _import("csv-gz-truncated", "a truncated .csv.gz", gzip.compress(GOOD.encode())[:20],
            ["could not be decompressed as .gz"], name="t.csv.gz"),
    _import("unknown-extension", "a .txt file", GOOD, ["is not a format routereval reads"], name="t.txt"),
    _import("no-extension", "a file without an extension", GOOD, ["is not a format routereval reads"], name="t"),
    _import("csv-ok-bom-crlf", "a UTF-8 BOM and Windows line ends (accepted)",
            "\ufeffprompt_id,model,score\r\nq1,a,1\r\nq1,b,0\r\n".encode(), ["imported", "2 models"], code=0),
    _import("csv-ok-messy", "blank lines, spaces, booleans, 'Prompt ID' (accepted)",
            "Prompt ID , Model, Correct\n\n q1 , a , TRUE\n q1, b , no \n\n", ["imported", "1 prompts"], code=0),
    _import("csv-ok-percent", "percentages with --score-scale 0,100 (accepted)",
            "prompt_id,model,score\nq1,a,85\nq1,b,40\n", ["imported"], code=0, extra=("--score-scale", "0,100")),
    _import("csv-ok-gz", "a gzip-compressed CSV (accepted)", gzip.compress(GOOD.encode()), ["imported"], code=0,
            name="t.csv.gz"),
    _import("csv-ok-bz2", "a bzip2-compressed CSV (accepted)", bz2.compress(GOOD.encode()), ["imported"], code=0,
            name="t.csv.bz2"),
    _import("csv-ok-xz", "an xz-compressed CSV (accepted)", lzma.compress(GOOD.encode()), ["imported"], code=0,
            name="t.csv.xz"),
    _import("csv-ok-wide-target-text", "a wide 'target' column holding answers (read as references)",
            "prompt_id,m1,target\nq1,1,Paris\nq2,0,42\n", ["imported", "1 models"], code=0),
    # ---- import: JSON Lines --------------------------------------------------------
    _import("jsonl-bad-json", "a line that is not JSON", '{"prompt_id": "q", "model": "a", "score": 1}\n{oops\n',
            ["line 2 is not valid JSON"], name="t.jsonl"),
    _import("jsonl-array-line", "a line holding a list", '["q", "a", 1]\n', ["expected a JSON object"],
            name="t.jsonl"),
    _import("jsonl-nested-object", "a nested object as a value",
            '{"prompt_id": "q", "model": "a", "score": {"value": 1}}\n', ["holds an object in column 'score'"],
            name="t.jsonl"),
    _import("jsonl-list-value", "a list as a value", '{"prompt_id": "q", "model": ["a"], "score": 1}\n',
            ["holds a list in column 'model'"], name="t.jsonl"),
    _import("jsonl-mixed-types", "a column mixing strings and numbers",
            '{"prompt_id": "q1", "model": "a", "score": 1}\n{"prompt_id": "q2", "model": "a", "score": "1"}\n',
            ["mixes types"], name="t.jsonl"),
    _import("jsonl-nan-string", "'NaN' as a string for a missing score",
            '{"prompt_id": "q1", "model": "a", "score": "NaN"}\n', ["write null (or leave the key out)"],
            name="t.jsonl"),
    _import("jsonl-nan-literal", "a bare NaN for a missing score", '{"prompt_id": "q1", "model": "a", "score": NaN}\n',
            ["NaN"], name="t.jsonl"),
    _import("jsonl-empty", "an empty JSONL file", "", ["is empty"], name="t.jsonl"),
    _import("jsonl-score-out-of-range", "a score of 7", '{"prompt_id": "q1", "model": "a", "score": 7}\n',
            ["score 7 on line 1 is outside [0, 1]"], name="t.jsonl"),
    _import("jsonl-unknown-key", "an unknown key in a long JSONL",
            '{"prompt_id": "q1", "model": "a", "score": 1, "latency": 3}\n', ["unknown column(s) 'latency'"],
            name="t.jsonl"),
    _import("jsonl-not-utf8", "a JSONL line in Latin-1",
            '{"prompt_id": "q1", "model": "caf\xe9", "score": 1}\n'.encode("latin-1"), ["is not UTF-8 text",
                                                                                        "column 'model'"],
            name="t.jsonl"),
    _import("jsonl-all-null", "every score null", '{"prompt_id": "q1", "model": "a", "score": null}\n',
            ["holds no scores"], name="t.jsonl"),
    _import("jsonl-ok-ndjson-gz", "a gzip-compressed .ndjson (accepted)",
            gzip.compress(b'{"prompt_id": "q1", "model": "a", "score": true}\n{"prompt_id": "q1", "model": "b"}\n'),
            ["imported"], code=0, name="t.ndjson.gz"),
    # ---- import: Parquet -------------------------------------------------------------
    _import("parquet-garbage", "a .parquet that is not Parquet", b"PAR1 nothing like parquet",
            ["could not be read as Parquet"], name="t.parquet"),
    Case("parquet-truncated", "import", "a truncated Parquet file", ("data", "import", "t.parquet", "--name", "t"), 1,
         ("could not be read as Parquet",),
         {"t.parquet": lambda p: (_parquet({"prompt_id": ["q"], "model": ["a"], "score": [1.0]})(p),
                                  p.write_bytes(p.read_bytes()[:-30]))}),
    Case("parquet-nested", "import", "a list-valued Parquet column", ("data", "import", "t.parquet", "--name", "t"), 1,
         ("holds a list",), {"t.parquet": _parquet({"prompt_id": ["q"], "model": ["a"], "score": [[1.0]]})}),
    Case("parquet-score-strings", "import", "scores stored as strings", ("data", "import", "t.parquet", "--name", "t"),
         1, ("score 'high' on row 1 is not a number",),
         {"t.parquet": _parquet({"prompt_id": ["q"], "model": ["a"], "score": ["high"]})}),
    Case("parquet-nan", "import", "a NaN score instead of a null", ("data", "import", "t.parquet", "--name", "t"), 1,
         ("is NaN; store a null",),
         {"t.parquet": _arrow(lambda: _table(prompt_id=["q", "q"], model=["a", "b"], score=[1.0, float("nan")]))}),
    Case("parquet-inf", "import", "an infinite score", ("data", "import", "t.parquet", "--name", "t"), 1,
         ("is infinite",), {"t.parquet": _parquet({"prompt_id": ["q"], "model": ["a"], "score": [float("inf")]})}),
    Case("parquet-no-rows", "import", "a Parquet file with no rows", ("data", "import", "t.parquet", "--name", "t"),
         1, ("has no rows",), {"t.parquet": _parquet({"prompt_id": [], "model": [], "score": []})}),
    Case("parquet-null-id", "import", "a null prompt id", ("data", "import", "t.parquet", "--name", "t"), 1,
         ("prompt_id is empty on row 2",),
         {"t.parquet": _parquet({"prompt_id": ["q", None], "model": ["a", "a"], "score": [1.0, 0.0]})}),
    Case("parquet-binary-not-utf8", "import", "a binary id column that is not UTF-8",
         ("data", "import", "t.parquet", "--name", "t"), 1, ("row 1 is not UTF-8 text",),
         {"t.parquet": _parquet({"prompt_id": [b"q\xff"], "model": ["a"], "score": [1.0]})}),
    Case("parquet-gz", "import", "a .parquet.gz", ("data", "import", "t.parquet.gz", "--name", "t"), 1,
         ("cannot be compressed on top",), {"t.parquet.gz": b"x"}),
    Case("parquet-ok-index", "import", "a pandas index saved in the file (accepted, ignored)",
         ("data", "import", "t.parquet", "--name", "t"), 0, ("imported",),
         {"t.parquet": _parquet({"prompt_id": ["q", "q"], "model": ["a", "b"], "score": [1.0, 0.0]}, index=True)}),
    # ---- pickles -----------------------------------------------------------------------
    Case("pickle-hostile", "pickles", "a pickle that runs a shell command", ("data", "import", "x.pkl", "--name", "p"),
         1, ("refuses to load posix.system",), {"x.pkl": _hostile}),
    Case("pickle-persistent-id", "pickles", "a pickle with a persistent reference",
         ("data", "import", "x.pkl", "--name", "p"), 1, ("persistent reference",), {"x.pkl": _persistent}),
    Case("pickle-memory-bomb", "pickles", "a pickle that asks for a petabyte", ("data", "import", "x.pkl", "--name",
                                                                                  "p"),
         1, ("asks for more memory than this machine has",), {"x.pkl": _memory_bomb}),
    Case("pickle-huge-frame", "pickles", "a pickle announcing a frame larger than any machine",
         ("data", "import", "x.pkl", "--name", "p"), 1, ("not a readable pickle", "FRAME length exceeds"),
         {"x.pkl": b"\x80\x04\x95" + (2**64 - 1).to_bytes(8, "little")}),
    Case("pickle-truncated", "pickles", "a truncated pickle", ("data", "import", "x.pkl", "--name", "p"), 1,
         ("not a readable pickle",), {"x.pkl": lambda p: (_router()(p), p.write_bytes(p.read_bytes()[:100]))}),
    Case("pickle-text", "pickles", "a text file named .pkl", ("data", "import", "x.pkl", "--name", "p"), 1,
         ("not a readable pickle",), {"x.pkl": "prompt_id,model,score\n"}),
    Case("pickle-empty", "pickles", "an empty .pkl", ("data", "import", "x.pkl", "--name", "p"), 1,
         ("not a readable pickle",), {"x.pkl": b""}),
    Case("pickle-not-dict", "pickles", "a pickle holding a list", ("data", "import", "x.pkl", "--name", "p"), 1,
         ("holds a list, expected a dict",), {"x.pkl": _pickle([1, 2, 3])}),
    Case("pickle-no-split-index", "pickles", "a router dataset without split_index",
         ("data", "import", "x.pkl", "--name", "p"), 1, ("split_index is missing",),
         {"x.pkl": _router(lambda raw: raw.pop("split_index"))}),
    Case("pickle-score-out-of-range", "pickles", "a pool score of 2.0", ("data", "import", "x.pkl", "--name", "p"), 1,
         ("easy -> 3 -> all_strong -> data -> test_score holds 2.0",), {"x.pkl": _router(_out_of_range)}),
    Case("pickle-wrong-rows", "pickles", "a pool matrix with the wrong number of rows",
         ("data", "import", "x.pkl", "--name", "p"), 1, ("has 99 rows but the split has 4 prompts",),
         {"x.pkl": _router(_wrong_rows)}),
    Case("pickle-no-pools", "pickles", "a router dataset with no pools", ("data", "import", "x.pkl", "--name", "p"), 1,
         ("holds no candidate pools",), {"x.pkl": _router(lambda raw: (raw.pop("easy"), raw.pop("hard")))}),
    Case("pickle-all-missing", "pickles", "a router dataset whose scores are all NaN",
         ("data", "import", "x.pkl", "--name", "p"), 1, ("holds no scores",), {"x.pkl": _router(_all_nan)}),
    Case("leaderboard-no-selector", "pickles", "a leaderboard file with several benchmarks and no #name",
         ("data", "info", "leaderboard_x.pkl"), 1, ("holds 2 benchmarks (gsm8k, ifeval)", "leaderboard_x.pkl#"),
         {"leaderboard_x.pkl": _leaderboard}),
    Case("leaderboard-unknown-selector", "pickles", "a leaderboard file with an unknown #name",
         ("data", "info", "leaderboard_x.pkl#bbh"), 1, ("has no benchmark 'bbh'",),
         {"leaderboard_x.pkl": _leaderboard}),
    Case("leaderboard-not-dict", "pickles", "a leaderboard file holding a list", ("data", "info", "leaderboard_y.pkl"),
         1, ("holds a list, expected a dict (leaderboard layout)",), {"leaderboard_y.pkl": _pickle([1])}),
    Case("leaderboard-ok", "pickles", "one benchmark of a leaderboard file (accepted)",
         ("data", "info", "leaderboard_x.pkl#gsm8k"), 0, ("gsm8k",), {"leaderboard_x.pkl": _leaderboard}),
    # ---- stores ------------------------------------------------------------------------
    Case("store-truncated-scores", "stores", "an imported store whose scores.bin lost a byte", ("data", "info", "s"),
         3, ("scores.bin", "the store is damaged", "repair it with: routereval data import", "--name s --replace"),
         setup=_damage(_truncate)),
    Case("store-changed-scores", "stores", "an imported store with a changed score byte", ("data", "info", "s"), 3,
         ("has changed since it was written",), setup=_damage(_flip_score)),
    Case("store-edited-manifest", "stores", "a manifest edited by hand", ("data", "info", "s"), 3,
         ("manifest.json", "checksum does not match"), setup=_damage(_edit_manifest)),
    Case("store-manifest-not-json", "stores", "a manifest that is not JSON", ("data", "info", "s"), 3,
         ("is not valid JSON", "repair it with: routereval data import <your file> --name s --replace"),
         setup=_damage(_bad_json_manifest)),
    Case("store-manifest-deep", "stores", "a manifest nesting lists 100,000 deep", ("data", "info", "s"), 3,
         ("nests 100001 levels deep", "the store is damaged"), setup=_damage(_deep_manifest)),
    Case("store-damaged-parquet", "stores", "a damaged prompts.parquet", ("data", "info", "s"), 3,
         ("prompts.parquet", "checksum does not match"), setup=_damage(_damage_parquet)),
    Case("store-missing-file", "stores", "a store missing models.parquet", ("data", "info", "s"), 3,
         ("models.parquet: is missing",), setup=_damage(_remove_models)),
    Case("store-newer-format", "stores", "a store from a newer routereval", ("data", "info", "s"), 1,
         ("upgrade routereval",), setup=_damage(_newer_format)),
    Case("store-registered-damaged", "stores", "a damaged registered dataset", ("data", "info", "llmrouter"), 3,
         ("repair it with: routereval data pull llmrouter --force",), setup=_registered_damaged),
    Case("store-path-damaged", "stores", "a damaged store folder given as a path",
         ("data", "info", "{t}/home/datasets/s"), 3, ("the store is damaged",), setup=_damage(_truncate),
         env={"ROUTEREVAL_HOME": "{t}/home"}),
    Case("verify-mid-change", "stores", "a change between the sampled blocks: `data verify` finds it",
         ("data", "verify", "big"), 3, ("scores.bin", "checksum does not match"), setup=_large_store_mid_change),
    Case("verify-ok", "stores", "`data verify` on an intact store", ("data", "verify", "s"), 0, ("ok", "match"),
         setup=_damage(lambda store: None)),
    Case("verify-unknown", "stores", "`data verify` of a name that is not stored", ("data", "verify", "nope"), 1,
         ("no stored dataset 'nope'",)),
    Case("verify-old-store", "stores", "`data verify` of a store written before checksums", ("data", "verify", "s"),
         1, ("cannot be verified",), setup=_damage(_old_format)),
    Case("store-old-opens", "stores", "a store written before checksums still opens", ("data", "info", "s"), 0,
         ("s:",), setup=_damage(_old_format)),
    # ---- data commands -----------------------------------------------------------------
    Case("import-existing-name", "data commands", "`data import` to a name already stored",
         ("data", "import", "new.csv", "--name", "s"), 1, ("'s' already exists", "2 prompts x 2 models",
                                                           "--replace"),
         {"new.csv": "prompt_id,model,score\nz,a,1\n"}, setup=_damage(lambda store: None)),
    Case("import-replace", "data commands", "`data import --replace` says what it replaced",
         ("data", "import", "new.csv", "--name", "s", "--replace"), 0, ("replaced", "2 prompts x 2 models"),
         {"new.csv": "prompt_id,model,score\nz,a,1\n"}, setup=_damage(lambda store: None)),
    Case("import-prices-unknown-model", "data commands", "`data import --prices` naming a model the table lacks",
         ("data", "import", "t.csv", "--name", "t", "--prices", "p.csv"), 1,
         ("p.csv", "'c'", "does not have"), {"t.csv": GOOD, "p.csv": "model,input,output\nc,1,2\n"}),
    Case("import-prices-not-a-number", "data commands", "a price that is not a number",
         ("data", "import", "t.csv", "--name", "t", "--prices", "p.csv"), 1,
         ("p.csv, row 2, column 'input'", "not a number"), {"t.csv": GOOD, "p.csv": "model,input,output\na,free,2\n"}),
    Case("import-prices-no-columns", "data commands", "a price file without the price columns",
         ("data", "import", "t.csv", "--name", "t", "--prices", "p.csv"), 1,
         ("has no column(s) input, output",), {"t.csv": GOOD, "p.csv": "model,price\na,1\n"}),
    Case("import-prices-missing", "data commands", "`data import --prices` of a file that does not exist",
         ("data", "import", "t.csv", "--name", "t", "--prices", "nope.csv"), 1, ("nope.csv", "does not exist"),
         {"t.csv": GOOD}),
    Case("import-registered-name", "data commands", "`data import` under a registered name",
         ("data", "import", "t.csv", "--name", "llmrouter"), 1, ("is the name of a registered dataset",),
         {"t.csv": GOOD}),
    Case("import-bad-name", "data commands", "`data import` under a name with a slash",
         ("data", "import", "t.csv", "--name", "a/b"), 1, ("not a valid dataset name",), {"t.csv": GOOD}),
    Case("import-no-name", "data commands", "`data import` without --name", ("data", "import", "t.csv"), 2,
         ("Missing option '--name'",), {"t.csv": GOOD}),
    Case("import-missing-file", "data commands", "`data import` of a file that does not exist",
         ("data", "import", "nope.csv", "--name", "t"), 1, ("nope.csv does not exist",)),
    Case("import-folder", "data commands", "`data import` of a folder that is not a store",
         ("data", "import", "folder", "--name", "t"), 1, ("not a finished routereval records store",),
         setup=lambda t: (t / "work" / "folder").mkdir()),
    Case("info-unknown", "data commands", "`data info` of an unknown name", ("data", "info", "nope"), 1,
         ("'nope' is neither a dataset name nor an existing path",)),
    Case("info-name-and-file", "data commands", "a name that is also a file here (good.csv)",
         ("data", "info", "good.csv"), 1, ("both the name of an imported dataset and a path here", "./good.csv"),
         {"good.csv": GOOD}, setup=lambda t: _stored(t, "good.csv")),
    Case("info-dot-path-wins", "data commands", "./good.csv when good.csv is also a name (reads the file)",
         ("data", "info", "./good.csv"), 0, ("good: 2 prompts",), {"good.csv": GOOD},
         setup=lambda t: _stored(t, "good.csv")),
    Case("pull-unknown", "data commands", "`data pull` of an unregistered name", ("data", "pull", "nope"), 1,
         ("no registered dataset 'nope'",)),
    Case("pull-no-name", "data commands", "`data pull` without a name", ("data", "pull"), 2,
         ("Missing argument 'name'",)),
    Case("info-json-flag-typo", "data commands", "`data info --jsn`", ("data", "info", "x", "--jsn"), 2,
         ("No such option: --jsn",)),
    Case("list-empty-home", "data commands", "`data list` with nothing stored (works)", ("data", "list", "--json"), 0,
         ('"datasets"',)),
    # ---- entry point -------------------------------------------------------------------
    Case("no-arguments", "entry point", "`routereval` with no arguments", (), 0, ("Usage:",)),
    Case("data-no-arguments", "entry point", "`routereval data` with no arguments", ("data",), 0, ("Usage:",)),
    Case("help", "entry point", "`routereval --help`", ("--help",), 0, ("Usage:",)),
    Case("unknown-command", "entry point", "an unknown command", ("benchh",), 2, ("No such command 'benchh'",)),
    Case("unknown-option", "entry point", "an unknown option before the command", ("--verbose", "data"), 2,
         ("No such option: --verbose",)),
    Case("bad-integer", "entry point", "a word where a number is expected", ("bench", "-d", "x", "--seed", "abc"), 2,
         ("Invalid value for '--seed'",)),
    Case("option-without-value", "entry point", "an option without its value", ("data", "import", "t.csv",
                                                                                  "--name"), 2,
         ("Option '--name' requires an argument",)),
    Case("home-is-file", "entry point", "ROUTEREVAL_HOME is a file", ("data", "import", "t.csv", "--name", "t"), 4,
         ("is a file, not a folder", "ROUTEREVAL_HOME"), {"t.csv": GOOD}, setup=_home_file,
         env={"ROUTEREVAL_HOME": "{t}/home-file"}),
    Case("home-is-file-list", "entry point", "ROUTEREVAL_HOME is a file: `data list`", ("data", "list"), 4,
         ("is a file, not a folder",), setup=_home_file, env={"ROUTEREVAL_HOME": "{t}/home-file"}),
    Case("home-under-file", "entry point", "ROUTEREVAL_HOME inside a file", ("data", "import", "t.csv", "--name", "t"),
         4, ("a file stands where one of its parent folders should be",), {"t.csv": GOOD}, setup=_home_file,
         env={"ROUTEREVAL_HOME": "{t}/home-file/sub"}),
    Case("home-read-only", "entry point", "ROUTEREVAL_HOME cannot be written", ("data", "import", "t.csv", "--name",
                                                                                "t"),
         4, ("cannot write in", "point ROUTEREVAL_HOME at a folder you can write to"), {"t.csv": GOOD},
         setup=_read_only_home, env={"ROUTEREVAL_HOME": RO_HOME}),
    Case("debug-traceback", "entry point", "--debug shows the traceback of a user error",
         ("--debug", "data", "info", "nope"), 1, ("Traceback", "UnknownDatasetError", "error: 'nope'"),
         traceback=True),
]


# ---- routers, bench, sweeps and reports: refused before any work -------------------------------

_TINY = "prompt_id,task,m1,m2,m3,m4\n" + "".join(
    f"q{i},{'ab'[i % 2]},{i % 2},{(i // 2) % 2},{(i // 3) % 2},{(i // 5) % 2}\n" for i in range(40))


def _bench(case_id: str, text: str, extra: tuple[str, ...], expect: list[str], code: int = 1) -> Case:
    return Case(case_id, "routers", text, ("bench", "--dataset", "t.csv", "--sizes", "3", *extra), code,
                tuple(expect), {"t.csv": _TINY})


def _sweep(case_id: str, text: str, body: str, expect: list[str]) -> Case:
    toml = 'name = "s"\ndatasets = ["t.csv"]\nsizes = [3]\n' + body
    return Case(case_id, "sweeps and reports", text, ("sweep", "s.toml", "--check"), 1, tuple(expect),
                {"t.csv": _TINY, "s.toml": toml})


CASES += [
    _bench("bench-workers-zero", "`bench --workers 0`", ("--workers", "0"), ["--workers must be at least 1"]),
    Case("sweep-workers-zero", "sweeps and reports", "`sweep --workers 0` (it ran on every core)",
         ("sweep", "s.toml", "--workers", "0"), 1, ("--workers must be at least 1",),
         {"t.csv": _TINY, "s.toml": 'name = "s"\ndatasets = ["t.csv"]\nsizes = [3]\nrouters = ["oracle"]\n'}),
    _bench("router-k-not-a-number", "knn:k=abc", ("--routers", "knn:k=abc"), ["k must be an integer"]),
    _bench("router-k-zero", "knn:k=0", ("--routers", "knn:k=0"), ["k must be >= 1"]),
    _bench("router-p-above-one", "ro:p=2", ("--routers", "ro:p=2"), ["p must lie in [0, 1]"]),
    _bench("router-p-nan", "ro:p=nan", ("--routers", "ro:p=nan"), ["p must lie in [0, 1]"]),
    _bench("router-unknown", "a router name with a typo", ("--routers", "knnn"), ["unknown router 'knnn'"]),
    _bench("router-unknown-parameter", "a parameter the router does not have", ("--routers", "knn:kk=3"),
           ["unexpected keyword argument 'kk'"]),
    _bench("router-unknown-recipe", "mlp:recipe=slow", ("--routers", "mlp:recipe=slow"), ["unknown recipe 'slow'"]),
    _bench("router-bad-learning-rate", "mlp:lr=-1", ("--routers", "mlp:lr=-1"), ["lr must be a number > 0"]),
    _bench("router-parameter-without-value", "knn:k (no =value)", ("--routers", "knn:k"),
           ["must be written key=value"]),
    _bench("router-empty-list", "--routers ''", ("--routers", ""), ["names no router"]),
    _bench("router-class-not-importable", "a class path that does not import", ("--routers", "nosuchpkg.mod:Cls"),
           ["cannot import Cls from nosuchpkg.mod"]),
    _bench("bench-n-boot-zero", "--n-boot 0", ("--routers", "oracle", "--n-boot", "0"),
           ["--n-boot must lie in 1..100000, got 0"]),
    _bench("bench-json-is-a-folder", "--json naming a folder", ("--routers", "oracle", "--json", "."),
           ["is a folder; give a file name"]),
    _bench("bench-sizes-not-numbers", "--sizes three", ("--routers", "oracle", "--sizes", "three"),
           ["--sizes must be a list of integers"]),
    _bench("bench-no-pool-fits", "m larger than the models in reach", ("--routers", "oracle", "--sizes", "9"),
           ["no candidate pool can be built"]),
    _bench("bench-prompts-without-text", "a learned router on prompts that have no text",
           ("--routers", "knn", "--encoder", "tfidf-8"), ["have no text"]),
    Case("bench-tfidf-too-wide", "routers", "TF-IDF with more dimensions than the prompts allow",
         ("bench", "--dataset", "t.csv", "--sizes", "3", "--routers", "knn", "--encoder", "tfidf-512"), 1,
         ("tfidf dim=512",), {"t.csv": "prompt_id,task,prompt,m1,m2,m3,m4\n" + "".join(
             f"q{i},{'ab'[i % 2]},question {i} about topic {i % 7},{i % 2},{(i // 2) % 2},{(i // 3) % 2},{(i // 5) % 2}\n"
             for i in range(40))}),
    _sweep("sweep-router-parameter", "a bad router parameter in a sweep file",
           'routers = ["knn:k=0"]\n', ["s.toml:4: router 'knn': k must be >= 1"]),
    _sweep("sweep-unknown-key", "a misspelt key", 'routers = ["knn"]\nseed = [1]\n', ["unknown key 'seed'"]),
    _sweep("sweep-bad-cost-unit", "cost = \"euros\"", 'routers = ["knn"]\ncost = "euros"\n',
           ["cost must be one of auto"]),
    _sweep("sweep-no-routers", "routers = []", "routers = []\n", ["routers must be a non-empty list"]),
    _sweep("sweep-nested-too-deeply", "arrays nested 5,000 deep", "routers = " + "[" * 5000 + "]" * 5000 + "\n",
           ["not valid TOML (arrays or tables nested too deeply)"]),
    Case("sweep-not-utf8", "sweeps and reports", "a sweep file in Latin-1", ("sweep", "s.toml", "--check"), 1,
         ("is not UTF-8 text",), {"s.toml": 'name = "caf\xe9"\n'.encode("latin-1")}),
    Case("sweep-too-large", "sweeps and reports", "a 2 MiB sweep file", ("sweep", "s.toml", "--check"), 1,
         ("a sweep file is at most 1048576",), {"s.toml": "# " + "x" * (2 << 20) + "\n"}),
    Case("report-not-a-store", "sweeps and reports", "a folder that is not a results store", ("report", "."), 1,
         ("is not a results store",)),
]


# -- running a case -------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case, tmp_path, monkeypatch, capsys):
    check_case(case, tmp_path, monkeypatch, capsys)


def test_the_catalogue_is_large_and_the_doc_lists_exactly_these_cases():
    assert len(CASES) >= 150
    check_doc_lists_exactly(AREAS, (c.id for c in CASES))


def test_the_hostile_pickle_never_ran(tmp_path, monkeypatch, capsys):
    case = next(c for c in CASES if c.id == "pickle-hostile")
    assert run_case(case, tmp_path, monkeypatch, capsys)[0] == 1
    assert not (tmp_path / "work" / "pwned").exists()
    assert pickle.loads(pickle.dumps(1)) == 1  # plain pickle still works: the refusal was ours


def test_a_refused_import_keeps_the_old_store(tmp_path, monkeypatch, capsys):
    from routereval.sources.catalog import open_stored

    case = next(c for c in CASES if c.id == "import-existing-name")
    assert run_case(case, tmp_path, monkeypatch, capsys)[0] == 1
    assert open_stored("s").n_prompts == 2  # the old data, untouched


def test_replace_really_replaces(tmp_path, monkeypatch, capsys):
    from routereval.sources.catalog import open_stored

    case = next(c for c in CASES if c.id == "import-replace")
    assert run_case(case, tmp_path, monkeypatch, capsys)[0] == 0
    assert open_stored("s").prompts["prompt_id"].tolist() == ["z"]


def test_wide_model_named_like_a_field_is_never_dropped(tmp_path):
    # The model column 'target' either stays a model or the import fails: it never vanishes.
    from routereval.errors import DataError
    from routereval.sources.tables import read_table

    path = tmp_path / "w.csv"
    path.write_text("prompt_id,gpt-4,target\nq1,1,0\nq2,0,1\n")
    with pytest.raises(DataError, match="'target'"):
        read_table(path)


# -- every command, discovered from the app -------------------------------------------


def _commands():
    import typer.main

    from routereval.cli import app

    root = typer.main.get_command(app)
    out = []

    def walk(cmd, path):
        out.append((tuple(path), cmd))
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(root, [])
    return out


COMMANDS = _commands()


def _required(cmd) -> bool:
    return any(getattr(p, "required", False) for p in cmd.params)


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[" ".join(p) or "routereval" for p, _ in COMMANDS])
def test_every_command_with_no_arguments(path, cmd, tmp_path, monkeypatch, capsys):
    from routereval.cli import run

    monkeypatch.chdir(tmp_path)
    code = run(list(path))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if getattr(cmd, "commands", None):  # a group: its help, on stdout
        assert code == 0 and "Usage:" in out
    elif _required(cmd):
        assert code == 2 and err.startswith("error: Missing") and len(err.strip().splitlines()) == 1, err
    else:  # nothing required: it runs, and either works or says why in one line
        assert code == 0 or (code != 70 and err.startswith("error:")), (code, err)


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[" ".join(p) or "routereval" for p, _ in COMMANDS])
def test_every_command_with_an_unknown_option(path, cmd, tmp_path, monkeypatch, capsys):
    from routereval.cli import run

    monkeypatch.chdir(tmp_path)
    code = run([*path, "--no-such-option"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code == 2
    assert err.strip().splitlines() == [err.strip()] and "No such option: --no-such-option" in err


def test_a_genuine_bug_shows_its_traceback_and_asks_for_a_report(monkeypatch, capsys):
    from routereval.cli import output, run

    def broken(*args, **kwargs):
        return 1 / 0

    monkeypatch.setattr("routereval.sources.catalog.imported_names", broken)
    code = run(["data", "list"])
    err = capsys.readouterr().err
    assert code == 70
    assert "Traceback" in err and "ZeroDivisionError" in err
    assert "this is a bug in routereval" in err and "please report it" in err
    assert output.report_failure(KeyboardInterrupt()) == 130
    assert output.report_failure(OSError(28, "No space left on device", "/x/scores.bin")) == 4
    assert "No space left on device: /x/scores.bin; free some space" in capsys.readouterr().err


def test_a_command_exit_code_is_passed_on(monkeypatch):
    import typer

    from routereval.cli import run

    def fails(*args, **kwargs):
        raise typer.Exit(1)

    monkeypatch.setattr("routereval.sources.catalog.imported_names", fails)
    assert run(["data", "list"]) == 1


# -- real processes: what a shell sees --------------------------------------------------



def _proc(*args, env=None, cwd=None):
    return subprocess.run(CLI + list(args), capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def test_processes_exit_with_the_documented_codes(tmp_path, monkeypatch):
    env = {**os.environ, "ROUTEREVAL_HOME": str(tmp_path / "home")}
    for args, code in {(): 0, ("nocommand",): 2}.items():
        p = _proc(*args, env=env, cwd=tmp_path)
        assert p.returncode == code, (args, p.stdout, p.stderr)
        assert "Traceback" not in p.stderr
        if not args:
            assert "Usage:" in p.stdout
    # A damaged store (made in-process; the process only reads it).
    monkeypatch.setenv("ROUTEREVAL_HOME", str(tmp_path / "home"))
    scores = _stored(tmp_path, "t") / "scores.bin"
    scores.write_bytes(scores.read_bytes()[:-1])
    p = _proc("data", "info", "t", env=env, cwd=tmp_path)
    assert p.returncode == 3 and "Traceback" not in p.stderr
    assert f"routereval data import {tmp_path / 't-source.csv'} --name t --replace" in p.stderr
    with open("/dev/full", "w") as full:  # a disk with no space left, as the kernel reports it
        p = subprocess.run(CLI + ["data", "list", "--json"], stdout=full, stderr=subprocess.PIPE, text=True, env=env)
    assert p.returncode == 4 and "No space left on device" in p.stderr and "Traceback" not in p.stderr
    (tmp_path / "home-file").write_text("")
    p = _proc("data", "list", env={**env, "ROUTEREVAL_HOME": str(tmp_path / "home-file")})
    assert p.returncode == 4 and p.stderr.startswith("error:") and "Traceback" not in p.stderr


def test_an_interrupt_while_the_command_line_loads_is_clean(tmp_path):
    import signal
    import tomllib

    # The installed command runs this entry point (pyproject's [project.scripts]).
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["routereval"] == "routereval.__main__:main"
    # A real import that takes its time: Ctrl-C arrives while routereval.cli is being imported.
    code = ("import sys, time\n"
            "class Slow:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'routereval.cli':\n"
            "            print('importing', flush=True)\n"
            "            time.sleep(60)\n"
            "        return None\n"
            "sys.meta_path.insert(0, Slow())\n"
            "sys.argv = ['routereval', 'data', 'list']\n"
            "from routereval.__main__ import main\n"
            "main()\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "ROUTEREVAL_HOME": str(tmp_path)},
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert p.stdout.readline().strip() == "importing"
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert (p.returncode, err) == (130, "error: interrupted\n")


def test_the_process_is_interrupted_cleanly(tmp_path):
    import signal

    # The command blocks inside its work; Ctrl-C arrives once it says it has started.
    code = ("import sys, time, routereval.sources.catalog as c\n"
            "def slow(*a, **k):\n    print('started', flush=True)\n    time.sleep(60)\n"
            "c.imported_names = slow\n"
            "from routereval.cli import main; main()\n")
    # A shell starts background jobs with Ctrl-C ignored; the child gets it back, as in a terminal.
    p = subprocess.Popen([sys.executable, "-c", code, "data", "list"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env={**os.environ, "ROUTEREVAL_HOME": str(tmp_path)},
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert p.stdout.readline().strip() == "started"
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130
    assert "Traceback" not in err
