"""What model choice learns from: the tasks of a benchmark as deduplicated prompts with 0/1 correctness.

Two decisions are made here, once, for every consumer:

* **Duplicates.** A prompt whose exact text (surrounding white space ignored)
  already appeared earlier *in the same task* is dropped, from the predictors'
  pool and from the held-out task alike: a repeated question would otherwise
  be its own nearest neighbour and count twice in a task's accuracy. The same
  text in two different tasks is kept in both. Prompts without text are never
  treated as duplicates (nothing says they are the same prompt).
* **Binary correctness.** The method predicts whether a model answers a prompt
  correctly, so every record becomes y in {0, 1}. Binary benchmarks are used as
  they are. Continuous scores in [0, 1] (LLMRouter's CommonGen, F1-type
  metrics) become y = 1 where score >= ``threshold`` (default 0.5): a per-answer
  rule, so a model's correctness does not depend on which other models are in
  the pool (RouterEval's "0.95 x the best in the pool" label would). Missing
  records stay missing (NaN); each consumer says what it does with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from routereval.records import Benchmark
from routereval.records.benchmark import BINARY

DEFAULT_THRESHOLD = 0.5


@dataclass
class TaskData:
    """Prompts grouped into tasks, with binary correctness per model.

    Attributes:
        name: the benchmark's name.
        tasks: task names, in order of first appearance in the benchmark.
        task_of: per kept prompt, its task as an index into ``tasks``.
        rows: per kept prompt, its row in the benchmark.
        texts: per kept prompt, its text (``None`` where the benchmark has none).
        models: model names (columns of ``correct``).
        correct: kept prompts x models, 1.0 / 0.0, NaN where the model has no record.
        n_duplicates: prompts dropped as repeats inside their task.
        threshold: the cut applied to continuous scores (``None`` for binary data).
        vectors: unit-norm prompt embeddings (kept prompts x d), once attached.
    """

    name: str
    tasks: list[str]
    task_of: np.ndarray
    rows: np.ndarray
    texts: list[str | None]
    models: list[str]
    correct: np.ndarray
    n_duplicates: int
    threshold: float | None
    vectors: np.ndarray | None = None

    @property
    def n_tasks(self) -> int:
        return len(self.tasks)

    @property
    def n_models(self) -> int:
        return len(self.models)

    def task_rows(self, task: int) -> np.ndarray:
        """Positions (into the kept prompts) of the prompts of task ``task``."""
        return np.flatnonzero(self.task_of == task)

    def task_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Tasks x models: (correct answers, records) of each model in each task, as integers."""
        hits = np.zeros((self.n_tasks, self.n_models), dtype=np.int64)
        counts = np.zeros((self.n_tasks, self.n_models), dtype=np.int64)
        for t in range(self.n_tasks):
            block = self.correct[self.task_of == t]
            counts[t] = (~np.isnan(block)).sum(axis=0)
            hits[t] = (block == 1).sum(axis=0)
        return hits, counts

    def task_accuracy(self) -> np.ndarray:
        """Tasks x models: mean correctness over the model's records in the task (NaN: no record)."""
        hits, counts = self.task_counts()
        out = np.full((self.n_tasks, self.n_models), np.nan)
        np.divide(hits, counts, out=out, where=counts > 0)
        return out


def binarise(values: np.ndarray, kind: str, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Scores (NaN = missing) -> 1.0 / 0.0 / NaN; continuous scores are cut at ``threshold``."""
    values = np.asarray(values, dtype=np.float32)
    if kind == BINARY:
        return values.copy()
    out = (values >= threshold).astype(np.float32)
    out[np.isnan(values)] = np.nan
    return out


def duplicate_mask(tasks: np.ndarray, texts: list[str | None]) -> np.ndarray:
    """True for each prompt whose stripped text already appeared earlier in the same task."""
    seen: set[tuple[str, str]] = set()
    dup = np.zeros(len(texts), dtype=bool)
    for i, (task, text) in enumerate(zip(tasks, texts)):
        if not isinstance(text, str) or not text.strip():
            continue
        key = (task, text.strip())
        dup[i] = key in seen
        seen.add(key)
    return dup


def task_data(bench: Benchmark, threshold: float = DEFAULT_THRESHOLD) -> TaskData:
    """The deduplicated, binarised tasks of ``bench`` (no embeddings yet)."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must lie in [0, 1], got {threshold}")
    task_names = bench.tasks
    code = {t: i for i, t in enumerate(task_names)}
    tasks = bench.prompts["task"].to_numpy()
    texts = [t if isinstance(t, str) else None for t in bench.prompts["text"].tolist()]
    dup = duplicate_mask(tasks, texts)
    rows = np.flatnonzero(~dup)
    correct = binarise(bench.values(prompts=rows), bench.kind, threshold)
    return TaskData(
        name=bench.name,
        tasks=task_names,
        task_of=np.array([code[t] for t in tasks[rows]], dtype=np.int64),
        rows=rows,
        texts=[texts[i] for i in rows],
        models=bench.model_names,
        correct=correct,
        n_duplicates=int(dup.sum()),
        threshold=None if bench.kind == BINARY else float(threshold),
    )
