"""Train / validation / test splits, RouterEval's way.

Per task, in the order tasks first appear, the task's prompt positions are
shuffled with NumPy's legacy random generator and cut 80/10/10: train is the
first floor(0.8 n), validation runs up to floor(0.9 n), test is the rest.
One :class:`numpy.random.RandomState` seeded once (42) serves all tasks in
turn, then goes on to the pool draws; it draws the same numbers as
``np.random.seed(42)`` followed by ``np.random.permutation`` calls, without
touching NumPy's global state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SPLIT_SEED = 42
TRAIN_END = 0.8
VAL_END = 0.9


@dataclass(frozen=True)
class Split:
    """Prompt positions (into the benchmark) of the three parts."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def sizes(self) -> tuple[int, int, int]:
        return len(self.train), len(self.val), len(self.test)


def task_blocks(tasks: list[str] | np.ndarray) -> list[np.ndarray]:
    """Positions of each task's prompts, tasks in order of first appearance."""
    tasks = np.asarray(tasks, dtype=object)
    order = list(dict.fromkeys(tasks.tolist()))
    return [np.flatnonzero(tasks == t) for t in order]


def split_by_task(
    tasks: list[str] | np.ndarray,
    rng: np.random.RandomState,
    train_end: float = TRAIN_END,
    val_end: float = VAL_END,
) -> Split:
    """Shuffle and cut each task 80/10/10, consuming ``rng`` task by task."""
    parts: tuple[list, list, list] = ([], [], [])
    for positions in task_blocks(tasks):
        n = len(positions)
        shuffled = positions[rng.permutation(n)]
        # Cut points as the fractions of n written out (0.8 n, 0.9 n), not sums of
        # fractions, so floating point rounds exactly as the published splits did.
        a = int(np.floor(train_end * n))
        b = int(np.floor(val_end * n))
        for part, piece in zip(parts, (shuffled[:a], shuffled[a:b], shuffled[b:])):
            part.append(piece)
    train, val, test = (np.concatenate(p).astype(np.int64) if p else np.zeros(0, np.int64) for p in parts)
    return Split(train, val, test)


def source_split(split_column: np.ndarray) -> Split:
    """The split a source ships with (values 'train' / 'val' / 'test')."""
    col = np.asarray(split_column, dtype=object)
    return Split(*(np.flatnonzero(col == name) for name in ("train", "val", "test")))
