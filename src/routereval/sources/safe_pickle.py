"""Load pickles that may hold only numpy arrays and plain containers.

RouterEval publishes its data as pickles. An ordinary ``pickle.load`` runs
whatever callable the file names, so a tampered download could run code on the
user's machine. :func:`safe_load` resolves every global the file names against
a short allow-list *before* anything is called, and refuses the file otherwise.

The allow-list is what numpy needs to rebuild arrays, dtypes and scalars
(under both the ``numpy.core`` names that numpy 1.x writes and the
``numpy._core`` names of numpy 2), plus the builtin data types and
``OrderedDict``. Protocol 0-2 pickles spell builtins ``__builtin__`` and write
bytes as ``_codecs.encode(text, "latin1")``; both spellings are admitted, the
latter only for that one encoding.

This guards against code execution, not against resource exhaustion: a hostile
file can still ask for a very large array; running out of memory is then
reported as a DataError that says so.
"""

from __future__ import annotations

import collections
import importlib
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from routereval.errors import DataError

_REFUSAL = "a routereval pickle may hold only numpy arrays and plain containers"

_PLAIN_BUILTINS = {
    "list": list,
    "dict": dict,
    "tuple": tuple,
    "set": set,
    "frozenset": frozenset,
    "int": int,
    "float": float,
    "complex": complex,
    "str": str,
    "bytes": bytes,
    "bytearray": bytearray,
    "bool": bool,
    "slice": slice,
    "range": range,
}

# (name inside numpy's core package, submodule that defines it)
_NUMPY_CORE = {
    "_reconstruct": "multiarray",
    "scalar": "multiarray",
    "_frombuffer": "numeric",
}


def _latin1_encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """``_codecs.encode`` restricted to the one use pickle makes of it."""
    # Compared as text: looking an arbitrary codec name up could import modules.
    spelled = str(encoding).lower().replace("-", "").replace("_", "")
    if spelled not in ("latin1", "iso88591") or not isinstance(text, str):
        raise pickle.UnpicklingError(
            f"refuses _codecs.encode with encoding {encoding!r}: only latin-1 rebuilds bytes"
        )
    return text.encode("latin-1", errors)


def _numpy_core(name: str) -> Callable[..., Any]:
    """A private numpy constructor, looked up where the installed numpy keeps it."""
    sub = _NUMPY_CORE[name]
    try:
        module = importlib.import_module(f"numpy._core.{sub}")
    except ImportError:  # numpy < 2
        module = importlib.import_module(f"numpy.core.{sub}")
    return getattr(module, name)


def _allowed(module: str, name: str) -> Any | None:
    """The object a pickle may name as ``module.name``, or None if it is refused."""
    if module in ("builtins", "__builtin__"):
        if module == "__builtin__" and name == "xrange":
            return range
        return _PLAIN_BUILTINS.get(name)
    if module == "collections" and name == "OrderedDict":
        return collections.OrderedDict
    if module == "_codecs" and name == "encode":
        return _latin1_encode
    if module == "numpy" and name in ("ndarray", "dtype"):
        import numpy as np

        return np.ndarray if name == "ndarray" else np.dtype
    for core in ("numpy.core", "numpy._core"):
        if name in _NUMPY_CORE and module == f"{core}.{_NUMPY_CORE[name]}":
            return _numpy_core(name)
    return None


class _SafeUnpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], label: str) -> None:
        super().__init__(file)
        self._label = label

    def find_class(self, module: str, name: str) -> Any:
        # Called for every global before the pickle can call it: an exact
        # (module, name) match, so dotted names cannot reach attributes.
        obj = _allowed(module, name)
        if obj is None:
            raise DataError(f"refuses to load {module}.{name}: {_REFUSAL}", file=self._label)
        return obj

    def persistent_load(self, pid: Any) -> Any:
        raise DataError(
            f"refuses to load a persistent reference ({str(pid)[:60]!r}): {_REFUSAL}",
            file=self._label,
        )


def safe_load(path_or_file: str | Path | IO[bytes]) -> object:
    """Unpickle a file that may hold only numpy arrays and plain containers.

    Anything else (a class, a function, a persistent reference) is refused
    before it runs, with a :class:`~routereval.errors.DataError` that names the
    file and the refused global. A corrupt or truncated pickle is also a
    ``DataError``.
    """
    if isinstance(path_or_file, (str, Path)):
        label = str(path_or_file)
        try:
            with open(path_or_file, "rb") as f:
                return _load(f, label)
        except OSError as exc:
            raise DataError(f"cannot read: {exc.strerror or exc}", file=label) from exc
    label = str(getattr(path_or_file, "name", "<stream>"))
    return _load(path_or_file, label)


def _load(f: IO[bytes], label: str) -> object:
    try:
        return _SafeUnpickler(f, label).load()
    except DataError:
        raise
    except MemoryError as exc:
        # MemoryError carries no message: say what happened and what it suggests.
        raise DataError(
            "asks for more memory than this machine has while it is unpickled (a very large object); "
            "the file is damaged, hostile or far larger than a routereval dataset",
            file=label,
        ) from exc
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, OverflowError, RecursionError) as exc:
        raise DataError(f"not a readable pickle of numpy arrays and containers: {exc}",
                        file=label) from exc
