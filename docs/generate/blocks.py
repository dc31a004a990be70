"""Generated blocks in Markdown files: find them, fill them, compare them.

A measured number in the README or ``docs/`` lives between two markers::

    <!-- begin generated: main-job -->
    ...text written by the block's function...
    <!-- end generated: main-job -->

The text between them belongs to the generator: ``python docs/generate``
rewrites it from real runs, and ``python docs/generate --check`` recomputes it
and fails, with a diff, where a file says something the commands no longer
print. Everything outside the markers is left byte for byte.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

BEGIN = "<!-- begin generated: {name} -->"
END = "<!-- end generated: {name} -->"
_MARKER = re.compile(r"^<!-- (begin|end) generated: ([a-z0-9][a-z0-9-]*) -->$", re.MULTILINE)


class BlockError(Exception):
    """A marker that is unbalanced, unknown or repeated; the message names the file and line."""


@dataclass(frozen=True)
class Block:
    """One generated block: its name, how to compute its text, and whether ``--check`` recomputes it by default."""

    name: str
    make: Callable[["object"], str]
    checked: bool = False
    about: str = ""


@dataclass(frozen=True)
class Place:
    """Where a block sits in a file: the span of text between its two markers."""

    path: Path
    name: str
    start: int
    end: int
    line: int


def find_blocks(path: Path, text: str) -> list[Place]:
    """Every generated block of one file, in order; unbalanced or nested markers are an error."""
    places: list[Place] = []
    open_at: tuple[str, int, int] | None = None
    for match in _MARKER.finditer(text):
        kind, name = match.group(1), match.group(2)
        line = text.count("\n", 0, match.start()) + 1
        if kind == "begin":
            if open_at is not None:
                raise BlockError(f"{path}:{line}: block {name!r} begins inside block {open_at[0]!r}")
            open_at = (name, match.end() + 1, line)
            continue
        if open_at is None or open_at[0] != name:
            raise BlockError(f"{path}:{line}: 'end generated: {name}' without its begin")
        places.append(Place(path, name, open_at[1], match.start(), open_at[2]))
        open_at = None
    if open_at is not None:
        raise BlockError(f"{path}:{open_at[2]}: block {open_at[0]!r} is never ended")
    return places


def fill(text: str, places: list[Place], new: dict[str, str]) -> str:
    """``text`` with each named block's body replaced by ``new[name]`` (blocks not in ``new`` kept)."""
    out, at = [], 0
    for place in places:
        out.append(text[at : place.start])
        body = new.get(place.name)
        out.append(text[place.start : place.end] if body is None else body.rstrip("\n") + "\n")
        at = place.end
    out.append(text[at:])
    return "".join(out)


def scan(files: Iterable[Path], known: dict[str, Block]) -> dict[Path, list[Place]]:
    """The blocks of every file; a block name with no definition is an error that names its file and line."""
    found: dict[Path, list[Place]] = {}
    for path in files:
        places = find_blocks(path, path.read_text(encoding="utf-8"))
        for place in places:
            if place.name not in known:
                raise BlockError(f"{path}:{place.line}: no block named {place.name!r} (python docs/generate --list)")
        if places:
            found[path] = places
    return found


def differences(path: Path, text: str, places: list[Place], new: dict[str, str]) -> list[str]:
    """A unified diff per block whose text in the file differs from ``new``; empty when all agree."""
    out = []
    for place in places:
        if place.name not in new:
            continue
        have = text[place.start : place.end]
        want = new[place.name].rstrip("\n") + "\n"
        if have != want:
            diff = difflib.unified_diff(have.splitlines(), want.splitlines(), f"{path} ({place.name}, as written)",
                                        f"{place.name} (as the commands print now)", lineterm="")
            out.append("\n".join(diff))
    return out
