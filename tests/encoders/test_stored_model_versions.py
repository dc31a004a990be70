"""The ONNX export and the minilm-static table on disk: folders written before still read; damage is refused.

Users keep both in ``<home>/models``. Version 1 manifests are written by hand
here, byte for byte as routereval wrote them (``json.dumps(manifest, indent=2)
+ "\\n"``, no ``format`` field); the files beside them are small stand-ins,
since the checks read bytes, not models. Nothing here builds a model: a
folder that was not taken as finished would start an export or a build,
which these stand-ins cannot survive.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from routereval import manifests
from routereval.encoders import export, static
from routereval.errors import EXIT_DAMAGED


@pytest.fixture
def model_dir(tmp_path, monkeypatch) -> Path:
    """A stand-in for the installed model: what the export's and the table's folder names are hashed from."""
    monkeypatch.setenv("ROUTEREVAL_HOME", str(tmp_path / "home"))
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights")
    return folder


def _export_folder(model_dir: Path) -> Path:
    folder = export.export_dir(model_dir)
    folder.mkdir(parents=True)
    (folder / export.FP32_FILE).write_bytes(b"fp32 graph " * 1000)
    (folder / export.INT8_FILE).write_bytes(b"int8 graph " * 500)
    return folder


def _export_fields(model_dir: Path) -> dict:
    return {"onnx": "1.17.0", "opset": 17, "seconds": 2.1,
            "check_min_cosine": {"model.onnx": 0.99999996, "model-int8.onnx": 0.9985},
            "int8_matmuls": 18, "key": export.export_key(model_dir)}


def test_an_export_written_before_is_used_as_it_is(model_dir):
    folder = _export_folder(model_dir)
    (folder / "export.json").write_text(json.dumps(_export_fields(model_dir), indent=2) + "\n")
    assert export.ensure_export(model_dir, quiet=True) == folder
    assert export.check_export(folder, full=True)["int8_matmuls"] == 18


def test_an_export_of_the_common_format_is_checked_on_every_use(model_dir):
    folder = _export_folder(model_dir)
    manifests.write(folder, export.KIND, _export_fields(model_dir), [export.FP32_FILE, export.INT8_FILE])
    doc = json.loads((folder / "export.json").read_text())
    assert (doc["format"], doc["format_version"], doc["int8_matmuls"]) == ("routereval-onnx-export", 2, 18)
    assert doc["files"][export.FP32_FILE]["sha256"] == hashlib.sha256(b"fp32 graph " * 1000).hexdigest()
    assert export.ensure_export(model_dir, quiet=True) == folder

    (folder / export.INT8_FILE).write_bytes(b"int8 graph " * 499 + b"int8 graph!")
    with pytest.raises(export.DamagedExportError) as caught:
        export.ensure_export(model_dir, quiet=True)
    assert caught.value.exit_code == EXIT_DAMAGED
    assert str(caught.value) == (f"{folder / export.INT8_FILE}: has changed since it was written (its checksum does "
                                 f"not match); the ONNX export is damaged and not used; remove it with "
                                 f"`rm -r '{folder}'` and it is exported again on next use")
    (folder / export.INT8_FILE).unlink()
    with pytest.raises(export.DamagedExportError, match=r"model-int8\.onnx: is missing; the ONNX export is damaged"):
        export.ensure_export(model_dir, quiet=True)
    (folder / "export.json").write_text(json.dumps({**doc, "opset": 18}))
    with pytest.raises(export.DamagedExportError, match=r"export\.json: was changed after it was written"):
        export.ensure_export(model_dir, quiet=True)
    (folder / "export.json").write_text(json.dumps(manifests.seal({**doc, "format_version": 3})))
    with pytest.raises(export.RouterEvalError, match=r"ONNX export format v3 is newer than this routereval reads "
                                                     r"\(v2\); upgrade routereval"):
        export.ensure_export(model_dir, quiet=True)
    (folder / "export.json").write_text("{not json")
    with pytest.raises(export.DamagedExportError, match=r"export\.json: is not valid JSON"):
        export.ensure_export(model_dir, quiet=True)


def _table_folder(model_dir: Path) -> tuple[Path, np.ndarray]:
    folder = static.table_dir(model_dir)
    folder.mkdir(parents=True)
    table = np.arange(12 * 384, dtype=np.float32).reshape(12, 384) / 1000
    return folder, table


def test_a_table_written_before_is_checked_and_used(model_dir):
    folder, table = _table_folder(model_dir)
    np.save(folder / "pieces.npy", table, allow_pickle=False)
    digest = hashlib.sha256((folder / "pieces.npy").read_bytes()).hexdigest()
    old = {"key": static.table_key(model_dir), "shape": [12, 384], "dtype": "float32", "sha256": digest,
           "seconds": 61.5}
    (folder / "table.json").write_text(json.dumps(old, indent=2) + "\n", encoding="utf-8")
    np.testing.assert_array_equal(static.load_table(folder), table)

    data = bytearray((folder / "pieces.npy").read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one number: still a finite float32
    (folder / "pieces.npy").write_bytes(bytes(data))
    with pytest.raises(static.DamagedTableError, match="its sha256 differs from the one recorded when it was built"):
        static.load_table(folder)
    (folder / "table.json").write_text(json.dumps({k: v for k, v in old.items() if k != "sha256"}))
    with pytest.raises(static.DamagedTableError, match="its manifest table.json cannot be read"):
        static.load_table(folder)


def test_a_table_of_the_common_format_is_checked_in_full(model_dir):
    folder, table = _table_folder(model_dir)
    static.write_table(folder, table, static.table_key(model_dir), seconds=61.53)
    doc = json.loads((folder / "table.json").read_text())
    size = (folder / "pieces.npy").stat().st_size
    assert (doc["format"], doc["format_version"], doc["shape"], doc["seconds"]) == (
        "routereval-static-table", 2, [12, 384], 61.5)
    assert doc["files"]["pieces.npy"]["size"] == size
    np.testing.assert_array_equal(static.load_table(folder), table)

    data = bytearray((folder / "pieces.npy").read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / "pieces.npy").write_bytes(bytes(data))
    with pytest.raises(static.DamagedTableError) as caught:
        static.load_table(folder)
    assert caught.value.exit_code == EXIT_DAMAGED
    assert str(caught.value) == (f"the minilm-static table {folder / 'pieces.npy'} is damaged (its sha256 differs "
                                 f"from the one recorded when it was built), so it is not used; remove it with "
                                 f"`rm -r '{folder}'` and it is built again on next use (about a minute)")
    (folder / "pieces.npy").write_bytes(bytes(data[:-4]))
    with pytest.raises(static.DamagedTableError, match=rf"it is {size - 4} bytes, but {size} were written"):
        static.load_table(folder)
    (folder / "pieces.npy").unlink()
    with pytest.raises(static.DamagedTableError, match="the file is missing"):
        static.load_table(folder)
    (folder / "table.json").write_text(json.dumps(manifests.seal({**doc, "format_version": 3})))
    with pytest.raises(static.RouterEvalError, match="minilm-static table format v3 is newer than this routereval"):
        static.load_table(folder)
    (folder / "table.json").write_text(json.dumps({**doc, "shape": [13, 384]}))
    with pytest.raises(static.DamagedTableError, match=r"its manifest table\.json was changed after it was written"):
        static.load_table(folder)
