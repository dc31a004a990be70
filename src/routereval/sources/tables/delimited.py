"""Reading CSV and TSV: the header by the csv module, the body by pandas' C parser."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import numpy as np
import pandas as pd

from routereval.errors import DataError
from routereval.sources.tables.parsed import Numbers, PlanFor, Table, as_text, columns, drop_blank


def _lines(text: str) -> Iterator[str]:
    pos = 0
    while pos < len(text):
        nl = text.find("\n", pos)
        end = len(text) if nl < 0 else nl + 1
        yield text[pos:end]
        pos = end


def read_delimited(
    text: str, data: bytes, file: str, fmt: str, sep: str, plan_for: PlanFor
) -> Table:
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

    cells: list[np.ndarray | Numbers] = []
    extra = np.zeros(len(df), dtype=np.int64)
    quoted = b'"' in body
    for i in range(n):
        col = df[i]
        if plan.numeric(i) and pd.api.types.is_numeric_dtype(col):  # bool columns included
            cells.append(Numbers(col.to_numpy(dtype=np.float64, na_value=np.nan), col.isna().to_numpy()))
            continue
        raw = as_text(col)
        if quoted:  # a quoted cell may span lines; count them to keep line numbers right
            extra += raw.str.count("\n").to_numpy(dtype=np.int64)
        cells.append(raw.str.strip().to_numpy(dtype=object))
    before = np.concatenate([[0], np.cumsum(extra)[:-1]]) if len(df) else extra
    where = header_end + 1 + np.arange(len(df), dtype=np.int64) + before
    return drop_blank(Table(file, fmt, plan.layout, columns(header, plan, cells), where))


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
