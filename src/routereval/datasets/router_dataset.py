"""Router datasets: a benchmark cut into splits and candidate pools.

A :class:`PoolDataset` is what a router trains and is tested on: the m pool
models' scores and labels on the train, validation and test prompts.

Two protocols (SPEC section 3):

* ``faithful``: RouterEval as published. Pools are chosen with every prompt in
  view (test included), random numbers are drawn in the published order: the
  split first, then the pools of sizes 3, 5, 10, 100, 1000 in turn, groups
  all_strong, all_weak, strong_to_weak. Asking for a subset of sizes or groups
  still draws for the ones before it, so a pool never depends on what else was
  asked for.
* ``clean``: the same procedure, but pool selection sees only the training and
  validation prompts; nothing a deployed router could not know informs any
  choice.

Missing records: inside a pool, only prompts on which every pool model has a
record are used (per split); the number dropped is kept in ``n_dropped`` so
reports can say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from routereval.datasets.pools import GROUPS, PUBLISHED_SIZES, OracleScorer, Pool, select_pools
from routereval.datasets.splits import SPLIT_SEED, Split, split_by_task
from routereval.errors import ConfigError
from routereval.records.benchmark import CONTINUOUS, Benchmark

PROTOCOLS = ("faithful", "clean")
LABEL_FRACTION = 0.95
PARTS = ("train", "val", "test")


def labels_from_scores(scores: np.ndarray, kind: str, fraction: float = LABEL_FRACTION) -> np.ndarray:
    """0/1 training labels: the scores themselves for binary benchmarks; for
    continuous ones, 1 where a score reaches ``fraction`` of the best in the pool."""
    scores = np.asarray(scores, dtype=np.float32)
    if kind != CONTINUOUS:
        return scores
    best = scores.max(axis=1, keepdims=True)
    return (scores >= fraction * best).astype(np.float32)


@dataclass
class Part:
    """One split of a pool dataset."""

    positions: np.ndarray  # prompt positions in the benchmark
    scores: np.ndarray  # n x m true scores in [0, 1]
    labels: np.ndarray  # n x m training labels

    def __len__(self) -> int:
        return len(self.positions)


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
    n_dropped: dict[str, int] = field(default_factory=dict)

    def part(self, name: str) -> Part:
        return getattr(self, name)


def _part(bench: Benchmark, positions: np.ndarray, cols: np.ndarray) -> tuple[Part, int]:
    values = bench.values(prompts=positions, models=cols)
    complete = ~np.isnan(values).any(axis=1)
    values = values[complete]
    return Part(positions[complete], values, labels_from_scores(values, bench.kind)), int((~complete).sum())


def pool_dataset(bench: Benchmark, split: Split, pool: Pool) -> PoolDataset:
    """Scores and labels of one pool on the three splits."""
    cols = np.asarray(pool.models, dtype=np.int64)
    parts, dropped = {}, {}
    for name in PARTS:
        parts[name], dropped[name] = _part(bench, getattr(split, name), cols)
    return PoolDataset(
        dataset=bench.name,
        benchmark=bench.provenance.get("benchmark", bench.name),
        m=pool.m,
        group=pool.group,
        models=[bench.model_names[i] for i in cols],
        oracle_at_selection=pool.oracle,
        n_dropped=dropped,
        **parts,
    )


def _sizes_to_draw(sizes: list[int]) -> list[int]:
    """Published sizes up to the largest asked for (in order), then any others."""
    largest = max(sizes)
    drawn = [s for s in PUBLISHED_SIZES if s <= largest]
    return drawn + [s for s in sizes if s not in drawn]


def build_router_datasets(
    bench: Benchmark,
    sizes: list[int],
    groups: list[str] | tuple[str, ...] = GROUPS,
    protocol: str = "faithful",
    seed: int = SPLIT_SEED,
    n_draws: int = 1000,
) -> tuple[Split, list[PoolDataset], dict[int, str]]:
    """Split ``bench`` and build a pool dataset per (size, group).

    Returns the split, the pool datasets and the sizes that could not be built
    with the reason.
    """
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise ConfigError(f"unknown group(s) {', '.join(unknown)}; use {', '.join(GROUPS)}")
    if not sizes or min(sizes) < 2:
        raise ConfigError(f"pool sizes must be at least 2, got {sizes}")
    rng = np.random.RandomState(seed)
    split = split_by_task(bench.prompts["task"].to_numpy(), rng)
    selection = None if protocol == "faithful" else np.sort(np.concatenate([split.train, split.val]))
    scorer = OracleScorer(bench, selection)
    pools, skipped = select_pools(scorer, _sizes_to_draw(sizes), rng, GROUPS, n_draws)
    wanted = [p for p in pools if p.m in sizes and p.group in groups]
    datasets = [pool_dataset(bench, split, p) for p in wanted]
    return split, datasets, {m: why for m, why in skipped.items() if m in sizes}
