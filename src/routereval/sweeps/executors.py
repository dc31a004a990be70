"""Where grid points run: this process, local worker processes, or a Ray cluster.

Every executor takes the same tasks and yields ``(task, row or failure)`` as
each finishes, in completion order; the caller stores rows as they arrive.
Grid points run single-threaded everywhere
(:func:`routereval.sweeps.tasks.single_threaded` in workers, a scoped limit in
this process), so the same grid gives the same rows whichever executor and
however many workers run it.
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from routereval.errors import ConfigError
from routereval.machine import available_cpus
from routereval.sweeps.tasks import (
    THREAD_VARIABLES,
    Context,
    Task,
    load,
    prepare_worker,
    run_task,
    start_worker,
)

Outcome = tuple[Task, "dict[str, Any] | Failure"]


@dataclass(frozen=True)
class Failure:
    """A grid point that raised: reported at the end, not stored, retried by the next run."""

    error: str
    traceback: str


def _guarded(task: Task, context: Context) -> dict[str, Any] | Failure:
    # A failing grid point is not fatal: the others still finish and are stored. The error
    # travels as text, since not every exception survives pickling between processes.
    try:
        return run_task(task, context)
    except Exception as exc:  # noqa: BLE001
        return Failure(f"{type(exc).__name__}: {exc}", traceback.format_exc())


def _warm_up() -> None:
    # The imports every grid point needs (about 2 s), done once per worker up front.
    import routereval.evaluation.evaluate  # noqa: F401
    from routereval.routers.base import all_routers

    all_routers()


def worker_count(workers: int | None) -> int:
    """``--workers``: one per CPU when not given; 0 or fewer refused (it once meant every CPU, silently)."""
    count = available_cpus() if workers is None else workers
    if count < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    return count


class InProcessExecutor:
    """Grid points one after another in this process: ``routereval bench``'s executor.

    Numeric libraries are limited to one thread while a grid point runs (and
    restored afterwards), as in worker processes, so rows are identical to a
    sweep's.
    """

    name = "in-process"

    def run(self, tasks: Sequence[Task], context: Context) -> Iterator[Outcome]:
        """Run ``tasks`` here; yields each as it finishes."""
        from threadpoolctl import threadpool_limits

        for task in tasks:
            with threadpool_limits(limits=1), _torch_threads(1):
                result = _guarded(task, context)
            yield task, result


def _torch_threads(n: int) -> Any:
    import contextlib
    import sys

    if "torch" not in sys.modules:
        return contextlib.nullcontext()
    from routereval.routers._torch import torch_threads

    return torch_threads(n)


class AutoExecutor:
    """Worker processes where the grid repays starting them, else this process: ``routereval bench``'s executor.

    A worker costs about 2 s to start (imports, then the dataset and vectors
    read from the caches), repaid when pools train on thousands of prompts:
    MMLU-Pro's easy grid (48 grid points, 12,032 prompts) took 29-30 s in this
    process and 18-21 s on 2 workers. Without ``workers``, small grids and
    datasets stay here; ``workers`` given explicitly is obeyed (1: this
    process). Rows are the same either way (grid points run single-threaded
    everywhere).
    """

    name = "auto"
    #: Prompts a dataset needs before its grid points go to worker processes.
    MIN_PROMPTS = 2000

    def __init__(self, workers: int | None = None) -> None:
        self.chosen = workers is not None
        self.workers = worker_count(workers)

    def run(self, tasks: Sequence[Task], context: Context) -> Iterator[Outcome]:
        """Run ``tasks`` in worker processes or here, as the class docstring says; yields each as it finishes."""
        # The runner has just loaded these datasets, so load() answers from its memo.
        prompts = max((load(location, context).bench.n_prompts for location in {t.location for t in tasks}), default=0)
        worth_it = len(tasks) >= 2 * self.workers and prompts >= self.MIN_PROMPTS
        if self.workers > 1 and (self.chosen or worth_it):
            yield from LocalExecutor(self.workers).run(tasks, context)
        else:
            yield from InProcessExecutor().run(tasks, context)


class LocalExecutor:
    """A pool of ``workers`` single-threaded processes on this machine."""

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = worker_count(workers)
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Start the workers and their imports now, while the caller prepares the datasets."""
        if self._pool is None:
            from routereval.interrupts import children_ignore

            # spawn, not fork: forked children of a process that already loaded torch or
            # OpenBLAS threads can deadlock. The workers start with Ctrl-C ignored: a terminal
            # sends it to the whole process group, and stopping them is the parent's job (a
            # worker interrupted while it starts or waits would print a traceback).
            with children_ignore():
                self._pool = ProcessPoolExecutor(max_workers=self.workers,
                                                 mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=start_worker, initargs=(os.getpid(),))
                for _ in range(self.workers):  # the pool starts one worker per submission
                    self._pool.submit(_warm_up)

    def close(self) -> None:
        """Stop workers started by :meth:`start` that no :meth:`run` took over."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                pool.shutdown(wait=True, cancel_futures=True)
            except BaseException:  # Ctrl-C while waiting for their start-up: stop them now
                _stop(pool)
                raise

    def run(self, tasks: Sequence[Task], context: Context) -> Iterator[Outcome]:
        """Run ``tasks``; yields each as it finishes."""
        self.start()
        pool, self._pool = self._pool, None
        pending = {}
        try:
            pending = {pool.submit(_guarded, t, context): t for t in tasks}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield pending.pop(future), future.result()
        except BaseException:
            # Interrupted (Ctrl-C, or the caller stopped): stop the workers now rather than
            # letting them finish grid points nobody will store.
            _stop(pool)
            raise
        pool.shutdown(wait=True)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop a pool's workers at once. They ignore SIGINT and SIGTERM (see LocalExecutor.start) and
    hold nothing to clean up (only the parent writes rows), so they are killed."""
    workers = list((pool._processes or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in workers:
        proc.kill()
    for proc in workers:
        proc.join(timeout=5)


class RayExecutor:
    """Grid points as Ray tasks, one CPU each, on a running cluster or a local Ray instance.

    ``address`` is passed to ``ray.init`` ("auto" joins the cluster this machine
    belongs to); without one a local instance with ``workers`` CPUs is started
    and stopped again. Cluster nodes need routereval installed and the same
    datasets and embedding cache: ``ROUTEREVAL_HOME`` and ``ROUTEREVAL_MIRROR``
    are passed on to the workers, so a shared folder works.
    """

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        try:
            import ray  # noqa: F401
        except ImportError as exc:
            raise ConfigError('--executor ray needs Ray: pip install "routereval[ray]"') from exc
        self.address = address
        self.workers = workers

    def run(self, tasks: Sequence[Task], context: Context) -> Iterator[Outcome]:
        """Run ``tasks`` on Ray; yields each as it finishes."""
        import ray

        env = {v: "1" for v in THREAD_VARIABLES}
        env.update({k: os.environ[k] for k in ("ROUTEREVAL_HOME", "ROUTEREVAL_MIRROR") if k in os.environ})
        started_here = not ray.is_initialized()
        if started_here:
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if self.address:
                # Remote nodes learn the settings through the job's runtime environment.
                options["address"] = self.address
                options["runtime_env"] = {"env_vars": env}
            else:
                # A local instance inherits this process's environment (set just for the start),
                # which skips the runtime-env agent that would set up each worker (seconds here).
                # "local": a new instance of our own, even where another Ray runs on this machine.
                options["address"] = "local"
                options["num_cpus"] = self.workers or available_cpus()
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)
            try:
                ray.init(**options)
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
        remote = ray.remote(num_cpus=1, max_retries=0)(_ray_task)
        pending = {}
        try:
            context_ref = ray.put(context)
            pending = {remote.remote(t, context_ref): t for t in tasks}
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    task = pending.pop(ref)
                    try:
                        yield task, ray.get(ref)
                    except Exception as exc:  # noqa: BLE001 - a worker that died is one failed grid point
                        yield task, Failure(f"{type(exc).__name__}: {exc}", "")
        finally:
            for ref in list(pending):
                ray.cancel(ref, force=True)
            if started_here:
                ray.shutdown()


def _ray_task(task: Task, context: Context) -> dict[str, Any] | Failure:
    prepare_worker()
    return _guarded(task, context)


def make_executor(name: str, *, workers: int | None = None, address: str | None = None):
    """``local`` or ``ray`` by name (``in-process`` for one-process runs)."""
    if name == InProcessExecutor.name:
        return InProcessExecutor()
    if name == "local":
        if address:
            raise ConfigError("--address applies to --executor ray only")
        return LocalExecutor(workers)
    if name == "ray":
        return RayExecutor(address, workers)
    raise ConfigError(f"unknown executor {name!r}; use local or ray")
