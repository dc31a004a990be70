"""Embed each text once per encoder: a content-addressed, crash-safe vector cache.

Layout, one folder per encoder under :func:`routereval.paths.embeddings_dir`:

    <encoder.name>/
      encoder.json          name, width, dtype, format version (written once)
      index.sqlite          entries(key -> shard, row) and shards(name -> rows, bytes, sha256)
      shards/<uuid>.npy     float32 blocks of vectors, never modified once written

A text's key is the sha256 of its UTF-8 bytes, so the same text met in another
dataset, split or run is found again. Shards are append-only: every batch of
newly encoded texts becomes a new ``.npy`` file, written under a temporary name,
flushed to disk and renamed; only then are its entries committed to the index
in one SQLite transaction. A crash at any point therefore leaves either a
leftover temporary file or an orphan shard, never an index entry pointing at
bytes that are not all there. On every read a shard's size and header are
checked against the index; a shard that fails (truncated, deleted, damaged
header) is dropped from the index and its texts are encoded again.
:meth:`EmbeddingCache.verify` also checks every shard's sha256.

Several processes on one machine may share a cache: SQLite serialises the
index writes and shard names never collide. (SQLite locking is unreliable on
some network file systems; give each node its own cache there.)
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import time
import uuid
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from routereval import paths
from routereval.atomic import fsync_dir
from routereval.encoders.base import Encoder, check_name, check_texts, is_missing_text
from routereval.errors import RouterEvalError

FORMAT_VERSION = 1
# Adaptive chunks: aim for one shard per ~CHUNK_SECONDS of encoding, so a slow
# encoder saves its work often and a fast one does not write thousands of tiny files.
CHUNK_SECONDS = 15.0
MIN_CHUNK, MAX_CHUNK = 32, 16_384
# SQLite's limit on bound parameters per statement is 999 in old builds.
_SQL_BATCH = 900

_SCHEMA = """
CREATE TABLE IF NOT EXISTS shards (
    name TEXT PRIMARY KEY,
    n_rows INTEGER NOT NULL,
    nbytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
    key BLOB PRIMARY KEY,
    shard TEXT NOT NULL,
    row INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_by_shard ON entries(shard);
"""


def text_key(text: str) -> bytes:
    """The cache key of a text: sha256 of its UTF-8 bytes (exact text, no normalisation)."""
    return hashlib.sha256(text.encode("utf-8")).digest()


class EmbeddingCache:
    """The on-disk vectors of one encoder (see the module docstring for the layout).

    Use as a context manager, or call :meth:`close`, to release the index.
    """

    def __init__(self, name: str, dim: int, root: str | os.PathLike | None = None) -> None:
        self.name = check_name(name)
        self.dim = int(dim)
        self.folder = Path(root if root is not None else paths.embeddings_dir()) / name
        self.shard_dir = self.folder / "shards"
        self.shard_dir.mkdir(parents=True, exist_ok=True)
        self._check_meta()
        self._db = sqlite3.connect(self.folder / "index.sqlite", timeout=120, isolation_level=None)
        self._db.executescript(_SCHEMA)

    @classmethod
    def for_encoder(cls, encoder: Encoder, root: str | os.PathLike | None = None) -> EmbeddingCache:
        """The cache of ``encoder`` under ``root`` (default: the routereval embeddings folder)."""
        return cls(encoder.name, encoder.dim, root)

    # -- housekeeping -------------------------------------------------------

    def _check_meta(self) -> None:
        meta_path = self.folder / "encoder.json"
        meta = {"name": self.name, "dim": self.dim, "dtype": "float32", "format_version": FORMAT_VERSION}
        if meta_path.is_file():
            try:
                found = json.loads(meta_path.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError):
                found = None
            stale = not isinstance(found, dict) or found.get("dim") != self.dim
            if stale or found.get("format_version", 0) > FORMAT_VERSION:
                raise RouterEvalError(
                    f"the embedding cache {self.folder} was written for another encoder or format "
                    f"({found!r}, expected dim {self.dim}); delete that folder to rebuild it"
                )
            return
        tmp = self.folder / f".encoder.json.{uuid.uuid4().hex}.tmp"
        tmp.write_text(json.dumps(meta, indent=2))
        os.replace(tmp, meta_path)

    def close(self) -> None:
        """Release the index (the object is unusable afterwards)."""
        self._db.close()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so concurrent writers queue
        # instead of failing half-way with "database is locked".
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM entries").fetchone()[0])

    # -- reading --------------------------------------------------------------

    def _locate(self, keys: Sequence[bytes]) -> dict[bytes, tuple[str, int]]:
        found: dict[bytes, tuple[str, int]] = {}
        for a in range(0, len(keys), _SQL_BATCH):
            batch = keys[a : a + _SQL_BATCH]
            marks = ",".join("?" * len(batch))
            for key, shard, row in self._db.execute(
                f"SELECT key, shard, row FROM entries WHERE key IN ({marks})", batch
            ):
                found[bytes(key)] = (shard, row)
        return found

    def _open_shard(self, shard: str) -> np.ndarray | None:
        """The shard's vectors (memory-mapped), or None if it is not exactly what the index says."""
        info = self._db.execute("SELECT n_rows, nbytes FROM shards WHERE name = ?", (shard,)).fetchone()
        path = self.shard_dir / f"{shard}.npy"
        if info is None or not path.is_file() or path.stat().st_size != info[1]:
            return None
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError):
            return None
        if array.dtype != np.float32 or array.shape != (info[0], self.dim):
            return None
        return array

    def drop_shard(self, shard: str, reason: str) -> None:
        """Forget a shard: its texts count as not cached and will be encoded again."""
        warnings.warn(
            f"embedding cache {self.folder}: shard {shard} is {reason}; its texts will be encoded again",
            RuntimeWarning,
            stacklevel=3,
        )
        with self._transaction() as db:
            db.execute("DELETE FROM entries WHERE shard = ?", (shard,))
            db.execute("DELETE FROM shards WHERE name = ?", (shard,))
        (self.shard_dir / f"{shard}.npy").unlink(missing_ok=True)

    def get(self, keys: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """Look keys up: ``(found, vectors)``, a boolean mask and ``len(keys) x dim`` (zeros where not found)."""
        keys = list(keys)
        found = np.zeros(len(keys), dtype=bool)
        out = np.zeros((len(keys), self.dim), dtype=np.float32)
        located = self._locate(keys)
        by_shard: dict[str, tuple[list[int], list[int]]] = {}
        for pos, key in enumerate(keys):
            hit = located.get(key)
            if hit is not None:
                positions, rows = by_shard.setdefault(hit[0], ([], []))
                positions.append(pos)
                rows.append(hit[1])
        for shard, (positions, rows) in by_shard.items():
            array = self._open_shard(shard)
            if array is None:
                self.drop_shard(shard, "missing, truncated or damaged")
                continue
            out[positions] = array[np.asarray(rows)]
            found[positions] = True
        return found, out

    # -- writing ------------------------------------------------------------

    def put(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """Store vectors as one new shard, then index it (keys already present keep their old vectors)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(keys), self.dim):
            raise ValueError(f"expected vectors of shape ({len(keys)}, {self.dim}), got {vectors.shape}")
        if not len(keys):
            return
        shard = uuid.uuid4().hex
        final = self.shard_dir / f"{shard}.npy"
        tmp = self.shard_dir / f".{shard}.npy.tmp"
        buffer = io.BytesIO()
        np.save(buffer, vectors, allow_pickle=False)
        data = buffer.getbuffer()
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                # The bytes must be on disk before the index says they are there.
                os.fsync(f.fileno())
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(self.shard_dir)
        with self._transaction() as db:
            db.execute(
                "INSERT INTO shards(name, n_rows, nbytes, sha256) VALUES (?, ?, ?, ?)",
                (shard, len(keys), len(data), hashlib.sha256(data).hexdigest()),
            )
            db.executemany(
                "INSERT OR IGNORE INTO entries(key, shard, row) VALUES (?, ?, ?)",
                ((key, shard, row) for row, key in enumerate(keys)),
            )

    # -- maintenance ----------------------------------------------------------

    def verify(self) -> list[str]:
        """Check every shard's bytes against its recorded sha256; drop and return the bad ones."""
        bad = []
        for shard, digest in self._db.execute("SELECT name, sha256 FROM shards").fetchall():
            path = self.shard_dir / f"{shard}.npy"
            ok = path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == digest
            if not ok:
                self.drop_shard(shard, "not the bytes that were written")
                bad.append(shard)
        return bad

    def clean(self) -> int:
        """Delete leftovers of crashed writes (temporary files, unindexed shards); returns how many.

        Only run this while no other process writes to the same cache: a shard
        being written right now looks like a leftover.
        """
        known = {row[0] for row in self._db.execute("SELECT name FROM shards")}
        removed = 0
        for path in self.shard_dir.iterdir():
            if path.name.endswith(".tmp") or (path.suffix == ".npy" and path.stem not in known):
                path.unlink(missing_ok=True)
                removed += 1
        # Shards whose entries were all claimed earlier by other shards hold nothing reachable.
        unused = [
            row[0]
            for row in self._db.execute(
                "SELECT name FROM shards WHERE name NOT IN (SELECT DISTINCT shard FROM entries)"
            )
        ]
        for shard in unused:
            with self._transaction() as db:
                db.execute("DELETE FROM shards WHERE name = ?", (shard,))
            (self.shard_dir / f"{shard}.npy").unlink(missing_ok=True)
            removed += 1
        return removed


def _progress_bar(total: int, description: str, enabled: bool):
    """A rich progress bar on stderr, or a no-op stand-in."""
    if not enabled or total == 0:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    return progress, progress.add_task(description, total=total)


def embed(
    encoder: Encoder,
    texts: Sequence[str | None],
    cache_dir: str | os.PathLike | None = None,
    *,
    progress: bool = True,
    on_empty: str = "error",
    ids: Sequence[Any] | None = None,
    chunk_size: int | None = None,
) -> np.ndarray:
    """Vectors of ``texts`` under ``encoder``, each text encoded at most once ever.

    Texts already in the cache (under ``cache_dir``, default the routereval
    embeddings folder) are read back; the rest are encoded in chunks, each
    stored as soon as it is done, so an interrupted run keeps what it finished.
    Duplicate texts are encoded once.

    Args:
        on_empty: what to do with a prompt that has no text: ``"error"`` raises a
            DataError naming it (``ids`` give the names); ``"zero"`` gives it a
            zero vector (cosine 0 with every prompt), not cached.
        progress: show a bar over the texts actually encoded.
        chunk_size: texts per chunk (one shard each); ``None`` sizes chunks to
            take about 15 s each.

    Returns:
        ``len(texts) x encoder.dim`` ``float32``, unit-norm rows (zero rows for
        empty texts under ``on_empty="zero"``).
    """
    if on_empty not in ("error", "zero"):
        raise ValueError(f"on_empty must be 'error' or 'zero', got {on_empty!r}")
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    # Validate everything at the boundary, before any work is done.
    texts = check_texts(texts, ids, allow_missing=on_empty == "zero")
    empty = np.array([is_missing_text(t) for t in texts], dtype=bool)
    present = np.flatnonzero(~empty)
    dim = encoder.dim
    out = np.zeros((len(texts), dim), dtype=np.float32)
    if present.size == 0:
        return out
    if not encoder.cacheable:
        out[present] = encoder.encode([texts[i] for i in present], progress=progress)
        return out

    # One slot per distinct text; `slot_of` maps every present text to its slot.
    slots: dict[str, int] = {}
    slot_of = np.empty(present.size, dtype=np.int64)
    for j, i in enumerate(present):
        slot_of[j] = slots.setdefault(texts[i], len(slots))
    unique = list(slots)
    keys = [text_key(t) for t in unique]

    with EmbeddingCache.for_encoder(encoder, cache_dir) as cache:
        found, vectors = cache.get(keys)
        todo = np.flatnonzero(~found)
        bar = _progress_bar(int(todo.size), f"embedding with {encoder.name}", progress)
        if bar is not None:
            bar[0].start()
        try:
            done, size = 0, chunk_size or MIN_CHUNK
            while done < todo.size:
                part = todo[done : done + size]
                started = time.perf_counter()
                new = encoder.encode([unique[k] for k in part], progress=False)
                if chunk_size is None:
                    per_text = max(time.perf_counter() - started, 1e-6) / len(part)
                    size = int(min(MAX_CHUNK, max(MIN_CHUNK, CHUNK_SECONDS / per_text)))
                cache.put([keys[k] for k in part], new)
                vectors[part] = new
                done += len(part)
                if bar is not None:
                    bar[0].advance(bar[1], len(part))
        finally:
            if bar is not None:
                bar[0].stop()
    out[present] = vectors[slot_of]
    return out


__all__ = ["EmbeddingCache", "embed", "text_key"]
