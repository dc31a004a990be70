"""One grid point as a unit of work, and the function a worker runs on it.

Workers (local processes or Ray tasks) receive a :class:`Task` and a
:class:`Context`, rebuild the dataset's pools and features from the on-disk
caches the parent filled (memoised per worker process), and return the row to
store. Every grid point runs with one thread, whatever executor runs it:
parallelism is across grid points, and a result never depends on how many
threads summed it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field, replace
from typing import Any

from routereval.evaluation.features import Features
from routereval.evaluation.reference import Reference
from routereval.evaluation.specs import RouterSpec
from routereval.results.store import DEFAULT_SPLIT_SEED, GridKey

#: Thread-count variables read by BLAS libraries and torch when they load.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@dataclass(frozen=True)
class Context:
    """Everything besides the grid point that decides a row (hashable: it keys the worker's memo).

    ``split_seed`` is the split the datasets are loaded with; a task on another
    split loads under :meth:`for_split` of it.
    """

    sizes: tuple[int, ...]
    groups: tuple[str, ...]
    protocol: str
    encoder: str
    split_seed: int
    n_boot: int
    reference: str | None
    need_texts: bool
    need_vectors: bool
    #: Cost unit of the cost columns (dollars, input-dollars, compute, calls), or None for none.
    cost: str | None = None
    #: A price file that sets or overrides the dataset's model prices.
    prices: str | None = None

    def for_split(self, split_seed: int) -> Context:
        """The same settings on the split (and pools) drawn with ``split_seed``."""
        return self if split_seed == self.split_seed else replace(self, split_seed=split_seed)

    def settings(self) -> dict[str, Any]:
        """What a row depends on beyond its grid key (kept in the results store and in every row)."""
        settings = {"protocol": self.protocol, "encoder": self.encoder, "split_seed": self.split_seed,
                    "n_boot": self.n_boot, "reference": self.reference, "cost": self.cost, "prices": self.prices}
        if self.encoder == "auto" or self.encoder.startswith("minilm"):
            from routereval.encoders.minilm import MINILM_VECTORS_REVISION

            # A store resumed after MiniLM's vectors changed would mix rows of both: refused instead.
            settings["minilm_vectors"] = MINILM_VECTORS_REVISION
        return settings


@dataclass(frozen=True)
class Task:
    """One (dataset, m, group, router, seed, split seed) grid point."""

    source: str
    location: str
    m: int
    group: str
    router: RouterSpec
    seed: int
    split_seed: int = DEFAULT_SPLIT_SEED

    @property
    def key(self) -> GridKey:
        return GridKey(self.source, self.m, self.group, self.router.label, self.seed, self.split_seed)

    def __str__(self) -> str:
        return f"{self.source} m={self.m} {self.group} {self.router.label} seed={self.seed} split={self.split_seed}"


@dataclass
class Loaded:
    """A dataset ready for routers: its pools by (m, group), features and V_R reference."""

    pools: dict[tuple[int, str], Any]
    features: Features
    reference: Reference
    skipped: dict[int, str]
    source: str = ""
    fingerprint: str = ""
    #: Seconds spent per stage of loading: records, pools, features.
    timings: dict[str, float] = field(default_factory=dict)
    #: N x M record costs in the context's unit (None without one) and where they come from.
    costs: Any = None
    cost_note: str = ""
    cost_unit: str | None = None
    bench: Any = None


_MEMO: dict[tuple[str, Context], Loaded] = {}
#: Datasets kept per worker; tasks arrive grouped by dataset, so a small memo is enough.
_MEMO_SIZE = 2


def forget_loaded() -> None:
    """Drop the memo of loaded datasets (a new run must see the data as it is on disk now)."""
    _MEMO.clear()


def load(location: str, context: Context, *, progress: bool = False) -> Loaded:
    """Pools, features and reference of one dataset under ``context`` (memoised per process)."""
    key = (location, context)
    if key in _MEMO:
        return _MEMO[key]
    from routereval.datasets.router_dataset import router_datasets
    from routereval.evaluation.evaluate import reference_for
    from routereval.evaluation.features import features_for
    from routereval.sources.catalog import load_dataset

    clock = time.perf_counter()
    bench = load_dataset(location, progress=progress)
    costs, cost_note = None, ""
    if context.prices:
        from routereval.sources.prices import apply_price_file

        bench = apply_price_file(bench, context.prices)
    cost_unit = None
    if context.cost:
        from routereval.records.costs import resolve_unit, study_costs

        try:
            cost_unit = resolve_unit(bench, context.cost)
            costs, cost_note = study_costs(bench, cost_unit)
        except ValueError as exc:
            from routereval.errors import ConfigError

            raise ConfigError(str(exc)) from exc
    timings = {"records": time.perf_counter() - clock}
    clock = time.perf_counter()
    data = router_datasets(bench, list(context.sizes), list(context.groups), context.protocol,
                           split_seed=context.split_seed)
    timings["split and pools"] = time.perf_counter() - clock
    clock = time.perf_counter()
    # A dataset too small for every size asked for has no pools: nothing to embed.
    feats = Features(None, None) if not data.pools else features_for(
        data, context.encoder, need_texts=context.need_texts, need_vectors=context.need_vectors, progress=progress)
    timings["prompt features"] = time.perf_counter() - clock
    loaded = Loaded(
        pools={(p.m, p.group): p for p in data.pools},
        features=feats,
        reference=reference_for(data, context.reference),
        skipped=dict(data.skipped),
        source=data.source,
        fingerprint=fingerprint(bench, feats.encoder),
        timings=timings,
        costs=costs,
        cost_note=cost_note,
        cost_unit=cost_unit,
        bench=bench,
    )
    while len(_MEMO) >= _MEMO_SIZE:
        _MEMO.pop(next(iter(_MEMO)))
    _MEMO[key] = loaded
    return loaded


def fingerprint(bench: Any, encoder: str = "") -> str:
    """sha256 of what a row is computed from: prompt ids, tasks, texts, model names, every score, the encoder.

    Rows carry it, so a dataset re-imported under the same name with other
    records (or embedded by another encoder path than before) is noticed
    instead of resumed on. The bytes are the ``"results"`` layout of
    :func:`routereval.records.fingerprint.content_sha256`.
    """
    from routereval.records.fingerprint import content_sha256

    return content_sha256(bench, "results", encoder=encoder)


def parent_death_signal(parent: int) -> None:
    """Ask Linux to kill this worker when its parent (pid ``parent``) dies, even by SIGKILL.

    Elsewhere a no-op. The parent may die before the request takes effect
    (while this worker still starts up): then the worker is an orphan already
    and exits at once.
    """
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        except OSError:
            pass
    if os.getppid() != parent:
        os._exit(1)


def start_worker(parent: int) -> None:
    """Set up a local worker process: leave Ctrl-C and SIGTERM to the parent, die with it, then
    :func:`prepare_worker`."""
    from routereval.interrupts import worker_ignores_signals

    worker_ignores_signals()
    parent_death_signal(parent)
    prepare_worker()


def prepare_worker() -> None:
    """Any worker (local or Ray): numeric code on one thread, and no progress displays, since the
    parent shows the grid's and a worker's bar would draw over it."""
    single_threaded()
    os.environ["ROUTEREVAL_PROGRESS"] = "off"


def single_threaded() -> None:
    """Make this process run numeric code on one thread (called once per worker)."""
    for var in THREAD_VARIABLES:
        os.environ[var] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def run_task(task: Task, context: Context) -> dict[str, Any]:
    """Fit and measure one router on one pool; returns the row to store."""
    from routereval.evaluation.evaluate import evaluate_pool, seeded
    from routereval.evaluation.specs import contender

    context = context.for_split(task.split_seed)
    loaded = load(task.location, context)
    pool = loaded.pools[(task.m, task.group)]
    entry = contender(task.router)
    if entry.router is not None:
        seeded(entry.router, task.seed, task.router.params)
    costs = None
    if loaded.costs is not None:
        from routereval.records.costs import PoolCosts

        costs = PoolCosts.for_pool(loaded.costs, loaded.bench.model_names, pool)
    row = evaluate_pool(entry, pool, loaded.features, loaded.reference, n_boot=context.n_boot, seed=task.seed,
                        costs=costs)
    return {**row, "source": task.source, "seed": task.seed, "split_seed": task.split_seed,
            "encoder": loaded.features.encoder,
            "dataset_sha256": loaded.fingerprint,
            "settings": json.dumps(context.settings(), sort_keys=True)}
