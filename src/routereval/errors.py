"""Errors that users see. Each names where the problem is, so it can be fixed."""

from __future__ import annotations


class RouterEvalError(Exception):
    """Base class: the CLI prints these as one clear message and exits non-zero."""


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


class DownloadError(RouterEvalError):
    """A file could not be fetched, or what arrived is not the pinned file."""


class UnknownDatasetError(RouterEvalError):
    """A dataset name that is neither registered, imported nor a path."""


class ConfigError(RouterEvalError):
    """An unknown router, parameter, size or option."""


class NotFittedError(RouterEvalError, ValueError):
    """A learner (router, encoder, predictor) used before ``fit``; the one such error everywhere."""

    def __init__(self, what: str, detail: str = "call fit() first") -> None:
        super().__init__(f"{what} is not fitted: {detail}")
