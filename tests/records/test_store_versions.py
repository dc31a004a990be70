"""Records stores of every version this routereval has written still open; damaged or newer ones are refused.

The old manifests are written by hand here, byte for byte as the code of the
time wrote them (``json.dumps(manifest, indent=2)``, its checksum the sha256
of ``json.dumps(body, sort_keys=True, default=str)``), around data files
of a store saved now: the data files' format did not change.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from routereval.errors import DamagedStoreError, DataError
from routereval.records import Benchmark, load_benchmark, read_manifest, save_benchmark, verify_store

NAN = np.nan
VALUES = [[1, 0, NAN], [0, NAN, 1], [1, 1, 1]]


def _store(tmp_path: Path) -> Path:
    bench = Benchmark.from_values("old", np.asarray(VALUES, dtype=np.float32), ["p0", "p1", "p2"],
                                  ["m0", "m1", "m2"], provenance={"source": "hand", "note": "modèle"})
    return save_benchmark(bench, tmp_path / "s")


def _entry(path: Path) -> dict:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()  # every file here is smaller than 1 MiB: the sample is the whole file
    return {"size": len(data), "sha256": digest, "sample_sha256": digest}


def _fields(version: int) -> dict:
    return {"format": "routereval-records", "format_version": version, "name": "old", "kind": "binary",
            "n_prompts": 3, "n_models": 3, "score_dtype": "uint8", "has_costs": False, "tokens": [],
            "embeddings": [], "provenance": {"source": "hand", "note": "modèle"}}


def _write_v2(store: Path) -> dict:
    """The manifest as routereval wrote version 2 before the common manifest format."""
    manifest = _fields(2)
    manifest["files"] = {name: _entry(store / name) for name in ("models.parquet", "prompts.parquet", "scores.bin")}
    manifest["manifest_sha256"] = hashlib.sha256(json.dumps(manifest, sort_keys=True, default=str).encode()).hexdigest()
    (store / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def test_a_version_2_store_as_written_before_opens_and_verifies(tmp_path):
    store = _store(tmp_path)
    written_now = json.loads((store / "manifest.json").read_text(encoding="utf-8"))
    old = _write_v2(store)
    # Same content and checksum: the common format left version 2 as it was, so old routereval reads new stores.
    assert written_now == old
    assert list(written_now) == list(old)
    bench = load_benchmark(store)
    np.testing.assert_array_equal(bench.values(), np.asarray(VALUES, dtype=np.float32))
    assert bench.provenance == {"source": "hand", "note": "modèle"}
    assert verify_store(store) == {"files": 3, "bytes": sum(old["files"][n]["size"] for n in old["files"])}


def test_a_version_1_store_opens_unchecked_and_cannot_be_verified(tmp_path):
    store = _store(tmp_path)
    (store / "manifest.json").write_text(json.dumps(_fields(1), indent=2))
    data = bytearray((store / "scores.bin").read_bytes())
    assert load_benchmark(store).values()[0, 0] == 1.0
    data[0] = 0  # a change no version 1 store could notice
    (store / "scores.bin").write_bytes(bytes(data))
    assert load_benchmark(store).values()[0, 0] == 0.0
    with pytest.raises(DataError, match="written by an older routereval without checksums"):
        verify_store(store)


def test_damaged_version_2_stores_are_refused_naming_the_file(tmp_path):
    store = _store(tmp_path)
    manifest = _write_v2(store)
    edited = {**manifest, "n_prompts": 2}
    (store / "manifest.json").write_text(json.dumps(edited, indent=2))
    with pytest.raises(DamagedStoreError) as caught:
        load_benchmark(store)
    assert str(caught.value) == (f"{store}/manifest.json: was changed after it was written (its checksum does not "
                                 "match); the store is damaged")
    _write_v2(store)
    (store / "prompts.parquet").write_bytes((store / "prompts.parquet").read_bytes()[:-1])
    with pytest.raises(DamagedStoreError) as caught:
        load_benchmark(store)
    size = manifest["files"]["prompts.parquet"]["size"]
    assert str(caught.value) == (f"{store}/prompts.parquet: is {size - 1} bytes, but {size} were written; "
                                 "the store is damaged")


def test_a_store_from_a_newer_routereval_asks_for_an_upgrade(tmp_path):
    store = _store(tmp_path)
    manifest = _write_v2(store)
    manifest["format_version"] = 3
    (store / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError) as caught:
        read_manifest(store)
    assert not isinstance(caught.value, DamagedStoreError)
    assert str(caught.value) == (f"{store}/manifest.json: store format v3 is newer than this routereval reads (v2); "
                                 "upgrade routereval")


def test_a_resealed_manifest_that_drops_a_file_is_refused(tmp_path):
    store = _store(tmp_path)
    manifest = _write_v2(store)
    del manifest["files"]["scores.bin"], manifest["manifest_sha256"]
    manifest["manifest_sha256"] = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
    (store / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DamagedStoreError, match=r"manifest.json: files: does not list scores.bin; the store is dama"):
        load_benchmark(store)
