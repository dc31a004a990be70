"""Content fingerprints: one sha256 over the prompts and records a stored result or a saved router came from.

Two stored digests are made here, each in its own byte layout:

* ``"results"``: every result row of a sweep carries it as ``dataset_sha256``,
  and a rerun refuses to resume on rows whose digest differs from the data on
  disk now. It covers every prompt (id, task, text), every model's name and
  stored score, the records' kind and the encoder path the vectors came from.
* ``"router"``: a saved router's manifest carries it as ``training.sha256``.
  It covers what the router learned from: the chosen prompts' ids and texts,
  the chosen models' names and their decoded scores.

The layouts differ in their bytes and both are frozen: digests made with each
are on disk already, and a changed layout would make every stored result look
stale. A new consumer picks the layout whose coverage it needs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from routereval.records.benchmark import Benchmark

LAYOUTS = ("results", "router")
# Separators that cannot appear in an id or a model name by accident: unit (between items) and record (between columns).
_UNIT, _RECORD = "\x1f", b"\x1e"
# Stored scores are hashed a block of columns at a time, so a memory-mapped matrix is never copied whole.
_BLOCK_BYTES = 2**24


def content_sha256(
    bench: Benchmark,
    layout: str,
    *,
    rows: Sequence[int] | np.ndarray | None = None,
    cols: Sequence[int] | np.ndarray | None = None,
    encoder: str = "",
) -> str:
    """sha256 (hex) of ``bench``'s prompts and records in ``layout`` (see the module docstring).

    ``"results"`` digests the whole benchmark and ``encoder`` (no ``rows`` or
    ``cols``); ``"router"`` digests the ``rows`` prompts and ``cols`` models
    (both required; no ``encoder``).
    """
    if layout == "results":
        if rows is not None or cols is not None:
            raise ValueError("the results layout covers every prompt and model: give no rows or cols")
        return _results_layout(bench, encoder)
    if layout == "router":
        if rows is None or cols is None or encoder:
            raise ValueError("the router layout covers the given rows and cols only, and no encoder")
        return _router_layout(bench, np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))
    raise ValueError(f"unknown fingerprint layout {layout!r}; known: {', '.join(LAYOUTS)}")


def _results_layout(bench: Benchmark, encoder: str) -> str:
    digest = hashlib.sha256()
    for column in ("prompt_id", "task", "text"):
        if column in bench.prompts.columns:
            digest.update(_UNIT.join(bench.prompts[column].fillna("").astype(str)).encode())
        digest.update(_RECORD)
    digest.update(_UNIT.join(bench.model_names).encode())
    digest.update(bench.kind.encode())
    digest.update(encoder.encode())
    scores = bench.scores
    # The block width is part of the layout: each block's bytes are row-major within the block.
    step = max(1, _BLOCK_BYTES // max(1, scores.shape[0] * scores.dtype.itemsize))
    for a in range(0, scores.shape[1], step):
        digest.update(np.ascontiguousarray(scores[:, a : a + step]).tobytes())
    return digest.hexdigest()


def _router_layout(bench: Benchmark, rows: np.ndarray, cols: np.ndarray) -> str:
    digest = hashlib.sha256()
    digest.update(_UNIT.join(bench.model_names[c] for c in cols).encode())
    prompts = bench.prompts.iloc[rows]
    for pid, text in zip(prompts["prompt_id"].astype(str), prompts["text"].fillna("").astype(str)):
        digest.update(hashlib.sha256(f"{pid}{_UNIT}{text}".encode()).digest())
    digest.update(np.ascontiguousarray(bench.values(prompts=rows, models=cols), dtype=np.float64).tobytes())
    return digest.hexdigest()


__all__ = ["LAYOUTS", "content_sha256"]
