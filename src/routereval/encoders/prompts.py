"""The vector of prompt i of a benchmark, whatever the encoder.

Routers ask for prompts by row; this is the one place that turns rows into
vectors: precomputed encoders look the prompts up by id, the others embed the
prompt texts through the on-disk cache.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from routereval.encoders.base import Encoder
from routereval.encoders.embedding import EmbedStats, embed_texts
from routereval.encoders.precomputed import PrecomputedEncoder
from routereval.errors import DataError

if TYPE_CHECKING:
    from routereval.records import Benchmark


def embed_prompts(
    bench: Benchmark,
    encoder: Encoder,
    rows: Sequence[int] | np.ndarray | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    on_empty: str = "error",
    stats: EmbedStats | None = None,
) -> np.ndarray:
    """Vectors of prompts ``rows`` (0-based indices or a mask; all for ``None``) of ``bench``.

    Unit-norm for the encoders that compute them; precomputed vectors as shipped.

    A prompt without text raises a DataError naming its prompt id, unless
    ``on_empty="zero"`` (see :func:`routereval.encoders.embed_texts`); precomputed
    vectors need no text. ``stats`` (an :class:`~routereval.encoders.embedding.EmbedStats`)
    is filled with counts and the seconds spent reading the cache, encoding and writing.
    """
    if isinstance(bench, Encoder):
        raise TypeError(f"embed_prompts(bench, encoder): the benchmark comes first, got the encoder {bench.name!r}")
    if rows is None:
        rows = np.arange(bench.n_prompts)
    elif np.asarray(rows).dtype == bool:
        if np.shape(rows) != (bench.n_prompts,):
            raise ValueError(f"a boolean row mask needs {bench.n_prompts} entries, got {np.shape(rows)}")
        rows = np.flatnonzero(rows)
    else:
        rows = np.asarray(rows, dtype=np.int64)
    if rows.size and (rows.min() < 0 or rows.max() >= bench.n_prompts):
        raise IndexError(f"prompt rows must lie in [0, {bench.n_prompts}) for benchmark {bench.name!r}")
    ids = bench.prompts["prompt_id"].to_numpy()[rows].tolist()
    if isinstance(encoder, PrecomputedEncoder):
        if encoder.ids is not None:
            return encoder.by_id(ids)
        if len(encoder) != bench.n_prompts:
            raise DataError(
                f"{len(encoder)} precomputed vectors {encoder.key!r} without prompt ids cannot be matched "
                f"to the {bench.n_prompts} prompts of {bench.name!r}"
            )
        return encoder.rows(rows)
    texts = bench.prompts["text"].to_numpy()[rows].tolist()
    try:
        return embed_texts(
            texts, encoder, cache_dir, progress=progress, on_empty=on_empty, ids=ids,
            description=f"embedding {bench.name}", stats=stats,
        )
    except DataError as exc:
        # Say which benchmark, and count rows in the benchmark, not in the request.
        if exc.column == "text" and exc.row is not None:
            row = int(rows[exc.row - 1])
            raise DataError(
                f"prompt {ids[exc.row - 1]!r} of benchmark {bench.name!r} has no usable text, so it cannot be "
                f"embedded with {encoder.name!r} (row {row + 1} of the prompts table, counting from 1); pass "
                "on_empty='zero' to give it a zero vector, or use precomputed vectors",
                row=row + 1,
                column="text",
            ) from exc
        raise
