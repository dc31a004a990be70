"""The on-disk vectors of one encoder: a content-addressed, crash-safe store, checked on open.

Which texts to embed, in what steps, and the progress shown while they are
encoded is :mod:`routereval.encoders.embedding`'s job; this module only keeps
vectors and proves they are the bytes that were written.

Layout, one folder per encoder under :func:`routereval.paths.embeddings_dir`:

    <encoder.name>/
      encoder.json          name, width, dtype, format version, vectors revision (written once)
      index.sqlite          entries(key -> shard, row) and shards(name -> rows, bytes, sha256)
      shards/<uuid>.npy     float32 blocks of vectors, never modified once written

A text's key is the sha256 of its UTF-8 bytes, so the same text met in another
dataset, split or run is found again. Shards are append-only: every batch of
newly encoded texts becomes a new ``.npy`` file, written under a temporary name,
flushed to disk and renamed; only then are its entries committed to the index
in one SQLite transaction. A crash at any point therefore leaves either a
leftover temporary file or an orphan shard, never an index entry pointing at
bytes that are not all there.

Integrity: the index records each shard's size and sha256. Opening a cache
checks every shard cheaply: its size, and its sha256 whenever the file's size
or modification time differ from those of its last check (so a shard changed
on disk is hashed again, and an untouched one costs one ``stat``). A shard
that is missing, truncated or not the bytes that were written makes the open
fail with a :class:`CacheDamagedError` that names it and gives the repair
command (``routereval cache verify --repair``, which drops the damaged shards
so their texts are embedded again); a damaged cache is never used, and never
repaired behind the user's back, since damage may point at a failing disk.
:meth:`EmbeddingCache.verify` (``routereval cache verify``) hashes every shard
regardless of its modification time.

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
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from routereval import paths
from routereval.atomic import TMP_PREFIX, write_atomic, write_text_atomic
from routereval.encoders.base import Encoder, check_name
from routereval.errors import RouterEvalError
from routereval.manifests import full_sha256

FORMAT_VERSION = 1
CLI = "routereval cache"
# SQLite's limit on bound parameters per statement is 999 in old builds.
_SQL_BATCH = 900

_SCHEMA = """
CREATE TABLE IF NOT EXISTS shards (
    name TEXT PRIMARY KEY,
    n_rows INTEGER NOT NULL,
    nbytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    checked TEXT
);
CREATE TABLE IF NOT EXISTS entries (
    key BLOB PRIMARY KEY,
    shard TEXT NOT NULL,
    row INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_by_shard ON entries(shard);
"""


class CacheDamagedError(RouterEvalError):
    """An embedding cache whose files are not what its index recorded; the message says how to repair it."""

    def __init__(self, message: str, *, damaged: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.damaged = damaged or []


def repair_command(name: str, root: Path, *, clear: bool = False) -> str:
    """The command that repairs the cache of encoder ``name`` under ``root``."""
    command = f"{CLI} clear --encoder {name}" if clear else f"{CLI} verify --repair --encoder {name}"
    default = paths.embeddings_dir()
    if root.resolve() != default.resolve():
        command += f" --dir {root}"
    return command


def _signature(stat: os.stat_result) -> str:
    """What must stay the same for a checked file to count as unchanged."""
    return f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ino}"


def text_key(text: str) -> bytes:
    """The cache key of a text: sha256 of its UTF-8 bytes (exact text, no normalisation)."""
    return hashlib.sha256(text.encode("utf-8")).digest()


class EmbeddingCache:
    """The on-disk vectors of one encoder (see the module docstring for the layout).

    Use as a context manager, or call :meth:`close`, to release the index.
    """

    def __init__(
        self, name: str, dim: int, root: str | os.PathLike | None = None, *, check: bool = True,
        revision: int | None = None,
    ) -> None:
        self.name = check_name(name)
        self.dim = int(dim)
        # The encoder's vectors_revision; None (maintenance commands) accepts whatever the folder holds.
        self.revision = revision
        self.root = Path(root if root is not None else paths.embeddings_dir())
        self.folder = self.root / name
        self.shard_dir = self.folder / "shards"
        self.shard_dir.mkdir(parents=True, exist_ok=True)
        self._check_meta()
        self._db = sqlite3.connect(self.folder / "index.sqlite", timeout=120, isolation_level=None)
        try:
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(shards)")}
            if "checked" not in columns:  # an index written before checks were recorded
                self._db.execute("ALTER TABLE shards ADD COLUMN checked TEXT")
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise CacheDamagedError(
                f"the index of the embedding cache {self.folder} cannot be read ({exc}); "
                f"delete this cache with `{repair_command(name, self.root, clear=True)}`"
            ) from exc
        if check:
            damaged = self.check(full=False)
            if damaged:
                self._db.close()
                raise self._damage_error(damaged)

    @classmethod
    def for_encoder(cls, encoder: Encoder, root: str | os.PathLike | None = None) -> EmbeddingCache:
        """The cache of ``encoder`` under ``root`` (default: the routereval embeddings folder)."""
        return cls(encoder.name, encoder.dim, root, revision=encoder.vectors_revision)

    # -- housekeeping -------------------------------------------------------

    def _check_meta(self) -> None:
        meta_path = self.folder / "encoder.json"
        meta = {"name": self.name, "dim": self.dim, "dtype": "float32", "format_version": FORMAT_VERSION,
                "vectors_revision": self.revision or 1}
        if meta_path.is_file():
            try:
                found = json.loads(meta_path.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError):
                found = None
            stale = not isinstance(found, dict) or found.get("dim") != self.dim
            if stale or found.get("format_version", 0) > FORMAT_VERSION:
                raise CacheDamagedError(
                    f"the embedding cache {self.folder} was written for another encoder or format "
                    f"({found!r}, expected dim {self.dim}); delete it with "
                    f"`{repair_command(self.name, self.root, clear=True)}`"
                )
            stored = found.get("vectors_revision", 1)
            if self.revision is not None and stored != self.revision:
                # Old vectors mixed with new ones would make results depend on what the cache held.
                raise CacheDamagedError(
                    f"the embedding cache {self.folder} holds vectors from an older routereval (revision {stored}; "
                    f"{self.name!r} now computes revision {self.revision}, which differs in the last digits); "
                    f"clear it with `{repair_command(self.name, self.root, clear=True)}` to embed again"
                )
            return
        write_text_atomic(meta_path, json.dumps(meta, indent=2))

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

    def _open_shard(self, shard: str) -> np.ndarray:
        """The shard's vectors (memory-mapped); CacheDamagedError if they are not what the index says."""
        info = self._db.execute("SELECT n_rows, nbytes FROM shards WHERE name = ?", (shard,)).fetchone()
        path = self.shard_dir / f"{shard}.npy"
        reason = None
        if info is None:
            reason = "not in the index"
        elif not path.is_file():
            reason = "missing"
        elif path.stat().st_size != info[1]:
            reason = f"{path.stat().st_size} bytes instead of {info[1]} (truncated or overwritten)"
        else:
            try:
                array = np.load(path, mmap_mode="r", allow_pickle=False)
            except (ValueError, OSError, EOFError):
                reason = "not a readable array"
            else:
                if array.dtype == np.float32 and array.shape == (info[0], self.dim):
                    return array
                reason = f"of shape {array.shape} {array.dtype} instead of ({info[0]}, {self.dim}) float32"
        raise self._damage_error([(shard, reason)])

    def _damage_error(self, damaged: list[tuple[str, str]]) -> CacheDamagedError:
        shown = "; ".join(f"shard {shard}.npy is {reason}" for shard, reason in damaged[:3])
        more = f" (and {len(damaged) - 3} more)" if len(damaged) > 3 else ""
        return CacheDamagedError(
            f"the embedding cache {self.folder} is damaged: {shown}{more}. Repair it with "
            f"`{repair_command(self.name, self.root)}` (drops the damaged shards; their texts are "
            "embedded again on the next run)",
            damaged=damaged,
        )

    def check(self, *, full: bool = True) -> list[tuple[str, str]]:
        """Shards that are not the bytes the index recorded, as ``(shard, reason)``; nothing is changed.

        With ``full=False`` (what opening does) a shard is hashed only if its
        size, modification time or inode changed since its last check; with
        ``full=True`` every shard is hashed.
        """
        damaged = []
        rows = self._db.execute("SELECT name, nbytes, sha256, checked FROM shards").fetchall()
        for shard, nbytes, digest, checked in rows:
            path = self.shard_dir / f"{shard}.npy"
            try:
                stat = path.stat()
            except FileNotFoundError:
                damaged.append((shard, "missing"))
                continue
            if stat.st_size != nbytes:
                damaged.append((shard, f"{stat.st_size} bytes instead of {nbytes} (truncated or overwritten)"))
                continue
            if not full and checked == _signature(stat):
                continue
            if full_sha256(path) != digest:
                damaged.append((shard, "not the bytes that were written (sha256 differs)"))
                continue
            if checked != _signature(stat):
                with self._transaction() as db:
                    db.execute("UPDATE shards SET checked = ? WHERE name = ?", (_signature(stat), shard))
        return damaged

    def verify(self) -> list[tuple[str, str]]:
        """Hash every shard against the index: the damaged ones as ``(shard, reason)`` (none dropped)."""
        return self.check(full=True)

    def drop_shards(self, shards: Sequence[str]) -> int:
        """Forget shards (their texts count as not cached and are encoded again); returns texts forgotten."""
        forgotten = 0
        for shard in shards:
            with self._transaction() as db:
                forgotten += db.execute("DELETE FROM entries WHERE shard = ?", (shard,)).rowcount
                db.execute("DELETE FROM shards WHERE name = ?", (shard,))
            (self.shard_dir / f"{shard}.npy").unlink(missing_ok=True)
        return forgotten

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
        buffer = io.BytesIO()
        np.save(buffer, vectors, allow_pickle=False)
        data = buffer.getbuffer()
        # Flushed to disk (write_atomic) before the index says the bytes are there.
        write_atomic(final, lambda tmp: tmp.write_bytes(data))
        # The bytes were hashed from memory just now: the file needs no second check.
        checked = _signature(final.stat())
        with self._transaction() as db:
            db.execute(
                "INSERT INTO shards(name, n_rows, nbytes, sha256, checked) VALUES (?, ?, ?, ?, ?)",
                (shard, len(keys), len(data), hashlib.sha256(data).hexdigest(), checked),
            )
            db.executemany(
                "INSERT OR IGNORE INTO entries(key, shard, row) VALUES (?, ?, ?)",
                ((key, shard, row) for row, key in enumerate(keys)),
            )

    # -- maintenance ----------------------------------------------------------

    def clean(self) -> int:
        """Delete leftovers of crashed writes (temporary files, unindexed shards); returns how many.

        Only run this while no other process writes to the same cache: a shard
        being written right now looks like a leftover.
        """
        known = {row[0] for row in self._db.execute("SELECT name FROM shards")}
        removed = 0
        for path in self.shard_dir.iterdir():
            # Temporary files of crashed writes: today's names, and the ".tmp" ones of earlier versions.
            leftover = path.name.startswith(TMP_PREFIX) or path.name.endswith(".tmp")
            if leftover or (path.suffix == ".npy" and path.stem not in known):
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


__all__ = ["CacheDamagedError", "EmbeddingCache", "repair_command", "text_key"]
