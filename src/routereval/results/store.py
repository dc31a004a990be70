"""The results store: a folder with one Parquet file per finished grid point.

Layout::

    <store>/settings.json     what every row depends on beyond its key (protocol, encoder, ...)
    <store>/notes.json        sizes skipped per dataset and why
    <store>/sweep.toml        the sweep file of the latest run, for the record
    <store>/rows/<id>.parquet one finished (dataset, m, group, router, seed) row each
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

from routereval.atomic import (
    TMP_PREFIX,
    make_dirs,
    remove_leftovers,
    write_atomic,
    write_text_atomic,
)
from routereval.errors import ConfigError, DataError
from routereval.locks import Busy, exclusive

ROWS = "rows"
BROKEN = "broken"
SETTINGS = "settings.json"
NOTES = "notes.json"


class GridKey(NamedTuple):
    """One grid point; ``source`` is the dataset as the sweep file names it."""

    source: str
    m: int
    group: str
    router: str
    seed: int


def grid_key(row: dict[str, Any]) -> GridKey:
    """The grid point a result row belongs to."""
    return GridKey(str(row["source"]), int(row["m"]), str(row["group"]), str(row["router"]), int(row["seed"]))


def _row_id(key: GridKey) -> str:
    return hashlib.sha256(json.dumps(list(key)).encode()).hexdigest()[:24]


class ResultsStore:
    """Read and write the rows of one sweep (see the module docstring for the layout)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

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
                return json.loads(path.read_text())
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                pass  # damaged: the rows say it again
        recorded = {r.get("settings") for r in self.read_rows(arrays=False) if r.get("settings")}
        if len(recorded) > 1:
            raise DataError(f"{self.folder}: its rows were made with different settings ({len(recorded)} kinds) "
                            "and settings.json is gone; write to another --out")
        return json.loads(recorded.pop()) if recorded else None

    def _check_settings(self, settings: dict[str, Any]) -> None:
        path = self.folder / SETTINGS
        settings = json.loads(json.dumps(settings))
        stored = self._stored_settings()
        if stored is not None:
            changed = [k for k in sorted(set(stored) | set(settings)) if stored.get(k) != settings.get(k)]
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
        path = self.rows_dir / f"{_row_id(grid_key(row))}.parquet"
        return write_atomic(path, lambda tmp: pq.write_table(table, tmp))

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
                continue
            rows.append(row)
        return sorted(rows, key=row_order)

    def settings(self) -> dict[str, Any]:
        """The settings the rows were made with (recovered from the rows if settings.json is lost)."""
        stored = self._stored_settings() if self.folder.is_dir() else None
        if stored is None:
            raise DataError(f"{self.folder} is not a results store (no {SETTINGS}); run `routereval sweep` first")
        return stored

    def notes(self) -> dict[str, Any]:
        """Sizes skipped per dataset, and why."""
        path = self.folder / NOTES
        return json.loads(path.read_text()) if path.is_file() else {}


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
