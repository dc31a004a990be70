"""What a price is: one row of a price table, checked by one schema wherever prices enter.

Prices are US dollars per 1M input and output tokens. A price is a finite
number >= 0 (a JSON ``true`` is not a number) no larger than
:data:`MAX_PRICE`, or missing (no public price); a model is named once.
Reading price files lives in :mod:`routereval.sources.prices`; attaching
prices to records in :mod:`routereval.records.costs`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from routereval.errors import ArgumentError

PRICE_COLUMNS = ("model", "input", "output")
OPTIONAL_COLUMNS = ("n_params", "provider", "source", "date", "note")

#: The dearest price accepted, in $ per 1M tokens. The dearest public list price is a few hundred dollars
#: (o1-pro: $600 per 1M output tokens); a price above $10,000 is a unit mistake (per 1B tokens, cents)
#: far more often than a real price, and it would swamp every cost metric without a word.
MAX_PRICE = 10_000.0
#: The largest parameter count accepted: 1e15, a thousand times the largest published dense models.
MAX_PARAMS = 1e15
_Price = Annotated[float, Field(ge=0, le=MAX_PRICE, allow_inf_nan=False)]
_Params = Annotated[float, Field(gt=0, le=MAX_PARAMS, allow_inf_nan=False)]
_Text = Annotated[str, StringConstraints(max_length=2000)]


class PriceRow(BaseModel):
    """One row of a price table. Strict: numbers are numbers (not text, not true/false), names are text."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    model: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=512)]
    input: _Price | None
    output: _Price | None
    n_params: _Params | None = None
    provider: _Text | None = None
    source: _Text | None = None
    date: _Text | None = None
    note: _Text | None = None


def check_price_table(prices: pd.DataFrame) -> pd.DataFrame:
    """A price table built in Python (columns model, input, output; NaN for no price), checked like a file.

    Raises ArgumentError (a ValueError) naming the row (0-based) and column of the first problem.
    """
    missing = [c for c in PRICE_COLUMNS if c not in prices.columns]
    if missing:
        raise ArgumentError(f"prices has no column(s) {', '.join(missing)}; it needs model, input, output "
                         "($ per 1M tokens)")
    rows = []
    for i, record in enumerate(prices[list(PRICE_COLUMNS)].to_dict("records")):
        entry = {k: _python_value(v) for k, v in record.items()}
        try:
            rows.append(PriceRow.model_validate(entry))
        except ValidationError as exc:
            error = exc.errors()[0]
            raise ArgumentError(f"prices row {i} (0-based), column {error['loc'][0]!r}: {why_refused(error, entry)}") from None
    names = [r.model for r in rows]
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise ArgumentError(f"prices lists model {twice!r} twice (rows {names.index(twice)} and "
                         f"{names.index(twice, names.index(twice) + 1)}, 0-based)")
    return pd.DataFrame({"model": names, "input": [r.input for r in rows], "output": [r.output for r in rows]},
                        dtype=object).astype({"input": float, "output": float})


def _python_value(value: Any) -> Any:
    """numpy and pandas scalars as the plain values the schema reads; NaN as no price."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
        return None if isinstance(value, float) and value != value else value
    return value


def why_refused(error: Any, entry: dict[str, Any]) -> str:
    """What is wrong with one cell of a price row (a pydantic error of :class:`PriceRow`), in the user's words."""
    column = str(error["loc"][0]) if error["loc"] else ""
    kind = error["type"]
    if kind == "missing":
        return f"has no {column!r}; every entry needs model, input and output (null for no price)"
    value = entry.get(column)
    shown = show_value(value)
    if column == "model":
        if kind == "string_too_short" or value is None:
            return "a row has no model name"
        if kind == "string_too_long":
            return "model name is longer than 512 characters"
        return f"model name must be text, got {shown}"
    if column in ("input", "output"):
        if kind == "finite_number":
            return f"price {shown} is not a finite number ($ per 1M tokens)"
        if kind == "less_than_equal":
            return (f"price {shown} is above {MAX_PRICE:,.0f} $ per 1M tokens, more than any model costs; "
                    "is it in another unit (per 1B tokens, cents)?")
        return f"price {shown} is not a number >= 0 ($ per 1M tokens)"
    if column == "n_params":
        if kind == "less_than_equal":
            return f"n_params {shown} is above {MAX_PARAMS:g}, larger than any model"
        return f"n_params {shown} is not a number of parameters > 0 (e.g. 7e9)"
    return f"{column} must be text, got {shown}"


def show_value(value: Any) -> str:
    """A value as the user wrote it: numbers as their text (a reader may keep it in ``.text``), JSON literals
    as JSON, text quoted."""
    if isinstance(value, float) and isinstance(getattr(value, "text", None), str):
        return value.text
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return repr(value)
