"""Readers for RouterEval's own files: router datasets and raw leaderboard scores.

Two layouts (docs/data.md), both pickles, both read through
:func:`~routereval.sources.safe_pickle.safe_load`:

* ``router_dataset/<bench>_router_dataset.pkl``: prompts already split into
  train/val/test, with RoBERTa embeddings and the published candidate pools
  (easy m = 3, 5; hard m = 10, 100, 1000; three groups each), every pool
  carrying its own score matrices. :func:`read_router_dataset` gives a
  :class:`RouterEvalDataset`; :func:`router_dataset_to_benchmark` turns it into
  a :class:`~routereval.records.Benchmark` over the union of the pools' models.
* ``leaderboard_score/leaderboard_{old,new,mmlu_pro}.pkl``: per-subtask
  correctness of every LLM (items x LLMs). :func:`read_leaderboard` groups the
  subtasks into RouterEval's benchmarks and builds each stored matrix directly,
  in row blocks, so the 3,811 x 9,574 file never needs per-record Python objects.

The two readers live in :mod:`.router_dataset` and :mod:`.leaderboard`; their
public names are gathered here.

Structural problems raise :class:`~routereval.errors.DataError` naming the file
and the key path inside it (``hard -> 100 -> all_weak -> data -> test_score``).
"""

from routereval.sources.routereval_native.leaderboard import (
    LEADERBOARD_SCENARIOS,
    is_leaderboard,
    read_leaderboard,
    subtasks_of,
)
from routereval.sources.routereval_native.router_dataset import (
    EMBEDDING_NAME,
    GROUPS,
    SETTINGS,
    SPLITS,
    Pool,
    RouterEvalDataset,
    benchmark_from_filename,
    read_router_dataset,
    router_dataset_to_benchmark,
)

__all__ = [
    "EMBEDDING_NAME",
    "GROUPS",
    "LEADERBOARD_SCENARIOS",
    "Pool",
    "RouterEvalDataset",
    "SETTINGS",
    "SPLITS",
    "benchmark_from_filename",
    "is_leaderboard",
    "read_leaderboard",
    "read_router_dataset",
    "router_dataset_to_benchmark",
    "subtasks_of",
]
