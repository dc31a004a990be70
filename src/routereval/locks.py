"""Exclusive locks between processes: a sweep writing a results store, an import storing a name.

A lock is an ``flock`` on a file. The kernel releases it when its holder exits,
however it exits (Ctrl-C, ``kill -9``, a crash), so a lock left by a dead
process never blocks anyone: there is nothing stale to clear by hand.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class Busy(Exception):
    """Another process holds the lock; callers turn this into a message that says what is running."""


@contextmanager
def exclusive(path: str | os.PathLike, *, remove: bool = False) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (created if missing) for the block.

    Raises :class:`Busy` at once, without waiting, when another process holds it.
    With ``remove`` the file is deleted when the block ends, so locks of
    one-off names (a dataset being imported) leave nothing behind.
    """
    path = Path(path)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise Busy(str(path)) from None
        except BaseException:
            os.close(fd)
            raise
        # A holder with ``remove`` may have deleted the file between our open and our lock:
        # we would then hold a lock on a file nobody else can see. Start again on the file at ``path``.
        try:
            on_disk = os.stat(path)
        except FileNotFoundError:
            on_disk = None
        mine = os.fstat(fd)
        if on_disk is not None and (on_disk.st_dev, on_disk.st_ino) == (mine.st_dev, mine.st_ino):
            break
        os.close(fd)
    try:
        yield
    finally:
        if remove:
            path.unlink(missing_ok=True)  # while still locked: a newcomer then finds no file, or a new one
        os.close(fd)
