"""The int8 rewrite on a one-multiply graph, against numpy.

Checked two ways: against a numpy re-implementation of the quantisation the
module documents (7-bit activations per row with a zero point, 8-bit weights
per column) to float rounding, and against the exact fp32 product within the
error that quantisation allows. The real MiniLM graph is checked on real
prompts in test_encoder_paths.py.
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install routereval[onnx])")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install routereval[onnx])")

K, N = 96, 40


def _run(weight: np.ndarray, x: np.ndarray) -> np.ndarray:
    from onnx import TensorProto, helper, numpy_helper

    from routereval.encoders.int8 import rewrite_int8

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["input_ids", "W"], ["y"], name="dense")],
        "one-multiply",
        [helper.make_tensor_value_info("input_ids", TensorProto.FLOAT, ["batch", "tokens", K])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "tokens", N])],
        [numpy_helper.from_array(weight, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert rewrite_int8(model) == 1
    onnx.checker.check_model(model)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"input_ids": x})[0]


def _numpy_int8(weight: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The documented quantisation, written out independently."""
    w_scale = np.abs(weight).max(axis=0) / 127
    w_int = np.clip(np.round(weight / w_scale), -127, 127)
    rows = x.reshape(-1, K).astype(np.float64)
    lo, hi = np.minimum(rows.min(axis=1), 0), np.maximum(rows.max(axis=1), 0)
    scale = (hi - lo) / 127
    zero = np.round(-lo / scale)
    q = np.clip(np.round(rows / scale[:, None]) + zero[:, None], 0, 255)
    y = ((q - zero[:, None]) * scale[:, None]) @ (w_int * w_scale)
    return y.reshape(*x.shape[:-1], N)


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    weight = rng.normal(0, 0.05, (K, N)).astype(np.float32)
    x = rng.normal(0.5, 1.0, (3, 5, K)).astype(np.float32)
    x[..., 7] = 25.0  # an outlier channel, as in BERT's hidden states: the widest case for one row's scale
    x[1] *= 0.01  # a row of small values must keep its own fine scale
    return weight, x


def test_int8_multiply_is_the_documented_quantisation(data):
    weight, x = data
    got = _run(weight, x)
    np.testing.assert_allclose(got, _numpy_int8(weight, x), rtol=1e-4, atol=1e-5)
    # And within the worst-case rounding error of the exact product, worked out per output: each input off
    # by at most half its own row's step, each weight by half its column's step. A scale shared by the
    # batch would break this bound on the small-valued text (its step would be ~100x too coarse).
    exact = x.astype(np.float64) @ weight
    rows = x.reshape(-1, K).astype(np.float64)
    row_step = (np.maximum(rows.max(axis=1), 0) - np.minimum(rows.min(axis=1), 0)) / 127
    col_step = np.abs(weight).max(axis=0) / 127
    bound = row_step[:, None] / 2 * np.abs(weight).sum(axis=0) + np.abs(rows).sum(axis=1)[:, None] * col_step / 2
    error = np.abs(got - exact).reshape(-1, N)
    assert (error <= bound * 1.001 + 1e-6).all()
    assert error[5:10].max() < 0.05 * error.max()  # the small text's error is its own (a shared scale: ~1x)


def test_a_row_does_not_depend_on_its_batch_mates(data):
    weight, x = data
    together = _run(weight, x)
    for b in range(x.shape[0]):
        np.testing.assert_allclose(_run(weight, x[b : b + 1])[0], together[b], rtol=0, atol=1e-6)

