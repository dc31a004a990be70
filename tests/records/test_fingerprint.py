"""Content fingerprints: the digests a sweep's result rows and a saved router carry, worked out with hashlib.

Both come from :func:`routereval.records.fingerprint.content_sha256`, each in
its own frozen byte layout. Each expected value here is built from the raw
ids, texts and scores with hashlib and numpy alone, following the layout the
module docstring describes, so a change of layout (which would make stored
results look stale) fails here.
"""

from __future__ import annotations

import csv
import hashlib

import numpy as np
import pandas as pd
import pytest
from support.toy_sweep import write_toy_csv

from routereval.deploy.train import data_sha256, train_model
from routereval.records import Benchmark
from routereval.records.fingerprint import content_sha256
from routereval.sweeps.tasks import fingerprint

IDS = ["q0", "q1", "q2"]
TASKS = ["math", "math", "poetry"]
TEXTS = ["2 + 2?", None, "a rhyme for moon"]
MODELS = ["alpha", "beta", "gamma"]
VALUES = np.array([[1, 0, np.nan], [0, 0, 1], [1, 1, 0]], dtype=np.float32)


def tiny() -> Benchmark:
    prompts = {"prompt_id": IDS, "task": TASKS, "text": TEXTS}
    return Benchmark.from_values("tiny", VALUES, pd.DataFrame(prompts), MODELS)


def results_digest(ids, tasks, texts, models, kind: bytes, encoder: bytes, stored_blocks) -> str:
    """The results layout by hand: three prompt columns, model names, kind, encoder, score blocks."""
    h = hashlib.sha256()
    for column in (ids, tasks, ["" if t is None else t for t in texts]):
        h.update("\x1f".join(column).encode() + b"\x1e")
    h.update("\x1f".join(models).encode() + kind + encoder)
    for block in stored_blocks:
        h.update(block)
    return h.hexdigest()


def router_digest(ids, texts, models, values: np.ndarray) -> str:
    """The router layout by hand: model names, one sha256 per (id, text), then the scores as float64."""
    h = hashlib.sha256("\x1f".join(models).encode())
    for pid, text in zip(ids, texts):
        h.update(hashlib.sha256(f"{pid}\x1f{'' if text is None else text}".encode()).digest())
    h.update(np.asarray(values, dtype=np.float64).tobytes(order="C"))
    return h.hexdigest()


def test_the_results_layout_by_hand():
    # Binary records are stored one byte each, 255 for a missing one; one block, row after row.
    stored = bytes([1, 0, 255, 0, 0, 1, 1, 1, 0])
    expected = results_digest(IDS, TASKS, TEXTS, MODELS, b"binary", b"minilm", [stored])
    assert content_sha256(tiny(), "results", encoder="minilm") == expected
    assert fingerprint(tiny(), "minilm") == expected
    assert fingerprint(tiny()) == results_digest(IDS, TASKS, TEXTS, MODELS, b"binary", b"", [stored])


def test_the_router_layout_by_hand():
    rows, cols = [2, 0], [2, 1]
    expected = router_digest(["q2", "q0"], [TEXTS[2], TEXTS[0]], ["gamma", "beta"], [[0, 1], [np.nan, 0]])
    assert content_sha256(tiny(), "router", rows=rows, cols=cols) == expected
    assert data_sha256(tiny(), np.array(rows), np.array(cols)) == expected


def test_a_wide_matrix_is_hashed_in_blocks_of_columns():
    # 4,100 prompts of one byte: blocks of 2**24 // 4100 = 4092 columns, so 4,100 models make two blocks,
    # each hashed row after row; the digest differs from one of the whole matrix row after row.
    n = m = 4100
    rng = np.random.default_rng(0)
    values = (rng.random((n, m)) < 0.5).astype(np.float32)
    ids, models = [f"p{i}" for i in range(n)], [f"m{j}" for j in range(m)]
    bench = Benchmark.from_values("wide", values, ids, models)
    stored = values.astype(np.uint8)
    blocks = [np.ascontiguousarray(stored[:, :4092]).tobytes(), np.ascontiguousarray(stored[:, 4092:]).tobytes()]
    no_text = [None] * n
    expected = results_digest(ids, ["default"] * n, no_text, models, b"binary", b"", blocks)
    assert content_sha256(bench, "results") == expected
    assert expected != results_digest(ids, ["default"] * n, no_text, models, b"binary", b"", [stored.tobytes()])


@pytest.mark.parametrize("change", ["record", "text", "prompt id", "model name"])
def test_a_changed_record_or_prompt_changes_both_digests(change):
    values, texts, ids, models = VALUES.copy(), list(TEXTS), list(IDS), list(MODELS)
    if change == "record":
        values[2, 1] = 0
    elif change == "text":
        texts[2] = "a rhyme for June"
    elif change == "prompt id":
        ids[2] = "q9"
    else:
        models[1] = "delta"
    other = Benchmark.from_values("tiny", values, pd.DataFrame({"prompt_id": ids, "task": TASKS, "text": texts}),
                                  models)
    assert content_sha256(other, "results") != content_sha256(tiny(), "results")
    everything = {"rows": [0, 1, 2], "cols": [0, 1, 2]}
    assert content_sha256(other, "router", **everything) != content_sha256(tiny(), "router", **everything)


def test_each_layout_refuses_what_it_does_not_cover():
    with pytest.raises(ValueError, match="results layout covers every prompt"):
        content_sha256(tiny(), "results", rows=[0], cols=[0])
    with pytest.raises(ValueError, match="router layout covers the given rows and cols only"):
        content_sha256(tiny(), "router", rows=[0], cols=[0], encoder="minilm")
    with pytest.raises(ValueError, match="unknown fingerprint layout 'other'; known: results, router"):
        content_sha256(tiny(), "other")


def _read_long_csv(path):
    """ids, tasks, texts in order of first appearance, and score by (id, model), straight from the file."""
    ids, tasks, texts, scores = [], {}, {}, {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if row["prompt_id"] not in tasks:
                ids.append(row["prompt_id"])
            tasks[row["prompt_id"]], texts[row["prompt_id"]] = row["task"], row["prompt"]
            scores[(row["prompt_id"], row["model"])] = float(row["score"])
    return ids, tasks, texts, scores


def test_a_sweep_row_and_a_saved_router_carry_these_digests(tmp_path):
    from routereval.results import ResultsStore
    from routereval.sources.catalog import load_dataset
    from routereval.sweeps.config import load_sweep
    from routereval.sweeps.executors import LocalExecutor
    from routereval.sweeps.runner import run_sweep

    data = write_toy_csv(tmp_path / "toy.csv", n_models=4, per_topic=20)
    ids, tasks, texts, scores = _read_long_csv(data)
    models = sorted({model for _, model in scores})
    bench = load_dataset(str(data), progress=False)
    # The import keeps the file's prompt order; the digests below depend on the order, not on how it came about.
    assert list(bench.prompts["prompt_id"]) == ids and bench.model_names == models
    values = np.array([[scores[(p, m)] for m in models] for p in ids])
    stored = np.ascontiguousarray(values.astype(np.uint8)).tobytes()
    prompt_tasks, prompt_texts = [tasks[p] for p in ids], [texts[p] for p in ids]

    sweep = tmp_path / "s.toml"
    sweep.write_text('name = "s"\ndatasets = ["toy.csv"]\nsizes = [2]\ngroups = ["all_weak"]\nseeds = [0]\n'
                     'scaling = false\nn_boot = 20\nrouters = ["oracle"]\n')
    store = ResultsStore(tmp_path / "results")
    assert run_sweep(load_sweep(sweep), store, LocalExecutor(1), progress=False).stored == 1
    row = store.read_rows(arrays=False)[0]
    # The oracle reads no prompt, so no encoder path enters the digest.
    assert row["dataset_sha256"] == results_digest(ids, prompt_tasks, prompt_texts, models, b"binary", b"", [stored])

    saved = train_model(bench, router="best-single", split="all", progress=False)
    assert saved.info["training"]["sha256"] == router_digest(ids, prompt_texts, models, values)
