"""Router datasets: a benchmark cut into splits and candidate pools.

A :class:`PoolDataset` is what a router trains and is tested on: the m pool
models' scores and labels on the train, validation and test prompts.
:func:`router_datasets` builds every pool asked for into one
:class:`RouterDatasets`.

Two protocols (docs/routers.md):

* ``faithful``: RouterEval as published. Pools are chosen with every prompt in
  view (test included), random numbers are drawn in the published order: the
  split first, then the pools of sizes 3, 5, 10, 100, 1000 in turn, groups
  all_strong, all_weak, strong_to_weak. Asking for a subset of sizes or groups
  still draws for the ones before it, so a pool never depends on what else was
  asked for.
* ``clean``: the same procedure, but pool selection sees only the training and
  validation prompts; nothing a deployed router could not know informs any
  choice.

A benchmark read from a RouterEval router-dataset file (a ``.pkl`` path, an
import of one, or a registered ``routereval-<bench>`` entry) carries the
file's own split and published pools: every protocol keeps that split, and
the faithful protocol uses those pools as they are (they were chosen with the
test prompts in view, so the clean protocol chooses its own on train + val).

Missing records stay missing (NaN) in scores and labels: learners mask them,
and each metric says which prompts it could score.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from routereval.datasets.pools import GROUPS, PUBLISHED_SIZES, OracleScorer, select_pools, setting_of
from routereval.datasets.splits import SPLIT_SEED, Split, source_split, split_by_task
from routereval.errors import ConfigError
from routereval.records.benchmark import CONTINUOUS, Benchmark

PROTOCOLS = ("faithful", "clean")
LABEL_FRACTION = 0.95
PARTS = ("train", "val", "test")
#: Provenance keys a RouterEval router-dataset file leaves on its benchmark.
BENCHMARK_KEY = "routereval_benchmark"
POOLS_KEY = "routereval_pools"


def benchmark_name(bench: Benchmark) -> str:
    """The benchmark's name for reference tables: RouterEval's own name where the source gives one."""
    return str(bench.provenance.get(BENCHMARK_KEY) or bench.name)


def labels_from_scores(scores: np.ndarray, kind: str, fraction: float = LABEL_FRACTION) -> np.ndarray:
    """Training labels in {0, 1} (NaN where a record is missing).

    Binary benchmarks: the scores themselves. Continuous ones: 1 where a score
    reaches ``fraction`` of the best present score of the pool on the prompt.
    On a prompt where every present score is 0 no candidate is correct (all
    labels 0): "0.95 of nothing" must not mark everyone right.
    """
    scores = np.asarray(scores, dtype=np.float32)
    if kind != CONTINUOUS:
        return scores
    present = ~np.isnan(scores)
    best = np.where(present, scores, -np.inf).max(axis=1, keepdims=True)
    right = present & (scores >= fraction * best) & (best > 0)
    return np.where(present, right.astype(np.float32), np.nan).astype(np.float32)


@dataclass
class Part:
    """One split of a pool dataset: prompt positions, true scores and labels (NaN = no record)."""

    positions: np.ndarray  # prompt positions in the benchmark
    scores: np.ndarray  # n x m true scores in [0, 1]
    labels: np.ndarray  # n x m training labels

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def n_missing(self) -> int:
        """Records missing in this part (cells, not prompts)."""
        return int(np.isnan(self.scores).sum())


@dataclass
class PoolDataset:
    """The train / val / test data of one candidate pool."""

    dataset: str
    benchmark: str
    m: int
    group: str
    models: list[str]
    train: Part
    val: Part
    test: Part
    oracle_at_selection: float = float("nan")

    def part(self, name: str) -> Part:
        return getattr(self, name)


@dataclass
class RouterDatasets:
    """A benchmark with its split and pool datasets: what routers are evaluated on.

    ``skipped`` names the sizes that could not be built, with the reason;
    ``source`` says where split and pools come from (shown in tables).
    """

    bench: Benchmark
    split: Split
    pools: list[PoolDataset]
    protocol: str
    skipped: dict[int, str] = field(default_factory=dict)
    source: str = ""

    @property
    def benchmark(self) -> str:
        return benchmark_name(self.bench)

    def __iter__(self):
        return iter(self.pools)

    def __len__(self) -> int:
        return len(self.pools)


def pool_dataset(bench: Benchmark, split: Split, models: tuple[int, ...], m: int, group: str,
                 oracle: float = float("nan")) -> PoolDataset:
    """Scores and labels of one pool (benchmark column positions) on the three splits."""
    cols = np.asarray(models, dtype=np.int64)
    parts = {}
    for name in PARTS:
        positions = getattr(split, name)
        values = bench.values(prompts=positions, models=cols)
        parts[name] = Part(positions, values, labels_from_scores(values, bench.kind))
    return PoolDataset(
        dataset=bench.name, benchmark=benchmark_name(bench), m=m, group=group,
        models=[bench.model_names[i] for i in cols], oracle_at_selection=oracle, **parts,
    )


def _sizes_to_draw(sizes: list[int]) -> list[int]:
    """Published sizes up to the largest asked for (in order), then any others."""
    largest = max(sizes)
    drawn = [s for s in PUBLISHED_SIZES if s <= largest]
    return drawn + [s for s in sizes if s not in drawn]


def _check(sizes: list[int], groups: list[str] | tuple[str, ...], protocol: str) -> None:
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise ConfigError(f"unknown group(s) {', '.join(unknown)}; use {', '.join(GROUPS)}")
    if not sizes or min(sizes) < 2:
        raise ConfigError(f"pool sizes must be at least 2, got {sizes}")


def published_layout(bench: Benchmark) -> tuple[Split, list[dict]] | None:
    """The split and pools a RouterEval router-dataset file ships with, or None for other sources."""
    pools = bench.provenance.get(POOLS_KEY)
    if not pools or "split" not in bench.prompts.columns:
        return None
    return source_split(bench.prompts["split"].to_numpy()), list(pools)


def router_datasets(
    bench: Benchmark,
    sizes: list[int] | tuple[int, ...] = (3, 5),
    groups: list[str] | tuple[str, ...] = GROUPS,
    protocol: str = "faithful",
    split_seed: int = SPLIT_SEED,
    n_draws: int = 1000,
    *,
    seed: int | None = None,
) -> RouterDatasets:
    """Split ``bench`` and build a pool dataset per (size, group) (see the module docstring).

    ``split_seed`` draws the split (and the clean protocol's pools); a router's
    own seed is ``random_state``, given to the router. ``seed`` is the former
    name of ``split_seed``, still read (with a warning) so older scripts run.
    """
    if seed is not None:
        import warnings

        warnings.warn("router_datasets(seed=...) is now split_seed=... (the seed of the split, not of a router)",
                      FutureWarning, stacklevel=2)
        split_seed = seed
    sizes, groups = [int(s) for s in sizes], list(groups)
    _check(sizes, groups, protocol)
    layout = published_layout(bench)
    if layout is not None and protocol == "faithful":
        split, published = layout
        col = {name: i for i, name in enumerate(bench.model_names)}
        pools, have = [], set()
        for entry in published:
            have.add(int(entry["m"]))
            if int(entry["m"]) in sizes and entry["group"] in groups:
                models = tuple(col[name] for name in entry["models"])
                pools.append(pool_dataset(bench, split, models, int(entry["m"]), str(entry["group"])))
        skipped = {m: f"the file has no pools of size {m} ({setting_of(m)})" for m in sizes if m not in have}
        return RouterDatasets(bench, split, pools, protocol, skipped,
                              source="split and pools as published in the RouterEval file")
    rng = np.random.RandomState(split_seed)
    if layout is not None:
        split = layout[0]
        source = "the RouterEval file's split; pools chosen on train + val (clean protocol)"
    else:
        split = split_by_task(bench.prompts["task"].to_numpy(), rng)
        source = f"{protocol} protocol, split seed {split_seed}"
    selection = None if protocol == "faithful" else np.sort(np.concatenate([split.train, split.val]))
    chosen, skipped = select_pools(OracleScorer(bench, selection), _sizes_to_draw(sizes), rng, GROUPS, n_draws)
    pools = [pool_dataset(bench, split, p.models, p.m, p.group, p.oracle)
             for p in chosen if p.m in sizes and p.group in groups]
    return RouterDatasets(bench, split, pools, protocol, {m: why for m, why in skipped.items() if m in sizes}, source)
