"""The weights reader the ONNX graph is built from (no torch, no safetensors package)."""

from __future__ import annotations

import numpy as np
import pytest


def test_safetensors_reader_matches_the_format(tmp_path):
    # A file written by hand from the format's definition: 8-byte little-endian header size, JSON header
    # (dtype, shape, byte offsets into the data), then the raw little-endian arrays.
    import json
    import struct

    from routereval.encoders.bert_graph import read_safetensors

    a = np.arange(6, dtype="<f4").reshape(2, 3)
    b = np.array([7, -8], dtype="<i8")
    header = {"__metadata__": {"format": "pt"},
              "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, a.nbytes]},
              "b": {"dtype": "I64", "shape": [2], "data_offsets": [a.nbytes, a.nbytes + b.nbytes]}}
    raw = json.dumps(header).encode()
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + a.tobytes() + b.tobytes())
    got = read_safetensors(path)
    assert sorted(got) == ["a", "b"]
    np.testing.assert_array_equal(got["a"], a)
    np.testing.assert_array_equal(got["b"], b)
    header["b"]["dtype"] = "BF16"
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + a.tobytes() + b.tobytes())
    with pytest.raises(ValueError, match="BF16"):
        read_safetensors(path)
