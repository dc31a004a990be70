"""A fitted object's learned state as plain data: a JSON tree whose leaves point into a dict of arrays.

scikit-learn's convention (learned state ends in ``_``) makes this generic:
every attribute of a fitted router whose name ends in ``_`` is written out,
so any router that keeps NumPy arrays, lists / tuples / str-keyed dicts of
them, numbers and strings can be saved with no code of its own. A fitted
*registered* router inside another (an ensemble's members, the safe router's
base) is saved the same way, by its registered name, hyper-parameters and
learned state, and rebuilt from the registry: no class is imported by a path
the file names. Anything else (a torch module, a fitted scikit-learn object)
is refused with the attribute named, because saving it would need pickle, and
loading a pickle runs code.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from routereval.errors import ConfigError, DataError


class UnsavableStateError(ConfigError):
    """Learned state that has no plain-data form (it would need pickle)."""


def learned_attributes(obj: Any) -> dict[str, Any]:
    """The public learned state of a fitted estimator: attributes whose name ends (not starts) in ``_``."""
    return {k: v for k, v in vars(obj).items() if k.endswith("_") and not k.startswith("_")}


def _encode(value: Any, key: str, arrays: dict[str, np.ndarray], where: str) -> Any:
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf" or value.dtype.itemsize > 8:
            raise UnsavableStateError(f"{where} is an array of {value.dtype}; only arrays of numbers or booleans "
                                      "are saved")
        if value.dtype.byteorder == ">":
            value = value.astype(value.dtype.newbyteorder("<"))
        name = f"a{len(arrays)}"
        arrays[name] = value
        return {"array": name}
    if isinstance(value, np.generic):
        return _encode(np.asarray(value), key, arrays, where)
    if value is None or isinstance(value, (bool, str)):
        return {"value": value}
    if isinstance(value, int):
        return {"value": value}
    if isinstance(value, float):
        # JSON has no NaN or infinity; keep them exact as text.
        return {"float": repr(value)} if not math.isfinite(value) else {"value": value}
    if isinstance(value, (list, tuple)):
        items = [_encode(v, key, arrays, f"{where}[{i}]") for i, v in enumerate(value)]
        return {"tuple" if isinstance(value, tuple) else "list": items}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise UnsavableStateError(f"{where} is a dict with non-string keys")
        return {"dict": {k: _encode(v, key, arrays, f"{where}[{k!r}]") for k, v in value.items()}}
    name = _registered_name(value)
    if name is not None:
        params = {k: _encode(v, key, arrays, f"{where}.{k}") for k, v in value.get_params(deep=False).items()}
        state = {k: _encode(v, key, arrays, f"{where}.{k}") for k, v in learned_attributes(value).items()}
        return {"router": {"name": name, "params": params, "state": state}}
    raise UnsavableStateError(
        f"{where} is a {type(value).__module__}.{type(value).__name__}, which cannot be saved without pickle "
        "(saved state is NumPy arrays, numbers, strings and lists / tuples / dicts of them)"
    )


def encode_state(attributes: dict[str, Any], owner: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(tree, arrays)``: the JSON-able structure of ``attributes`` and the arrays it points to."""
    arrays: dict[str, np.ndarray] = {}
    tree = {name: _encode(value, name, arrays, f"{owner}.{name}") for name, value in attributes.items()}
    return tree, arrays


def _decode(node: Any, arrays: Any, where: str) -> Any:
    if not isinstance(node, dict) or len(node) != 1:
        raise DataError(f"{where}: malformed state entry {node!r}")
    (kind, payload), = node.items()
    if kind == "array":
        if payload not in arrays:
            raise DataError(f"{where}: array {payload!r} is missing from the weights file")
        return arrays[payload]
    if kind == "value":
        return payload
    if kind == "float":
        return float(payload)
    if kind in ("list", "tuple"):
        items = [_decode(v, arrays, f"{where}[{i}]") for i, v in enumerate(payload)]
        return tuple(items) if kind == "tuple" else items
    if kind == "dict":
        return {k: _decode(v, arrays, f"{where}[{k!r}]") for k, v in payload.items()}
    if kind == "router":
        from routereval.routers.base import all_routers

        routers = all_routers()
        if not isinstance(payload, dict) or payload.get("name") not in routers:
            raise DataError(f"{where}: names no registered router ({payload.get('name')!r})")
        params = {k: _decode(v, arrays, f"{where}.{k}") for k, v in payload.get("params", {}).items()}
        from routereval.deploy.manifest import build_router

        try:
            router = build_router(payload["name"], params)
        except ValueError as exc:
            raise DataError(f"{where}: {exc}") from None
        for k, v in payload.get("state", {}).items():
            setattr(router, k, _decode(v, arrays, f"{where}.{k}"))
        return router
    raise DataError(f"{where}: unknown state entry kind {kind!r}")


def _registered_name(value: Any) -> str | None:
    """The registry name of a router object, or None for anything else."""
    from routereval.routers.base import all_routers

    for name, cls in all_routers().items():
        if type(value) is cls:
            return name
    return None


def decode_state(tree: dict[str, Any], arrays: Any, owner: str) -> dict[str, Any]:
    """The attributes :func:`encode_state` wrote, rebuilt from ``tree`` and ``arrays``."""
    return {name: _decode(node, arrays, f"{owner}.{name}") for name, node in tree.items()}


#: Attributes that hold training labels or means of them: values in [0, 1], NaN marking a missing record in labels.
_UNIT_ATTRIBUTES = ("train_labels_", "train_means_", "cluster_means_")


def check_values(state: dict[str, Any], owner: str) -> None:
    """Refuse learned state no fit could have produced: infinite array values, NaN outside training labels
    (where it marks a missing record), labels or their means outside [0, 1]. Raises DataError naming the place."""
    for name, value in state.items():
        _check_value(value, name, f"{owner}.{name}")


def _check_value(value: Any, attribute: str, where: str) -> None:
    if isinstance(value, np.ndarray):
        if value.dtype.kind != "f" or not value.size:
            return
        nan = np.isnan(value)
        if np.isinf(value).any() or (nan.any() and not attribute.endswith("labels_")):
            raise DataError(f"{where} holds NaN or infinite values")
        if attribute in _UNIT_ATTRIBUTES:
            present = value[~nan]
            if present.size and (present.min() < 0.0 or present.max() > 1.0):
                raise DataError(f"{where} holds values outside [0, 1] (min {present.min():.4g}, max {present.max():.4g})")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_value(item, attribute, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_value(item, attribute, f"{where}[{key!r}]")
    elif _registered_name(value) is not None:
        for name, item in learned_attributes(value).items():
            _check_value(item, name, f"{where}.{name}")
