"""The results store: a folder with one Parquet file per finished grid point.

Layout::

    <store>/settings.json     what every row depends on beyond its key (protocol, encoder, ...)
    <store>/notes.json        sizes skipped per dataset and why
    <store>/sweep.toml        the sweep file of the latest run, for the record
    <store>/rows/<id>.parquet one finished (dataset, m, group, router, seed, split seed) row each
    <store>/.lock             held by the sweep writing to the store

A row file appears under its final name only once it is complete
(:mod:`routereval.atomic`), so "the file exists" is the definition of "done":
killing a sweep loses the rows in flight and nothing else. One file per row
keeps writes O(1) and independent of how many rows exist; a grid of a few
thousand points reads back in about a second.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from routereval import strict_json
from routereval.atomic import (
    TMP_PREFIX,
    make_dirs,
    remove_leftovers,
    write_atomic,
    write_text_atomic,
)
from routereval.errors import ConfigError, DamagedStoreError, DataError
from routereval.evaluation.aggregate import DEFAULT_SPLIT_SEED, split_seed_of
from routereval.evaluation.row_keys import upgrade_row
from routereval.locks import Busy, exclusive

ROWS = "rows"
BROKEN = "broken"
SETTINGS = "settings.json"
NOTES = "notes.json"
#: settings.json and notes.json nest a few levels; anything much deeper is damage, not settings.
MAX_JSON_DEPTH = 32


class GridKey(NamedTuple):
    """One grid point; ``source`` is the dataset as the sweep file names it."""

    source: str
    m: int
    group: str
    router: str
    seed: int
    split_seed: int = DEFAULT_SPLIT_SEED


def grid_key(row: dict[str, Any]) -> GridKey:
    """The grid point a result row belongs to."""
    return GridKey(str(row["source"]), int(row["m"]), str(row["group"]), str(row["router"]), int(row["seed"]),
                   split_seed_of(row))


def _row_id(key: GridKey) -> str:
    return hashlib.sha256(json.dumps(list(key)).encode()).hexdigest()[:24]


def _legacy_row_id(key: GridKey) -> str:
    """The file name a row of ``key`` had before the split seed joined the key."""
    return hashlib.sha256(json.dumps(list(key)[:5]).encode()).hexdigest()[:24]


class ResultsStore:
    """Read and write the rows of one sweep (see the module docstring for the layout)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        #: Row files found unreadable by read_rows (moved to rows/broken/): what a report must say it lacks.
        self.quarantined: list[str] = []

    @property
    def rows_dir(self) -> Path:
        return self.folder / ROWS

    def exists(self) -> bool:
        """True when the folder holds a results store (even one with no rows yet)."""
        return (self.folder / SETTINGS).is_file()

    # -- writing -------------------------------------------------------------------------

    @contextmanager
    def writing(self, settings: dict[str, Any]) -> Iterator[ResultsStore]:
        """Hold the store's lock for one sweep run.

        Refuses a store made with different ``settings`` (rows from two
        protocols must never be mixed under one key), and removes temporary
        files an earlier, interrupted run left behind.
        """
        make_dirs(self.rows_dir)
        with ExitStack() as held:
            try:
                held.enter_context(exclusive(self.folder / ".lock"))
            except Busy:
                raise ConfigError(
                    f"another sweep is writing to {self.folder}; wait for it or use another --out") from None
            self._check_settings(settings)
            remove_leftovers(self.rows_dir)
            yield self

    def _stored_settings(self) -> dict[str, Any] | None:
        """The settings the stored rows were made with: settings.json, else what the rows themselves record."""
        path = self.folder / SETTINGS
        if path.is_file():
            try:
                stored = strict_json.loads(path.read_bytes(), max_depth=MAX_JSON_DEPTH)
            except (OSError, strict_json.JSONRefused):
                stored = None
            if isinstance(stored, dict):
                return stored
            # Damaged: the rows say it again.
        kinds: dict[str, dict[str, Any]] = {}
        for text in {r.get("settings") for r in self.read_rows(arrays=False) if r.get("settings")}:
            try:
                recorded = strict_json.loads(text, max_depth=MAX_JSON_DEPTH)
            except strict_json.JSONRefused as exc:
                raise DamagedStoreError(f"{self.folder}: the settings its rows record cannot be read ({exc}); "
                                        "write to another --out") from None
            if not isinstance(recorded, dict):
                raise DamagedStoreError(f"{self.folder}: the settings its rows record are not a JSON object; "
                                        "write to another --out")
            # Each row of a repeated-split sweep records its own split seed; the rest is the store's settings.
            common = {k: v for k, v in recorded.items() if k != "split_seed"}
            kinds[json.dumps(common, sort_keys=True)] = recorded
        if len(kinds) > 1:
            raise DataError(f"{self.folder}: its rows were made with different settings ({len(kinds)} kinds) "
                            "and settings.json is gone; write to another --out")
        return next(iter(kinds.values())) if kinds else None

    def _check_settings(self, settings: dict[str, Any]) -> None:
        path = self.folder / SETTINGS
        settings = json.loads(json.dumps(settings))
        stored = self._stored_settings()
        if stored is not None:
            # Every row records its split seed (a grid axis), so a split seed named by the settings of a
            # one-split run never makes rows of two splits collide: it is not a reason to refuse.
            changed = [k for k in sorted(set(stored) | set(settings))
                       if k != "split_seed" and stored.get(k) != settings.get(k)]
            if changed and self.done_keys():
                detail = ", ".join(f"{k}: {stored.get(k)!r} there, {settings.get(k)!r} now" for k in changed)
                raise ConfigError(
                    f"{self.folder} holds results made with other settings ({detail}); "
                    "write to another --out, or delete that folder to start over"
                )
        write_text_atomic(path, json.dumps(settings, indent=2, sort_keys=True))

    def write_row(self, row: dict[str, Any]) -> Path:
        """Store one finished row (atomically); returns its file."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        record = {k: (np.asarray(v).tolist() if isinstance(v, np.ndarray) else v) for k, v in row.items()}
        table = pa.Table.from_pylist([record])
        key = grid_key(row)
        path = self.rows_dir / f"{_row_id(key)}.parquet"
        written = write_atomic(path, lambda tmp: pq.write_table(table, tmp))
        # A row recomputed (--recompute-stale) over one stored before split seeds keyed rows: the old
        # file, under its old name, would otherwise stay beside it as a second row of the same point.
        legacy = self.rows_dir / f"{_legacy_row_id(key)}.parquet"
        if legacy.is_file() and self._key_of_file(legacy) == key:
            legacy.unlink()
        return written

    @staticmethod
    def _key_of_file(path: Path) -> GridKey | None:
        import pyarrow.parquet as pq

        try:
            return grid_key(pq.read_table(path).to_pylist()[0])
        except Exception:  # noqa: BLE001 - an unreadable file is read_rows' to quarantine
            return None

    def write_notes(self, notes: dict[str, Any]) -> None:
        """Replace the notes (sizes skipped per dataset)."""
        write_text_atomic(self.folder / NOTES, json.dumps(notes, indent=2, sort_keys=True))

    def write_text(self, name: str, text: str) -> Path:
        """Keep a text file (e.g. the sweep file) with the results."""
        return write_text_atomic(self.folder / name, text)

    # -- reading -------------------------------------------------------------------------

    def _row_files(self) -> list[Path]:
        if not self.rows_dir.is_dir():
            return []
        return sorted(p for p in self.rows_dir.glob("*.parquet") if not p.name.startswith(TMP_PREFIX))

    def done_keys(self) -> set[GridKey]:
        """The grid points with a finished row."""
        return {grid_key(r) for r in self.read_rows(arrays=False)}

    def read_rows(self, *, arrays: bool = True) -> list[dict[str, Any]]:
        """Every finished row, as dicts (lists for ``models`` and ``selection``).

        A row file that cannot be read (a disk that lied about a flush) is moved
        to ``rows/broken/`` and its grid point counts as not done, so the next
        run recomputes it instead of trusting it.
        """
        import pyarrow.parquet as pq

        from routereval.evaluation.aggregate import ARRAY_FIELDS, row_order

        skip = [] if arrays else list(ARRAY_FIELDS)
        rows = []
        for path in self._row_files():
            try:
                table = pq.read_table(path)
                names = [c for c in table.column_names if c not in skip]
                row = table.select(names).to_pylist()[0]
                grid_key(row)
            except Exception as exc:  # noqa: BLE001 - any unreadable file is quarantined the same way
                broken = self.rows_dir / BROKEN
                broken.mkdir(exist_ok=True)
                os.replace(path, broken / path.name)
                import warnings

                warnings.warn(f"unreadable result row {path.name} ({exc}); moved to {broken}, it will be recomputed")
                self.quarantined.append(path.name)
                continue
            # Rows written before the row keys became plain names read under today's names.
            rows.append(upgrade_row(row))
        return sorted(rows, key=row_order)

    def settings(self) -> dict[str, Any]:
        """The settings the rows were made with (recovered from the rows if settings.json is lost)."""
        stored = self._stored_settings() if self.folder.is_dir() else None
        if stored is None and (self.folder / SETTINGS).exists():
            raise DamagedStoreError(f"{self.folder / SETTINGS}: cannot be read as the store's settings, and its rows "
                                    "do not record them; run the sweep again into a new --out")
        if stored is None:
            raise DataError(f"{self.folder} is not a results store (no {SETTINGS}); run `routereval sweep` first")
        return stored

    def notes(self) -> dict[str, Any]:
        """Sizes skipped per dataset, and why."""
        path = self.folder / NOTES
        if not path.is_file():
            return {}
        try:
            notes = strict_json.loads(path.read_bytes(), max_depth=MAX_JSON_DEPTH)
        except strict_json.JSONRefused as exc:
            raise DamagedStoreError(f"{exc}; delete it and run the sweep again to rewrite it", file=str(path)) from None
        if not isinstance(notes, dict):
            raise DamagedStoreError("is not a JSON object; delete it and run the sweep again to rewrite it",
                                    file=str(path))
        return notes


class MemoryStore:
    """A results store held in memory: what a one-process run (``routereval bench``) writes to.

    Same reading and writing methods as :class:`ResultsStore`, so the grid
    machinery runs unchanged; nothing is written to disk.
    """

    folder = None

    def __init__(self) -> None:
        self._rows: dict[GridKey, dict[str, Any]] = {}
        self._notes: dict[str, Any] = {}
        self._settings: dict[str, Any] = {}

    def exists(self) -> bool:
        return bool(self._settings)

    @contextmanager
    def writing(self, settings: dict[str, Any]) -> Iterator[MemoryStore]:
        self._settings = dict(settings)
        yield self

    def write_row(self, row: dict[str, Any]) -> None:
        self._rows[grid_key(row)] = dict(row)

    def write_notes(self, notes: dict[str, Any]) -> None:
        self._notes = dict(notes)

    def write_text(self, name: str, text: str) -> None:
        """Nothing to keep: a one-process run has no folder."""

    def done_keys(self) -> set[GridKey]:
        return set(self._rows)

    def read_rows(self, *, arrays: bool = True) -> list[dict[str, Any]]:
        from routereval.evaluation.aggregate import row_order, without_arrays

        # In the sweep's order, not the order workers finished in: the same run writes the same rows.
        rows = sorted((dict(r) for r in self._rows.values()), key=row_order)
        return rows if arrays else without_arrays(rows)

    def settings(self) -> dict[str, Any]:
        return dict(self._settings)

    def notes(self) -> dict[str, Any]:
        return dict(self._notes)
