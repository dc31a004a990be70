"""Files that are either absent or complete: write to a temporary name, flush to disk, rename.

A reader (or a rerun after a crash) that finds the final name can trust what it
holds; an interrupted write leaves only a temporary file, whose name starts with
:data:`TMP_PREFIX` so every folder scan can skip and sweep it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

TMP_PREFIX = ".tmp-"


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries, so a rename inside it survives a power loss."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some filesystems cannot open folders; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:  # nor fsync them, on some
        pass
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` and move the result to ``path`` only once it is complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TMP_PREFIX}{os.getpid()}-{path.name}")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """:func:`write_atomic` for a UTF-8 text."""
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def remove_leftovers(folder: Path) -> int:
    """Delete temporary files an interrupted writer left in ``folder``; returns how many."""
    if not folder.is_dir():
        return 0
    gone = 0
    for p in folder.glob(f"{TMP_PREFIX}*"):
        p.unlink(missing_ok=True)
        gone += 1
    return gone
