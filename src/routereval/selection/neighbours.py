"""Exact cosine nearest neighbours of any prompt among the prompts of any set of tasks.

Leave-one-task-out asks the same question D + D(D-1) times: the k nearest
neighbours of the prompts of one task among the prompts of all tasks but one
or two. Searching afresh each time would cost D^2 full similarity passes. But
the k nearest neighbours among a union of tasks are always among the union of
each task's own k nearest, so one pass suffices: for every prompt and every
other task, keep that task's K most similar prompts (a "per-task list"); the
neighbours among any set of tasks are then the best k of the lists of those
tasks, a merge of at most D * K candidates.

Missing records: a model's predictor may only use prompts where that model has
a record. Where a model has every record of a task, the shared list of that
task serves it; where it lacks some, a k-wide list over the prompts it has is
made (one per distinct pattern of records in the task, so models that miss the
same prompts share it): by filtering the shared list where at least k entries
survive, which is exact, and by a fresh search for the other queries. Models
with the same pattern in every task form a group and are predicted together.

Memory: the shared lists hold n x D x max(k, 19) entries (8 bytes each), about
37 MB for MMLU-Pro's 11,646 prompts in 14 tasks.

Search and ties: :mod:`routereval.neighbours` (similarity first, then the
lower prompt position). The lists hold similarities recomputed in float32
after the search (:func:`~routereval.neighbours.padded_neighbours`), so two
neighbours closer than float32 rounding may be ordered differently from a
fresh search; that never changes which prompts enter a per-task list.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from routereval.neighbours import best_of, padded_neighbours
from routereval.selection.scores import Estimates, descriptor, prompt_distances

@dataclass
class _Group:
    models: np.ndarray  # model columns predicted together
    lists: dict[int, int]  # task -> key into TaskNeighbours.restricted (absent: the shared list)
    empty: set[int] = field(default_factory=set)  # tasks where the group has no record


class TaskNeighbours:
    """Per-task neighbour lists of every prompt, answering kNN queries over unions of tasks.

    Args:
        vectors: n x d unit-norm prompt vectors.
        task_of: n task indices in ``0..n_tasks-1``.
        correct: n x M correctness (NaN = no record); ``None`` for descriptors only.
        k: neighbours per prediction.
        n_descriptor: neighbours per task-descriptor distance.
    """

    def __init__(
        self,
        vectors: np.ndarray,
        task_of: np.ndarray,
        correct: np.ndarray | None = None,
        *,
        k: int = 5,
        n_descriptor: int = 19,
    ) -> None:
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.task_of = np.asarray(task_of)
        self.n_tasks = int(self.task_of.max()) + 1 if len(self.task_of) else 0
        self.k = int(k)
        self.n_descriptor = int(n_descriptor)
        self.width = max(self.k, self.n_descriptor)
        self.members = [np.flatnonzero(self.task_of == t) for t in range(self.n_tasks)]
        self.sims, self.idx = self._lists(self.width)
        self.correct = correct
        self.restricted: list[tuple[np.ndarray, np.ndarray]] = []
        self.groups: list[_Group] = []
        if correct is not None:
            self._build_groups(np.asarray(correct))

    def _lists(self, width: int) -> tuple[np.ndarray, np.ndarray]:
        """n x D x width lists: each prompt's nearest ``width`` prompts of every other task."""
        n = len(self.vectors)
        sims = np.full((n, self.n_tasks, width), -np.inf, dtype=np.float32)
        # int32 positions: a third less memory than int64 for the largest array here.
        idx = np.full((n, self.n_tasks, width), -1, dtype=np.int32)
        for t, members in enumerate(self.members):
            # A task's own prompts never query its list (the pool always excludes
            # the query's task), so only the other prompts are searched.
            queries = np.flatnonzero(self.task_of != t)
            i, s = padded_neighbours(self.vectors[queries], self.vectors[members], width, members)
            sims[queries, t] = s
            idx[queries, t] = i
        return sims, idx

    def _build_groups(self, correct: np.ndarray) -> None:
        have = ~np.isnan(correct)
        keys: dict[tuple[int, bytes], int] = {}
        by_pattern: dict[tuple, list[int]] = {}
        plans: dict[tuple, tuple[dict[int, int], set[int]]] = {}
        for m in range(correct.shape[1]):
            lists, empty, signature = {}, set(), []
            for t, members in enumerate(self.members):
                mask = have[members, m]
                if mask.all():
                    signature.append(-1)
                    continue
                if not mask.any():
                    empty.add(t)
                    signature.append(-2)
                    continue
                key = (t, np.packbits(mask).tobytes())
                if key not in keys:
                    keys[key] = len(self.restricted)
                    self.restricted.append(self._restricted_list(t, members[mask]))
                lists[t] = keys[key]
                signature.append(keys[key])
            sig = tuple(signature)
            by_pattern.setdefault(sig, []).append(m)
            plans[sig] = (lists, empty)
        for sig, models in by_pattern.items():
            lists, empty = plans[sig]
            self.groups.append(_Group(np.array(models, dtype=np.int64), lists, empty))

    def _restricted_list(self, task: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """n x k lists of task ``task`` restricted to ``rows`` (the prompts some models have records on).

        Filtering the shared list is exact wherever at least k of its entries
        survive (the k best of a subset are then all among the shared list's);
        only the other queries are searched again.
        """
        allowed = np.zeros(len(self.vectors), dtype=bool)
        allowed[rows] = True
        s, i = self.sims[:, task], self.idx[:, task]
        keep = (i >= 0) & allowed[np.where(i >= 0, i, 0)]
        # Survivors move to the front in their (already sorted) order.
        order = np.argsort(~keep, axis=1, kind="stable")[:, : self.k]
        ks = np.take_along_axis(np.where(keep, s, -np.inf), order, axis=1)
        ki = np.take_along_axis(np.where(keep, i, -1), order, axis=1)
        queries = self.task_of != task
        redo = np.flatnonzero(queries & (keep.sum(axis=1) < min(self.k, len(rows))))
        if redo.size:
            ki[redo], ks[redo] = padded_neighbours(self.vectors[redo], self.vectors[rows], self.k, rows)
        return ks, ki

    # -- queries ------------------------------------------------------------

    def _pool(self, pool_tasks) -> np.ndarray:
        pool = np.zeros(self.n_tasks, dtype=bool)
        pool[np.asarray(list(pool_tasks), dtype=np.int64)] = True
        return pool

    def neighbour_sims(
        self, queries: np.ndarray, pool_tasks, n: int | None = None, extra: np.ndarray | None = None
    ) -> np.ndarray:
        """Similarities (best first) of each query's ``n`` nearest prompts among the pool tasks
        (and the ``extra`` prompts, if given).

        The query's own task must not be in the pool. Padded with -inf where the
        pool holds fewer than ``n`` prompts.
        """
        n = self.n_descriptor if n is None else int(n)
        if n > self.width:
            raise ValueError(f"the lists hold {self.width} neighbours per task, {n} were asked for")
        pool = self._pool(pool_tasks)
        if np.isin(self.task_of[queries], np.flatnonzero(pool)).any():
            raise ValueError("a query's own task cannot be part of its pool")
        sims = self.sims[queries][:, pool, :n].reshape(len(queries), -1)
        if extra is not None and len(extra):
            sims = np.concatenate([sims, self.vectors[queries] @ self.vectors[np.asarray(extra)].T], axis=1)
        sims = -np.sort(-sims, axis=1)[:, :n]
        if sims.shape[1] < n:
            sims = np.pad(sims, ((0, 0), (0, n - sims.shape[1])), constant_values=-np.inf)
        return sims

    def descriptor(self, queries: np.ndarray, pool_tasks, extra: np.ndarray | None = None) -> float:
        """Mean over the queries of the mean cosine distance to their ``n_descriptor`` nearest pool prompts."""
        return descriptor(self.neighbour_sims(queries, pool_tasks, extra=extra))

    def predict(self, queries: np.ndarray, pool_tasks, extra: np.ndarray | None = None) -> np.ndarray:
        """kNN correctness estimates g (queries x M): mean correctness of the k nearest pool prompts
        where the model has a record. ``extra``: further labelled prompts (any task) added to the pool.
        NaN for a model with no record in the pool."""
        return self.predict_counts(queries, pool_tasks, extra).g

    def predict_counts(self, queries: np.ndarray, pool_tasks, extra: np.ndarray | None = None) -> Estimates:
        """As :meth:`predict`, keeping the integers: hits (correct neighbours) and found neighbours
        per query and model, so that scores built on them can be exact."""
        if self.correct is None:
            raise ValueError("these lists were built without correctness records")
        queries = np.asarray(queries, dtype=np.int64)
        pool = self._pool(pool_tasks)
        if np.isin(self.task_of[queries], np.flatnonzero(pool)).any():
            raise ValueError("a query's own task cannot be part of its pool")
        extra = np.array([], dtype=np.int64) if extra is None else np.asarray(extra, dtype=np.int64)
        n_models = self.correct.shape[1]
        hits = np.zeros((len(queries), n_models), dtype=np.int64)
        found_all = np.zeros((len(queries), n_models), dtype=np.int64)
        shared_s = self.sims[queries][:, :, : self.k]
        shared_i = self.idx[queries][:, :, : self.k]
        for group in self.groups:
            s, i = shared_s.copy(), shared_i.copy()
            for t, key in group.lists.items():
                s[:, t], i[:, t] = self.restricted[key][0][queries], self.restricted[key][1][queries]
            for t in group.empty:
                s[:, t], i[:, t] = -np.inf, -1
            s[:, ~pool], i[:, ~pool] = -np.inf, -1
            s, i = s.reshape(len(queries), -1), i.reshape(len(queries), -1)
            first = group.models[0]
            usable = extra[~np.isnan(self.correct[extra, first])]
            if usable.size:
                es = self.vectors[queries] @ self.vectors[usable].T
                s = np.concatenate([s, es], axis=1)
                i = np.concatenate([i, np.broadcast_to(usable, es.shape)], axis=1)
            i, s = best_of(i, s, self.k)
            found = i >= 0
            labels = self.correct[np.where(found, i, 0)][:, :, group.models]  # q x k x group
            labels = np.where(found[:, :, None], labels, 0.0)
            hits[:, group.models] = labels.sum(axis=1).astype(np.int64)
            found_all[:, group.models] = found.sum(axis=1)[:, None]
        return Estimates.from_counts(hits, found_all)

    def prompt_distances(self, queries: np.ndarray, pool_tasks, extra: np.ndarray | None = None) -> np.ndarray:
        """Per query, the mean cosine distance to its ``n_descriptor`` nearest pool prompts
        (the task descriptor is their mean)."""
        return prompt_distances(self.neighbour_sims(queries, pool_tasks, extra=extra))
