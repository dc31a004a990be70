"""Cells to numbers: scores, costs, token counts and ids, with every refusal located by line and column."""

from __future__ import annotations

import numpy as np
import pandas as pd

from routereval.errors import DataError
from routereval.sources.tables.parsed import MODEL, Column, Numbers, Table

TRUE = frozenset({"true", "yes"})
FALSE = frozenset({"false", "no"})
# Text that people write for "no value"; each must be an empty cell instead.
MISSING_WORDS = frozenset({"nan", "-nan", "+nan", "na", "n/a", "nat", "null", "none", "missing", "-", "?"})


def check_scale(score_scale: tuple[float, float] | None, file: str) -> tuple[float, float] | None:
    if score_scale is None:
        return None
    try:
        lo, hi = (float(x) for x in score_scale)
    except (TypeError, ValueError):
        raise DataError(f"score_scale must be a pair (lo, hi) of numbers, got {score_scale!r}", file=file) from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise DataError(f"score_scale must be (lo, hi) with finite lo < hi, got {score_scale!r}", file=file)
    return lo, hi


def _numbers(table: Table, col: Column, what: str, booleans: bool) -> np.ndarray:
    """A column's cells as float64 (NaN = empty cell); any cell that is not a number is an error."""
    cells = col.cells
    if isinstance(cells, Numbers):
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
            is_true = np.isin(low, list(TRUE))
            is_false = np.isin(low, list(FALSE))
            values[idx[is_true]] = 1.0
            values[idx[is_false]] = 0.0
            keep = ~(is_true | is_false)
            idx, low = idx[keep], low[keep]
        if len(idx):
            i, word = int(idx[0]), low[0]
            if word in MISSING_WORDS:
                problem = f"is not a number; {table.missing_hint}"
            elif np.isinf(values[i]):
                problem = "is infinite"
            else:
                problem = "is not a number"
                if col.role.startswith(MODEL):
                    problem += " (every column besides prompt_id, prompt, task and reference is read as a model)"
            raise table.error(f"{what} {cells[i]!r} on {table.unit} {table.at(i)} {problem}", i, col.header)
    values[empty] = np.nan
    return values


def read_scores(table: Table, col: Column, scale: tuple[float, float] | None) -> np.ndarray:
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


def read_amounts(table: Table, col: Column, what: str) -> np.ndarray:
    """A column of non-negative numbers (a cost in $, a token count); an empty cell is unknown (NaN)."""
    values = _numbers(table, col, what, booleans=False)
    negative = values < 0
    if negative.any():
        i = int(np.argmax(negative))
        raise table.error(f"{what} {values[i]:g} on {table.unit} {table.at(i)} is negative", i, col.header)
    return values


def read_ids(table: Table, col: Column, what: str) -> np.ndarray:
    cells = col.cells  # ids are never numeric roles, so always text here
    empty = cells == ""
    if empty.any():
        i = int(np.argmax(empty))
        raise table.error(f"{what} is empty on {table.unit} {table.at(i)}; every record needs one", i, col.header)
    return cells
