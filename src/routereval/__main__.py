"""The ``routereval`` command's entry point (also ``python -m routereval``), kept free of imports.

The command line's own modules (typer, rich, the sub-commands) take a few
tenths of a second to import. Ctrl-C in that window would otherwise end in a
KeyboardInterrupt traceback from the import machinery; here it ends like any
other interrupt (docs/errors.md): one line and exit code 130.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Console entry point: import the command line, run it, exit with its code."""
    try:
        from routereval.cli import run
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)
    sys.exit(run())


if __name__ == "__main__":
    main()
