"""Terminal output shared by all commands: one console, JSON printing, errors."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def error(message: str) -> None:
    """Print a user-facing error on stderr."""
    from rich.markup import escape

    # soft_wrap: long paths and line numbers stay on one line, to copy and to grep.
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def _clean(value: Any) -> Any:
    # JSON has no NaN: missing numbers are null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return _clean(value.item())
    return value


def to_json(document: Any) -> str:
    """Strict JSON (NaN/inf become null, numpy scalars become numbers)."""
    return json.dumps(_clean(document), indent=2, allow_nan=False)


def print_json(document: Any) -> None:
    """Write one JSON document to stdout, with nothing else on it."""
    sys.stdout.write(to_json(document) + "\n")
