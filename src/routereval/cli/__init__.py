"""The ``routereval`` command. Sub-commands live in their own modules and import
their heavy dependencies inside the command, so ``routereval --help`` stays fast.

Every way a command can fail goes through :func:`run`: one line on stderr and a
documented exit code (``docs/errors.md``); a traceback only with ``--debug``
(or ``ROUTEREVAL_DEBUG=1``) or for a defect in routereval itself.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import typer

from routereval.cli import bench as bench_command
from routereval.cli import cache as cache_commands
from routereval.cli import curve as curve_command
from routereval.cli import data as data_commands
from routereval.cli import report as report_command
from routereval.cli import route as route_command
from routereval.cli import scaling as scaling_command
from routereval.cli import select as select_command
from routereval.cli import serve as serve_command
from routereval.cli import sweep as sweep_command
from routereval.cli import train as train_command

app = typer.Typer(
    name="routereval",
    help="The benchmark and toolkit for routing LLMs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data_commands.app, name="data")
app.add_typer(cache_commands.app, name="cache")
app.command("bench")(bench_command.bench)
app.command("select")(select_command.select)
app.command("scaling")(scaling_command.scaling)
app.command("report")(report_command.report)
app.command("sweep")(sweep_command.sweep)
app.command("curve")(curve_command.curve)
app.command("train")(train_command.train)
app.command("route")(route_command.route)
app.command("serve")(serve_command.serve)

_DEBUG = {"on": False}


@app.callback()
def _global_options(
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback of any error."),
) -> None:
    """The benchmark and toolkit for routing LLMs."""
    _DEBUG["on"] = debug


def main() -> None:
    """Console entry point."""
    sys.exit(run())


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line on ``argv`` (``sys.argv[1:]`` by default) and return its exit code."""
    from routereval.cli.output import report_failure
    from routereval.errors import EXIT_INTERRUPTED
    from routereval.interrupts import stop_on_signals

    import warnings

    from routereval.cli.output import warn

    args = list(sys.argv[1:] if argv is None else argv)
    _DEBUG["on"] = os.environ.get("ROUTEREVAL_DEBUG", "") not in ("", "0")
    with stop_on_signals(), warnings.catch_warnings():
        # Warnings the library raises for its callers (a quarantined row, a skipped model) reach a user of the
        # command line as one "warning:" line, not as Python's file:line report with the source line.
        warnings.showwarning = lambda message, *_args, **_kw: warn(str(message))
        try:
            code = app(args=args, prog_name="routereval", standalone_mode=False)
            # Written now, so a reader that went away (`| head -1`) is reported here, not at exit.
            sys.stdout.flush()
        except BaseException as exc:  # noqa: BLE001 - the one place every failure is turned into an exit code
            return report_failure(exc, debug=_DEBUG["on"] or "--debug" in args)
        # Without standalone mode a command's `raise typer.Exit(n)` comes back as its return value.
        code = code if isinstance(code, int) and not isinstance(code, bool) else 0
        if code == EXIT_INTERRUPTED:
            # typer turns a KeyboardInterrupt into Exit(130), which arrives here as a plain return
            # value; no command returns 130 itself (it raises KeyboardInterrupt), so this is Ctrl-C
            # (or SIGTERM) and must still end with its one line.
            return report_failure(KeyboardInterrupt())
        return code
