"""Bring your own records: a long or wide table as CSV, TSV, JSONL or Parquet.

:func:`read_table` turns one file into a :class:`~routereval.records.Benchmark`.
It forgives ordinary messiness and refuses anything ambiguous, naming the
file, the line (or row) and the column of the first problem it finds.

Formats
-------
Chosen from the file name, or given with ``format=``:

* ``.csv`` (comma-separated) and ``.tsv`` (tab-separated), optionally compressed
  as ``.gz``, ``.bz2``, ``.xz`` or ``.zip`` (one file inside);
* ``.jsonl`` / ``.ndjson``: one JSON object per line, compressed the same way;
* ``.parquet``.

Text must be UTF-8 (a leading byte-order mark is fine).

Layouts
-------
**Long**: one record per line, with columns

* ``prompt_id`` (required),
* ``model`` (required),
* ``score`` (required; an empty cell means the record is missing),
* optional ``prompt`` (the prompt text), ``task``, ``reference`` (reference
  answer), ``cost`` (dollars spent on that record) and ``input_tokens`` /
  ``output_tokens`` (the record's prompt and reply lengths in tokens). A
  record's cost is its ``cost`` where given, else its tokens times the model's
  prices (``routereval data import --prices FILE``; see docs/costs.md).

Any other column is an error. A prompt's text, task and reference may be given
on any of its lines (or on all of them, if they agree).

**Wide**: one line per prompt, with ``prompt_id`` (required), optional
``prompt``, ``task`` and ``reference`` columns, and one score column per
model, headed by the model's name.

``layout=None`` picks long when the table has both a ``model`` and a ``score``
column, wide otherwise.

Accepted column names
---------------------
Header names are matched ignoring case and surrounding spaces, with inner spaces
and hyphens read as ``_`` (``Prompt ID`` = ``prompt_id``). Model columns of the
wide layout keep their names exactly as written (stripped of surrounding spaces).

| column        | also accepted as                                          |
|---------------|-----------------------------------------------------------|
| prompt_id     | id, question_id, item_id, sample_id, example_id, doc_id, qid |
| prompt        | text, question, query, input, prompt_text                 |
| model         | llm, model_name, model_id                                 |
| score         | correct, accuracy, acc, is_correct, correctness           |
| task          | task_name, category, subject, subset, domain              |
| reference     | reference_answer, gold, gold_answer, target, ground_truth |
| cost          | cost_usd                                                  |
| input_tokens  | prompt_tokens, tokens_in, n_input_tokens                  |
| output_tokens | completion_tokens, tokens_out, n_output_tokens            |

Two columns that mean the same thing (``id`` and ``prompt_id``) are an error.

Cells
-----
* Surrounding whitespace is stripped; blank lines (and lines whose cells are all
  empty) are ignored.
* Scores are numbers in [0, 1], or ``true``/``false``/``yes``/``no`` (any case)
  for 1/0. Scores on another scale are accepted when it is declared:
  ``score_scale=(0, 100)`` maps s to (s - 0) / (100 - 0) and rejects anything
  outside [0, 100] (booleans are read as 1 and 0 before rescaling).
* A missing record is an empty cell (JSON ``null`` or an absent key; a Parquet
  null). ``nan``, ``NA``, ``null`` written as text, NaN and infinities are errors:
  a missing record must be written as missing, never as a number.
* Costs and token counts are non-negative numbers; an empty cell means unknown.
* In JSONL a column must hold one kind of value throughout (all strings or all
  numbers; scores may mix numbers and booleans); objects and lists are refused.

Errors name the position as the user sees it: for CSV/TSV the line number in
the file (the header is line 1; a quoted cell spanning lines counts all of
them), for JSONL the line number, for Parquet the 1-based row.

Prompts and models keep the order of their first appearance in the file. The
benchmark is binary when every score is 0 or 1, continuous otherwise.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from routereval.errors import DataError
from routereval.records import Benchmark
from routereval.manifests import full_sha256
from routereval.sources.tables.build import build_long, build_wide
from routereval.sources.tables.cells import check_scale
from routereval.sources.tables.delimited import read_delimited
from routereval.sources.tables.files import (
    COMPRESSIONS,
    FORMATS,
    decode_utf8,
    decompress,
    detect_format,
    stem,
)
from routereval.sources.tables.headers import ALIASES, LAYOUTS, planner
from routereval.sources.tables.json_lines import read_jsonl, read_jsonl_arrow
from routereval.sources.tables.parquet import read_parquet

__all__ = ["ALIASES", "COMPRESSIONS", "FORMATS", "LAYOUTS", "read_table"]

def read_table(
    path: str | os.PathLike,
    *,
    name: str | None = None,
    format: str | None = None,
    layout: str | None = None,
    score_scale: tuple[float, float] | None = None,
) -> Benchmark:
    """Read a long or wide table of scores (CSV, TSV, JSONL, Parquet) into a benchmark.

    The accepted layouts, column names and cell values are described in this
    module's docstring. Any problem raises :class:`~routereval.errors.DataError`
    naming the file, line (Parquet: row) and column.

    Args:
        path: the file.
        name: the benchmark's name; the file name without its extensions by default.
        format: ``csv``, ``tsv``, ``jsonl`` (or ``ndjson``) or ``parquet``; from
            the file name by default.
        layout: ``long`` or ``wide``; detected by default.
        score_scale: ``(lo, hi)`` when scores are not in [0, 1]; each score s
            becomes (s - lo) / (hi - lo).
    """
    path = Path(path)
    file = str(path)
    # Bad options are reported as DataError too, so that the command line shows one clear line.
    if layout is not None and layout not in LAYOUTS:
        raise DataError(f"layout must be 'long' or 'wide' (or left out to detect it), got {layout!r}", file=file)
    scale = check_scale(score_scale, file)
    if not path.exists():
        raise DataError("does not exist", file=file)
    if not path.is_file():
        raise DataError("is not a file", file=file)
    fmt, compression = detect_format(path, format)
    plan_for = planner(file, layout)
    if fmt == "parquet":
        digest = full_sha256(path)
        table = read_parquet(path, plan_for)
    else:
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        data = decompress(raw, compression, file)
        sep = "\t" if fmt == "tsv" else "," if fmt == "csv" else None
        text = decode_utf8(data, file, sep, compressed=compression is not None)
        if fmt == "jsonl":
            table = read_jsonl_arrow(data, file, plan_for) or read_jsonl(text, file, plan_for)
        else:
            table = read_delimited(text, data, file, fmt, sep, plan_for)
    provenance = {"source": "table", "file": file, "sha256": digest, "layout": table.layout, "format": fmt}
    if scale is not None:
        provenance["score_scale"] = list(scale)
    build = build_long if table.layout == "long" else build_wide
    return build(table, name or stem(path), scale, provenance)
