"""The Sweep: a validated grid of datasets x pool sizes x groups x routers x seeds, and the rules for its
settings.

Reading a sweep file is :mod:`routereval.sweeps.config`'s job; ``routereval
bench`` builds its one-dataset sweep from flags. Both check the values they
read with :func:`setting_problems`, the one place a setting's allowed values
live, so a sweep file and a command line accept and refuse the same values;
each names the setting as its user wrote it (``n_boot`` in a file, ``--n-boot``
on a command line). A :class:`Sweep` is what both build, and what the runner,
the checks and the commands use.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from routereval.datasets.splits import SPLIT_SEED
from routereval.errors import ConfigError
from routereval.evaluation.specs import RouterSpec
from routereval.metrics.core import DEFAULT_N_BOOT

if TYPE_CHECKING:
    from routereval.sweeps.tasks import Context

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")

#: Seeds go to numpy's RandomState and scikit-learn's random_state, which take nothing outside [0, 2**32 - 1].
MAX_SEED = 2**32 - 1


def check_seed(value: object, name: str = "seed") -> str | None:
    """Why ``value`` cannot be a seed (an integer in 0..MAX_SEED), or None when it can."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        return f"{name} must lie in 0..{MAX_SEED} (numpy's seed range), got {value!r}"
    return None


def check_name(name: str) -> str | None:
    """Why ``name`` cannot name a sweep (results go to results/<name>), or None when it can.

    A plain name (letters, digits, '-', '_', '.'; not '.' or '..'; at most 100 characters) can
    neither climb out of the results folder nor point elsewhere.
    """
    if not isinstance(name, str) or not _NAME.match(name) or name in (".", ".."):
        return (f"name must be a plain name (letters, digits, '-', '_', '.'; not '.' or '..'; at most 100 "
                f"characters): results go to results/<name>; got {name!r}")
    return None


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: what to run, and the settings every result row depends on."""

    name: str
    datasets: tuple[str, ...]
    sizes: tuple[int, ...]
    groups: tuple[str, ...]
    routers: tuple[RouterSpec, ...]
    seeds: tuple[int, ...] = (0,)
    protocol: str = "faithful"
    encoder: str = "auto"
    split_seed: int = SPLIT_SEED
    #: Several split seeds: each is a grid axis (a row per split); empty means just ``split_seed``.
    split_seeds: tuple[int, ...] = ()
    n_boot: int = DEFAULT_N_BOOT
    reference: str | None = None
    scaling: bool = True
    scaling_draws: int | None = None
    #: Cost columns in every row, in this unit (dollars, input-dollars, compute, calls); None for none.
    cost: str | None = None
    #: A price file (CSV/JSON: model, input, output) that sets or overrides model prices.
    prices: str | None = None
    #: Where each dataset entry is loaded from (entries as written -> name or resolved path).
    locations: dict[str, str] = field(default_factory=dict)
    text: str = ""

    @property
    def splits(self) -> tuple[int, ...]:
        """The split seeds the grid runs over (``split_seeds``, else the one ``split_seed``)."""
        return self.split_seeds or (self.split_seed,)

    def context(self) -> Context:
        """The settings each worker needs to run a grid point of this sweep (loaded on its first split)."""
        from routereval.sweeps.tasks import Context

        inputs = {r.inputs for r in self.routers}
        return Context(
            sizes=self.sizes, groups=self.groups, protocol=self.protocol, encoder=self.encoder,
            split_seed=self.splits[0], n_boot=self.n_boot, reference=self.reference, cost=self.cost,
            prices=self.prices, need_texts="texts" in inputs, need_vectors="embeddings" in inputs,
        )

    def settings(self) -> dict[str, Any]:
        """What a result row depends on beyond its grid key; a store refuses rows made otherwise.

        With several split seeds the split is part of each row's key, not a setting of the
        store; one split seed stays a setting, so stores of one-split sweeps are unchanged.
        """
        settings = self.context().settings()
        if len(self.splits) > 1:
            del settings["split_seed"]
        return settings

    def location(self, source: str) -> str:
        """The name or path to load for the dataset entry ``source``."""
        return self.locations.get(source, source)


def parse_seed_list(text: str, name: str = "--split-seeds") -> list[int]:
    """'0-9' -> [0, ..., 9]; '0,1,5' -> [0, 1, 5]; ranges and single seeds may be mixed ('0-4,10').

    Raises ConfigError for anything else, an empty list, a seed listed twice or outside 0..MAX_SEED.
    """
    seeds: list[int] = []
    for part in (p.strip() for p in str(text).split(",")):
        if not part:
            continue
        match = re.fullmatch(r"(\d+)\s*-\s*(\d+)|(\d+)", part)
        if not match:
            raise ConfigError(f"{name} must be seeds such as 0-9 or 0,1,2, got {text!r}")
        if match.group(3) is not None:
            seeds.append(int(match.group(3)))
            continue
        first, last = int(match.group(1)), int(match.group(2))
        if last < first or last - first >= 10_000:
            raise ConfigError(f"{name}: the range {part} must run upwards over at most 10,000 seeds")
        seeds += range(first, last + 1)
    if not seeds:
        raise ConfigError(f"{name} names no seed; e.g. {name} 0-9")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"{name} lists a seed twice: {text!r}")
    for s in seeds:
        if check_seed(s, name):
            raise ConfigError(check_seed(s, name))
    return seeds


class SettingProblem(NamedTuple):
    """A setting a run would refuse: the :class:`Sweep` field, the list element at fault (or None), why."""

    field: str
    value: Any
    message: str


#: Encoders a setting may name: ``auto`` and every name :func:`routereval.encoders.get_encoder` builds.
ENCODER_HELP = "auto, minilm, minilm-st, minilm-onnx, minilm-int8, minilm-static, tfidf[-<dim>] or precomputed:<key>"


def setting_problems(values: Mapping[str, Any], name_of: Callable[[str], str] = str) -> list[SettingProblem]:
    """Every value in ``values`` (Sweep field -> value, already of the right type) a run would refuse.

    ``name_of`` turns a field into the name the user wrote (a sweep file's key by default, or a
    command's flag). Only the fields present are checked. Types are the reader's job (TOML and
    command-line values arrive differently); ranges, choices and combinations are checked here.
    """
    from routereval.datasets.pools import GROUPS
    from routereval.datasets.router_dataset import PROTOCOLS
    from routereval.encoders.registry import is_encoder_name
    from routereval.evaluation.reference import reference_problem
    from routereval.metrics.core import MAX_N_BOOT
    from routereval.records.costs import UNITS

    out: list[SettingProblem] = []

    def add(key: str, message: str, value: Any = None) -> None:
        out.append(SettingProblem(key, value, message))

    if "protocol" in values and values["protocol"] not in PROTOCOLS:
        add("protocol", f"{name_of('protocol')} must be one of {', '.join(PROTOCOLS)}, got {values['protocol']!r}")
    if "encoder" in values and values["encoder"] != "auto" and not is_encoder_name(values["encoder"]):
        add("encoder", f"unknown encoder {values['encoder']!r}; use {ENCODER_HELP}")
    if values.get("split_seed") is not None and (why := check_seed(values["split_seed"], name_of("split_seed"))):
        add("split_seed", why)
    for key in ("split_seeds", "seeds"):
        seeds = values.get(key) or ()
        if len(set(seeds)) != len(seeds):
            add(key, f"{name_of(key)} lists a seed twice")
            continue
        for seed in seeds:
            if why := check_seed(seed, name_of(key)):
                add(key, why, seed)
    if values.get("split_seeds") and values.get("split_seed") is not None:
        add("split_seeds", f"give {name_of('split_seed')} (one split) or {name_of('split_seeds')} (several), not both")
    if "n_boot" in values and not 1 <= values["n_boot"] <= MAX_N_BOOT:
        add("n_boot", f"{name_of('n_boot')} must lie in 1..{MAX_N_BOOT}, got {values['n_boot']}")
    if values.get("reference") is not None and (why := reference_problem(values["reference"], name_of("reference"))):
        add("reference", why)
    if values.get("cost") is not None and values["cost"] not in (*UNITS, "auto"):
        add("cost", f"{name_of('cost')} must be one of auto, {', '.join(UNITS)}, got {values['cost']!r}")
    for size in values.get("sizes") or ():
        if size < 2:
            add("sizes", f"a pool needs at least 2 candidates, got size {size}", size)
    for group in values.get("groups") or ():
        if group not in GROUPS:
            add("groups", f"unknown group {group!r}; known: {', '.join(GROUPS)}", group)
    return out
