"""Fixtures of the report tests: the folder `routereval curve` writes, run as a user would."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from support.priced import costly_benchmark
from support.processes import run_cli


@pytest.fixture(scope="module")
def curve_out(tmp_path_factory):
    """`routereval curve` run on an imported table with a cost column, as a user would."""
    bench = costly_benchmark()
    folder = tmp_path_factory.mktemp("curve")
    records = [
        {"prompt_id": pid, "model": model, "score": float(bench.values()[i, j]),
         "cost": "" if math.isnan(bench.costs[i, j]) else repr(float(bench.costs[i, j]))}
        for i, pid in enumerate(bench.prompts["prompt_id"]) for j, model in enumerate(bench.model_names)
    ]
    table = folder / "priced.csv"
    pd.DataFrame(records).to_csv(table, index=False)
    out = folder / "out"
    proc = run_cli("curve", "--dataset", str(table), "--routers", "best-single,oracle,random", "--folds", "2",
                   "--out", str(out), check=False)
    assert proc.returncode == 0, proc.stderr
    return out
