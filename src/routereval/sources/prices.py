"""Price tables: the ones shipped with the package and the ones a user gives (``--prices FILE``).

A price table has one row per model: ``model``, ``input`` and ``output`` in $
per 1M tokens. The shipped tables (``prices/<dataset>.csv``) add
``n_params``, ``provider``, ``source`` (the page the price was read from),
``date`` (when that price applied) and ``note``; a model with no public price
has empty ``input`` / ``output`` and a note saying why. A user's file is CSV
or JSON (a list of objects, or ``{model: {input, output}}``) with at least the
three price columns; it sets or overrides the prices of the models it names.
An empty cell (JSON ``null``) means "no price" and clears that price.

Every row is checked against one schema (:class:`routereval.records.prices.PriceRow`) before anything
uses it, shipped tables included: a price is a finite number >= 0 (a JSON
``true`` is not a number) no larger than :data:`routereval.records.prices.MAX_PRICE`; a model is named
once; unknown columns are refused rather than dropped. Errors name the file,
the row (the line of a CSV, the entry of a JSON file) and the column.
"""

from __future__ import annotations

import csv
import difflib
import io
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from pydantic import ValidationError

from routereval import strict_json
from routereval.errors import DataError
from routereval.records.prices import OPTIONAL_COLUMNS, PRICE_COLUMNS, PriceRow, show_value, why_refused

if TYPE_CHECKING:
    from routereval.records import Benchmark

_PACKAGE = "routereval.sources"

#: A price file is a table of models: 10 MiB holds over 100,000 rows, far beyond any catalogue of LLMs.
#: Larger files are refused before they are read, so a wrong or hostile file cannot fill the memory.
MAX_FILE_BYTES = 10 * 1024 * 1024
#: Nesting a JSON price file may use: a list of objects is 2 deep; a little room lets the schema name a stray list.
MAX_JSON_DEPTH = 4

class _Number(float):
    """A number read from a file, keeping its text so that messages quote what the user wrote."""

    text: str

    def __new__(cls, text: str) -> _Number:
        value = super().__new__(cls, float(text))
        value.text = text
        return value


def shipped_prices(dataset: str) -> pd.DataFrame:
    """The price table shipped for ``dataset`` (``prices/<dataset>.csv`` in the package)."""
    ref = resources.files(_PACKAGE) / "prices" / f"{dataset}.csv"
    with resources.as_file(ref) as path:
        return read_prices(path)


def read_prices(path: str | Path) -> pd.DataFrame:
    """A user's price file (CSV or JSON: model, input, output in $ per 1M tokens), checked row by row.

    Returns one row per model with the columns model, input, output (float, NaN
    for no price) and n_params, provider, source, date, note (NaN / None where
    not given). Raises :class:`DataError` naming the file, row and column of
    the first problem.
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise DataError("does not exist (a price file: CSV or JSON with model, input, output)", file=where)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise DataError(f"is {size / 2**20:.1f} MiB; a price file holds one row per model and is refused above "
                        f"{MAX_FILE_BYTES // 2**20} MiB", file=where)
    with path.open("rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)  # the file may have grown since stat()
    if len(data) > MAX_FILE_BYTES:
        raise DataError(f"is larger than {MAX_FILE_BYTES // 2**20} MiB; a price file holds one row per model",
                        file=where)
    try:
        text = data.decode("utf-8-sig")  # a BOM (Excel's UTF-8) is not part of the first column's name
    except UnicodeDecodeError as exc:
        raise DataError(f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); save it as UTF-8",
                        file=where) from exc
    if not text.strip():
        raise DataError("is empty; a price file needs model, input, output ($ per 1M tokens)", file=where)
    is_json = path.suffix.lower() == ".json"
    rows = _json_rows(text, where) if is_json else _csv_rows(text, where)
    return _table(rows, where, "entry" if is_json else "line")


def apply_price_file(bench: Benchmark, path: str | Path) -> Benchmark:
    """``bench`` with the prices of a user's price file set or overriding its own.

    A model the file names that ``bench`` does not have is an error naming the
    file (a misspelt name would otherwise leave that model unpriced without a word).
    """
    from routereval.records.costs import with_prices

    table = read_prices(path)
    unknown = sorted(set(table["model"]) - set(bench.model_names))
    if unknown:
        raise DataError(
            f"names model(s) that {bench.name!r} does not have: {', '.join(map(repr, unknown[:5]))}"
            f"{' ...' if len(unknown) > 5 else ''}; its models are {', '.join(map(repr, bench.model_names[:8]))}"
            f"{' ...' if bench.n_models > 8 else ''}",
            file=str(path), column="model",
        )
    return with_prices(bench, table)


# -- reading ---------------------------------------------------------------------------------------


def _csv_rows(text: str, where: str) -> list[tuple[int, dict[str, Any]]]:
    """(line, {column: cell}) per data row; cells that read as numbers become numbers, empty cells None."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
        while not any(c.strip() for c in header):  # leading blank lines
            header = next(reader)
        header_line = reader.line_num
        header = [c.strip() for c in header]
        for i, name in enumerate(header):
            if not name:
                raise DataError(f"column {i + 1} has no header", file=where, row=header_line)
            if header.index(name) != i:
                raise DataError(f"column {name!r} appears twice (columns {header.index(name) + 1} and {i + 1})",
                                file=where, row=header_line, column=name)
        _check_columns(header, where, header_line)
        rows = []
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            line = reader.line_num
            if len(cells) != len(header):
                raise DataError(f"line {line} has {len(cells)} cells but the header has {len(header)}",
                                file=where, row=line)
            rows.append((line, {name: _cell(c, name in _NUMBERS) for name, c in zip(header, cells, strict=True)}))
    except StopIteration:
        raise DataError("is empty; a price file needs model, input, output ($ per 1M tokens)", file=where) from None
    except csv.Error as exc:
        raise DataError(f"is not a readable CSV: {exc} (line {reader.line_num})", file=where,
                        row=reader.line_num) from exc
    if not rows:
        raise DataError("has a header but no rows", file=where, row=header_line)
    return rows


_NUMBERS = ("input", "output", "n_params")


def _cell(text: str, number: bool) -> Any:
    text = text.strip()
    if not text or not number:
        return text or None
    try:
        return _Number(text)
    except ValueError:
        return text


def _json_rows(text: str, where: str) -> list[tuple[int, dict[str, Any]]]:
    """(entry, {key: value}) per model of a JSON list of objects or {model: {...}} mapping."""
    try:
        raw = strict_json.loads(text, max_depth=MAX_JSON_DEPTH, parse_float=_Number, parse_int=_Number,
                                parse_constant=_Number)
    except strict_json.JSONRefused as exc:
        raise DataError(str(exc), file=where) from None
    shape = "should be a list of {model, input, output} objects or a {model: {input, output}} mapping"
    if isinstance(raw, dict):
        rows = []
        for i, (name, entry) in enumerate(raw.items(), 1):
            if not isinstance(entry, dict):
                raise DataError(f"model {name!r} should map to an object {{input, output}}, got {show_value(entry)}",
                                file=where, row=i)
            if "model" in entry:
                raise DataError(f"model {name!r} holds a 'model' key; in a {{model: {{input, output}}}} mapping "
                                "the key is the model's name", file=where, row=i, column="model")
            rows.append((i, {"model": name, **entry}))
        return rows
    if isinstance(raw, list):
        for i, entry in enumerate(raw, 1):
            if not isinstance(entry, dict):
                raise DataError(f"entry {i} is {show_value(entry)}; {shape}", file=where, row=i)
        if not raw:
            raise DataError("is an empty list; it names no model", file=where)
        return list(enumerate(raw, 1))
    raise DataError(f"{shape}, got {show_value(raw)}", file=where)




# -- checking --------------------------------------------------------------------------------------


def _check_columns(columns: list[str], where: str, row: int | None = None) -> None:
    missing = [c for c in PRICE_COLUMNS if c not in columns]
    if missing:
        raise DataError(f"has no column(s) {', '.join(missing)}; a price table needs model, input, output "
                        "($ per 1M tokens)", file=where)
    known = PRICE_COLUMNS + OPTIONAL_COLUMNS
    for name in columns:
        if name not in known:
            hint = difflib.get_close_matches(name, known, n=1)
            raise DataError(f"unknown column {name!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                            + f"; a price table has {', '.join(PRICE_COLUMNS)} and optionally "
                            f"{', '.join(OPTIONAL_COLUMNS)}", file=where, row=row, column=name)


def _table(rows: list[tuple[int, dict[str, Any]]], where: str, unit: str) -> pd.DataFrame:
    checked: list[PriceRow] = []
    first: dict[str, int] = {}
    for at, entry in rows:
        if unit == "entry":
            _check_columns(list(entry), where, at)
        row = _row(entry, where, at)
        if row.model in first:
            raise DataError(f"model {row.model!r} is listed twice ({unit}s {first[row.model]} and {at}); keep one",
                            file=where, row=at, column="model")
        first[row.model] = at
        checked.append(row)
    table = pd.DataFrame([r.model_dump() for r in checked], columns=list(PRICE_COLUMNS + OPTIONAL_COLUMNS))
    for col in ("input", "output", "n_params"):
        table[col] = table[col].astype(float)
    return table


def _row(entry: dict[str, Any], where: str, at: int) -> PriceRow:
    try:
        return PriceRow.model_validate(entry)
    except ValidationError as exc:
        error = exc.errors()[0]
        column = str(error["loc"][0]) if error["loc"] else None
        raise DataError(why_refused(error, entry), file=where, row=at, column=column) from None


