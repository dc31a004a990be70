"""Embed texts through the vector cache: what to encode, in what order and steps, and the progress shown.

:func:`embed` looks every text up in the encoder's
:class:`~routereval.encoders.cache.EmbeddingCache`, encodes the missing ones
(each distinct text once, longest first, in steps of a few seconds) and stores
them chunk by chunk, so an interrupted run keeps what it finished.
:class:`EmbedStats` says where the time went.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from routereval.encoders.base import Encoder, check_texts, is_missing_text
from routereval.encoders.cache import EmbeddingCache, text_key

# Adaptive chunks: aim for one shard per ~CHUNK_SECONDS of encoding, so a slow
# encoder saves its work often and a fast one does not write thousands of tiny files.
CHUNK_SECONDS = 15.0
MIN_CHUNK, MAX_CHUNK = 32, 16_384
# Texts go to the encoder in steps of about STEP_SECONDS (at most STEP_TEXTS),
# so progress moves every few seconds; a shard gathers the steps of one chunk.
# Not shorter: an encoder that runs batches in parallel idles CPUs at the end
# of every call, and 1-second steps of the longest texts (20 of them) cost the
# ONNX paths 15% of their speed on MMLU-Pro.
STEP_SECONDS, STEP_TEXTS = 3.0, 1024
# A text's share of the encoding work, for the time left shown: its characters,
# up to the ~1,200 that fill the encoder's 256 word pieces (truncated beyond).
# Fitted on MMLU-Pro's questions (longest first, minilm-int8, 82 s): from the
# second step on, the whole step's length read from it was within 5% of the
# truth (1,000 or 1,500 characters: 16-17%); counting texts said 6.5 minutes.
WORK_CHARS = 1200


@dataclass
class EmbedStats:
    """Where the time of one :func:`embed` call went (for ``--timings`` and benchmarks)."""

    encoder: str = ""
    texts: int = 0
    distinct: int = 0
    cached: int = 0
    encoded: int = 0
    seconds_reading: float = 0.0
    seconds_encoding: float = 0.0
    seconds_writing: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def embed_texts(
    texts: Sequence[str | None],
    encoder: Encoder,
    cache_dir: str | os.PathLike | None = None,
    *,
    progress: bool = True,
    on_empty: str = "error",
    ids: Sequence[Any] | None = None,
    chunk_size: int | None = None,
    description: str | None = None,
    stats: EmbedStats | None = None,
) -> np.ndarray:
    """Vectors of ``texts`` under ``encoder``, each text encoded at most once ever.

    Texts already in the cache (under ``cache_dir``, default the routereval
    embeddings folder) are read back; the rest are encoded longest first in
    steps of about a second (so progress moves steadily and batches of
    similar lengths need little padding) and stored in chunks as soon as each
    is done, so an interrupted run keeps what it finished. Duplicate texts are
    encoded once.

    Args:
        on_empty: what to do with a prompt that has no text: ``"error"`` raises a
            DataError naming it (``ids`` give the names); ``"zero"`` gives it a
            zero vector (cosine 0 with every prompt), not cached.
        progress: show progress over the texts actually encoded (a bar in a
            terminal, a line every few seconds otherwise; see :mod:`routereval.progress`).
        chunk_size: texts per chunk (one shard each); ``None`` sizes chunks to
            take about 15 s each.
        description: what the progress display calls the step (default
            ``"embedding with <encoder>"``).
        stats: filled with counts and seconds spent reading, encoding and writing.

    Returns:
        ``len(texts) x encoder.dim`` ``float32``, unit-norm rows (zero rows for
        empty texts under ``on_empty="zero"``).
    """
    from routereval.progress import progress as progress_display

    if on_empty not in ("error", "zero"):
        raise ValueError(f"on_empty must be 'error' or 'zero', got {on_empty!r}")
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    stats = stats if stats is not None else EmbedStats()
    stats.encoder = encoder.name
    stats.texts = len(texts)
    # Validate everything at the boundary, before any work is done.
    texts = check_texts(texts, ids, allow_missing=on_empty == "zero")
    empty = np.array([is_missing_text(t) for t in texts], dtype=bool)
    present = np.flatnonzero(~empty)
    dim = encoder.dim
    out = np.zeros((len(texts), dim), dtype=np.float32)
    if present.size == 0:
        return out
    description = description or f"embedding with {encoder.name}"
    if not encoder.cacheable:
        started = time.perf_counter()
        out[present] = encoder.encode([texts[i] for i in present], progress=progress)
        stats.distinct = stats.encoded = int(present.size)
        stats.seconds_encoding = time.perf_counter() - started
        return out

    # One slot per distinct text; `slot_of` maps every present text to its slot.
    slots: dict[str, int] = {}
    slot_of = np.empty(present.size, dtype=np.int64)
    for j, i in enumerate(present):
        slot_of[j] = slots.setdefault(texts[i], len(slots))
    unique = list(slots)
    keys = [text_key(t) for t in unique]
    stats.distinct = len(unique)

    started = time.perf_counter()
    with EmbeddingCache.for_encoder(encoder, cache_dir) as cache:
        found, vectors = cache.get(keys)
        stats.seconds_reading = time.perf_counter() - started
        stats.cached = int(found.sum())
        # Longest first: batches of similar lengths pad little.
        todo = np.flatnonzero(~found)
        lengths = np.array([len(unique[k]) for k in todo], dtype=np.int64)
        order = np.argsort(-lengths, kind="stable")
        todo, work = todo[order], np.clip(lengths[order], 1, WORK_CHARS).astype(np.float64)
        with progress_display(description, total=int(todo.size), enabled=progress and todo.size > 0,
                              work=float(work.sum())) as bar:
            done, chunk_start, chunk_began = 0, 0, time.perf_counter()
            target = chunk_size or MIN_CHUNK
            step = min(target, STEP_TEXTS)
            while done < todo.size:
                part = todo[done : done + step]
                t0 = time.perf_counter()
                vectors[part] = encoder.encode([unique[k] for k in part], progress=False)
                spent = max(time.perf_counter() - t0, 1e-6)
                stats.seconds_encoding += spent
                done += len(part)
                bar.advance(len(part), work=float(work[done - len(part) : done].sum()))
                if done - chunk_start >= target or done == todo.size:
                    if chunk_size is None:
                        # Aim at CHUNK_SECONDS of encoding per shard, whatever the encoder's speed.
                        per_text = max(time.perf_counter() - chunk_began, 1e-6) / (done - chunk_start)
                        target = int(min(MAX_CHUNK, max(MIN_CHUNK, CHUNK_SECONDS / per_text)))
                    t0 = time.perf_counter()
                    chunk = todo[chunk_start:done]
                    cache.put([keys[k] for k in chunk], vectors[chunk])
                    stats.seconds_writing += time.perf_counter() - t0
                    chunk_start, chunk_began = done, time.perf_counter()
                # Steps of about STEP_SECONDS keep progress moving without tiny batches.
                step = int(min(STEP_TEXTS, max(1, STEP_SECONDS * len(part) / spent), target - (done - chunk_start)))
                step = max(step, 1)
    stats.encoded = int(todo.size)
    out[present] = vectors[slot_of]
    return out


__all__ = ["EmbedStats", "embed"]


def embed(encoder: Encoder, texts: Sequence[str | None], *args: Any, **kwargs: Any) -> np.ndarray:
    """Deprecated: :func:`embed_texts` with the texts first, as ``rv.embed(data, encoder)`` and ``embed_prompts``."""
    import warnings

    warnings.warn("routereval.encoders.embed(encoder, texts) is now embed_texts(texts, encoder); embed will be "
                  "removed in the next release", FutureWarning, stacklevel=2)
    return embed_texts(texts, encoder, *args, **kwargs)
