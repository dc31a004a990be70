"""The restricted unpickler: numpy arrays and plain containers load; nothing else runs."""

from __future__ import annotations

import collections
import io
import os
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

from routereval.errors import DataError
from routereval.sources.safe_pickle import safe_load


def _payload() -> dict:
    """Every kind of value a RouterEval pickle may reasonably hold."""
    return {
        "float32": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
        "float64_nan": np.array([0.0, np.nan, 1.0, 0.25]),
        "float16_fortran": np.asfortranarray(np.linspace(0, 1, 6, dtype=np.float16).reshape(2, 3)),
        "int8": np.array([-3, 0, 7], dtype=np.int8),
        "int64": np.arange(5, dtype=np.int64) * 10**12,
        "uint8": np.array([0, 1, 255], dtype=np.uint8),
        "bool": np.array([[True, False], [False, True]]),
        "complex": np.array([1 + 2j, -0.5j]),
        "unicode": np.array(["alpha", "béta", "γ"]),
        "bytes_array": np.array([b"ab", b"c"]),
        "object_str": np.array(["What is 2+2?", "Name a prime.", ""], dtype=object),
        "structured": np.array([(1, 0.5), (2, 1.5)], dtype=[("a", "<i4"), ("b", "<f8")]),
        "datetime": np.array(["2024-01-02", "2025-03-04"], dtype="datetime64[D]"),
        "strided": np.arange(20)[::3],
        "zero_d": np.array(3.5),
        "empty": np.zeros((0, 768), dtype=np.float32),
        "scalars": [np.float64(0.125), np.int64(-4), np.float32(2.5), np.bool_(True)],
        "nested": {
            3: {"all_strong": {"model": ["a/b", "c/d"], "data": {"x": (1, 2.5, None)}}},
            "od": collections.OrderedDict([("z", 1), ("a", 2)]),
            "set": {1, 2, 3},
            "frozen": frozenset({"x"}),
            "slice": slice(1, 10, 2),
            "range": range(2, 9, 3),
            "bytes": b"\x00\xffraw",
            "bytearray": bytearray(b"mutable"),
            "complex": 3 - 4j,
            "flags": [True, False, None],
            "big": 2**70,
        },
    }


def _assert_same(got, want, where="root") -> None:
    assert type(got) is type(want), f"{where}: {type(got)} != {type(want)}"
    if isinstance(want, np.ndarray):
        assert got.dtype == want.dtype, where
        assert got.shape == want.shape, where
        if want.dtype == object:
            assert got.tolist() == want.tolist(), where
        elif want.dtype.kind in "fc":
            np.testing.assert_array_equal(got, want, err_msg=where)
        else:
            assert np.array_equal(got, want), where
    elif isinstance(want, np.generic):
        assert got.dtype == want.dtype and got == want, where
    elif isinstance(want, dict):
        assert list(got) == list(want), where
        for k in want:
            _assert_same(got[k], want[k], f"{where} -> {k}")
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            _assert_same(g, w, f"{where}[{i}]")
    else:
        assert got == want, where


@pytest.mark.parametrize("protocol", [0, 2, 3, 4, 5])
def test_arrays_and_containers_load_exactly(tmp_path, protocol):
    want = _payload()
    path = tmp_path / "ok.pkl"
    path.write_bytes(pickle.dumps(want, protocol=protocol))
    _assert_same(safe_load(path), want)


def test_fortran_order_survives(tmp_path):
    arr = np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3))
    path = tmp_path / "f.pkl"
    path.write_bytes(pickle.dumps(arr, protocol=5))
    assert safe_load(path).flags.f_contiguous


def test_accepts_open_files_and_str_paths(tmp_path):
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps({"a": np.ones(3)}, protocol=2))
    with open(path, "rb") as f:
        assert safe_load(f)["a"].sum() == 3.0
    assert safe_load(str(path))["a"].shape == (3,)
    assert safe_load(io.BytesIO(path.read_bytes()))["a"].dtype == np.float64


def test_numpy_1x_module_names_load_without_warnings(tmp_path):
    """Files written by numpy 1.x name ``numpy.core.*``; protocol 2 spells globals as text."""
    want = {"a": np.arange(4, dtype=np.float32), "s": np.float64(0.5), "o": np.array(["x"], dtype=object)}
    data = pickle.dumps(want, protocol=2)
    # numpy 2 writes numpy._core names and numpy 1 numpy.core ones: make them numpy 1's either way.
    old = data.replace(b"numpy._core.", b"numpy.core.")
    assert b"numpy.core.multiarray" in old and b"numpy._core" not in old
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _assert_same(safe_load(io.BytesIO(old)), want)


class _RunsShell:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


class _OpensFile:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (str(self.target), "w"))


class _BuildsFrame:
    def __reduce__(self):
        return (pd.DataFrame, ({"a": [1, 2]},))


@pytest.mark.parametrize("protocol", [2, 5])
def test_os_system_payload_is_refused_before_it_runs(tmp_path, protocol):
    target = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    # Hidden inside an otherwise ordinary structure.
    path.write_bytes(pickle.dumps({"data": [np.ones(2), _RunsShell(target)]}, protocol=protocol))
    with pytest.raises(DataError) as err:
        safe_load(path)
    assert not target.exists()
    msg = str(err.value)
    assert str(path) in msg
    assert f"refuses to load {os.system.__module__}.system" in msg
    assert "numpy arrays and plain containers" in msg


def test_file_creating_payload_is_refused_and_creates_nothing(tmp_path):
    target = tmp_path / "created.txt"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps([_OpensFile(target)], protocol=4))
    with pytest.raises(DataError, match=r"refuses to load (io|builtins)\.open"):
        safe_load(path)
    assert not target.exists()


def test_pandas_dataframe_is_refused(tmp_path):
    path = tmp_path / "frame.pkl"
    path.write_bytes(pickle.dumps({"x": _BuildsFrame()}, protocol=4))
    with pytest.raises(DataError) as err:
        safe_load(path)
    assert f"refuses to load {pd.DataFrame.__module__}.DataFrame:" in str(err.value)
    # A genuinely pickled DataFrame is refused too (whatever global it names first).
    real = tmp_path / "real_frame.pkl"
    real.write_bytes(pickle.dumps(pd.DataFrame({"a": [1.0]})))
    with pytest.raises(DataError, match=r"refuses to load pandas\."):
        safe_load(real)


def _short_unicode(text: str) -> bytes:
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


@pytest.mark.parametrize(
    "data, refused",
    [
        (b"cbuiltins\neval\n(V__import__('os').getcwd()\ntR.", "builtins.eval"),
        (b"cbuiltins\ngetattr\n(cbuiltins\nlist\nVappend\ntR.", "builtins.getattr"),
        (b"cbuiltins\n__import__\n(Vos\ntR.", "builtins.__import__"),
        (b"c__builtin__\nexec\n(Vx=1\ntR.", "__builtin__.exec"),
        (b"cbuiltins\nobject\n)R.", "builtins.object"),
        (b"cnumpy\nload\n(Vx.npy\ntR.", "numpy.load"),
        (b"cnumpy.core.multiarray\n_reconstruct.__globals__\n.", "numpy.core.multiarray._reconstruct.__globals__"),
        # Protocol 4 dotted name: must not walk attributes of an allowed class.
        (b"\x80\x04" + _short_unicode("builtins") + _short_unicode("dict.fromkeys") + b"\x93.",
         "builtins.dict.fromkeys"),
        (b"ccopyreg\n_reconstructor\n.", "copyreg._reconstructor"),
    ],
)
def test_dangerous_globals_are_refused(tmp_path, data, refused):
    path = tmp_path / "bad.pkl"
    path.write_bytes(data)
    with pytest.raises(DataError) as err:
        safe_load(path)
    assert f"refuses to load {refused}:" in str(err.value)
    assert str(path) in str(err.value)


def test_persistent_references_are_refused(tmp_path):
    path = tmp_path / "pid.pkl"
    path.write_bytes(b"P42\n.")
    with pytest.raises(DataError, match="persistent reference"):
        safe_load(path)


def test_codecs_encode_only_rebuilds_latin1_bytes(tmp_path):
    ok = tmp_path / "ok.pkl"
    # The UNICODE opcode is raw-unicode-escape: \u00e9 is one character.
    ok.write_bytes(b"c_codecs\nencode\n(V\\u00e9\nVlatin1\ntR.")
    assert safe_load(ok) == b"\xe9"
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(b"c_codecs\nencode\n(Vabc\nVrot13\ntR.")
    with pytest.raises(DataError, match="rot13"):
        safe_load(bad)


def test_corrupt_and_truncated_files_are_data_errors(tmp_path):
    full = pickle.dumps({"a": np.arange(100)}, protocol=5)
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(full[: len(full) // 2])
    with pytest.raises(DataError, match="not a readable pickle") as err:
        safe_load(cut)
    assert str(cut) in str(err.value)
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"this is not a pickle at all")
    with pytest.raises(DataError, match="not a readable pickle"):
        safe_load(junk)
    with pytest.raises(DataError, match="cannot read"):
        safe_load(tmp_path / "absent.pkl")


def test_out_of_band_buffers_are_refused(tmp_path):
    arr = np.arange(4.0)
    data = pickle.dumps(arr, protocol=5, buffer_callback=lambda b: False)
    path = tmp_path / "oob.pkl"
    path.write_bytes(data)
    with pytest.raises(DataError):
        safe_load(path)


def test_hand_built_payloads_are_real_pickles():
    """The refusals above are the unpickler's doing: stock pickle runs these same bytes."""
    assert pickle.loads(b"cbuiltins\ngetattr\n(cbuiltins\nlist\nVappend\ntR.") is list.append
    assert pickle.loads(b"cbuiltins\n__import__\n(Vos\ntR.") is os
    assert pickle.loads(b"cbuiltins\neval\n(V__import__('os').getcwd()\ntR.") == os.getcwd()
    dotted = b"\x80\x04" + _short_unicode("builtins") + _short_unicode("dict.fromkeys") + b"\x93."
    assert pickle.loads(dotted) == dict.fromkeys
