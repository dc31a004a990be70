"""Terminal output shared by all commands: one console, JSON printing, errors."""

from __future__ import annotations

import errno
import json
import math
import os
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


def warn(message: str) -> None:
    """Print a warning on stderr: something was done that the user should know about."""
    from rich.markup import escape

    err_console.print(f"[bold yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


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


# -- failures -------------------------------------------------------------------

# OS errors that come from the machine or the user's paths, not from a defect:
# each becomes one line naming the path, never a traceback.
_EXPECTED_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "EACCES", "EPERM", "ENOENT", "ENOTDIR", "EISDIR", "EEXIST", "ENOTEMPTY", "ENOSPC",
        "EDQUOT", "EROFS", "ENAMETOOLONG", "EMFILE", "ENFILE", "EIO", "ELOOP", "EXDEV", "EFBIG",
    )
    if hasattr(errno, name)
)


def _click_exceptions() -> list:
    """The exception modules of click and of typer's own copy of it (recent typer vendors click as
    ``typer._click`` and raises those classes, which are not click's)."""
    import importlib

    mods = []
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            mods.append(importlib.import_module(name))
        except ImportError:
            pass
    return mods


def _of(mods: list, name: str) -> tuple[type, ...]:
    return tuple(getattr(m, name) for m in mods if hasattr(m, name))


def os_error_message(exc: OSError) -> str:
    """One line for an OS error: what failed, on which path, and what to check."""
    what = exc.strerror or type(exc).__name__
    line = f"{what}: {exc.filename}" if exc.filename is not None else what
    if exc.filename2 is not None:
        line += f" -> {exc.filename2}"
    hints = {
        errno.ENOSPC: "free some space (or point ROUTEREVAL_HOME at a larger disk)",
        errno.EROFS: "the disk is read-only; point ROUTEREVAL_HOME (or the output path) at a writable folder",
        errno.EACCES: "check the permissions of that path (or point ROUTEREVAL_HOME at a folder you own)",
        errno.ENOTDIR: "a file stands where a folder is needed",
    }
    hint = hints.get(exc.errno)
    return f"{line}; {hint}" if hint else line


def report_failure(exc: BaseException, *, debug: bool = False) -> int:
    """Print ``exc`` as a user sees it and return the command's exit code.

    Expected failures (RouterEvalError, command-line mistakes, OS errors about
    paths and disks, running out of memory) are one line on stderr; anything
    else is a defect: its traceback and a request to report it (exit 70).
    With ``debug`` the traceback is shown for every failure.
    """
    from routereval.errors import (
        EXIT_BUG,
        EXIT_ENVIRONMENT,
        EXIT_ERROR,
        EXIT_OK,
        EXIT_USAGE,
        RouterEvalError,
    )

    mods = _click_exceptions()
    if isinstance(exc, SystemExit):
        code = exc.code
        return code if isinstance(code, int) else (EXIT_OK if code is None else EXIT_ERROR)
    if isinstance(exc, _of(mods, "NoArgsIsHelpError")):
        # typer's rich help is printed while the exception is built; plain click carries it as the message.
        text = exc.format_message()
        if text.strip():
            sys.stdout.write(text.rstrip("\n") + "\n")
        return EXIT_OK
    if debug:
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    if isinstance(exc, KeyboardInterrupt) or isinstance(exc, _of(mods, "Abort")):
        from routereval.interrupts import ignore_further, interrupted_line

        ignore_further()
        line, code = interrupted_line()
        error(line)
        return code
    if isinstance(exc, _of(mods, "UsageError")):
        ctx = getattr(exc, "ctx", None)
        where = f"; see '{ctx.command_path} --help'" if ctx is not None else ""
        error(f"{exc.format_message().rstrip('.')}{where}")
        return EXIT_USAGE
    if isinstance(exc, _of(mods, "ClickException")):
        error(exc.format_message())
        return int(getattr(exc, "exit_code", EXIT_ERROR)) or EXIT_ERROR
    if isinstance(exc, RouterEvalError):
        error(str(exc) or type(exc).__name__)
        return int(getattr(exc, "exit_code", EXIT_ERROR))
    if isinstance(exc, BrokenPipeError):
        # The reader of our output went away (`| head`): nothing to say, and nothing more to write.
        # Output still buffered goes to /dev/null, so the interpreter's final flush stays quiet.
        # Exit 1, as Python's documentation advises and typer does for a pipe it sees break.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # stdout already closed, or not a real file (a test's capture)
            pass
        return EXIT_ERROR
    if isinstance(exc, MemoryError):
        error(f"ran out of memory{': ' + str(exc) if str(exc) else ''}; try a smaller dataset or pool, "
              "or a machine with more memory")
        return EXIT_ENVIRONMENT
    if isinstance(exc, OSError) and exc.errno in _EXPECTED_ERRNOS:
        error(os_error_message(exc))
        return EXIT_ENVIRONMENT
    if not debug:
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    from routereval import __version__

    error(f"this is a bug in routereval {__version__}: please report it on the project's issue tracker, "
          "with the command you ran and the traceback above")
    return EXIT_BUG
