"""Reference pairs: (descriptor u, held-out accuracy of the predictor) per training task, from which S3 estimates
p at a new task's descriptor; and which labelled prompts of a task are revealed at alpha > 0."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from routereval.errors import ConfigError
from routereval.selection import scores as sc
from routereval.selection.data import TaskData
from routereval.selection.engine import Engine
from routereval.selection.settings import MAX_REVEALED, Settings


@dataclass
class References:
    """(descriptor, held-out predictor accuracy) pairs of a set of training tasks."""

    tasks: np.ndarray  # task indices
    u: np.ndarray  # descriptor per task
    accuracy: np.ndarray  # tasks x models: accuracy of gbar_m on the task (NaN: no record)

    def p(self, u: float, bandwidth: float) -> np.ndarray:
        """Estimated predictor accuracy per model at descriptor ``u``."""
        return sc.nadaraya_watson(self.u, self.accuracy, u, bandwidth)

    def without(self, task: int) -> References:
        """The pairs of every task but ``task``."""
        keep = self.tasks != task
        return References(self.tasks[keep], self.u[keep], self.accuracy[keep])

    @staticmethod
    def pooled(parts: Sequence[References]) -> References:
        """All pairs of several sets in one (a task may appear once per set)."""
        return References(
            np.concatenate([r.tasks for r in parts]),
            np.concatenate([r.u for r in parts]),
            np.vstack([r.accuracy for r in parts]),
        )


def n_revealed(alpha: float, n: int, max_revealed: int = MAX_REVEALED) -> int:
    """min(floor(alpha n), max_revealed), leaving at least one prompt unlabelled."""
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"alpha must lie in [0, 1], got {alpha}")
    # The small epsilon keeps floor(0.29 * 100) at 29 despite binary rounding.
    return max(0, min(math.floor(alpha * n + 1e-9), int(max_revealed), n - 1))


def task_rng(seed: int, *parts: int) -> np.random.Generator:
    """A generator seeded by ``seed`` and the integers that name a task (and a fold within it)."""
    return np.random.default_rng([int(seed), *[int(p) for p in parts]])


def reveal(data: TaskData, task: int, alpha: float, settings: Settings) -> tuple[np.ndarray, np.ndarray]:
    """(revealed, unlabelled) prompts of ``task`` at ``alpha``: the first r of a permutation seeded by (seed, task)."""
    rows = data.task_rows(task)
    order = task_rng(settings.seed, task).permutation(len(rows))
    r = n_revealed(alpha, len(rows), settings.max_revealed)
    return rows[np.sort(order[:r])], rows[np.sort(order[r:])]


def reference_pairs(
    engine: Engine, train_tasks: Sequence[int], alpha: float = 0.0, settings: Settings = Settings()
) -> References:
    """Leave each training task out of the others in turn: its descriptor and the held-out accuracy of gbar.

    At ``alpha`` > 0 each left-out training task reveals its own labelled prompts
    to the pool, as the new task does, so the references describe the same regime.
    """
    data = engine.data
    if len(train_tasks) < 2:
        raise ConfigError("reference pairs need at least 2 training tasks")
    u, acc = [], []
    for j in train_tasks:
        pool = [t for t in train_tasks if t != j]
        revealed, queries = reveal(data, j, alpha, settings)
        extra = revealed if len(revealed) else None
        g = engine.predict(queries, pool, extra)
        acc.append(sc.predictor_accuracy(g, data.correct[queries]))
        u.append(engine.descriptor(queries, pool, extra))
    return References(np.asarray(train_tasks), np.asarray(u), np.vstack(acc))


class ReferenceBook:
    """The reference pairs for each (held-out task, alpha) under ``settings.references`` and
    ``settings.pool_alphas``; the published scheme's single pass is made once per alpha."""

    def __init__(self, engine: Engine, alphas: Sequence[float], settings: Settings) -> None:
        self.engine, self.alphas, self.settings = engine, list(alphas), settings
        self._all: dict[float, References] = {}

    def _one(self, task: int, alpha: float) -> References:
        n_tasks = self.engine.data.n_tasks
        if self.settings.references == "published":
            if alpha not in self._all:
                self._all[alpha] = reference_pairs(self.engine, list(range(n_tasks)), alpha, self.settings)
            return self._all[alpha].without(task)
        return reference_pairs(self.engine, [j for j in range(n_tasks) if j != task], alpha, self.settings)

    def for_task(self, task: int) -> dict[float, References]:
        """alpha -> the pairs that estimate p for ``task`` at that alpha."""
        own = {a: self._one(task, a) for a in self.alphas}
        if self.settings.pool_alphas and len(own) > 1:
            pooled = References.pooled(list(own.values()))
            return {a: pooled for a in own}
        return own
