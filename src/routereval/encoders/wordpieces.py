"""MiniLM's word pieces, exactly as sentence-transformers makes them, in length-sorted batches.

sentence-transformers strips each text, runs the model's fast tokenizer
(``tokenizer.json``) with truncation to ``max_seq_length`` word pieces, pads
each batch to its longest text and sorts texts by length before batching. The
fast paths read the same ``tokenizer.json`` through the ``tokenizers`` library
(already a dependency of transformers), so the ids are the same without
importing transformers; ``tests/encoders/test_encoder_paths.py`` checks them against
sentence-transformers' own tokenizer on real prompts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from routereval.errors import RouterEvalError


class WordPieces:
    """Texts -> padded ``int64`` id and mask arrays, truncated at ``max_length`` word pieces."""

    def __init__(self, model_dir: str | Path, max_length: int) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise RouterEvalError(
                "the fast MiniLM encoder needs the package tokenizers: pip install tokenizers"
            ) from exc
        self.max_length = max_length
        self._tokenizer: Any = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length)
        self._tokenizer.no_padding()

    def ids(self, texts: list[str]) -> list[list[int]]:
        """Word-piece ids of each text, with [CLS] and [SEP], unpadded."""
        # sentence-transformers strips surrounding whitespace before tokenising.
        return [e.ids for e in self._tokenizer.encode_batch([t.strip() for t in texts])]

    def batches(self, texts: list[str], batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``(positions, input_ids, attention_mask)`` per batch, longest texts first.

        Sorting by length keeps padding small: each batch is padded only to its
        own longest text.
        """
        pieces = self.ids(texts)
        lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
        order = np.argsort(-lengths, kind="stable")
        for start in range(0, len(order), batch_size):
            positions = order[start : start + batch_size]
            width = int(lengths[positions[0]])
            ids = np.zeros((len(positions), width), dtype=np.int64)
            mask = np.zeros((len(positions), width), dtype=np.int64)
            for row, pos in enumerate(positions):
                n = int(lengths[pos])
                ids[row, :n] = pieces[pos]
                mask[row, :n] = 1
            yield positions, ids, mask
