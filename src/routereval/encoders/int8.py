"""Int8 MiniLM: the fused fp32 graph with every dense layer's multiply in int8, scaled per word piece.

Why not ONNX Runtime's own dynamic quantisation: it scales a multiply's input
once for the whole batch, so a text's vector moves with its batch mates (a
cache keyed by text, and serving one prompt at a time, cannot accept that),
and on CPUs without AVX-512 VNNI its uint8 x int8 kernel adds products in
pairs into 16 bits, which saturates (on this project's 2-core AVX2 machines it
cost cosine 0.98 to the reference).

This rewrite gives each row of a multiply's input (one word piece of one text)
its own scale and zero point, computed in the graph, so a text's vector is a
function of the text alone at any batch size. Activations use 7 bits (0..127)
and weights 8 bits (symmetric, one scale per output column): a pair of
products then stays below 2^15 and no kernel saturates, so the vectors are the
same on every x86 CPU.

The fused ``Attention`` kernels (query/key/value projection and attention)
stay fp32: splitting the projection out into an int8 multiply followed by
``MultiHeadAttention`` ran 7% faster but took the lowest cosine over
LLMRouter's prompts from 0.992 to 0.979 (on "Which is true?"), below the
0.99 bar (9% faster in a later profile). The loss sits in the projection's
weights, not its inputs (lowest cosine to the fp32 graph over LLMRouter's
prompts): int8 weights with fp32 inputs alone give 0.988, and keeping the
inputs' seven largest channels in fp32 only 0.981. Moving scale from the
inputs into the weights (SmoothQuant, from MMLU-Pro's activation maxima)
reached 0.992 at alpha 0.8 but 0.990 at 0.7 and 0.988 at 0.9: too thin and
too fragile a margin to take.

Measured (``benchmarks/encoders_speed.py --check-all``): about 1.3x the fused
fp32 graph's prompts/s on MMLU-Pro questions; lowest cosine to
sentence-transformers 0.9962 over all 11,642 MMLU-Pro questions and 0.9923
over all 5,989 LLMRouter prompts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from routereval.encoders.onnx_builder import GraphBuilder

ACTIVATION_LEVELS = 127  # 7 bits: see the module docstring
WEIGHT_LEVELS = 127  # symmetric int8, -127..127


def quantise_columns(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 weights with one scale per output column: ``(int8 K x N, float32 N)``."""
    scale = np.abs(weight).max(axis=0) / WEIGHT_LEVELS
    scale[scale == 0] = 1.0
    quantised = np.clip(np.round(weight / scale), -WEIGHT_LEVELS, WEIGHT_LEVELS).astype(np.int8)
    return quantised, scale.astype(np.float32)


class _Graph(GraphBuilder):
    """A graph being rewritten: its weights by name, and the nodes of the new version."""

    def __init__(self, model: Any) -> None:
        from onnx import numpy_helper

        super().__init__(model.graph.initializer)
        self.graph = model.graph
        self.weights = {t.name: t for t in self.graph.initializer}
        self.to_array = numpy_helper.to_array

    def int8_matmul(self, x: str, weight: np.ndarray, out: str, prefix: str) -> None:
        """``out = x @ weight`` with ``x`` quantised per row, as described in the module docstring."""
        from onnx import TensorProto

        k, n = weight.shape
        quantised, scale = quantise_columns(weight)
        p = prefix
        q_weight = self.constant(f"{p}/w_int8", quantised)
        w_scale = self.constant(f"{p}/w_scale", scale.reshape(1, n))
        # x ~ s * (q - z) per row, so x @ W ~ s * (q @ Wq - z * colsum(Wq)) * w_scale.
        colsum = self.constant(f"{p}/colsum_scaled", (quantised.astype(np.int64).sum(axis=0) * scale).reshape(1, n)
                               .astype(np.float32))
        zero = self.constant(f"{p}/zero", np.array(0.0, np.float32))
        self.node("Reshape", [x, self.constant(f"{p}/rows", np.array([-1, k], np.int64))], [f"{p}/x"])
        self.node("ReduceMax", [f"{p}/x"], [f"{p}/max"], axes=[1], keepdims=1)
        self.node("ReduceMin", [f"{p}/x"], [f"{p}/min"], axes=[1], keepdims=1)
        # The range always holds 0, so zero is exactly representable (padding rows, ReLU-like inputs).
        self.node("Max", [f"{p}/max", zero], [f"{p}/hi"])
        self.node("Min", [f"{p}/min", zero], [f"{p}/lo"])
        self.node("Sub", [f"{p}/hi", f"{p}/lo"], [f"{p}/range"])
        self.node("Max", [f"{p}/range", self.constant(f"{p}/tiny", np.array(1e-8, np.float32))], [f"{p}/range+"])
        self.node("Mul", [f"{p}/range+", self.constant(f"{p}/per_level", np.array(1 / ACTIVATION_LEVELS, np.float32))],
                  [f"{p}/s"])
        self.node("Div", [f"{p}/lo", f"{p}/s"], [f"{p}/lo_levels"])
        self.node("Neg", [f"{p}/lo_levels"], [f"{p}/z_unrounded"])
        self.node("Round", [f"{p}/z_unrounded"], [f"{p}/z"])
        self.node("Cast", [f"{p}/z"], [f"{p}/z_uint8"], to=TensorProto.UINT8)
        flat = self.constant(f"{p}/flat", np.array([-1], np.int64))
        self.node("Reshape", [f"{p}/s", flat], [f"{p}/s_rows"])
        self.node("Reshape", [f"{p}/z_uint8", flat], [f"{p}/z_rows"])
        self.node("QuantizeLinear", [f"{p}/x", f"{p}/s_rows", f"{p}/z_rows"], [f"{p}/x_uint8"], axis=0)
        self.node("MatMulInteger", [f"{p}/x_uint8", q_weight], [f"{p}/acc"])
        self.node("Cast", [f"{p}/acc"], [f"{p}/acc_float"], to=TensorProto.FLOAT)
        self.node("Mul", [f"{p}/acc_float", w_scale], [f"{p}/scaled"])
        self.node("Mul", [f"{p}/z", colsum], [f"{p}/offset"])
        self.node("Sub", [f"{p}/scaled", f"{p}/offset"], [f"{p}/unscaled"])
        self.node("Mul", [f"{p}/unscaled", f"{p}/s"], [f"{p}/y"])
        # Back to x's leading dimensions (batch, tokens) with n columns.
        self.node("Shape", [x], [f"{p}/x_shape"])
        self.node("Slice", [f"{p}/x_shape", self.constant(f"{p}/first", np.array([0], np.int64)),
                            self.constant(f"{p}/last", np.array([-1], np.int64))], [f"{p}/leading"])
        self.node("Concat", [f"{p}/leading", self.constant(f"{p}/n", np.array([n], np.int64))], [f"{p}/y_shape"], axis=0)
        self.node("Reshape", [f"{p}/y", f"{p}/y_shape"], [out])


def rewrite_int8(model: Any) -> int:
    """Rewrite every weight multiply of an ONNX graph (a ``ModelProto``, changed in place) into the int8 form.

    Returns how many multiplies became int8.
    """
    g = _Graph(model)
    count = 0
    for node in list(g.graph.node):
        if node.op_type == "MatMul" and node.input[1] in g.weights:
            weight = g.to_array(g.weights[node.input[1]]).astype(np.float32)
            g.int8_matmul(node.input[0], weight, node.output[0], f"int8/{node.name}")
            count += 1
        else:
            g.nodes.append(node)
    del g.graph.node[:]
    g.graph.node.extend(g.nodes)
    used = {name for n in g.graph.node for name in n.input}
    kept = [t for t in g.graph.initializer if t.name in used]
    del g.graph.initializer[:]
    g.graph.initializer.extend(kept)
    return count
