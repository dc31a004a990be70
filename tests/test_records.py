"""The Benchmark type and its store: encoding, validation, round trips, damaged stores."""

from __future__ import annotations

import numpy as np
import pytest

from routereval.errors import DataError
from routereval.records import BINARY, CONTINUOUS, Benchmark, load_benchmark, save_benchmark

NAN = np.nan


def small(values, name="t"):
    n, m = np.asarray(values).shape
    return Benchmark.from_values(name, np.asarray(values, dtype=np.float32), [f"p{i}" for i in range(n)],
                                 [f"m{k}" for k in range(m)])


def test_binary_is_one_byte_and_missing_stays_missing():
    bench = small([[1, 0, NAN], [0, NAN, 1]])
    assert bench.kind == BINARY and bench.scores.dtype == np.uint8
    assert bench.scores.tolist() == [[1, 0, 255], [0, 255, 1]]
    np.testing.assert_array_equal(bench.values(), [[1, 0, NAN], [0, NAN, 1]])
    summary = bench.model_summary()
    assert summary["mean_score"].tolist() == [0.5, 0.0, 1.0]
    assert summary["n_records"].tolist() == [2, 1, 1]
    assert (bench.n_records, bench.n_missing) == (4, 2)


def test_continuous_is_two_bytes():
    bench = small([[0.25, NAN], [1.0, 0.5]])
    assert bench.kind == CONTINUOUS and bench.scores.dtype == np.float16
    assert bench.model_summary()["mean_score"].tolist() == [0.625, 0.5]


def test_invalid_tables_are_refused():
    with pytest.raises(ValueError, match="appears more than once in the prompts"):
        Benchmark.from_values("t", np.zeros((2, 1)), ["a", "a"], ["m"])
    with pytest.raises(ValueError, match="appears more than once in the models"):
        Benchmark.from_values("t", np.zeros((1, 2)), ["a"], ["m", "m"])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        small([[1.5]])


def test_store_round_trip_and_select(tmp_path):
    bench = small([[1, 0, NAN], [0, NAN, 1], [1, 1, 1]])
    loaded = load_benchmark(save_benchmark(bench, tmp_path / "s"))
    assert isinstance(loaded.scores, np.memmap)
    np.testing.assert_array_equal(loaded.values(), bench.values())
    assert loaded.model_names == bench.model_names
    sub = loaded.select(prompts=[2, 0], models=[2])
    np.testing.assert_array_equal(sub.values(), [[1], [NAN]])
    assert sub.prompts["prompt_id"].tolist() == ["p2", "p0"]


def test_half_written_or_damaged_store_is_refused(tmp_path):
    path = save_benchmark(small([[1, 0], [0, 1]]), tmp_path / "s")
    (path / "scores.bin").write_bytes(b"\x01")  # truncated
    with pytest.raises(DataError, match="damaged"):
        load_benchmark(path)
    (path / "manifest.json").unlink()  # what an interrupted write would leave
    with pytest.raises(DataError, match="not a finished"):
        load_benchmark(path)


def test_replacing_a_store_leaves_no_partial_folders(tmp_path):
    save_benchmark(small([[1, 0]]), tmp_path / "s")
    save_benchmark(small([[0, 0], [1, 1]]), tmp_path / "s")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]
    assert load_benchmark(tmp_path / "s").n_prompts == 2
