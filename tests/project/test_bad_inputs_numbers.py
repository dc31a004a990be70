"""The catalogue's "Prices, numbers and sweep checks" rows: numbers that mean nothing are refused where they enter.

Command-line cases run through ``routereval.cli.run`` in-process like every
catalogue case; API cases call the Python function and check the exception
class and message against their row (the last column holds the class).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.catalogue import DOC_ROWS, Case, check_case, check_doc_lists_exactly, check_doc_row

AREAS = ("prices", "numbers", "sweeps")
API_AREA = "API"

GOOD = "prompt_id,model,score\nq1,a,1\nq1,b,0\nq2,a,0\nq2,b,1\n"
_TINY = "prompt_id,task,m1,m2,m3,m4\n" + "".join(
    f"q{i},{'ab'[i % 2]},{i % 2},{(i // 2) % 2},{(i // 3) % 2},{(i // 5) % 2}\n" for i in range(40))
_TEXTS = "prompt_id,task,prompt,m1,m2,m3,m4\n" + "".join(
    f"q{i},{'ab'[i % 2]},question {i} about topic {i % 7},{i % 2},{(i // 2) % 2},{(i // 3) % 2},{(i // 5) % 2}\n"
    for i in range(40))


def _price(case_id: str, text: str, content: str | bytes | Callable, expect: list[str], code: int = 1,
           name: str = "p.csv") -> Case:
    return Case(case_id, "prices", text, ("data", "import", "t.csv", "--name", "t", "--prices", name), code,
                tuple(expect), {"t.csv": GOOD, name: content})


def _huge(path: Path) -> None:
    with path.open("w") as f:
        f.write("model,input,output\n")
        f.write("a,1,2\n" * (2 * 1024 * 1024))  # 12 MiB


def _sweep(case_id: str, text: str, body: str, expect: list[str], data: str = _TINY,
           extra: tuple[str, ...] = (), files: dict | None = None) -> Case:
    toml = 'datasets = ["t.csv"]\nsizes = [3]\n' + body
    return Case(case_id, "sweeps", text, ("sweep", "s.toml", "--check", *extra), 1, tuple(expect),
                {"t.csv": data, "s.toml": toml, **(files or {})})


def _curve(case_id: str, text: str, extra: tuple[str, ...], expect: list[str]) -> Case:
    return Case(case_id, "numbers", text, ("curve", "--dataset", "t.csv", "--out", "o", *extra), 1, tuple(expect),
                {"t.csv": _TINY})


def _bench(case_id: str, text: str, extra: tuple[str, ...], expect: list[str]) -> Case:
    return Case(case_id, "numbers", text, ("bench", "--dataset", "t.csv", "--sizes", "3", "--routers", "oracle",
                                           *extra), 1, tuple(expect), {"t.csv": _TINY})


CASES: list[Case] = [
    # ---- price files -----------------------------------------------------------------------------
    _price("prices-inf", "a price of inf", "model,input,output\na,inf,2\n", ["row 2, column 'input'", "not a finite"]),
    _price("prices-nan", "a price of nan", "model,input,output\na,1,nan\n", ["column 'output'", "not a finite"]),
    _price("prices-json-1e400", "a JSON price of 1e400 (beyond a float)",
           '[{"model": "a", "input": 1e400, "output": 1}]', ["p.json, row 1, column 'input'", "1e400"],
           name="p.json"),
    _price("prices-json-true", "a JSON price of true", '{"a": {"input": true, "output": 1}}',
           ["column 'input'", "price true is not a number"], name="p.json"),
    _price("prices-json-string", "a JSON price written as text", '{"a": {"input": "1.5", "output": 1}}',
           ["price '1.5' is not a number"], name="p.json"),
    _price("prices-json-duplicate-key", "a JSON mapping naming a model twice",
           '{"a": {"input": 1, "output": 1}, "a": {"input": 2, "output": 2}}',
           ["key 'a' appears twice", "entries 1 and 2"], name="p.json"),
    _price("prices-json-duplicate-field", "a JSON object with input twice",
           '[{"model": "a", "input": 1, "input": 5, "output": 1}]', ["key 'input' appears twice"], name="p.json"),
    _price("prices-csv-duplicate-row", "a CSV listing a model twice", "model,input,output\na,1,2\nb,1,1\na,3,4\n",
           ["model 'a' is listed twice (lines 2 and 4)"]),
    _price("prices-n-params-text", "n_params = abc", "model,input,output,n_params\na,1,2,abc\n",
           ["column 'n_params'", "'abc'"]),
    _price("prices-n-params-zero", "n_params = 0", "model,input,output,n_params\na,1,2,0\n",
           ["column 'n_params'", "> 0"]),
    _price("prices-negative", "a negative price", "model,input,output\na,-1,2\n", ["not a number >= 0"]),
    _price("prices-above-ceiling", "a price above $10,000 per 1M tokens", "model,input,output\na,25000,2\n",
           ["above 10,000"]),
    _price("prices-dates", "a price column holding dates", "model,input,output\na,2024-09-01,2\n",
           ["'2024-09-01' is not a number"]),
    _price("prices-empty-file", "an empty price file", "", ["is empty"]),
    _price("prices-header-only", "a header and no rows", "model,input,output\n", ["has a header but no rows"]),
    _price("prices-json-empty-list", "a JSON price file that is []", "[]", ["empty list"], name="p.json"),
    _price("prices-json-scalar", "a JSON price file holding a number", "5", ["should be a list", "got 5"],
           name="p.json"),
    _price("prices-json-list-of-lists", "a JSON list of lists", '[["a", 1, 2]]', ["entry 1 is a list"],
           name="p.json"),
    _price("prices-json-mapping-of-numbers", "a JSON mapping of model to a number", '{"a": 1}',
           ["should map to an object"], name="p.json"),
    _price("prices-json-deep", "JSON nested 100,000 levels deep", "[" * 100_000,
           ["nests 100000 levels deep; the limit is 4"], name="p.json"),
    _price("prices-json-missing-output", "a JSON object without output", '[{"model": "a", "input": 1}]',
           ["has no column(s) output"], name="p.json"),
    _price("prices-model-blank", "a model name of spaces", "model,input,output\n   ,1,2\n", ["no model name"]),
    _price("prices-json-model-empty", "a JSON mapping key \"\"", '{"": {"input": 1, "output": 1}}',
           ["no model name"], name="p.json"),
    _price("prices-json-model-number", "a JSON model name that is a number", '[{"model": 7, "input": 1, "output": 1}]',
           ["model name must be text"], name="p.json"),
    _price("prices-unknown-column", "a misspelt optional column", "model,input,output,n_param\na,1,2,7e9\n",
           ["unknown column 'n_param'", "did you mean 'n_params'"]),
    _price("prices-short-row", "a row with fewer cells than the header", "model,input,output\na,1\n",
           ["has 2 cells but the header has 3"]),
    _price("prices-not-utf8", "a Latin-1 price file", "model,input,output,note\na,1,2,caf\xe9\n".encode("latin-1"),
           ["not UTF-8"]),
    _price("prices-too-large", "a 12 MiB price file", _huge, ["refused above 10 MiB"]),
    _price("prices-ok-bom", "a UTF-8 BOM and Windows line ends (accepted)",
           "\ufeffmodel,input,output\r\na,1,2\r\nb,0.5,1\r\n".encode(), ["imported"], code=0),
    _price("prices-ok-json-null", "JSON null clears a price (accepted)", '{"a": {"input": null, "output": null}}',
           ["imported"], code=0, name="p.json"),
    # ---- command-line numbers --------------------------------------------------------------------
    _curve("curve-folds-zero", "`curve --folds 0` (it ran as 1)", ("--folds", "0"), ["--folds must be at least 1"]),
    _curve("curve-folds-negative", "`curve --folds -3`", ("--folds", "-3"), ["--folds must be at least 1"]),
    _curve("curve-seed-negative", "`curve --seed -1`", ("--seed", "-1"), ["--seed must lie in 0..4294967295"]),
    Case("curve-folds-above-prompts", "numbers", "`curve --folds 1000` on 40 prompts",
         ("curve", "--dataset", "t.csv", "--out", "o", "--routers", "oracle", "--cost", "calls", "--folds", "1000"),
         1, ("folds must be None or an integer in 1..",),
         {"t.csv": "prompt_id,task,a,b\n" + "".join(f"q{i},x,{i % 2},{(i // 2) % 2}\n" for i in range(40))}),
    Case("curve-prices-inf", "numbers", "`curve --prices` with an infinite price",
         ("curve", "--dataset", "t.csv", "--out", "o", "--prices", "p.csv"), 1, ("not a finite number",),
         {"t.csv": _TINY, "p.csv": "model,input,output\nm1,inf,1\n"}),
    _bench("bench-seed-negative", "`bench --seed -1`", ("--seed", "-1"), ["--seed must lie in 0..4294967295"]),
    _bench("bench-split-seed-huge", "`bench --split-seed 5000000000`", ("--split-seed", "5000000000"),
           ["--split-seed must lie in 0.."]),
    _bench("bench-n-boot-huge", "`bench --n-boot 2000000000`", ("--n-boot", "2000000000"),
           ["--n-boot must lie in 1..100000, got 2000000000"]),
    Case("report-n-boot-zero", "numbers", "`report --n-boot 0`", ("report", ".", "--n-boot", "0"), 1,
         ("n_boot must lie in 1..100000, got 0",)),
    # ---- sweep files: --check makes every check the run makes ------------------------------------
    _sweep("sweep-seed-negative", "seeds = [-1] (passed --check, then a traceback)",
           'routers = ["oracle"]\nseeds = [0, -1]\n', ["s.toml:4: seeds must lie in 0..4294967295"]),
    _sweep("sweep-split-seed-negative", "split_seed = -1", 'routers = ["oracle"]\nsplit_seed = -1\n',
           ["s.toml:4: split_seed must lie in"]),
    _sweep("sweep-n-boot-float", "n_boot = 2e9", 'routers = ["oracle"]\nn_boot = 2e9\n',
           ["n_boot must be an integer"]),
    _sweep("sweep-n-boot-huge", "n_boot = 2000000000", 'routers = ["oracle"]\nn_boot = 2000000000\n',
           ["n_boot must lie in 1..100000"]),
    _sweep("sweep-scaling-draws-huge", "scaling_draws = 10**12", 'routers = ["oracle"]\nscaling_draws = 1000000000000\n',
           ["scaling_draws must lie in 1..100000"]),
    _sweep("sweep-name-climbs-out", 'name = "../../.." (wrote outside results/)', 'name = "../../.."\nrouters = ["oracle"]\n',
           ["s.toml:3: name must be a plain name"]),
    _sweep("sweep-name-slash", 'name = "a/b"', 'name = "a/b"\nrouters = ["oracle"]\n', ["name must be a plain name"]),
    _sweep("sweep-name-dot", 'name = "."', 'name = "."\nrouters = ["oracle"]\n', ["name must be a plain name"]),
    _sweep("sweep-reference-nan", "reference = nan", 'routers = ["oracle"]\nreference = nan\n',
           ["reference must be a model name or a score in (0, 1]"]),
    _sweep("sweep-reference-unknown-model", "reference naming no model (passed --check)",
           'routers = ["oracle"]\nreference = "gpt-9"\n', ["'gpt-9' is neither a number nor a model"]),
    _sweep("sweep-k-above-training-prompts", "knn k = 1000 on 40 prompts (passed --check; every row failed)",
           'routers = ["knn:k=1000"]\nencoder = "tfidf-8"\n', ["k = 1000 is more than the", "training prompts"],
           data=_TEXTS),
    _sweep("sweep-no-text", "a learned router on prompts without text (passed --check)",
           'routers = ["knn"]\nencoder = "tfidf-8"\n', ["have no text"]),
    _sweep("sweep-prices-unknown-model", "a price file naming a model the dataset lacks (passed --check)",
           'routers = ["oracle"]\nprices = "p.csv"\n', ["names model(s) that 't' does not have"],
           files={"p.csv": "model,input,output\nzz,1,1\n"}),
    _sweep("sweep-prices-inf", "a price file with an infinite price (passed --check)",
           'routers = ["oracle"]\nprices = "p.csv"\n', ["not a finite number"],
           files={"p.csv": "model,input,output\nm1,inf,1\n"}),
    _sweep("sweep-cost-calls-not-a-pair", "cost = \"calls\" on four models (passed --check)",
           'routers = ["oracle"]\ncost = "calls"\n', ["needs a strong/weak pair"]),
    _sweep("sweep-out-is-a-file", "--out naming a file (passed --check)", 'routers = ["oracle"]\n',
           ["is a file, not a folder"], extra=("--out", "t.csv")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case, tmp_path, monkeypatch, capsys):
    check_case(case, tmp_path, monkeypatch, capsys)


def test_the_doc_lists_exactly_these_cases():
    check_doc_lists_exactly(AREAS, (c.id for c in CASES))
    check_doc_lists_exactly((API_AREA,), API_CASES)


@pytest.mark.slow  # a whole sweep
def test_a_checked_sweep_runs_and_writes_only_inside_results(tmp_path, monkeypatch, capsys):
    """The other side of --check: a file it passes runs, and its rows land in results/<name>."""
    from routereval.cli import run

    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.csv").write_text(_TINY)
    (tmp_path / "s.toml").write_text('name = "ok.1"\ndatasets = ["t.csv"]\nsizes = [3]\nrouters = ["oracle"]\n'
                                     'scaling = false\nn_boot = 50\n')
    assert run(["sweep", "s.toml", "--check"]) == 0
    assert not (tmp_path / "results").exists()  # --check writes nothing
    assert run(["sweep", "s.toml", "--quiet", "--workers", "1"]) == 0
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["ok.1"]


# ---- the Python API -------------------------------------------------------------------------------


def _collect(tmp: Path) -> None:
    from routereval.reports.collect import collect

    collect(tmp, n_boot=0)


def _with_prices(tmp: Path) -> None:
    from routereval.records import Benchmark
    from routereval.records.costs import with_prices

    models = pd.DataFrame({"name": ["a", "b"], "n_params": [np.nan, np.nan], "input_price": [np.nan, np.nan],
                           "output_price": [np.nan, np.nan]})
    bench = Benchmark.from_values("t", np.array([[1.0, 0.0]]), ["p0"], models)
    with_prices(bench, pd.DataFrame({"model": ["a"], "input": [float("inf")], "output": [1.0]}))


def _study_splits(tmp: Path) -> None:
    from routereval.evaluation.curves import study_splits

    class Bench:  # study_splits reads only the number of prompts before it refuses
        n_prompts = 10

    study_splits(Bench(), folds=0)


def _summarise(rows: list, n_boot: object) -> None:
    from routereval.evaluation.aggregate import summarise

    summarise(rows, n_boot=n_boot)


def _api(call: Callable[[], object]) -> Callable[[Path], None]:
    return lambda tmp: call()


def _metrics():
    from routereval import metrics

    return metrics


def _policies():
    from routereval import policies

    return policies


API: dict[str, tuple[str, Callable[[Path], None]]] = {
    "api-proba-entropy-negative": ("metrics.proba_entropy with a negative probability",
                                   _api(lambda: _metrics().proba_entropy(np.array([[1.5, -0.5]])))),
    "api-proba-entropy-nan": ("metrics.proba_entropy with NaN",
                              _api(lambda: _metrics().proba_entropy(np.array([[np.nan, 1.0]])))),
    "api-proba-entropy-not-summing": ("metrics.proba_entropy with a row summing to 2",
                                      _api(lambda: _metrics().proba_entropy(np.array([[1.0, 1.0]])))),
    "api-mean-score-negative-choice": ("metrics.mean_score with a negative choice",
                                       _api(lambda: _metrics().mean_score(np.ones((1, 2)), np.array([[2.0, -1.0]])))),
    "api-choice-entropy-wrong-sum": ("metrics.choice_entropy with a row of zeros",
                                     _api(lambda: _metrics().choice_entropy(np.zeros((2, 3))))),
    "api-bootstrap-n-boot-zero": ("metrics.bootstrap_interval(n_boot=0)",
                                  _api(lambda: _metrics().bootstrap_interval(np.ones(5), n_boot=0))),
    "api-bootstrap-level-one": ("metrics.bootstrap_interval(level=1)",
                                _api(lambda: _metrics().bootstrap_interval(np.ones(5), level=1))),
    "api-cost-cap-negative": ("policies.cost_cap(-1) (was accepted)", _api(lambda: _policies().cost_cap(-1))),
    "api-cost-aware-inf": ("policies.cost_aware(inf)", _api(lambda: _policies().cost_aware(float("inf")))),
    "api-threshold-nan": ("policies.threshold(nan)", _api(lambda: _policies().threshold(float("nan")))),
    "api-threshold-negative": ("policies.threshold(-0.5)", _api(lambda: _policies().threshold(-0.5))),
    "api-tolerance-negative": ("policies.tolerance(-0.1)", _api(lambda: _policies().tolerance(-0.1))),
    "api-budget-inf": ("policies.budget(inf)", _api(lambda: _policies().budget(float("inf")))),
    "api-ro-true": ("policies.ro(True)", _api(lambda: _policies().ro(True))),
    "api-negative-costs": ("a policy given a negative cost",
                           _api(lambda: _policies().cost_aware(1.0).rank(np.ones((1, 2)), [1.0, -1.0]))),
    "api-collect-n-boot-zero": ("reports.collect(n_boot=0) (was accepted)", _collect),
    "api-summarise-n-boot-float": ("evaluation.aggregate.summarise(n_boot=1.5)",
                                   _api(lambda: _summarise([], n_boot=1.5))),
    "api-study-splits-folds-zero": ("evaluation.curves.study_splits(folds=0) (ran as 1)", _study_splits),
    "api-with-prices-inf": ("records.costs.with_prices with an infinite price", _with_prices),
}
API_CASES = sorted(API)


def _record_api_row(case_id: str, text: str, code: str, message: str) -> bool:
    dump = os.environ.get("ROUTEREVAL_ERRORS_DOC_DUMP")
    if not dump:
        return False
    with open(dump, "a") as f:
        f.write(json.dumps({"id": case_id, "area": API_AREA, "input": text, "code": code, "message": message}) + "\n")
    return True


@pytest.mark.parametrize("case_id", API_CASES)
def test_case_api(case_id: str, tmp_path):
    text, call = API[case_id]
    with pytest.raises(ValueError) as info:  # every such error is a ValueError, as callers of numpy expect
        call(tmp_path)
    name, message = type(info.value).__name__, str(info.value).replace(str(tmp_path), "<tmp>")
    if not _record_api_row(case_id, text, name, message):
        check_doc_row(case_id, name, message)
    assert DOC_ROWS or os.environ.get("ROUTEREVAL_ERRORS_DOC_DUMP")
