"""The one contract every text encoder meets, and the checks shared by all.

An encoder turns texts into ``float32`` vectors of a fixed width ``dim`` whose
rows have unit L2 norm, so that cosine similarity is a plain dot product.
``name`` identifies the exact function text -> vector: two encoders with the
same name must give the same vector for the same text, because the on-disk
cache (:mod:`routereval.encoders.cache`) is keyed by it.

Prompts without text (``None``, NaN or only whitespace) cannot be embedded.
:meth:`Encoder.encode` refuses them with a :class:`~routereval.errors.DataError`
that says which one; :func:`routereval.encoders.embed` can instead give them a
zero vector (``on_empty="zero"``), which has cosine 0 with everything.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from routereval.errors import DataError, RouterEvalError

# Fewer texts than this encode too fast to be worth a progress display (and
# one prompt at a time, as in serving, must not pay for one).
PROGRESS_MIN_TEXTS = 256
# Encoder names become folder names in the cache, so keep them portable.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class UnknownEncoderError(RouterEvalError, ValueError):
    """An encoder name that the registry does not know."""


def is_missing_text(text: Any) -> bool:
    """True for values that carry no text: ``None``, NaN, ``pd.NA`` or a blank string."""
    if text is None:
        return True
    if isinstance(text, str):
        return not text.strip()
    if isinstance(text, float):
        return math.isnan(text)
    # pandas' NA and NaT compare as neither equal nor unequal to themselves.
    try:
        return bool(text != text)
    except (TypeError, ValueError):
        return False


def describe_text(position: int, ids: Sequence[Any] | None) -> str:
    """How an error message names text ``position`` (0-based) of a list."""
    where = f"text {position + 1} (counting from 1)"
    if ids is not None:
        return f"prompt {ids[position]!r}, {where}"
    return where


def check_texts(
    texts: Sequence[Any], ids: Sequence[Any] | None = None, *, allow_missing: bool = False
) -> list[str]:
    """Validate a batch of texts at the boundary: every item must be a non-blank string.

    ``ids`` (same length) name the prompts in the error; without them the
    position counted from 1 is given. With ``allow_missing`` prompts without
    text pass (the caller deals with them) but other non-strings still fail.
    """
    texts = list(texts)
    if ids is not None and len(ids) != len(texts):
        raise ValueError(f"ids has {len(ids)} items but texts has {len(texts)}")
    for i, text in enumerate(texts):
        if is_missing_text(text):
            if allow_missing:
                continue
            raise DataError(
                f"{describe_text(i, ids)} has no text, so it cannot be embedded; pass "
                "on_empty='zero' to embed() to give such prompts a zero vector instead",
                row=i + 1,
                column="text",
            )
        if not isinstance(text, str):
            raise DataError(
                f"{describe_text(i, ids)} is of type {type(text).__name__}, not text",
                row=i + 1,
                column="text",
            )
    return texts


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (``float32``); all-zero rows stay zero."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def check_name(name: str) -> str:
    """An encoder name usable as a cache folder name (letters, digits, ``._-``)."""
    if not _NAME_RE.match(name):
        raise ValueError(
            f"encoder name {name!r} cannot name a cache folder: use letters, digits, '.', '_' and '-'"
        )
    return name


class Encoder(ABC):
    """Texts -> ``float32`` array ``n x dim`` with unit-norm rows.

    Subclasses implement :meth:`_encode` on a validated, non-empty list of
    strings; :meth:`encode` does the validation, the dtype and the
    normalisation once for all of them. ``cacheable`` is False for encoders
    whose vectors are not worth storing again (they are looked up, not computed).
    """

    cacheable: bool = True
    #: Raised when the text -> vector function changes in its last digits under the same name, so
    #: that a cache written before is refused with the command that clears it, never mixed in.
    vectors_revision: int = 1

    @property
    @abstractmethod
    def name(self) -> str:
        """Stable identifier of the text -> vector function (the cache key)."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """Width of the vectors."""

    @abstractmethod
    def _encode(self, texts: list[str], *, progress: bool) -> np.ndarray:
        """Vectors for validated texts (any float dtype, any norm)."""

    #: Whether ``encode`` scales rows to unit length (vectors a source ships are kept as they are).
    unit_norm: bool = True

    def encode(self, texts: Sequence[str], *, progress: bool = True) -> np.ndarray:
        """Encode ``texts`` into an ``n x dim`` ``float32`` array (unit-norm rows where ``unit_norm``)."""
        texts = check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.asarray(self._encode(texts, progress=progress))
        if vectors.shape != (len(texts), self.dim):
            raise RuntimeError(
                f"encoder {self.name!r} returned shape {vectors.shape} for {len(texts)} texts, "
                f"expected ({len(texts)}, {self.dim})"
            )
        if not np.all(np.isfinite(vectors)):
            bad = int(np.flatnonzero(~np.isfinite(vectors).all(axis=1))[0])
            raise RuntimeError(f"encoder {self.name!r} returned non-finite values for text {bad + 1}")
        return l2_normalise(vectors) if self.unit_norm else np.asarray(vectors, dtype=np.float32)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim})"
