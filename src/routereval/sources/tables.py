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
  answer) and ``cost`` (dollars spent on that record).

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

=============  ===================================================================
column         also accepted as
=============  ===================================================================
prompt_id      id, question_id, item_id, sample_id, example_id, doc_id, qid
prompt         text, question, query, input, prompt_text
model          llm, model_name, model_id
score          correct, accuracy, acc, is_correct, correctness
task           task_name, category, subject, subset, domain
reference      reference_answer, gold, gold_answer, target, ground_truth
cost           cost_usd
=============  ===================================================================

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
* Costs are non-negative numbers; an empty cell means unknown.
* In JSONL a column must hold one kind of value throughout (all strings or all
  numbers; scores may mix numbers and booleans); objects and lists are refused.

Errors name the position as the user sees it: for CSV/TSV the line number in
the file (the header is line 1; a quoted cell spanning lines counts all of
them), for JSONL the line number, for Parquet the 1-based row.

Prompts and models keep the order of their first appearance in the file. The
benchmark is binary when every score is 0 or 1, continuous otherwise.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from routereval.errors import DataError
from routereval.records import Benchmark

FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
COMPRESSIONS = (".gz", ".bz2", ".xz", ".zip")
LAYOUTS = ("long", "wide")

ALIASES: dict[str, tuple[str, ...]] = {
    "prompt_id": ("id", "question_id", "item_id", "sample_id", "example_id", "doc_id", "qid"),
    "prompt": ("text", "question", "query", "input", "prompt_text"),
    "model": ("llm", "model_name", "model_id"),
    "score": ("correct", "accuracy", "acc", "is_correct", "correctness"),
    "task": ("task_name", "category", "subject", "subset", "domain"),
    "reference": ("reference_answer", "gold", "gold_answer", "target", "ground_truth"),
    "cost": ("cost_usd",),
}
_CANONICAL = {alias: canon for canon, aliases in ALIASES.items() for alias in (canon, *aliases)}
LONG_COLUMNS = ("prompt_id", "model", "score", "prompt", "task", "reference", "cost")
# Roles whose cells are numbers; every model column of the wide layout is one too.
_NUMERIC_ROLES = ("score", "cost")
_MODEL = "model:"

_TRUE = frozenset({"true", "yes"})
_FALSE = frozenset({"false", "no"})
# Text that people write for "no value"; each must be an empty cell instead.
_MISSING_WORDS = frozenset({"nan", "-nan", "+nan", "na", "n/a", "nat", "null", "none", "missing", "-", "?"})
_PANDAS_INDEX = re.compile(r"__index_level_\d+__")


# -- the table as read, before it becomes a benchmark ----------------------


@dataclass
class _Numbers:
    """A column already parsed as numbers: ``null`` marks missing cells (NaN is a value)."""

    values: np.ndarray
    null: np.ndarray


@dataclass
class _Column:
    header: str  # as written, stripped
    role: str  # a canonical name, or "model:<name>" for a wide-layout model column
    cells: np.ndarray | _Numbers  # object array of stripped str ("" = empty), or numbers


@dataclass
class _Table:
    file: str
    fmt: str
    layout: str
    columns: list[_Column]
    where: np.ndarray  # line (or Parquet row) of each record, as the user counts it

    @property
    def unit(self) -> str:
        return "row" if self.fmt == "parquet" else "line"

    @property
    def missing_hint(self) -> str:
        if self.fmt == "jsonl":
            return "write null (or leave the key out) for a missing record"
        if self.fmt == "parquet":
            return "store a null for a missing record"
        return "write an empty cell for a missing record"

    def at(self, i: int) -> int:
        return int(self.where[i])

    def error(self, message: str, i: int | None = None, column: str | None = None) -> DataError:
        return DataError(message, file=self.file, row=None if i is None else self.at(i), column=column)

    def role(self, role: str) -> _Column | None:
        return next((c for c in self.columns if c.role == role), None)


@dataclass
class _Plan:
    layout: str
    roles: list[str]

    def numeric(self, i: int) -> bool:
        return self.roles[i] in _NUMERIC_ROLES or self.roles[i].startswith(_MODEL)


# -- public entry point -----------------------------------------------------


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
    scale = _check_scale(score_scale, file)
    if not path.exists():
        raise DataError("does not exist", file=file)
    if not path.is_file():
        raise DataError("is not a file", file=file)
    fmt, compression = _detect_format(path, format)
    plan_for = _planner(file, layout)
    if fmt == "parquet":
        digest = _sha256_file(path)
        table = _read_parquet(path, plan_for)
    else:
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        data = _decompress(raw, compression, file)
        sep = "\t" if fmt == "tsv" else "," if fmt == "csv" else None
        text = _decode_utf8(data, file, sep, compressed=compression is not None)
        if fmt == "jsonl":
            table = _read_jsonl_arrow(data, file, plan_for) or _read_jsonl(text, file, plan_for)
        else:
            table = _read_delimited(text, data, file, fmt, sep, plan_for)
    provenance = {"source": "table", "file": file, "sha256": digest, "layout": table.layout, "format": fmt}
    if scale is not None:
        provenance["score_scale"] = list(scale)
    build = _build_long if table.layout == "long" else _build_wide
    return build(table, name or _stem(path), scale, provenance)


# -- files: format, compression, encoding ------------------------------------


def _detect_format(path: Path, format: str | None) -> tuple[str, str | None]:
    suffixes = [s.lower() for s in path.suffixes]
    compression = suffixes.pop() if suffixes and suffixes[-1] in COMPRESSIONS else None
    if format is not None:
        fmt = FORMATS.get("." + format.lower().lstrip("."))
        if fmt is None:
            raise DataError(
                f"unknown format {format!r}; supported: csv, tsv, jsonl (or ndjson), parquet", file=str(path)
            )
    else:
        fmt = FORMATS.get(suffixes[-1]) if suffixes else None
        if fmt is None:
            raise DataError(
                f"cannot tell the format from the file name; supported: {', '.join(FORMATS)} "
                f"(all but Parquet also compressed as {', '.join(COMPRESSIONS)}), "
                "or pass format='csv' / 'tsv' / 'jsonl' / 'parquet'",
                file=str(path),
            )
    if fmt == "parquet" and compression:
        raise DataError("a Parquet file cannot be compressed on top (Parquet compresses itself)", file=str(path))
    return fmt, compression


def _stem(path: Path) -> str:
    name = path.name
    for known in (COMPRESSIONS, tuple(FORMATS)):
        stem, dot, ext = name.rpartition(".")
        if dot and stem and "." + ext.lower() in known:
            name = stem
    return name if name != path.name else path.stem


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(2**20), b""):
            h.update(block)
    return h.hexdigest()


def _decompress(raw: bytes, compression: str | None, file: str) -> bytes:
    try:
        if compression == ".gz":
            return gzip.decompress(raw)
        if compression == ".bz2":
            return bz2.decompress(raw)
        if compression == ".xz":
            return lzma.decompress(raw)
        if compression == ".zip":
            with zipfile.ZipFile(io.BytesIO(raw)) as z:
                members = [m for m in z.namelist() if not m.endswith("/")]
                if len(members) != 1:
                    raise DataError(f"a .zip must hold exactly one file, this one holds {len(members)}", file=file)
                return z.read(members[0])
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile) as exc:
        raise DataError(f"could not be decompressed as {compression}: {exc}", file=file) from exc
    return raw


def _decode_utf8(data: bytes, file: str, sep: str | None, compressed: bool = False) -> str:
    """Decode the bytes ourselves, so that a bad byte can be located by line and offset."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start
        line = data.count(b"\n", 0, start) + 1
        line_start = data.rfind(b"\n", 0, start) + 1
        column = _column_at(data, line_start, start, sep)
        raise DataError(
            f"is not UTF-8 text: byte 0x{data[start]:02x} on line {line}, byte {start - line_start + 1} of "
            f"the line (offset {start} in the {'decompressed text' if compressed else 'file'}); "
            "save the file as UTF-8",
            file=file,
            row=line,
            column=column,
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def _column_at(data: bytes, line_start: int, offset: int, sep: str | None) -> str | None:
    """Best guess of the column holding a byte, for the encoding error message."""
    prefix = data[line_start:offset].decode("utf-8", "replace")
    if sep is None:  # JSONL: the last key before the byte
        keys = re.findall(r'"((?:[^"\\]|\\.)*)"\s*:', prefix)
        return keys[-1] if keys else None
    if line_start == 0:
        return None
    first_line = data[: data.find(b"\n")].decode("utf-8", "replace").lstrip("\ufeff")
    try:
        header = next(csv.reader([first_line], delimiter=sep))
        fields = next(csv.reader([prefix], delimiter=sep), [""]) if prefix else [""]
    except (csv.Error, StopIteration):
        return None
    i = len(fields) - 1
    return header[i].strip() if 0 <= i < len(header) else None


# -- headers: names, aliases, layout -----------------------------------------


def _key(header: str) -> str:
    """A header as matched against the accepted names: lower case, spaces and hyphens as ``_``."""
    return re.sub(r"[\s\-]+", "_", header.strip().lower())


def _canonical(header: str) -> str | None:
    return _CANONICAL.get(_key(header))


def _accepted() -> str:
    return "; ".join(f"{c} (or {', '.join(ALIASES[c])})" for c in LONG_COLUMNS)


_PlanFor = Callable[..., _Plan]


def _planner(file: str, layout: str | None) -> _PlanFor:
    def plan(headers: list[str], header_line: int | None = None) -> _Plan:
        return _plan(file, headers, layout, header_line)

    return plan


def _plan(file: str, headers: list[str], layout: str | None, line: int | None) -> _Plan:
    """Give every column its role, checking names and the layout.

    ``line`` is the header's line in a CSV/TSV file (None where there is no header line).
    """
    seen: dict[str, int] = {}
    for i, h in enumerate(headers):
        if h == "":
            raise DataError(
                f"column {i + 1} has no header; every column needs a name (a saved index? write without it)",
                file=file,
                row=line,
            )
        if h in seen:
            raise DataError(
                f"column {h!r} appears twice (columns {seen[h] + 1} and {i + 1})", file=file, row=line, column=h
            )
        seen[h] = i
    canon = [_canonical(h) for h in headers]
    by_role: dict[str, int] = {}
    for i, c in enumerate(canon):
        if c is None:
            continue
        if c in by_role:
            a = headers[by_role[c]]
            raise DataError(
                f"columns {a!r} and {headers[i]!r} both mean {c!r}; keep one of them",
                file=file,
                row=line,
                column=headers[i],
            )
        by_role[c] = i
    if layout is None:
        layout = "long" if "model" in by_role and "score" in by_role else "wide"
    if layout == "long":
        missing = [c for c in ("prompt_id", "model", "score") if c not in by_role]
        if missing:
            raise DataError(
                f"the long layout needs the columns prompt_id, model and score; missing: {', '.join(missing)} "
                f"({'; '.join(f'{c} is also accepted as ' + ', '.join(ALIASES[c]) for c in missing)})",
                file=file,
                row=line,
                column=missing[0],
            )
        unknown = [h for h, c in zip(headers, canon) if c is None]
        if unknown:
            raise DataError(
                f"unknown column(s) {', '.join(map(repr, unknown))} in the long layout; accepted columns: "
                f"{_accepted()}",
                file=file,
                row=line,
                column=unknown[0],
            )
        return _Plan("long", [c for c in canon if c is not None])
    if "prompt_id" not in by_role:
        raise DataError(
            "the wide layout needs a prompt_id column (or one of: "
            f"{', '.join(ALIASES['prompt_id'])}) and one score column per model",
            file=file,
            row=line,
            column="prompt_id",
        )
    long_only = [headers[by_role[c]] for c in ("model", "score", "cost") if c in by_role]
    if long_only:
        raise DataError(
            f"column {long_only[0]!r} belongs to the long layout, but this table is read as wide (a long table "
            "needs prompt_id, model and score columns; a wide one has one score column per model)",
            file=file,
            row=line,
            column=long_only[0],
        )
    roles = [c if c is not None else _MODEL + h for h, c in zip(headers, canon)]
    if not any(r.startswith(_MODEL) for r in roles):
        raise DataError(
            "has no model columns: a wide table needs one score column per model besides "
            f"{', '.join(repr(h) for h in headers)}",
            file=file,
            row=line,
        )
    return _Plan("wide", roles)


# -- reading: CSV / TSV -------------------------------------------------------


def _lines(text: str) -> Iterator[str]:
    pos = 0
    while pos < len(text):
        nl = text.find("\n", pos)
        end = len(text) if nl < 0 else nl + 1
        yield text[pos:end]
        pos = end


def _read_delimited(
    text: str, data: bytes, file: str, fmt: str, sep: str, plan_for: _PlanFor
) -> _Table:
    # The header is read by the csv module so that duplicate names stay visible
    # (pandas would rename them) and so that we know which line the data start on.
    reader = csv.reader(_lines(text), delimiter=sep)
    header = None
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                header = [cell.strip() for cell in row]
                break
    except csv.Error as exc:
        raise DataError(f"the header could not be parsed: {exc}", file=file, row=reader.line_num) from exc
    if header is None:
        raise DataError("is empty", file=file)
    header_end = reader.line_num  # physical lines up to the end of the header
    plan = plan_for(header, header_end)

    offset = 0
    for _ in range(header_end):
        nl = data.find(b"\n", offset)
        offset = len(data) if nl < 0 else nl + 1
    body = data[offset:]
    if not body.strip():
        raise DataError(f"has a header (line {header_end}) but no data rows", file=file, row=header_end)

    n = len(header)
    try:
        df = pd.read_csv(
            io.BytesIO(body),
            sep=sep,
            header=None,
            names=list(range(n)),
            index_col=False,
            dtype={i: str for i in range(n) if not plan.numeric(i)},
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
            encoding="utf-8",
            engine="c",
        )
    except pd.errors.ParserError as exc:
        raise _locate_parse_error(body, header_end, n, sep, file, exc) from exc

    cells: list[np.ndarray | _Numbers] = []
    extra = np.zeros(len(df), dtype=np.int64)
    quoted = b'"' in body
    for i in range(n):
        col = df[i]
        if plan.numeric(i) and pd.api.types.is_numeric_dtype(col):  # bool columns included
            cells.append(_Numbers(col.to_numpy(dtype=np.float64, na_value=np.nan), col.isna().to_numpy()))
            continue
        raw = _as_text(col)
        if quoted:  # a quoted cell may span lines; count them to keep line numbers right
            extra += raw.str.count("\n").to_numpy(dtype=np.int64)
        cells.append(raw.str.strip().to_numpy(dtype=object))
    before = np.concatenate([[0], np.cumsum(extra)[:-1]]) if len(df) else extra
    where = header_end + 1 + np.arange(len(df), dtype=np.int64) + before
    return _drop_blank(_Table(file, fmt, plan.layout, _columns(header, plan, cells), where))


def _as_text(col: pd.Series) -> pd.Series:
    """A column as str with "" for empty cells, whatever pandas made of it."""
    if pd.api.types.is_string_dtype(col) and not pd.api.types.is_object_dtype(col):
        return col.fillna("")
    return col.map(lambda v: "" if v is None or (isinstance(v, float) and v != v) else str(v)).astype(str)


def _locate_parse_error(body: bytes, header_end: int, n: int, sep: str, file: str, exc: Exception) -> DataError:
    """Find the line pandas choked on (its own count skips blank lines and the header)."""
    reader = csv.reader(_lines(body.decode("utf-8")), delimiter=sep)
    start = 1  # the line the current record starts on, counted from the first data line
    try:
        for row in reader:
            if len(row) > n:
                line = header_end + start
                return DataError(f"line {line} has {len(row)} fields but the header has {n}", file=file, row=line)
            if "EOF inside string" in str(exc) and reader.line_num >= body.count(b"\n"):
                # The last record swallowed the rest of the file: its quote was never closed.
                line = header_end + start
                return DataError(f"a quoted cell opened on line {line} is never closed", file=file, row=line)
            start = reader.line_num + 1
    except csv.Error as err:
        line = header_end + start
        return DataError(f"line {line} could not be parsed: {err}", file=file, row=line)
    return DataError(f"could not be parsed: {str(exc).strip()}", file=file)


def _columns(headers: list[str], plan: _Plan, cells: list) -> list[_Column]:
    return [_Column(h, r, c) for h, r, c in zip(headers, plan.roles, cells)]


def _drop_blank(table: _Table) -> _Table:
    blank = np.ones(len(table.where), dtype=bool)
    for col in table.columns:
        blank &= col.cells.null if isinstance(col.cells, _Numbers) else (col.cells == "")
    if blank.any():
        keep = ~blank
        for col in table.columns:
            c = col.cells
            col.cells = _Numbers(c.values[keep], c.null[keep]) if isinstance(c, _Numbers) else c[keep]
        table.where = table.where[keep]
    if len(table.where) == 0:
        raise DataError("has a header but no data rows", file=table.file)
    return table


# -- reading: JSONL -----------------------------------------------------------

_KIND = {str: "string", int: "number", float: "number", bool: "boolean", dict: "object", list: "list"}


def _kind(t: type, numeric: bool = False) -> str:
    kind = _KIND.get(t, t.__name__)
    # Booleans are a way of writing a 0/1 score, so they mix freely with numbers.
    return "number" if numeric and kind == "boolean" else kind


def _a(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


# Arrow types that the fast JSONL reader may hand on; anything else (timestamps
# inferred from strings, nested values) is read again line by line.
_ARROW_JSON_TYPES = ("string", "large_string", "int64", "double", "bool", "null")


def _read_jsonl_arrow(data: bytes, file: str, plan_for: _PlanFor) -> _Table | None:
    """Read JSONL with Arrow's parser (fast); None when the slow reader must decide."""
    import pyarrow as pa
    import pyarrow.json as pj

    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    try:
        table = pj.read_json(io.BytesIO(body))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    where = _non_blank_lines(body)
    # Arrow also accepts two objects on one line; then the line numbers would be wrong.
    if table.num_rows != len(where) or table.num_rows == 0:
        return None
    if any(str(t) not in _ARROW_JSON_TYPES for t in table.schema.types):
        return None
    headers = [n.strip() for n in table.schema.names]
    plan = plan_for(headers)
    for i, t in enumerate(table.schema.types):
        if str(t) == "double" and not plan.numeric(i):
            return None  # ids mixing 1 and 1.5: written as the slow reader writes them
    cells = [_arrow_column(table.column(i), h, plan.numeric(i), file) for i, h in enumerate(headers)]
    return _drop_blank(_Table(file, "jsonl", plan.layout, _columns(headers, plan, cells), where))


def _non_blank_lines(body: bytes, short: int = 16) -> np.ndarray:
    """1-based numbers of the lines that hold more than whitespace.

    Only lines of up to ``short`` bytes are looked at: a longer blank line is
    counted as text, and the caller's row count check then sends the file to
    the line-by-line reader.
    """
    nl = np.flatnonzero(np.frombuffer(body, dtype=np.uint8) == 10)
    starts = np.concatenate([[0], nl + 1])
    ends = np.concatenate([nl, [len(body)]])
    keep = np.ones(len(starts), dtype=bool)
    for i in np.flatnonzero(ends - starts <= short):
        keep[i] = bool(body[starts[i] : ends[i]].strip())
    return np.flatnonzero(keep) + 1


def _read_jsonl(text: str, file: str, plan_for: _PlanFor) -> _Table:
    records: list[dict] = []
    where: list[int] = []
    for i, line in enumerate(text.split("\n"), 1):
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"line {i} is not valid JSON: {exc.msg} (character {exc.colno})", file=file, row=i
            ) from None
        if not isinstance(obj, dict):
            raise DataError(
                f"line {i} is {_a(_kind(type(obj)))}, expected a JSON object "
                '(e.g. {"prompt_id": "q1", "model": "m", "score": 1})',
                file=file,
                row=i,
            )
        records.append(obj)
        where.append(i)
    if not records:
        raise DataError("is empty (no JSON lines)", file=file)
    keys: dict[str, None] = {}
    shape: tuple = ()
    for r in records:
        t = tuple(r)
        if t != shape:  # most records share one key order: only look at the others
            shape = t
            keys.update(dict.fromkeys(t))
    names = list(keys)
    headers = [k.strip() for k in names]
    plan = plan_for(headers)
    lines = np.asarray(where, dtype=np.int64)
    cells = []
    for i, (key, header) in enumerate(zip(names, headers)):
        values = [r.get(key) for r in records]
        cells.append(_json_column(values, header, plan.numeric(i), lines, file))
    return _drop_blank(_Table(file, "jsonl", plan.layout, _columns(headers, plan, cells), lines))


def _json_column(values: list, header: str, numeric: bool, lines: np.ndarray, file: str) -> np.ndarray | _Numbers:
    types = set(map(type, values)) - {type(None)}
    for bad in (dict, list):
        if bad in types:
            i = next(j for j, v in enumerate(values) if type(v) is bad)
            raise DataError(
                f"line {lines[i]} holds {_a(_KIND[bad])} in column {header!r}; expected a single value",
                file=file,
                row=int(lines[i]),
                column=header,
            )
    kinds = {_kind(t, numeric) for t in types}
    if len(kinds) > 1:
        first: dict[str, int] = {}
        for j, v in enumerate(values):
            if v is not None:
                first.setdefault(_kind(type(v), numeric), j)
                if len(first) == 2:
                    break
        (ka, ja), (kb, jb) = first.items()
        raise DataError(
            f"column {header!r} mixes types: {ka}s (line {lines[ja]}) and {kb}s (line {lines[jb]}); "
            "use one type throughout",
            file=file,
            row=int(lines[jb]),
            column=header,
        )
    if numeric and kinds <= {"number"}:
        null = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
        nums = np.fromiter((np.nan if v is None else float(v) for v in values), dtype=np.float64, count=len(values))
        return _Numbers(nums, null)
    text = ["" if v is None else v if type(v) is str else str(v) for v in values]
    return pd.Series(text, dtype=str).str.strip().to_numpy(dtype=object)


# -- reading: Parquet ---------------------------------------------------------


def _read_parquet(path: Path, plan_for: _PlanFor) -> _Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    file = str(path)
    try:
        schema = pq.read_schema(path)
        # pandas stores a non-default index as an extra column: not the user's data.
        names = [n for n in schema.names if not _PANDAS_INDEX.fullmatch(n)]
        table = pq.read_table(path, columns=names)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"could not be read as Parquet: {exc}", file=file) from exc
    if not names:
        raise DataError("has no columns", file=file)
    headers = [n.strip() for n in names]
    plan = plan_for(headers)
    if table.num_rows == 0:
        raise DataError("has no rows", file=file)
    rows = np.arange(1, table.num_rows + 1, dtype=np.int64)
    cells = [_arrow_column(table.column(n), h, plan.numeric(i), file) for i, (n, h) in enumerate(zip(names, headers))]
    return _drop_blank(_Table(file, "parquet", plan.layout, _columns(headers, plan, cells), rows))


def _arrow_column(col, header: str, numeric: bool, file: str) -> np.ndarray | _Numbers:
    import pyarrow as pa

    t = col.type
    if pa.types.is_dictionary(t):
        col, t = col.cast(t.value_type), t.value_type
    null = col.is_null().to_numpy(zero_copy_only=False)
    if pa.types.is_nested(t):
        i = int(np.argmin(null))
        raise DataError(
            f"row {i + 1} holds a {t} value in column {header!r}; expected a single value",
            file=file,
            row=i + 1,
            column=header,
        )
    is_number = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
    if numeric and (is_number or pa.types.is_boolean(t)):
        values = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
        return _Numbers(np.where(null, np.nan, values), null)
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        out = []
        for i, v in enumerate(col.to_pylist()):
            try:
                out.append("" if v is None else v.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"row {i + 1} is not UTF-8 text: byte 0x{v[exc.start]:02x} at byte {exc.start + 1} of the cell",
                    file=file,
                    row=i + 1,
                    column=header,
                ) from None
        return pd.Series(out, dtype=str).str.strip().to_numpy(dtype=object)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return col.to_pandas().fillna("").astype(str).str.strip().to_numpy(dtype=object)
    return _as_text(pd.Series(col.to_pylist(), dtype=object)).str.strip().to_numpy(dtype=object)


# -- cells to numbers ---------------------------------------------------------


def _check_scale(score_scale: tuple[float, float] | None, file: str) -> tuple[float, float] | None:
    if score_scale is None:
        return None
    try:
        lo, hi = (float(x) for x in score_scale)
    except (TypeError, ValueError):
        raise DataError(f"score_scale must be a pair (lo, hi) of numbers, got {score_scale!r}", file=file) from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise DataError(f"score_scale must be (lo, hi) with finite lo < hi, got {score_scale!r}", file=file)
    return lo, hi


def _numbers(table: _Table, col: _Column, what: str, booleans: bool) -> np.ndarray:
    """A column's cells as float64 (NaN = empty cell); any cell that is not a number is an error."""
    cells = col.cells
    if isinstance(cells, _Numbers):
        bad = ~cells.null & ~np.isfinite(cells.values)
        if bad.any():
            i = int(np.argmax(bad))
            v = cells.values[i]
            problem = f"is NaN; {table.missing_hint}" if np.isnan(v) else "is infinite"
            raise table.error(f"{what} on {table.unit} {table.at(i)} {problem}", i, col.header)
        return np.where(cells.null, np.nan, cells.values)
    empty = cells == ""
    values = pd.to_numeric(pd.Series(cells, dtype=object), errors="coerce").to_numpy(dtype=np.float64, copy=True)
    odd = ~empty & ~np.isfinite(values)
    if odd.any():
        idx = np.flatnonzero(odd)
        low = np.array([s.lower() for s in cells[idx]], dtype=object)
        if booleans:
            is_true = np.isin(low, list(_TRUE))
            is_false = np.isin(low, list(_FALSE))
            values[idx[is_true]] = 1.0
            values[idx[is_false]] = 0.0
            keep = ~(is_true | is_false)
            idx, low = idx[keep], low[keep]
        if len(idx):
            i, word = int(idx[0]), low[0]
            if word in _MISSING_WORDS:
                problem = f"is not a number; {table.missing_hint}"
            elif np.isinf(values[i]):
                problem = "is infinite"
            else:
                problem = "is not a number"
                if col.role.startswith(_MODEL):
                    problem += " (every column besides prompt_id, prompt, task and reference is read as a model)"
            raise table.error(f"{what} {cells[i]!r} on {table.unit} {table.at(i)} {problem}", i, col.header)
    values[empty] = np.nan
    return values


def _scores(table: _Table, col: _Column, scale: tuple[float, float] | None) -> np.ndarray:
    values = _numbers(table, col, "score", booleans=True)
    lo, hi = scale if scale is not None else (0.0, 1.0)
    outside = (values < lo) | (values > hi)  # NaN compares False: missing records pass
    if outside.any():
        i = int(np.argmax(outside))
        hint = (
            f"outside the declared score_scale [{lo:g}, {hi:g}]"
            if scale is not None
            else "outside [0, 1]; declare score_scale=(lo, hi) to rescale, e.g. (0, 100) for percentages"
        )
        raise table.error(f"score {values[i]:g} on {table.unit} {table.at(i)} is {hint}", i, col.header)
    if scale is not None:
        values = np.clip((values - lo) / (hi - lo), 0.0, 1.0)
    return values


def _costs(table: _Table, col: _Column) -> np.ndarray:
    values = _numbers(table, col, "cost", booleans=False)
    negative = values < 0
    if negative.any():
        i = int(np.argmax(negative))
        raise table.error(f"cost {values[i]:g} on {table.unit} {table.at(i)} is negative", i, col.header)
    return values


def _ids(table: _Table, col: _Column, what: str) -> np.ndarray:
    cells = col.cells  # ids are never numeric roles, so always text here
    empty = cells == ""
    if empty.any():
        i = int(np.argmax(empty))
        raise table.error(f"{what} is empty on {table.unit} {table.at(i)}; every record needs one", i, col.header)
    return cells


# -- building the benchmark ----------------------------------------------------

_PROMPT_FIELDS = {"prompt": "text", "task": "task", "reference": "reference"}
_NOUNS = {"prompt": "texts", "task": "task names", "reference": "references"}


def _build_long(
    table: _Table, name: str, scale: tuple[float, float] | None, provenance: dict
) -> Benchmark:
    pid_col, model_col = table.role("prompt_id"), table.role("model")
    pids = _ids(table, pid_col, "prompt_id")
    models = _ids(table, model_col, "model")
    p_codes, p_names = pd.factorize(pids)
    m_codes, m_names = pd.factorize(models)
    n_p, n_m = len(p_names), len(m_names)

    scores = _scores(table, table.role("score"), scale)
    cost_col = table.role("cost")
    costs = _costs(table, cost_col) if cost_col is not None else None

    key = p_codes.astype(np.int64) * n_m + m_codes
    dup = pd.Series(key).duplicated().to_numpy()
    if dup.any():
        j = int(np.argmax(dup))
        i = int(np.argmax(key == key[j]))
        raise table.error(
            f"duplicate record: prompt {pids[j]!r} and model {models[j]!r} appear on {table.unit}s "
            f"{table.at(i)} and {table.at(j)}; keep one",
            j,
            pid_col.header,
        )

    prompts = pd.DataFrame({"prompt_id": np.asarray(p_names, dtype=object)})
    for role, field in _PROMPT_FIELDS.items():
        col = table.role(role)
        if col is not None:
            prompts[field] = _per_prompt(table, col, p_codes, n_p, pids)

    values = np.full((n_p, n_m), np.nan, dtype=np.float32)
    values[p_codes, m_codes] = scores
    cost_matrix = None
    if costs is not None:
        cost_matrix = np.full((n_p, n_m), np.nan, dtype=np.float32)
        cost_matrix[p_codes, m_codes] = costs
    return Benchmark.from_values(
        name, values, prompts, list(m_names), costs=cost_matrix, provenance=provenance
    )


def _per_prompt(table: _Table, col: _Column, p_codes: np.ndarray, n_p: int, pids: np.ndarray) -> np.ndarray:
    """One value per prompt from lines that may repeat it; two different values are an error."""
    cells = col.cells
    given = np.flatnonzero(cells != "")
    out = np.full(n_p, None, dtype=object)
    if len(given) == 0:
        return out
    codes = p_codes[given]
    uniq, first = np.unique(codes, return_index=True)
    first_line = np.empty(n_p, dtype=np.int64)
    first_line[uniq] = given[first]
    out[uniq] = cells[given[first]]
    differs = cells[given] != out[codes]
    if differs.any():
        j = int(given[np.argmax(differs)])
        i = int(first_line[p_codes[j]])
        raise table.error(
            f"prompt {pids[j]!r} has two different {_NOUNS[col.role]}: {_short(cells[i])} on {table.unit} "
            f"{table.at(i)} and {_short(cells[j])} on {table.unit} {table.at(j)}",
            j,
            col.header,
        )
    return out


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _refuse_score_like(table: _Table, col: _Column) -> None:
    """A wide table's column named like a prompt field (``target``) that holds scores may be a model.

    Reading it as the prompt field would make that model vanish without a word,
    and reading it as a model would lose a field the user named; so it is an
    error that names the column. The canonical names (``reference``) are never ambiguous.
    """
    if _key(col.header) == col.role:
        return
    cells = col.cells
    given = cells[cells != ""]
    if len(given) == 0:
        return
    low = np.array([c.lower() for c in given], dtype=object)
    values = pd.to_numeric(pd.Series(given, dtype=object), errors="coerce").to_numpy(dtype=np.float64)
    is_score = np.isin(low, list(_TRUE | _FALSE)) | ((values >= 0) & (values <= 1))
    if is_score.all():
        raise table.error(
            f"column {col.header!r} holds scores, but {col.header!r} is also a name for the {col.role} column: "
            f"rename it to {col.role!r} if it holds {_NOUNS[col.role]}, or give the model a name that is not "
            f"one of {', '.join(repr(a) for a in (col.role, *ALIASES[col.role]))}",
            None,
            col.header,
        )


def _build_wide(
    table: _Table, name: str, scale: tuple[float, float] | None, provenance: dict
) -> Benchmark:
    pid_col = table.role("prompt_id")
    pids = _ids(table, pid_col, "prompt_id")
    codes, uniques = pd.factorize(pids)
    if len(uniques) < len(pids):
        j = int(np.argmax(pd.Series(codes).duplicated().to_numpy()))
        i = int(np.argmax(codes == codes[j]))
        raise table.error(
            f"prompt_id {pids[j]!r} appears on {table.unit}s {table.at(i)} and {table.at(j)}; "
            "a wide table has one line per prompt",
            j,
            pid_col.header,
        )
    prompts = pd.DataFrame({"prompt_id": pids})
    for role, field in _PROMPT_FIELDS.items():
        col = table.role(role)
        if col is not None:
            _refuse_score_like(table, col)
            prompts[field] = np.where(col.cells == "", None, col.cells)
    model_cols = [c for c in table.columns if c.role.startswith(_MODEL)]
    values = np.empty((len(pids), len(model_cols)), dtype=np.float32, order="F")
    for k, col in enumerate(model_cols):
        values[:, k] = _scores(table, col, scale)
    return Benchmark.from_values(
        name, values, prompts, [c.header for c in model_cols], provenance=provenance
    )
