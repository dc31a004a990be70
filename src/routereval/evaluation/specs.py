"""Routers as the command line and sweep files name them, and what evaluating one means.

``knn``, ``ro:p=0.3``, ``mlp:recipe=published:epochs=5`` or a class outside
the registry, ``my_pkg.routers:MyRouter:k=7``. A :class:`RouterSpec` is such a
name with its parameters; :func:`contender` turns it into what is evaluated:
a fresh router (None for the oracle family, which learns nothing) and the
policy that chooses from its estimates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from routereval.errors import ConfigError
from routereval.policies import REFERENCE_POLICIES, Policy, argmax
from routereval.routers.base import (
    CLASS_PATH_SEPARATOR,
    INSTALL,
    all_routers,
    make_router,
    missing_packages,
    router_class,
)

#: The one parameter through which an evaluation's seed reaches a router (sklearn's name).
SEED_PARAMETER = "random_state"
#: RouterEval's baselines (MLC left out: minutes per pool on a CPU; add it by name).
BASELINES = ("oracle", "ro", "random", "best-single", "linear", "mlp", "cluster", "knn")
#: Routers from across the field (docs/zoo.md). `auto` is not among them: it chooses among these by refitting
#: each per fold, so it is measured on its own (benchmarks/auto_targets.py) and named when wanted.
FIELD = ("knn-tuned", "clusters", "logistic", "gbdt", "mf", "irt", "ensemble", "safe", "sw-ranking")
#: Words that stand for lists of routers on the command line and in sweep files.
ROUTER_SETS = {"baselines": BASELINES, "zoo": BASELINES + FIELD}


@dataclass(frozen=True)
class RouterSpec:
    """A router by name with hyper-parameters, and the label it is reported under."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        if self.name == "ro":
            return f"ro({self.params.get('p', 0.5):g})"
        extra = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.name}[{extra}]" if extra else self.name

    @property
    def is_reference(self) -> bool:
        """True for the oracle family (oracle, ro, random): policies over the true scores."""
        return self.name in REFERENCE_POLICIES

    @property
    def inputs(self) -> str:
        """What the router reads: "embeddings", "texts" or "none"."""
        return "none" if self.is_reference else getattr(router_class(self.name), "inputs", "embeddings")

    def check(self) -> None:
        """Build once and drop it: refuses unknown routers, parameters and bad values before any work."""
        entry = contender(self)
        if entry.router is not None and hasattr(entry.router, "check_params"):
            try:
                entry.router.check_params()
            except ValueError as exc:
                raise ConfigError(str(exc) if str(exc).startswith("router ") else f"router {self.label}: {exc}") from exc
        if entry.router is not None:
            missing = missing_packages(entry.router)
            if missing:
                raise ConfigError(f"router {self.label} needs {', '.join(missing)}, which is not installed: "
                                  f"{INSTALL.get(missing[0], 'pip install ' + missing[0])}")


@dataclass
class Contender:
    """One entry of a leaderboard: a fresh router (None for the oracle family) and its policy."""

    label: str
    router: Any | None
    policy: Policy


def contender(spec: RouterSpec, policy: Policy | None = None) -> Contender:
    """What evaluating ``spec`` means: its router (unfitted) and the policy that chooses."""
    if spec.is_reference:
        try:
            reference = REFERENCE_POLICIES[spec.name](**spec.params)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"router {spec.name!r}: {exc}") from exc
        return Contender(spec.label, None, reference)
    return Contender(spec.label, make_router(spec.name, **spec.params), policy or argmax())


def parse_value(text: str) -> Any:
    """'3' -> 3, '0.5' -> 0.5, 'true' -> True, 'none' -> None, anything else stays text."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_routers(text: str) -> list[RouterSpec]:
    """``knn,ro:p=0.3,mlp:recipe=published:epochs=5,pkg.mod:Class:k=3`` -> router specs.

    ``zoo`` stands for every router of :data:`ROUTER_SETS` (the published
    baselines and the field's routers), ``baselines`` for RouterEval's. A
    router named twice with the same parameters is kept once.
    """
    specs: list[RouterSpec] = []
    for item in filter(None, (t.strip() for t in text.split(","))):
        if item in ROUTER_SETS:
            found = [RouterSpec(name) for name in ROUTER_SETS[item]]
        else:
            found = [_parse_one(item)]
        specs += [spec for spec in found if spec not in specs]
    return specs


def _parse_one(item: str) -> RouterSpec:
    name, *params = item.split(CLASS_PATH_SEPARATOR)
    # `pkg.module:Class` is a name: its second part has no `=` and its first is no router of ours.
    if params and "=" not in params[0] and name not in REFERENCE_POLICIES and name not in all_routers():
        name = f"{name}{CLASS_PATH_SEPARATOR}{params.pop(0)}"
    kwargs = {}
    for p in params:
        if "=" not in p:
            raise ConfigError(f"router parameter {p!r} in {item!r} must be written key=value")
        key, value = p.split("=", 1)
        kwargs[key] = parse_value(value)
    return RouterSpec(name, kwargs)
