"""The Sweep: a validated grid of datasets x pool sizes x groups x routers x seeds, and the rules for its
name and seeds.

Reading and checking a sweep file is :mod:`routereval.sweeps.config`'s job; a
:class:`Sweep` is what it returns, and what the runner, the checks and the
commands use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from routereval.datasets.splits import SPLIT_SEED
from routereval.errors import ConfigError
from routereval.evaluation.specs import RouterSpec

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
    n_boot: int = 1000
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
