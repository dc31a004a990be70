"""The ``routereval`` command. Sub-commands live in their own modules and import
their heavy dependencies inside the command, so ``routereval --help`` stays fast."""

from __future__ import annotations

import sys

import typer

from routereval.cli import bench as bench_command
from routereval.cli import cache as cache_commands
from routereval.cli import curve as curve_command
from routereval.cli import data as data_commands
from routereval.cli import scaling as scaling_command
from routereval.cli import report as report_command
from routereval.cli import route as route_command
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


def main() -> None:
    """Console entry point: user errors become one red line and exit code 1."""
    from routereval.errors import RouterEvalError

    try:
        app(standalone_mode=False)
    except RouterEvalError as exc:
        from routereval.cli.output import error

        error(str(exc))
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # click's own usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        raise
