"""Reading JSON Lines files of upstream sources, with errors that name the line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from routereval.errors import DataError


def json_objects(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line; a bad line is a DataError naming it."""
    label = str(path)
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"line {line_no} is not valid JSON ({exc})", file=label, row=line_no) from exc
            if not isinstance(item, dict):
                raise DataError(f"line {line_no} is not a JSON object", file=label, row=line_no)
            yield line_no, item
