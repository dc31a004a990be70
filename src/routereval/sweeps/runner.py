"""Run a sweep into a results store: plan the grid, skip what is done, store rows as they finish.

The parent process prepares each dataset once (loads it, builds its pools,
embeds its prompts into the on-disk cache) so that workers only read caches;
then it hands the unfinished grid points to an executor and writes each row
the moment it arrives. The parent is the only writer, and each row is one
atomic file, so a kill at any moment loses only the rows in flight.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routereval.errors import ConfigError
from routereval.results.store import ResultsStore, grid_key
from routereval.sweeps.executors import Failure
from routereval.sweeps.sweep import Sweep
from routereval.sweeps.tasks import Task, forget_loaded, load

SCALING = "scaling"


@dataclass
class Plan:
    """The grid of a sweep after its datasets are known: tasks to run and what was skipped."""

    tasks: list[Task]
    done: list[Task]
    skipped: dict[str, dict[int, str]]

    @property
    def total(self) -> int:
        return len(self.tasks) + len(self.done)


@dataclass
class Outcome:
    """What one run of a sweep did."""

    stored: int = 0
    already_done: int = 0
    failed: list[tuple[Task, Failure]] = field(default_factory=list)
    seconds: float = 0.0
    #: Of which: running the grid points (after the datasets were prepared).
    grid_seconds: float = 0.0


def plan(sweep: Sweep, store: ResultsStore, *, progress: bool = True, recompute_stale: bool = False) -> Plan:
    """Prepare every dataset (filling the caches workers read) and list the grid points.

    Tasks are ordered dataset by dataset, so each worker builds a dataset's
    pools once and reuses them for the tasks that follow. Rows made from other
    data under the same dataset name (a re-import) are refused, or recomputed
    with ``recompute_stale``.
    """
    context = sweep.context()
    # A dataset may have changed on disk since this process last loaded it: load afresh.
    forget_loaded()
    made_from = {grid_key(r): r.get("dataset_sha256") for r in store.read_rows(arrays=False)}
    todo, done, skipped = [], [], {}
    for source in sweep.datasets:
        location = sweep.location(source)
        grid = []
        # Split by split: tasks of one split follow each other, so a worker builds its pools once.
        for split_seed in sweep.splits:
            loaded = load(location, context.for_split(split_seed), progress=progress)
            skipped.setdefault(source, loaded.skipped)
            stale = {k for k, sha in made_from.items() if k.source == source and sha != loaded.fingerprint}
            if stale and not recompute_stale:
                raise ConfigError(
                    f"{len(stale)} stored rows of {source!r} were computed from other records than {location} holds "
                    "now, or with another encoder path (re-imported? a new default encoder?); rerun with "
                    "--recompute-stale to recompute them, or write to another --out"
                )
            finished = {k for k in made_from if k not in stale}
            # Learned routers first, the oracle family (instant) last: the slow grid points start
            # early and the quick ones fill the workers' idle time at the end.
            routers = sorted(sweep.routers, key=lambda r: r.inputs == "none")
            for router in routers:
                for (m, group) in sorted(loaded.pools, key=lambda k: (k[0], sweep.groups.index(k[1]))):
                    for seed in sweep.seeds:
                        grid.append(Task(source, location, m, group, router, seed, split_seed))
        for task in grid:
            (done if task.key in finished else todo).append(task)
    return Plan(todo, done, skipped)


def run_sweep(
    sweep: Sweep,
    store: ResultsStore,
    executor: Any,
    *,
    progress: bool = True,
    on_row: Callable[[Task, dict[str, Any] | Failure], None] | None = None,
    on_plan: Callable[[int, int], None] | None = None,
    recompute_stale: bool = False,
) -> Outcome:
    """Run the unfinished grid points of ``sweep`` on ``executor``, storing each row as it arrives.

    First makes every check ``routereval sweep --check`` makes (:func:`~routereval.sweeps.checks.check_sweep`),
    so a file that passes the check is the only kind that runs.
    """
    from routereval.sweeps.checks import check_sweep

    started = time.perf_counter()
    outcome = Outcome()
    try:
        check_sweep(sweep, getattr(store, "folder", None))
        _run(sweep, store, executor, outcome, progress=progress, on_row=on_row, on_plan=on_plan,
             recompute_stale=recompute_stale)
    finally:
        if hasattr(executor, "close"):
            executor.close()
    outcome.seconds = time.perf_counter() - started
    return outcome


def _run(sweep: Sweep, store: ResultsStore, executor: Any, outcome: Outcome, *, progress: bool,
         on_row: Callable | None, on_plan: Callable | None, recompute_stale: bool) -> None:
    with store.writing(sweep.settings()):
        if hasattr(executor, "start"):
            executor.start()  # workers import their libraries while the datasets are prepared
        if sweep.text:
            store.write_text("sweep.toml", sweep.text)
        grid = plan(sweep, store, progress=progress, recompute_stale=recompute_stale)
        store.write_notes({s: {str(m): why for m, why in notes.items()} for s, notes in grid.skipped.items()})
        outcome.already_done = len(grid.done)
        if sweep.scaling and store.folder is not None:
            write_scaling(sweep, store, progress=progress)
        if on_plan is not None:  # just before the grid runs, so a caller's progress shows only the grid
            on_plan(len(grid.tasks), len(grid.done))
        grid_started = time.perf_counter()
        for task, result in executor.run(grid.tasks, sweep.context()):
            if isinstance(result, Failure):
                outcome.failed.append((task, result))
            else:
                # Tables list datasets and routers in the order the sweep file gives them.
                result["order"] = [sweep.datasets.index(task.source), sweep.routers.index(task.router)]
                store.write_row(result)
                outcome.stored += 1
            if on_row is not None:
                on_row(task, result)
        outcome.grid_seconds = time.perf_counter() - grid_started


def write_scaling(sweep: Sweep, store: ResultsStore, *, progress: bool = True) -> list[Path]:
    """The model-level scaling study of each dataset, beside the rows (kept where already written)."""
    from routereval.evaluation.scaling import file_stem, scaling_study, write_study
    from routereval.sources.catalog import load_dataset

    written = []
    for source in sweep.datasets:
        stem = store.folder / SCALING / file_stem(source.replace(".", "_"))  # toy.csv -> toy_csv
        if stem.with_name(f"{stem.name}.json").is_file():
            continue
        bench = load_dataset(sweep.location(source), progress=progress)
        kwargs = {} if sweep.scaling_draws is None else {"n_draws": sweep.scaling_draws}
        doc = scaling_study(bench, reference=sweep.reference, progress=progress, **kwargs)
        written += write_study(doc, stem)
    return written
