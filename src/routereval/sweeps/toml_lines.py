"""Where a key or value sits in a hand-written TOML file, and the problems found in it, by line.

tomllib returns plain dicts without positions, so the text is scanned once for
table headers and ``key =`` lines; good enough for the files people write by
hand (one key per line). Problems are gathered rather than raised one by one:
a file's every problem is reported at once, each with its line.
"""

from __future__ import annotations

import re
from typing import Any

from routereval.errors import ConfigError

_HEADER = re.compile(r"^\s*\[(\[)?\s*([A-Za-z0-9_.-]+)\s*\]")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")


class TomlLines:
    """The lines of a TOML text's keys, table headers and array items, for error messages."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.keys: dict[tuple[str, int, str], int] = {}
        self.tables: dict[tuple[str, int], int] = {}
        table, counts = "", {}
        for no, line in enumerate(self.lines, 1):
            head = _HEADER.match(line)
            if head:
                table = head.group(2)
                counts[table] = counts.get(table, -1) + 1 if head.group(1) else 0
                self.tables[(table, counts[table])] = no
                continue
            key = _KEY.match(line)
            if key:
                self.keys.setdefault((table, counts.get(table, 0), key.group(1)), no)

    def key(self, key: str, table: str = "", index: int = 0) -> int | None:
        """The line of ``key`` in the ``index``-th ``[table]`` (else of the table's header), or None."""
        return self.keys.get((table, index, key)) or self.tables.get((table, index))

    def value(self, key: str, value: Any, table: str = "", index: int = 0) -> int | None:
        """The first line at or after ``key`` that holds ``value`` (for items of arrays)."""
        start = self.key(key, table, index)
        if start is None:
            return None
        texts = [f'"{value}"', f"'{value}'"] if isinstance(value, str) else [str(value)]
        for no in range(start, len(self.lines) + 1):
            line = self.lines[no - 1]
            if no > start and (_KEY.match(line) or _HEADER.match(line)):
                break
            if any(t in line for t in texts):
                return no
        return start


class Problems:
    """Every problem found in one sweep file, each with its line (0: the file as a whole)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.items: list[tuple[int, str]] = []

    def add(self, line: int | None, message: str) -> None:
        self.items.append((line or 0, message))

    def raise_any(self) -> None:
        """Raise one :class:`ConfigError` listing every problem, sorted by line; nothing if none."""
        if self.items:
            lines = [f"{self.path}:{no}: {msg}" if no else f"{self.path}: {msg}" for no, msg in sorted(self.items)]
            # One line, every problem in it: a typo found after an hour of training costs an hour.
            raise ConfigError("invalid sweep file: " + "; ".join(lines))
