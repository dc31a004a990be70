"""What routers read about each prompt: embeddings and texts, by benchmark position.

A prompt without text cannot be embedded or read: it is refused with the
count and the first ids, never given a zero vector that would look like a
real prompt to a router (vectors the source ships need no text).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from routereval.datasets.router_dataset import RouterDatasets
from routereval.errors import DataError
from routereval.records import Benchmark
from routereval.routers.base import Prompts

#: Encoder name that picks the source's own vectors where it ships some, else the default encoder.
AUTO_ENCODER = "auto"


@dataclass(frozen=True)
class Features:
    """Per-prompt inputs for routers, indexed by benchmark prompt position."""

    embeddings: np.ndarray | None
    texts: Sequence[str] | None
    #: The encoder that made ``embeddings`` (its full name: path, dimension, fitted vocabulary).
    encoder: str = ""

    def prompts(self, positions: np.ndarray, scores: np.ndarray | None = None) -> Prompts:
        """The :class:`Prompts` of the benchmark prompts at ``positions``."""
        emb = None if self.embeddings is None else np.asarray(self.embeddings[positions], dtype=np.float32)
        texts = None if self.texts is None else [self.texts[i] for i in positions]
        return Prompts(embeddings=emb, texts=texts, scores=scores, n=len(positions))


def _textless(bench: Benchmark) -> np.ndarray:
    text = bench.prompts["text"]
    return np.flatnonzero(text.isna().to_numpy() | (text.fillna("").astype(str).str.strip() == "").to_numpy())


def _refuse_textless(bench: Benchmark, what: str) -> None:
    missing = _textless(bench)
    if len(missing):
        ids = bench.prompts["prompt_id"].to_numpy()[missing[:3]].tolist()
        raise DataError(
            f"{len(missing)} of {bench.n_prompts} prompts of {bench.name!r} have no text (first: "
            f"{', '.join(map(str, ids))}), so {what}; import the prompt texts, use vectors the source ships "
            "(--encoder precomputed:<key>), or run only routers that read no prompt (oracle, ro, random, best-single)"
        )


def encoder_name(bench: Benchmark, encoder: str = AUTO_ENCODER) -> str:
    """The encoder ``auto`` stands for on ``bench``: its own vectors where it has some, else MiniLM."""
    if encoder != AUTO_ENCODER:
        return encoder
    return f"precomputed:{sorted(bench.embeddings)[0]}" if bench.embeddings else "minilm"


def encoder_for(data: RouterDatasets | Benchmark, encoder: str = AUTO_ENCODER) -> Any:
    """The encoder ``encoder`` names, ready to embed ``data``'s prompts.

    Given router datasets, an encoder that learns (TF-IDF) fits on their
    training prompts only; given a bare benchmark, on all its prompts.
    """
    from routereval.encoders import get_encoder

    bench = data.bench if isinstance(data, RouterDatasets) else data
    name = encoder_name(bench, encoder)
    if name.startswith("precomputed:"):
        return get_encoder(name, benchmark=bench)
    _refuse_textless(bench, f"they cannot be embedded with {name!r}")
    enc = get_encoder(name)
    if hasattr(enc, "fit"):
        rows = data.split.train if isinstance(data, RouterDatasets) else np.arange(bench.n_prompts)
        enc.fit(bench.prompts["text"].to_numpy()[rows].tolist())
    return enc


def embed(data: RouterDatasets | Benchmark, encoder: str = AUTO_ENCODER, *, progress: bool = True) -> np.ndarray:
    """Vectors of every prompt of a benchmark (row i = prompt i), cached on disk per encoder (see :func:`encoder_for`)."""
    from routereval.encoders import embed_prompts

    bench = data.bench if isinstance(data, RouterDatasets) else data
    return embed_prompts(bench, encoder_for(data, encoder), progress=progress)


def features_for(
    data: RouterDatasets, encoder: str = AUTO_ENCODER, *, need_texts: bool, need_vectors: bool, progress: bool = True
) -> Features:
    """Embeddings and texts of every prompt, each only if some router reads them."""
    texts = None
    if need_texts:
        _refuse_textless(data.bench, "routers that read the text cannot run")
        texts = data.bench.prompts["text"].astype(str).tolist()
    if not need_vectors:
        return Features(embeddings=None, texts=texts)
    from routereval.encoders import embed_prompts

    enc = encoder_for(data, encoder)
    return Features(embed_prompts(data.bench, enc, progress=progress), texts, encoder=enc.name)
