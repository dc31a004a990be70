"""JSON from what a user is handed (artifact manifests, price files, proxy requests), read strictly.

Python's ``json.loads`` keeps the last of two equal keys without a word,
accepts ``NaN`` and ``Infinity``, and recurses once per level of nesting, so
a small document can reach the interpreter's recursion limit. Here the
nesting is measured on the text before parsing (linear time, no recursion),
a key named twice in one object is refused (two readers of one file could
otherwise see different values), and the non-standard constants are refused
unless the caller asks to see them (``parse_constant``).
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

# A JSON string: no backtracking, as the two alternatives inside never overlap.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class JSONRefused(ValueError):
    """Text that is not strict, bounded JSON; the message says why, for the caller to prefix with a name.

    ``too_deep`` tells a nesting refusal from the others (the proxy answers it with its own error code).
    """

    def __init__(self, message: str, *, too_deep: bool = False) -> None:
        super().__init__(message)
        self.too_deep = too_deep


def nesting_depth(raw: bytes) -> int:
    """How deeply arrays and objects nest in the JSON text ``raw`` (brackets inside strings do not count)."""
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, int] = {}
    for i, (key, _) in enumerate(pairs, 1):
        if key in seen:
            raise JSONRefused(f"key {key!r} appears twice in one JSON object (entries {seen[key]} and {i})")
        seen[key] = i
    return dict(pairs)


def _refuse_constant(name: str) -> Any:
    raise JSONRefused(f"holds {name}, which is not a JSON number")


def loads(raw: bytes | str, *, max_depth: int, **hooks: Any) -> Any:
    """The JSON value in ``raw`` (UTF-8), or :class:`JSONRefused`.

    ``hooks`` are passed to ``json.loads`` (``parse_float``, ``parse_int``,
    ``parse_constant``); duplicate keys are always refused.
    """
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JSONRefused(f"is not UTF-8 text (byte {exc.start})") from None
    depth = nesting_depth(data)
    if depth > max_depth:
        raise JSONRefused(f"nests {depth} levels deep; the limit is {max_depth}", too_deep=True)
    hooks.setdefault("parse_constant", _refuse_constant)
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, **hooks)
    except json.JSONDecodeError as exc:
        raise JSONRefused(f"is not valid JSON ({exc})") from None
    except JSONRefused:
        raise
    except (ValueError, RecursionError) as exc:  # an integer beyond Python's digit limit; a hook's own refusal
        raise JSONRefused(f"is not valid JSON ({str(exc).split(';')[0]})") from None
