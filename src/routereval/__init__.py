"""routereval: the benchmark and toolkit for routing LLMs.

>>> import routereval as rv
>>> bench = rv.load_dataset("mmlu-pro")                       # registered name, imported name or path
>>> data = rv.router_datasets(bench, sizes=[3, 5], protocol="clean")
>>> X = rv.embed(data, "minilm")                              # row i = prompt i, cached on disk
>>> result = rv.evaluate(["knn", "best-single"], data, X)     # names, router objects, or a dict label -> router
>>> print(result.table())                                     # the published table, every row and column

Data flows one way: sources -> records -> router datasets -> routers ->
policies -> metrics -> reports; serving reads a saved router. The names here
load lazily, so importing the package (and ``routereval --help``) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Public name -> (module, attribute); attribute None means the module itself.
_EXPORTS: dict[str, tuple[str, str | None]] = {
    "load_dataset": ("routereval.sources.catalog", "load_dataset"),
    "router_datasets": ("routereval.datasets.router_dataset", "router_datasets"),
    "embed": ("routereval.evaluation.features", "embed"),
    "make_router": ("routereval.routers.base", "make_router"),
    "evaluate": ("routereval.evaluation.evaluate", "evaluate"),
    "policies": ("routereval.policies", None),
    "metrics": ("routereval.metrics", None),
    # Router, Prompts, from_sklearn: what writing or wrapping a router needs (docs/routers.md).
    "routers": ("routereval.routers", None),
    "RoutingModel": ("routereval.deploy.model", "RoutingModel"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'routereval' has no attribute {name!r}")
    module, attr = _EXPORTS[name]
    value = importlib.import_module(module)
    if attr is not None:
        value = getattr(value, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
