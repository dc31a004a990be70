"""Choosing a model for a new task from benchmark records (Shnitzer et al.; docs/selection.md).

Given performance records on many tasks and only the unlabelled prompts of a
new task, learn one correctness predictor per model and pick the model with
the best score S1, S2 or S3, falling back to the best model on average.

Modules, one job each:

* :mod:`~routereval.selection.data`: a benchmark's tasks as deduplicated prompts with 0/1 correctness;
* :mod:`~routereval.selection.vectors`: prompt vectors (MiniLM cached; TF-IDF fitted on all task texts);
* :mod:`~routereval.selection.predictors`: correctness predictors g_m (kNN, MLP, any scikit-learn classifier),
  routers under the contract of :mod:`routereval.routers.base`;
* :mod:`~routereval.selection.neighbours`: exact kNN among any set of tasks from one set of per-task lists;
* :mod:`~routereval.selection.scores`: S1, S2, S3, the task descriptor, Nadaraya-Watson, BMA and the fallback;
* :mod:`~routereval.selection.settings`: the protocol's settings (the published numbers as defaults);
* :mod:`~routereval.selection.engine`: estimates g and descriptors u for prompts against a pool of tasks;
* :mod:`~routereval.selection.references`: reference pairs (u, held-out accuracy) and the prompts revealed at alpha;
* :mod:`~routereval.selection.choice`: S1, S2, S3 with the fallback, and per-prompt routing;
* :mod:`~routereval.selection.protocol`: leave one task out, and the alpha variant;
* :mod:`~routereval.selection.newtask`: a user's own prompts -> the chosen model;
* :mod:`~routereval.selection.summary`: result rows (rendered by :mod:`routereval.reports.selection`);
* :mod:`~routereval.selection.candidates`: ``--candidates`` (names or a size filter);
* :mod:`~routereval.selection.analyses`: choice quality by distance, a subset against a reference
  model, score correlation against the task descriptor (drawn by :mod:`routereval.reports.selection_figures`).

Scores are compared exactly (fractions of integer counts) and ties are settled
by one documented rule: see :mod:`routereval.selection.scores`. The method,
every option and the analyses are described in ``docs/selection.md``.

>>> from routereval.selection import task_data, attach_vectors, leave_one_task_out, summary_rows, task_rows
>>> data = task_data(bench); attach_vectors(data, bench, "minilm")            # doctest: +SKIP
>>> rows = task_rows(leave_one_task_out(data), data.models, data.name)         # doctest: +SKIP
"""

from routereval.selection.data import TaskData, task_data
from routereval.selection.newtask import NewTaskChoice, choose_for_prompts, read_prompts
from routereval.selection.predictors import (
    CorrectnessPredictor,
    KNNPredictor,
    MLPPredictor,
    SklearnPredictor,
    make_predictor,
)
from routereval.selection.protocol import (
    METHODS,
    FoldResult,
    Settings,
    leave_one_task_out,
)
from routereval.selection.summary import summary_rows, task_rows
from routereval.selection.vectors import attach_vectors

__all__ = [
    "METHODS",
    "CorrectnessPredictor",
    "FoldResult",
    "KNNPredictor",
    "MLPPredictor",
    "NewTaskChoice",
    "Settings",
    "SklearnPredictor",
    "TaskData",
    "attach_vectors",
    "choose_for_prompts",
    "leave_one_task_out",
    "make_predictor",
    "read_prompts",
    "summary_rows",
    "task_data",
    "task_rows",
]
