"""Reading JSON Lines: Arrow's parser when it can decide, line by line otherwise."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd

from routereval.errors import DataError
from routereval.sources.tables.parquet import arrow_column
from routereval.sources.tables.parsed import Numbers, PlanFor, Table, columns, drop_blank

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


def read_jsonl_arrow(data: bytes, file: str, plan_for: PlanFor) -> Table | None:
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
    cells = [arrow_column(table.column(i), h, plan.numeric(i), file) for i, h in enumerate(headers)]
    return drop_blank(Table(file, "jsonl", plan.layout, columns(headers, plan, cells), where))


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


def read_jsonl(text: str, file: str, plan_for: PlanFor) -> Table:
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
    return drop_blank(Table(file, "jsonl", plan.layout, columns(headers, plan, cells), lines))


def _json_column(values: list, header: str, numeric: bool, lines: np.ndarray, file: str) -> np.ndarray | Numbers:
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
        return Numbers(nums, null)
    text = ["" if v is None else v if type(v) is str else str(v) for v in values]
    return pd.Series(text, dtype=str).str.strip().to_numpy(dtype=object)
