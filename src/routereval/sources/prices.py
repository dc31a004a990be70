"""Price tables: the ones shipped with the package and the ones a user gives (``--prices FILE``).

A price table has one row per model: ``model``, ``input`` and ``output`` in $
per 1M tokens. The shipped tables (``prices/<dataset>.csv``) add
``n_params``, ``provider``, ``source`` (the page the price was read from),
``date`` (when that price applied) and ``note``; a model with no public price
has empty ``input`` / ``output`` and a note saying why. A user's file is CSV
or JSON (a list of objects, or ``{model: {input, output}}``) with at least the
three price columns; it sets or overrides the prices of the models it names.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from typing import TYPE_CHECKING

import pandas as pd

from routereval.errors import DataError

if TYPE_CHECKING:
    from routereval.records import Benchmark

PRICE_COLUMNS = ("model", "input", "output")
_PACKAGE = "routereval.sources"


def shipped_prices(dataset: str) -> pd.DataFrame:
    """The price table shipped for ``dataset`` (``prices/<dataset>.csv`` in the package)."""
    ref = resources.files(_PACKAGE) / "prices" / f"{dataset}.csv"
    with resources.as_file(ref) as path:
        return _checked(pd.read_csv(path, dtype={"model": str}), str(path))


def read_prices(path: str | Path) -> pd.DataFrame:
    """A user's price file (CSV or JSON: model, input, output in $ per 1M tokens), checked."""
    path = Path(path)
    if not path.is_file():
        raise DataError("does not exist (a price file: CSV or JSON with model, input, output)", file=str(path))
    if path.suffix.lower() == ".json":
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"is not valid JSON ({exc})", file=str(path)) from exc
        if isinstance(raw, dict):
            raw = [{"model": k, **(v if isinstance(v, dict) else {})} for k, v in raw.items()]
        if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
            raise DataError("should be a list of {model, input, output} objects or a {model: {input, output}} "
                            "mapping", file=str(path))
        table = pd.DataFrame(raw)
    else:
        try:
            table = pd.read_csv(path, dtype={"model": str})
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise DataError(f"is not a readable CSV ({exc})", file=str(path)) from exc
    return _checked(table, str(path))


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


def _checked(table: pd.DataFrame, where: str) -> pd.DataFrame:
    missing = [c for c in PRICE_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"has no column(s) {', '.join(missing)}; a price table needs model, input, output "
                        "($ per 1M tokens)", file=where)
    table = table.reset_index(drop=True).copy()
    for col in ("input", "output"):
        values = pd.to_numeric(table[col], errors="coerce")
        bad = values.isna() & table[col].notna() & (table[col].astype(str).str.strip() != "")
        negative = values < 0
        if bad.any() or negative.any():
            row = int((bad | negative).idxmax())
            raise DataError(f"price {table[col][row]!r} is not a number >= 0 ($ per 1M tokens)",
                            file=where, row=row + 2 if not where.endswith(".json") else row + 1, column=col)
        table[col] = values.astype(float)
    if table["model"].isna().any():
        raise DataError("a row has no model name", file=where, row=int(table["model"].isna().idxmax()) + 2,
                        column="model")
    table["model"] = table["model"].astype(str)
    dup = table["model"].duplicated()
    if dup.any():
        raise DataError(f"model {table['model'][dup].iloc[0]!r} is listed twice", file=where, column="model")
    if "n_params" in table:
        table["n_params"] = pd.to_numeric(table["n_params"], errors="coerce")
    return table
