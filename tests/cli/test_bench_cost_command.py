"""`routereval bench --cost` on real data: the pair table of a strong/weak pair, and cost columns in rows."""

from __future__ import annotations

import json
import os

import pytest
from support.processes import run_cli



def test_a_pair_gets_apgr_and_cpt(mirror, tmp_path):
    env = {**os.environ, "ROUTEREVAL_MIRROR": str(mirror)}
    out = run_cli("bench", "--dataset", "routellm-mtbench", "--cost", "--routers", "oracle,random", "--n-boot", "20",
                  env=env).stdout
    # MT-Bench has no dollar costs: auto takes calls to the strong model. A random choice between the
    # pair reaches x% of the quality gap with x% of the strong calls, so APGR is 0.5 and CPT(x%) = x.
    assert "calls: 1 per query sent to the strong model" in out
    line = next(l for l in out.splitlines() if l.startswith("│ random ") and "0.5" in l)  # a rich table's row
    assert [c.strip() for c in line.strip("│").split("│")][1:] == ["0.5", "20", "50", "80"]


@pytest.mark.slow  # a bench run on real data
def test_rows_carry_cost_columns_where_costs_exist(mirror, tmp_path):
    env = {**os.environ, "ROUTEREVAL_MIRROR": str(mirror)}
    rows_file = tmp_path / "rows.json"
    out = run_cli("bench", "--dataset", "llmrouter", "--sizes", "3", "--groups", "all_weak", "--cost", "--routers",
                  "oracle,best-single", "--n-boot", "20", "--json", str(rows_file), env=env).stdout
    rows = [r for r in json.loads(rows_file.read_text()) if r["group"] == "all_weak"]
    assert {r["router"] for r in rows} == {"oracle", "best-single"}
    for r in rows:
        assert r["cost_per_1k"] == pytest.approx(1000 * r["mean_cost"])
        assert r["mean_cost"] > 0
    assert "$/1k" in out and "AIQ over" in out
