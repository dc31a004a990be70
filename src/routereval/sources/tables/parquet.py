"""Reading Parquet, and Arrow columns (shared with the fast JSON Lines reader)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from routereval.errors import DataError
from routereval.sources.tables.parsed import Numbers, PlanFor, Table, as_text, columns, drop_blank

_PANDAS_INDEX = re.compile(r"__index_level_\d+__")


def read_parquet(path: Path, plan_for: PlanFor) -> Table:
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
    cells = []
    for i, (n, h) in enumerate(zip(names, headers)):
        try:
            cells.append(arrow_column(table.column(n), h, plan.numeric(i), file))
        except pa.ArrowException as exc:
            # A damaged page can pass the reader and fail only when its values are decoded
            # (a string column whose bytes are not UTF-8, for one).
            raise DataError(f"column {h!r} could not be decoded ({exc}); the file is damaged", file=file,
                            column=h) from exc
    return drop_blank(Table(file, "parquet", plan.layout, columns(headers, plan, cells), rows))


def arrow_column(col, header: str, numeric: bool, file: str) -> np.ndarray | Numbers:
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
        return Numbers(np.where(null, np.nan, values), null)
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
    return as_text(pd.Series(col.to_pylist(), dtype=object)).str.strip().to_numpy(dtype=object)
