"""Property tests of the price-file reader: valid tables round-trip exactly; any bad cell is refused by place."""

from __future__ import annotations

import json
import math
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routereval.errors import DataError
from routereval.records.prices import MAX_PRICE
from routereval.sources.prices import read_prices

NAMES = st.text(alphabet=string.ascii_letters + string.digits + "-_./:", min_size=1, max_size=20)
PRICES = st.one_of(st.none(), st.floats(min_value=0, max_value=MAX_PRICE, allow_nan=False))
TABLES = st.lists(st.tuples(NAMES, PRICES, PRICES), min_size=1, max_size=12, unique_by=lambda r: r[0])
# Cells that mean no price: text, dates, non-finite, negative, beyond the ceiling, true/false.
BAD_CSV = st.sampled_from(["abc", "2024-09-01", "inf", "-inf", "nan", "1e400", "-1", "-0.5", "20000", "TRUE", "1,5"])
BAD_JSON = st.sampled_from(["true", "false", '"1"', "1e400", "-1", "NaN", "Infinity", "[1]", "{}", "20000.5"])
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _csv_cell(value: float | None) -> str:
    return "" if value is None else repr(value)


def _same(a: float, b: float | None) -> bool:
    return math.isnan(a) if b is None else a == b


@SETTINGS
@given(rows=TABLES, as_json=st.booleans())
def test_valid_tables_round_trip_exactly(tmp_path, rows, as_json):
    path = tmp_path / ("p.json" if as_json else "p.csv")
    if as_json:
        path.write_text(json.dumps([{"model": m, "input": i, "output": o} for m, i, o in rows]))
    else:
        path.write_text("model,input,output\n" + "".join(f"{m},{_csv_cell(i)},{_csv_cell(o)}\n" for m, i, o in rows))
    table = read_prices(path)
    assert table["model"].tolist() == [m for m, _, _ in rows]
    for (_, i, o), got_i, got_o in zip(rows, table["input"], table["output"], strict=True):
        assert _same(got_i, i) and _same(got_o, o)


@SETTINGS
@given(rows=TABLES, data=st.data())
def test_a_bad_csv_cell_is_refused_naming_its_row_and_column(tmp_path, rows, data):
    at = data.draw(st.integers(0, len(rows) - 1))
    column = data.draw(st.sampled_from(["input", "output"]))
    bad = data.draw(BAD_CSV)
    lines = [f"{m},{_csv_cell(i)},{_csv_cell(o)}" for m, i, o in rows]
    m, i, o = rows[at]
    cell = f'"{bad}"' if "," in bad else bad
    lines[at] = f"{m},{cell},{_csv_cell(o)}" if column == "input" else f"{m},{_csv_cell(i)},{cell}"
    path = tmp_path / "p.csv"
    path.write_text("model,input,output\n" + "\n".join(lines) + "\n")
    with pytest.raises(DataError) as info:
        read_prices(path)
    assert (info.value.row, info.value.column) == (at + 2, column)
    assert str(info.value).startswith(f"{path}, row {at + 2}, column '{column}': price ")


@SETTINGS
@given(rows=TABLES, data=st.data())
def test_a_bad_json_value_is_refused_naming_its_entry_and_key(tmp_path, rows, data):
    at = data.draw(st.integers(0, len(rows) - 1))
    column = data.draw(st.sampled_from(["input", "output"]))
    bad = data.draw(BAD_JSON)
    entries = [json.dumps({"model": m, "input": i, "output": o}) for m, i, o in rows]
    entries[at] = entries[at].replace(f'"{column}": ', f'"{column}": {bad}, "_": ', 1)
    entries[at] = entries[at].replace(', "_": ' + json.dumps(rows[at][1 if column == "input" else 2]), "", 1)
    path = tmp_path / "p.json"
    path.write_text("[" + ", ".join(entries) + "]")
    with pytest.raises(DataError) as info:
        read_prices(path)
    assert (info.value.row, info.value.column) == (at + 1, column)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=300) | st.text(max_size=300).map(str.encode), as_json=st.booleans())
def test_any_bytes_give_a_table_or_a_data_error_never_another_exception(tmp_path, content, as_json):
    path = tmp_path / ("p.json" if as_json else "p.csv")
    path.write_bytes(content)
    try:
        table = read_prices(path)
    except DataError as exc:
        assert str(exc).startswith(str(path))
    else:
        assert table["model"].is_unique and ((table[["input", "output"]] >= 0) | table[["input", "output"]].isna()).all().all()
