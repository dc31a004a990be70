"""Files that are either absent or complete: write to a temporary name, flush to disk, rename.

A reader (or a rerun after a crash) that finds the final name can trust what it
holds; an interrupted write leaves only a temporary file, whose name starts with
:data:`TMP_PREFIX` so every folder scan can skip and sweep it.

Every file routereval writes goes through :func:`write_atomic`, including the
outputs a user names (``--html``, ``--json``, ``--markdown``, figures), so it
also decides what may stand at the path being written:

* nothing, or a regular file: the file is replaced atomically (keeping the old
  file's permission bits);
* a symbolic link: followed, and its target obeys these same rules. Replacing
  the link by a file would silently undo what the user set up (a ``latest.html``
  link, a dotfile manager's link); writing through it is what a shell's ``>``
  does, and the target is still replaced atomically. A link to nothing is
  refused rather than creating a file somewhere the user did not name;
* a character device (``/dev/null``, a terminal, ``/dev/stdout`` on one) or a
  named pipe that a process is reading (``/dev/stdout`` into a pipe, ``<(...)``):
  written straight into, since there is nothing to replace and discarding or
  piping an output is a legitimate wish. A named pipe that no process reads is
  refused: writing into it would wait forever;
* a folder, a socket, a block device, or a path through a file: refused, with
  one line naming the path and what stands there; it is never replaced.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import NoReturn

TMP_PREFIX = ".tmp-"

# A file name is at most 255 bytes; the temporary name adds a prefix to the output's name.
_MAX_NAME_IN_TMP = 120
_REFUSED = frozenset((errno.EACCES, errno.EPERM, errno.EROFS))


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


def _what_is(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISCHR, "a character device")):
        if test(mode):
            return name
    return "not a regular file"


def _refuse(path: Path, what: str, hint: str = "give a file name (only a regular file is ever replaced)") -> NoReturn:
    from routereval.errors import DataError

    raise DataError(f"cannot write {path}: {what}; {hint}")


def _cannot_write(path: Path, exc: OSError, where: str = "") -> NoReturn:
    from routereval.errors import EnvironmentProblem

    raise EnvironmentProblem(
        f"cannot write {path}{where} ({exc.strerror or exc}); choose a folder you can write to, or make it writable"
    ) from None


def make_dirs(folder: str | os.PathLike, *, for_file: Path | None = None) -> Path:
    """Create ``folder`` and its parents if needed; one clear error when a file is in the way.

    ``for_file`` is the file about to be written there, named in the error instead of the folder.
    """
    folder = Path(folder)
    shown = for_file if for_file is not None else folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), folder)
        kind = "a file" if blocker.is_file() else _what_is(blocker.stat().st_mode) if blocker.exists() else "not a folder"
        _refuse(shown, f"{blocker} is {kind}, not a folder", "give a path inside a folder")
    except OSError as exc:
        if exc.errno in _REFUSED:
            _cannot_write(shown, exc, "" if for_file is None else ": its folder cannot be created")
        raise
    return folder


@contextmanager
def _open_reader(path: Path) -> Iterator[None]:
    """Hold a pipe open for writing while the output is written into it, so its reader never sees an
    early end; refuse a pipe nobody reads (opening it normally would block forever)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            _refuse(path, "it is a named pipe that no process is reading", "start its reader first, or give a file name")
        raise
    try:
        yield
    finally:
        os.close(fd)


def _target(path: Path) -> tuple[Path, str]:
    """Where to write for ``path`` and how: ``"replace"`` atomically, or ``"direct"`` into a device or pipe."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path, "replace"
    except NotADirectoryError:
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), path.parent)
        _refuse(path, f"{blocker} is a file, not a folder", "give a path inside a folder")
    shown = "it is"
    if stat.S_ISLNK(st.st_mode):
        real = Path(os.path.realpath(path))
        try:
            st = os.stat(path)
        except FileNotFoundError:
            _refuse(path, f"it is a symbolic link to {real}, which does not exist")
        except OSError as exc:  # a loop of links, or one through a file
            _refuse(path, f"it is a symbolic link that cannot be followed ({exc.strerror})")
        if stat.S_ISREG(st.st_mode):
            return real, "replace"
        shown = f"it is a symbolic link to {real}, which is"
    if stat.S_ISREG(st.st_mode):
        return path, "replace"
    if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        return path, "direct"
    _refuse(path, f"{shown} {_what_is(st.st_mode)}, not a file")


def check_output(path: str | os.PathLike) -> None:
    """Refuse now, before any work, an output path :func:`write_atomic` would refuse later.

    Missing parent folders are fine (they are created when the file is written);
    one that is a file is not.
    """
    path = Path(path)
    _target(path)
    blocker = next((p for p in path.parents if p.exists() or p.is_symlink()), None)
    if blocker is not None and not blocker.is_dir():
        _refuse(path, f"{blocker} is a file, not a folder", "give a path inside a folder")


def check_output_dir(folder: str | os.PathLike) -> None:
    """Refuse now, before any work, an output folder that is a file (or lies under one)."""
    folder = Path(folder)
    blocker = next((p for p in (folder, *folder.parents) if p.exists() or p.is_symlink()), None)
    if blocker is not None and not blocker.is_dir():
        kind = "a file" if blocker.is_file() else _what_is(blocker.stat().st_mode) if blocker.exists() else "a broken link"
        _refuse(folder, f"{blocker} is {kind}, not a folder", "give a folder")


def write_atomic(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` and move the result to ``path`` only once it is complete.

    What may stand at ``path`` is decided in the module docstring. Returns ``path``.
    """
    path = Path(path)
    target, how = _target(path)
    if how == "direct":
        with _open_reader(target) if stat.S_ISFIFO(os.stat(target).st_mode) else nullcontext():
            write(target)
        return path
    make_dirs(target.parent, for_file=path)
    tmp = target.with_name(f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{target.name[:_MAX_NAME_IN_TMP]}")
    try:
        try:
            write(tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            if target.exists():  # the replaced file's permissions carry over (a private file stays private)
                os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
            os.replace(tmp, target)
        except OSError as exc:
            # Name the output, not the temporary file the user never asked for.
            if exc.errno is None or exc.filename not in (None, str(tmp)):
                raise
            if exc.errno in _REFUSED:
                _cannot_write(path, exc)
            raise OSError(exc.errno, exc.strerror, str(path)) from None
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(target.parent)
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


def flush_tree(folder: Path) -> None:
    """Flush every file and folder under ``folder`` to disk, so a power loss after a rename cannot leave
    a folder whose files are empty."""
    for path in sorted(folder.rglob("*"), reverse=True):  # files before the folders that hold them
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
        else:
            fsync_dir(path)
    fsync_dir(folder)


def replace_folder(staged: Path, dest: Path) -> None:
    """Move the complete folder ``staged`` to ``dest`` (same parent), replacing a folder there in one step.

    Every file of ``staged`` is flushed to disk first (:func:`flush_tree`), so callers need not.

    On Linux ``renameat2(RENAME_EXCHANGE)`` swaps the two names in one system
    call, so a reader, Ctrl-C, a kill or a power loss finds either the old
    folder or the new one, whole; the old one is then deleted. Where that call
    is missing (other systems, some filesystems) the old folder is renamed aside
    and the new one into place with Ctrl-C and SIGTERM held back in between (a
    failed second rename puts the old one back), so only a hard kill in that
    instant can leave ``dest`` absent, the old folder still whole beside it.
    """
    import shutil

    from routereval.interrupts import held

    flush_tree(staged)
    if not os.path.lexists(dest):
        os.rename(staged, dest)
        fsync_dir(dest.parent)
        return
    if _exchange(staged, dest):
        old = staged  # the exchange left the old folder under the staged name
    else:
        old = dest.with_name(f"{TMP_PREFIX}{os.getpid()}-old-{dest.name}")
        with held():
            os.rename(dest, old)
            try:
                os.rename(staged, dest)
            except BaseException:
                os.rename(old, dest)
                raise
    fsync_dir(dest.parent)
    shutil.rmtree(old, ignore_errors=True)


def publish_folder(staged: Path, dest: Path) -> bool:
    """Move the complete folder ``staged`` to ``dest`` (same parent) unless another writer got there first.

    For folders built under a name that says what they hold (a content key):
    two processes may build the same one at once, and either result is as good
    as the other. Returns False, leaving ``staged`` to the caller, where
    ``dest`` already exists. Every file is flushed to disk first.
    """
    flush_tree(staged)
    try:
        os.rename(staged, dest)
    except OSError:
        if not os.path.lexists(dest):
            raise
        return False
    fsync_dir(dest.parent)
    return True


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths' names in one system call (Linux ``renameat2``); False where that is not possible."""
    import ctypes

    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0
