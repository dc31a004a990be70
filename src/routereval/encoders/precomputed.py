"""Vectors that come with a dataset (e.g. RouterEval's 768-d RoBERTa embeddings).

Nothing is computed: a prompt's vector is looked up, by its row in the
benchmark (:meth:`PrecomputedEncoder.rows`), by its prompt id
(:meth:`PrecomputedEncoder.by_id`, which stays right after a benchmark is
subset or reordered) or by its text (:meth:`PrecomputedEncoder.encode`, for
code written against any encoder). A text that is not in the table cannot be
embedded and raises :class:`~routereval.errors.DataError`.

Vectors are returned as the source ships them, not scaled to unit length:
RouterEval's code gives its cluster router, LinearR and MLPR the raw RoBERTa
vectors, and routers that need cosine similarity (kNN) normalise inside.
Rows are read on demand, so a memory-mapped table of a million prompts is
never copied whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from routereval.encoders.base import Encoder, is_missing_text
from routereval.errors import DataError

if TYPE_CHECKING:
    from routereval.records import Benchmark


class PrecomputedEncoder(Encoder):
    """A lookup table of prompt vectors (returned as shipped: ``unit_norm`` is False).

    Args:
        vectors: ``n x d`` array (may be a memmap).
        key: what the vectors are (``routereval-roberta``); the name is
            ``precomputed:<key>``.
        ids: optional prompt id of each row, for :meth:`by_id`.
        texts: optional text of each row (``None`` where absent), for :meth:`encode`.
    """

    cacheable = False
    unit_norm = False

    def __init__(
        self,
        vectors: np.ndarray,
        *,
        key: str = "vectors",
        ids: Sequence[str] | None = None,
        texts: Sequence[str | None] | None = None,
    ) -> None:
        if getattr(vectors, "ndim", None) != 2:
            raise ValueError(f"precomputed vectors must be a 2-d array, got shape {np.shape(vectors)}")
        n = vectors.shape[0]
        for label, seq in (("ids", ids), ("texts", texts)):
            if seq is not None and len(seq) != n:
                raise ValueError(f"{label} has {len(seq)} items but there are {n} vectors")
        self.vectors = vectors
        self.key = key
        self.ids = None if ids is None else [str(i) for i in ids]
        self.texts = None if texts is None else list(texts)
        self._id_rows: dict[str, int] | None = None
        self._text_rows: dict[str, int] | None = None
        self._ambiguous: set[str] = set()

    @classmethod
    def from_benchmark(cls, bench: Benchmark, key: str) -> PrecomputedEncoder:
        """The vectors ``bench.embeddings[key]``, addressable by row, prompt id and text."""
        if key not in bench.embeddings:
            have = ", ".join(sorted(bench.embeddings)) or "none"
            raise DataError(f"benchmark {bench.name!r} has no precomputed embeddings {key!r} (it has: {have})")
        return cls(
            bench.embeddings[key],
            key=key,
            ids=bench.prompts["prompt_id"].tolist(),
            texts=bench.prompts["text"].tolist(),
        )

    @property
    def name(self) -> str:
        return f"precomputed:{self.key}"

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    def rows(self, indices: Sequence[int] | np.ndarray | slice | None = None) -> np.ndarray:
        """The vectors of the given rows, as shipped (all rows for ``None``): "the embedding of prompt i"."""
        if indices is None:
            indices = slice(None)
        if not isinstance(indices, slice):
            indices = np.asarray(indices, dtype=np.int64)
            n = len(self)
            if indices.size and (indices.min() < -n or indices.max() >= n):
                raise IndexError(f"row index out of range for {n} precomputed vectors")
        block = np.asarray(self.vectors[indices], dtype=np.float32)
        if not np.all(np.isfinite(block)):
            positions = np.arange(len(self))[indices] if isinstance(indices, slice) else indices
            bad = int(positions[np.flatnonzero(~np.isfinite(block).all(axis=1))[0]])
            raise DataError(f"precomputed vector {self.key!r} of row {bad + 1} (counting from 1) is not finite")
        return block

    def by_id(self, prompt_ids: Sequence[str]) -> np.ndarray:
        """The vectors of the prompts with these ids, as shipped."""
        if self.ids is None:
            raise ValueError(f"precomputed vectors {self.key!r} were given without prompt ids")
        if self._id_rows is None:
            self._id_rows = {pid: i for i, pid in enumerate(self.ids)}
        rows = []
        for pid in prompt_ids:
            row = self._id_rows.get(str(pid))
            if row is None:
                raise DataError(f"prompt {pid!r} has no precomputed vector {self.key!r}", column="prompt_id")
            rows.append(row)
        return self.rows(rows)

    def _build_text_index(self) -> dict[str, int]:
        if self.texts is None:
            raise ValueError(
                f"precomputed vectors {self.key!r} were given without texts: look them up with rows() or by_id()"
            )
        index: dict[str, int] = {}
        for i, text in enumerate(self.texts):
            if is_missing_text(text):
                continue
            first = index.setdefault(text, i)
            # The same text twice is fine if it has the same vector; if not,
            # looking it up by text would have to guess, so it is refused.
            if first != i and not np.allclose(self.vectors[first], self.vectors[i], atol=1e-6):
                self._ambiguous.add(text)
        return index

    def _encode(self, texts: list[str], *, progress: bool) -> np.ndarray:
        if self._text_rows is None:
            self._text_rows = self._build_text_index()
        rows = []
        for i, text in enumerate(texts):
            row = self._text_rows.get(text)
            if row is None:
                raise DataError(
                    f"text {i + 1} (counting from 1) is not among the {len(self)} prompts with precomputed "
                    f"vectors {self.key!r}; these vectors cannot embed new text, choose another encoder",
                    row=i + 1,
                    column="text",
                )
            if text in self._ambiguous:
                raise DataError(
                    f"text {i + 1} (counting from 1) occurs several times with different precomputed vectors "
                    f"{self.key!r}; look it up by row or prompt id instead",
                    row=i + 1,
                    column="text",
                )
            rows.append(row)
        return self.rows(rows)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_id_rows"] = state["_text_rows"] = None
        state["_ambiguous"] = set()
        return state
