"""The table as read from a file, before it becomes a benchmark: columns with roles and cells."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from routereval.errors import DataError

# Roles whose cells are numbers; every model column of the wide layout is one too.
NUMERIC_ROLES = ("score", "cost", "input_tokens", "output_tokens")
MODEL = "model:"


@dataclass
class Numbers:
    """A column already parsed as numbers: ``null`` marks missing cells (NaN is a value)."""

    values: np.ndarray
    null: np.ndarray


@dataclass
class Column:
    header: str  # as written, stripped
    role: str  # a canonical name, or "model:<name>" for a wide-layout model column
    cells: np.ndarray | Numbers  # object array of stripped str ("" = empty), or numbers


@dataclass
class Table:
    file: str
    fmt: str
    layout: str
    columns: list[Column]
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

    def role(self, role: str) -> Column | None:
        return next((c for c in self.columns if c.role == role), None)


@dataclass
class Plan:
    layout: str
    roles: list[str]

    def numeric(self, i: int) -> bool:
        return self.roles[i] in NUMERIC_ROLES or self.roles[i].startswith(MODEL)


PlanFor = Callable[..., Plan]


def as_text(col: pd.Series) -> pd.Series:
    """A column as str with "" for empty cells, whatever pandas made of it."""
    if pd.api.types.is_string_dtype(col) and not pd.api.types.is_object_dtype(col):
        return col.fillna("")
    return col.map(lambda v: "" if v is None or (isinstance(v, float) and v != v) else str(v)).astype(str)


def columns(headers: list[str], plan: Plan, cells: list) -> list[Column]:
    return [Column(h, r, c) for h, r, c in zip(headers, plan.roles, cells)]


def drop_blank(table: Table) -> Table:
    blank = np.ones(len(table.where), dtype=bool)
    for col in table.columns:
        blank &= col.cells.null if isinstance(col.cells, Numbers) else (col.cells == "")
    if blank.any():
        keep = ~blank
        for col in table.columns:
            c = col.cells
            col.cells = Numbers(c.values[keep], c.null[keep]) if isinstance(c, Numbers) else c[keep]
        table.where = table.where[keep]
    if len(table.where) == 0:
        raise DataError("has a header but no data rows", file=table.file)
    return table
