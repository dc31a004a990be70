"""Key paths inside a pickled dict: lookups whose errors say where in the file a problem is."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from routereval.errors import DataError


def where(*parts: Any) -> str:
    return " -> ".join(str(p) for p in parts)


def child(mapping: Any, key: str, parts: Sequence[Any], file: str) -> Any:
    if not isinstance(mapping, Mapping):
        raise DataError(
            f"{where(*parts)} is a {type(mapping).__name__}, expected a dict", file=file
        )
    if key not in mapping:
        keys = ", ".join(repr(k) for k in list(mapping)[:8])
        raise DataError(
            f"{where(*parts, key)} is missing (keys present: {keys or 'none'})", file=file
        )
    return mapping[key]


def model_names(value: Any, parts: Sequence[Any], file: str) -> list[str]:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise DataError(f"{where(*parts)} must be a list of model names", file=file)
    seen: set[str] = set()
    for name in value:
        if name in seen:
            raise DataError(f"{where(*parts)} lists model {name!r} twice", file=file)
        seen.add(name)
    return list(value)
