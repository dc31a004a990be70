"""Errors that users see. Each names where the problem is, so it can be fixed.

Every error class carries the exit code the command line ends with; the codes
are listed in ``docs/errors.md``.
"""

from __future__ import annotations

# Exit codes of the ``routereval`` command (documented in docs/errors.md).
EXIT_OK = 0
EXIT_ERROR = 1  # input or configuration that cannot be used as it is
EXIT_USAGE = 2  # the command line itself: unknown command or option, missing argument, bad value
EXIT_DAMAGED = 3  # stored records changed or damaged on disk
EXIT_ENVIRONMENT = 4  # the machine: permission, read-only or full disk, not a folder, out of memory
EXIT_BUG = 70  # a defect in routereval (sysexits' EX_SOFTWARE); the traceback is shown
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it
EXIT_TERMINATED = 143  # SIGTERM (128 + SIGTERM): stopped like Ctrl-C, with its own code


class RouterEvalError(Exception):
    """Base class: the CLI prints these as one clear message and exits non-zero."""

    exit_code = EXIT_ERROR


class DataError(RouterEvalError):
    """Input data that cannot be used as it is, located by file, row and column."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file, self.row, self.column = file, row, column
        where = []
        if file is not None:
            where.append(str(file))
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{': '.join([', '.join(where), message]) if where else message}")


class DamagedStoreError(DataError):
    """A records store whose files no longer match what was written; says how to repair it."""

    exit_code = EXIT_DAMAGED


class DownloadError(RouterEvalError):
    """A file could not be fetched, or what arrived is not the pinned file."""


class UnknownDatasetError(RouterEvalError):
    """A dataset name that is neither registered, imported nor a path."""


class ConfigError(RouterEvalError):
    """An unknown router, parameter, size or option."""


class ArgumentError(ConfigError, ValueError):
    """A number given to a Python function that means nothing (a negative probability, n_boot = 0).

    A ValueError too, so callers that catch ValueError (as for scikit-learn) keep working.
    """


class EnvironmentProblem(RouterEvalError):
    """The machine rather than the input: a home folder that is a file or read-only, a full disk."""

    exit_code = EXIT_ENVIRONMENT


class NotFittedError(RouterEvalError, ValueError):
    """A learner (router, encoder, predictor) used before ``fit``; the one such error everywhere."""

    def __init__(self, what: str, detail: str = "call fit() first") -> None:
        super().__init__(f"{what} is not fitted: {detail}")
