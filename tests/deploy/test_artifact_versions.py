"""Artifacts of format version 2 (before the common manifest format) still load; damaged and newer ones are refused.

A version 2 manifest is written by hand here, byte for byte as routereval
wrote it then: the same fields, ``files`` mapping each file to its sha256,
``arrays`` after ``files``, and ``checksum`` last, the sha256 of the compact
JSON (keys sorted, no spaces, UTF-8) of the rest; the file is
``json.dumps(manifest, indent=2, ensure_ascii=False) + "\\n"``. The ``.npz``
files did not change.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from support.tiny_routing import NEW_PROMPTS, tiny_benchmark

from routereval.deploy.model import ArtifactError, DamagedArtifactError, RoutingModel
from routereval.deploy.train import train_model

UNICODE = ["模型-数学", "código-modelo", "poème/ü"]
RETRAIN = "run routereval train again (with --force), or copy the folder again"


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> Path:
    """A version 3 artifact (kNN over TF-IDF) whose candidates have non-ASCII names."""
    bench = tiny_benchmark()
    bench.models["name"] = UNICODE
    bench.model_names[:] = UNICODE
    folder = tmp_path_factory.mktemp("v3") / "art"
    train_model(bench, "knn", {"k": 3}, "tfidf-16", split="train", progress=False).save(folder)
    return folder


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def as_version_2(folder: Path) -> dict:
    """Rewrite the artifact's manifest as routereval wrote format version 2."""
    new = _manifest(folder)
    old = {k: v for k, v in new.items() if k not in ("files", "arrays", "manifest_sha256")}
    old["format_version"] = 2
    old["files"] = {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in new["files"]}
    old["arrays"] = new["arrays"]
    compact = json.dumps(old, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    old["checksum"] = hashlib.sha256(compact.encode("utf-8")).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(old, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return old


def _copy(artifact: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "art"
    shutil.copytree(artifact, folder)
    return folder


def test_a_version_2_artifact_loads_and_routes_as_the_version_3_one(artifact, tmp_path):
    folder = _copy(artifact, tmp_path)
    old = as_version_2(folder)
    assert "模型-数学" in (folder / "manifest.json").read_text(encoding="utf-8")  # written as UTF-8, not escaped
    assert list(old)[-3:] == ["files", "arrays", "checksum"]
    texts = NEW_PROMPTS + ["zzzz qqqq", ""]
    before, after = RoutingModel.load(artifact).decide(texts), RoutingModel.load(folder).decide(texts)
    np.testing.assert_array_equal(before.quality, after.quality)
    np.testing.assert_array_equal(before.order, after.order)
    assert RoutingModel.load(folder).candidates == UNICODE


def test_damaged_version_2_artifacts_are_refused_as_before(artifact, tmp_path):
    folder = _copy(artifact, tmp_path)
    old = as_version_2(folder)
    edited = {**old, "prior": [0.5, 0.5, 0.5]}  # checksum left stale
    (folder / "manifest.json").write_text(json.dumps(edited, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DamagedArtifactError) as caught:
        RoutingModel.load(folder)
    assert str(caught.value) == (f"{folder}/manifest.json: checksum does not match its content: the manifest was "
                                 f"altered or damaged; {RETRAIN}")

    folder = _copy(artifact, tmp_path / "again")
    as_version_2(folder)
    data = bytearray((folder / "router.npz").read_bytes())
    data[-100] ^= 0xFF
    (folder / "router.npz").write_bytes(bytes(data))
    with pytest.raises(DamagedArtifactError) as caught:
        RoutingModel.load(folder)
    assert str(caught.value) == (f"{folder}/router.npz: sha256 does not match the manifest; the file was altered "
                                 f"or damaged; {RETRAIN}")
    (folder / "router.npz").unlink()
    with pytest.raises(DamagedArtifactError, match=r"router\.npz: missing \(listed in the manifest\); copy the whole"):
        RoutingModel.load(folder)


def test_a_version_3_manifest_sealed_by_the_version_2_rule_is_refused(artifact, tmp_path):
    folder = _copy(artifact, tmp_path)
    doc = {k: v for k, v in _manifest(folder).items() if k != "manifest_sha256"}
    compact = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    doc["checksum"] = hashlib.sha256(compact.encode("utf-8")).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DamagedArtifactError, match="checksum does not match its content"):
        RoutingModel.load(folder)


def test_a_changed_or_truncated_file_of_a_version_3_artifact_is_refused(artifact, tmp_path):
    folder = _copy(artifact, tmp_path)
    size = _manifest(folder)["files"]["encoder.npz"]["size"]
    data = (folder / "encoder.npz").read_bytes()
    (folder / "encoder.npz").write_bytes(data[:-1])
    with pytest.raises(DamagedArtifactError) as caught:
        RoutingModel.load(folder)
    assert str(caught.value) == f"{folder}/encoder.npz: is {size - 1} bytes, but {size} were written; {RETRAIN}"
    (folder / "encoder.npz").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(DamagedArtifactError, match=r"encoder\.npz: sha256 does not match the manifest"):
        RoutingModel.load(folder)


def test_newer_and_retired_versions_say_what_to_do(artifact, tmp_path):
    folder = _copy(artifact, tmp_path)
    doc = _manifest(folder)
    (folder / "manifest.json").write_text(json.dumps({**doc, "format_version": 4}))
    with pytest.raises(ArtifactError) as caught:
        RoutingModel.load(folder)
    assert not isinstance(caught.value, DamagedArtifactError) and caught.value.exit_code == 1
    assert str(caught.value) == (f"{folder}/manifest.json: artifact format v4 is newer than this routereval reads "
                                 "(v3); upgrade routereval")
    (folder / "manifest.json").write_text(json.dumps({**doc, "format_version": 1}))
    with pytest.raises(ArtifactError) as caught:
        RoutingModel.load(folder)
    assert caught.value.exit_code == 1
    assert str(caught.value) == (f"{folder}/manifest.json: artifact format v1 is no longer read (this routereval "
                                 "reads v2 and v3); train the router again with this routereval")
