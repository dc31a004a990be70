"""Terminal output shared by all commands: one console, JSON printing, errors."""

from __future__ import annotations

import errno
import json
import math
import os
import re
import sys
from typing import Any

from rich.console import Console

from routereval.reports.tables import Column

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


# -- tables ---------------------------------------------------------------------
#
# One rule for every table a command prints: nothing a user reads or types is cut
# into ambiguity. When stdout is not a terminal (a file, a pipe) every column is
# printed at full width: no terminal sets a limit there. In a terminal too narrow
# for the whole table, free text wraps at spaces and names wrap at a separator
# (``meta-llama/`` + ``llama-3.1-8b``), never inside a part; keys (names a user
# types, like dataset names) and numbers are never wrapped or cut. If the table
# still does not fit, its columns are moved into stacked tables, each repeating
# the first column, as ``git log --stat`` keeps names whole and wraps its layout.

#: Characters after which a name may wrap (an opening bracket stays with what follows it).
_NAME_BREAKS = "/-_:,=( "
_BREAK_AFTER = re.compile(r"[^" + re.escape(_NAME_BREAKS) + r"\[]*(?:[" + re.escape(_NAME_BREAKS) + r"]|(?=\[))|.+$")


def _pieces(text: str, kind: str) -> list[str]:
    """The parts of a cell that a wrap may never split."""
    if kind == "name":
        return [p for p in _BREAK_AFTER.findall(text) if p] or [""]
    if kind == "text":
        return text.split() or [""]
    return [text]


def _wrap(text: str, kind: str, limit: int) -> list[str]:
    """``text`` in lines of at most ``limit`` characters, split only between pieces (a piece wider stays whole)."""
    if kind in ("number", "key") or len(text) <= limit:
        return [text]
    glue = " " if kind == "text" else ""
    lines: list[str] = []
    for piece in _pieces(text, kind):
        if lines and len((lines[-1] + glue + piece).rstrip()) <= limit:
            lines[-1] = (lines[-1] + glue + piece)
        else:
            lines.append(piece)
    return [ln.rstrip() for ln in lines]


def _header_lines(header: str, limit: int) -> list[str]:
    return _wrap(header, "text", limit)


def _two_lines(text: str) -> int:
    """The narrowest width at which a name wraps onto at most two lines, split after a separator."""
    pieces = _pieces(text, "name")
    return min(max(len("".join(pieces[:k]).rstrip()), len("".join(pieces[k:]))) for k in range(1, len(pieces) + 1))


def _widths(columns: list[Column], rows: list[list[str]]) -> tuple[list[int], list[int]]:
    """(natural, smallest) width of each column: uncut, and with every allowed wrap taken.

    A name wraps onto two lines at most: a model name in five pieces is harder to
    read than a table moved under another one.
    """
    natural, smallest = [], []
    for i, col in enumerate(columns):
        cells = [r[i] for r in rows]
        natural.append(max([len(col.header)] + [len(c) for c in cells]))
        header_min = max(len(w) for w in col.header.split() or [""])
        if col.kind == "name":
            least = [_two_lines(c) for c in cells]
        else:
            least = [len(p) for c in cells for p in _pieces(c, col.kind)]
        smallest.append(max([header_min] + least))
    return natural, smallest


def _table_width(widths: list[int]) -> int:
    # Rich's default box: one border before each column, one after the last, one space of padding each side.
    return 1 + sum(w + 3 for w in widths)


def _fit(columns: list[Column], rows: list[list[str]], width: int) -> list[int] | None:
    """Column widths that fit ``width``, or None. Headers and prose give way first (widest first), names last:
    a header on three lines is easier to read than a router's name on two."""
    limits, smallest = _widths(columns, rows)
    while _table_width(limits) > width:
        shrinkable = [i for i in range(len(limits)) if limits[i] > smallest[i]]
        if not shrinkable:
            return None
        widest = max(shrinkable, key=lambda i: (columns[i].kind != "name", limits[i]))
        limits[widest] -= 1
    return limits


def _render(title: str | None, columns: list[Column], rows: list[list[str]], limits: list[int] | None):
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        if limits is None:  # full width: nothing wraps
            table.add_column(Text(col.header), justify=col.justify, no_wrap=True)
            continue
        header = "\n".join(_header_lines(col.header, limits[i]))
        table.add_column(Text(header), justify=col.justify, no_wrap=True, width=limits[i])
    for r in rows:
        cells = r if limits is None else ["\n".join(_wrap(c, col.kind, lim)) for c, col, lim in zip(r, columns, limits)]
        table.add_row(*(Text(c) for c in cells))
    return table


def _parts(columns: list[Column], rows: list[list[str]], width: int) -> list[list[int]]:
    """Column indices of each stacked table: the first column, then as many others as fit beside it.

    Once the table is split anyway, names stay on one line where the first column and one
    other fit that way: the split, not a wrap, makes the room.
    """
    whole = [Column(c.header, "key") if c.kind == "name" else c for c in columns]
    if _fit(whole[:2], [r[:2] for r in rows], width) is not None:
        columns = whole
    parts: list[list[int]] = []
    current = [0]
    for i in range(1, len(columns)):
        trial = current + [i]
        if len(current) > 1 and _fit([columns[j] for j in trial], [[r[j] for j in trial] for r in rows], width) is None:
            parts.append(current)
            current = [0, i]
        else:
            current = trial
    parts.append(current)
    return parts


def print_table(title: str | None, columns: list[Column], rows: list[list[str]], *, console: Console | None = None) -> None:
    """Print a table by the rule above: full width off a terminal; in one, wrapped or stacked to fit, never cut."""
    from rich.measure import Measurement

    console = console or globals()["console"]
    rows = [[str(c) for c in r] for r in rows]
    if not console.is_terminal:
        from rich.console import Console as _Console

        table = _render(title, columns, rows, None)
        # Measured without the terminal's limit: the width the table needs uncut. A console of that width
        # on the same file prints it (print's own width= is capped at the console's).
        need = Measurement.get(console, console.options.update_width(100_000), table).maximum
        wide = _Console(file=console.file, width=max(need, len(title or ""), 1), no_color=console.no_color,
                        color_system=console.color_system and "auto", force_terminal=False)
        wide.print(table)
        return
    width = console.width
    limits = _fit(columns, rows, width)
    if limits is not None:
        console.print(_render(title, columns, rows, limits))
        return
    for n, part in enumerate(_parts(columns, rows, width)):
        cols = [columns[j] for j in part]
        cells = [[r[j] for j in part] for r in rows]
        heading = title if n == 0 or title is None else f"{title} (continued)"
        # A part that cannot fit even alone (one very wide column) is printed whole, never cut.
        limits = _fit(cols, cells, width)
        console.print(_render(heading, cols, cells, limits), crop=False)


def print_tables(rows: list[dict[str, Any]], by_group: bool = False, console: Console | None = None) -> None:
    """The result tables of bench, sweep and report: one per block, the V_R reference under each."""
    from routereval.reports.tables import blocks, columns_of, table_rows

    console = console or globals()["console"]
    for title, block in blocks(rows, by_group):
        columns = columns_of(block)
        print_table(title, [Column(c, "name" if c == "router" else "number") for c in columns],
                    table_rows(block, columns), console=console)
        # Off a terminal the line stays whole, as the table above it does.
        console.print(f"  V_R reference: {block[0]['reference']} = {block[0]['reference_score']:.4f}", highlight=False,
                      markup=False, soft_wrap=not console.is_terminal)


def print_records(title: str | None, records: list[dict[str, Any]], *, console: Console | None = None) -> None:
    """Rows of dicts as one table (columns in the first row's order; the first is a name, the rest numbers).

    Numbers show 4 significant digits and NaN or None as blank, as in the Markdown of the same rows.
    """
    if not records:
        return
    keys = list(records[0])

    def cell(value: Any) -> str:
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return ""
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    print_table(title, [Column(keys[0], "name")] + [Column(k) for k in keys[1:]],
                [[cell(r.get(k)) for k in keys] for r in records], console=console)


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
