"""Correctness estimates g and task descriptors u for query prompts against a pool of tasks, fitted as few
times as leave-one-task-out allows."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from routereval.routers.base import Prompts, unfitted_copy
from routereval.selection import scores as sc
from routereval.selection.data import TaskData
from routereval.selection.neighbours import TaskNeighbours
from routereval.selection.predictors import CorrectnessPredictor, KNNPredictor


class Engine:
    """Correctness estimates and descriptors for (query prompts, pool of tasks).

    The kNN predictor is answered from per-task neighbour lists. Any other
    predictor is fitted on the pool's prompts. A pool that leaves out two tasks
    is met twice in leave-one-task-out (holding out d' and scoring d_j, and the
    other way round), so one fit predicts both tasks and the second answer is
    kept until asked for: D(D-1)/2 + D fits instead of D^2.
    """

    def __init__(self, data: TaskData, predictor: CorrectnessPredictor, n_descriptor: int = 19) -> None:
        if data.vectors is None:
            raise ValueError("attach prompt vectors to the task data first")
        self.data = data
        self.predictor = predictor
        self.fast = type(predictor) is KNNPredictor
        self.lists = TaskNeighbours(
            data.vectors,
            data.task_of,
            data.correct if self.fast else None,
            k=int(predictor.k) if self.fast else 1,
            n_descriptor=n_descriptor,
        )
        self._kept: dict[tuple[tuple[int, ...], int], np.ndarray] = {}
        self.n_fits = 0

    def estimate(self, queries: np.ndarray, pool_tasks: Iterable[int], extra: np.ndarray | None = None) -> sc.Estimates:
        """As :meth:`predict`, with the kNN's integer counts kept for exact scores."""
        if self.fast:
            return self.lists.predict_counts(queries, tuple(sorted(int(t) for t in pool_tasks)), extra)
        return sc.Estimates(self.predict(queries, pool_tasks, extra))

    def predict(self, queries: np.ndarray, pool_tasks: Iterable[int], extra: np.ndarray | None = None) -> np.ndarray:
        """g (queries x models) learned from the prompts of ``pool_tasks`` plus the ``extra`` prompts."""
        pool = tuple(sorted(int(t) for t in pool_tasks))
        if self.fast:
            return self.lists.predict(queries, pool, extra)
        data = self.data
        whole = len(queries) > 0 and len(np.unique(data.task_of[queries])) == 1 and np.array_equal(
            queries, data.task_rows(int(data.task_of[queries[0]]))
        )
        if extra is None and whole and (pool, int(data.task_of[queries[0]])) in self._kept:
            return self._kept.pop((pool, int(data.task_of[queries[0]])))
        rows = np.flatnonzero(np.isin(data.task_of, pool))
        if extra is not None:
            rows = np.concatenate([rows, np.asarray(extra, dtype=np.int64)])
        model = unfitted_copy(self.predictor).fit(Prompts(embeddings=data.vectors[rows]), data.correct[rows])
        self.n_fits += 1
        if extra is None and whole:
            asked = int(data.task_of[queries[0]])
            for t in sorted(set(range(data.n_tasks)) - set(pool) - {asked}):
                self._kept[(pool, t)] = model.predict_quality(Prompts(embeddings=data.vectors[data.task_rows(t)]))
        return model.predict_quality(Prompts(embeddings=data.vectors[queries]))

    def descriptor(self, queries: np.ndarray, pool_tasks: Iterable[int], extra: np.ndarray | None = None) -> float:
        """u: mean distance of the queries to their nearest prompts of the pool (and ``extra``)."""
        return self.lists.descriptor(queries, list(pool_tasks), extra)

    def prompt_distances(
        self, queries: np.ndarray, pool_tasks: Iterable[int], extra: np.ndarray | None = None
    ) -> np.ndarray:
        """Per query, its mean distance to its nearest prompts of the pool (u is their mean)."""
        return self.lists.prompt_distances(queries, list(pool_tasks), extra)
