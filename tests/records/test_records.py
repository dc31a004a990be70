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


def _big(n=3000, m=400):
    rng = np.random.default_rng(0)
    return small(rng.integers(0, 2, (n, m)).astype(float).tolist())


def test_open_checks_sizes_and_sampled_blocks_including_the_last_byte(tmp_path):
    from routereval.errors import DamagedStoreError
    from routereval.manifests import SAMPLE_BLOCKS, SAMPLE_BYTES, sample_offsets

    path = save_benchmark(_big(), tmp_path / "s")
    scores = path / "scores.bin"
    size = scores.stat().st_size
    assert size > SAMPLE_BLOCKS * SAMPLE_BYTES  # large enough to be sampled, not hashed whole
    offsets = sample_offsets(size)
    assert offsets[0] == 0 and offsets[-1] + SAMPLE_BYTES == size and len(offsets) == SAMPLE_BLOCKS
    data = bytearray(scores.read_bytes())
    data[-1] ^= 1
    scores.write_bytes(bytes(data))
    with pytest.raises(DamagedStoreError, match="scores.bin.*checksum does not match"):
        load_benchmark(path)


def test_a_change_between_samples_is_found_by_the_full_check_only(tmp_path):
    from routereval.errors import DamagedStoreError
    from routereval.records import verify_store
    from routereval.manifests import SAMPLE_BYTES

    path = save_benchmark(_big(), tmp_path / "s")
    assert verify_store(path)["files"] == 3
    scores = path / "scores.bin"
    data = bytearray(scores.read_bytes())
    data[SAMPLE_BYTES + 10] ^= 1  # just after the first sampled block
    scores.write_bytes(bytes(data))
    load_benchmark(path)  # the cheap check on open does not read this byte: documented, and why verify exists
    with pytest.raises(DamagedStoreError, match="checksum does not match"):
        verify_store(path)


def test_an_edited_manifest_is_refused_and_a_copied_store_still_opens(tmp_path):
    import json
    import shutil

    from routereval.errors import DamagedStoreError

    path = save_benchmark(small([[1, 0], [0, 1]]), tmp_path / "s")
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)  # new modification times, same bytes
    assert load_benchmark(copy).values().tolist() == [[1, 0], [0, 1]]
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["kind"] = "continuous"
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DamagedStoreError, match="manifest.json.*changed after it was written"):
        load_benchmark(path)
