"""Synthetic task-level data for the model-selection tests: clustered prompt vectors, per-task skills, gaps."""

from __future__ import annotations

import numpy as np
import pandas as pd

from routereval.records import Benchmark
from routereval.selection.data import TaskData, task_data


def synthetic(seed: int = 0, n_tasks: int = 5, per_task: int = 40, n_models: int = 6):
    """(unit vectors, task of each prompt, n x models correctness with missing records of every kind)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_tasks, 8))
    task_of = np.repeat(np.arange(n_tasks), per_task)
    x = centres[task_of] + 0.8 * rng.normal(size=(len(task_of), 8))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    skill = rng.uniform(0.2, 0.9, size=(n_tasks, n_models))
    y = (rng.uniform(size=(len(task_of), n_models)) < skill[task_of]).astype(np.float32)
    y[task_of == 1, 0] = np.nan  # a model missing a whole task
    y[rng.uniform(size=len(task_of)) < 0.3, 1] = np.nan  # scattered gaps
    y[(task_of == 2) & (rng.uniform(size=len(task_of)) < 0.9), 2] = np.nan  # few records left in one task
    y[:, 3] = y[:, 1]  # same gaps as model 1: one group
    return x.astype(np.float32), task_of, y


def task_data_of(x: np.ndarray, task_of: np.ndarray, y: np.ndarray) -> TaskData:
    """Task data with vectors ``x``: prompts p0.., tasks t0.., texts q0.., models m0.. (columns of ``y``)."""
    prompts = pd.DataFrame({"prompt_id": [f"p{i}" for i in range(len(x))], "task": [f"t{t}" for t in task_of],
                            "text": [f"q{i}" for i in range(len(x))]})
    data = task_data(Benchmark.from_values("syn", y, prompts, [f"m{j}" for j in range(y.shape[1])]))
    data.vectors = x
    return data
