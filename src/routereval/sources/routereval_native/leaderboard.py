"""RouterEval's raw leaderboard scores (``leaderboard_{old,new,mmlu_pro}.pkl``).

Per-subtask correctness of every LLM (items x LLMs). :func:`read_leaderboard`
groups the subtasks into RouterEval's benchmarks and builds each stored matrix
directly, in row blocks, so the 3,811 x 9,574 file never needs per-record
Python objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from routereval.errors import DataError
from routereval.records.benchmark import BINARY, CONTINUOUS, MISSING_U8, Benchmark
from routereval.sources.routereval_native.keys import child, model_names, where
from routereval.sources.safe_pickle import safe_load

_MMLU_SUBJECTS = (
    "abstract_algebra", "anatomy", "astronomy", "business_ethics", "clinical_knowledge",
    "college_biology", "college_chemistry", "college_computer_science", "college_mathematics",
    "college_medicine", "college_physics", "computer_security", "conceptual_physics",
    "econometrics", "electrical_engineering", "elementary_mathematics", "formal_logic",
    "global_facts", "high_school_biology", "high_school_chemistry",
    "high_school_computer_science", "high_school_european_history", "high_school_geography",
    "high_school_government_and_politics", "high_school_macroeconomics",
    "high_school_mathematics", "high_school_microeconomics", "high_school_physics",
    "high_school_psychology", "high_school_statistics", "high_school_us_history",
    "high_school_world_history", "human_aging", "human_sexuality", "international_law",
    "jurisprudence", "logical_fallacies", "machine_learning", "management", "marketing",
    "medical_genetics", "miscellaneous", "moral_disputes", "moral_scenarios", "nutrition",
    "philosophy", "prehistory", "professional_accounting", "professional_law",
    "professional_medicine", "professional_psychology", "public_relations",
    "security_studies", "sociology", "us_foreign_policy", "virology", "world_religions",
)
_BBH_TASKS = (
    "boolean_expressions", "causal_judgement", "date_understanding", "disambiguation_qa",
    "formal_fallacies", "geometric_shapes", "hyperbaton", "logical_deduction_five_objects",
    "logical_deduction_seven_objects", "logical_deduction_three_objects",
    "movie_recommendation", "navigate", "object_counting", "penguins_in_a_table",
    "reasoning_about_colored_objects", "ruin_names", "salient_translation_error_detection",
    "snarks", "sports_understanding", "temporal_sequences",
    "tracking_shuffled_objects_five_objects", "tracking_shuffled_objects_seven_objects",
    "tracking_shuffled_objects_three_objects", "web_of_lies",
)
_MATH_TOPICS = (
    "algebra", "counting_and_prob", "geometry", "intermediate_algebra", "num_theory",
    "prealgebra", "precalculus",
)

LEADERBOARD_SCENARIOS: dict[str, dict[str, tuple[str, ...]]] = {
    "old": {
        "harness_truthfulqa_mc_0": ("harness_truthfulqa_mc_0",),
        "gsm8k": ("harness_gsm8k_5",),
        "winogrande": ("harness_winogrande_5",),
        "arc": ("harness_arc_challenge_25",),
        "hellaswag": ("harness_hellaswag_10",),
        "mmlu": tuple(f"harness_hendrycksTest_{s}_5" for s in _MMLU_SUBJECTS),
    },
    "new": {
        "bbh": tuple(f"bbh_{t}" for t in _BBH_TASKS),
        "gpqa": ("gpqa_diamond", "gpqa_extended", "gpqa_main"),
        "ifeval": ("ifeval",),
        "math": tuple(f"math_{t}_hard" for t in _MATH_TOPICS),
        "musr": ("musr_murder_mysteries", "musr_object_placements", "musr_team_allocation"),
    },
    "mmlu_pro": {"mmlu_pro": ("mmlu_pro",)},
}

# Rows decoded at a time while encoding a leaderboard matrix: bounds the
# float64 temporaries to ~64 MB whatever the number of LLMs.
_BLOCK_BYTES = 64 * 2**20


def _scenario_of() -> dict[str, str]:
    return {
        sub: bench
        for scenarios in LEADERBOARD_SCENARIOS.values()
        for bench, subs in scenarios.items()
        for sub in subs
    }


def _group_subtasks(subtasks: Iterable[str]) -> dict[str, list[str]]:
    """Benchmarks in RouterEval's order, each with its present subtasks in list order;
    unknown subtasks follow as benchmarks of their own, in file order."""
    present = list(subtasks)
    have = set(present)
    groups: dict[str, list[str]] = {}
    for scenarios in LEADERBOARD_SCENARIOS.values():
        for bench, subs in scenarios.items():
            found = [s for s in subs if s in have]
            if found:
                groups[bench] = found
    known = _scenario_of()
    for sub in present:
        if sub not in known:
            groups[sub] = [sub]
    return groups


def _row_blocks(n: int, m: int) -> Iterable[slice]:
    step = max(1, _BLOCK_BYTES // max(1, 8 * m))
    return (slice(a, min(a + step, n)) for a in range(0, n, step))


def _correctness(data: Mapping[str, Any], sub: str, n_models: int, file: str) -> np.ndarray:
    arr = np.asarray(child(child(data, sub, ("data",), file), "correctness", ("data", sub), file))
    parts = ("data", sub, "correctness")
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{where(*parts)} is not numeric ({exc})", file=file) from exc
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise DataError(f"{where(*parts)} has dtype {arr.dtype}, expected numbers", file=file)
    if arr.ndim != 2 or arr.shape[1] != n_models:
        raise DataError(
            f"{where(*parts)} has shape {arr.shape}, expected (items, {n_models}): one column "
            "per LLM of the model list",
            file=file,
        )
    return arr


def _is_binary(arr: np.ndarray, parts: Sequence[Any], file: str) -> bool:
    """Check the range block by block; True when every present value is 0 or 1."""
    binary = True
    for rows in _row_blocks(*arr.shape):
        block = arr[rows].astype(np.float64)
        present = ~np.isnan(block)
        bad = present & ~((block >= 0) & (block <= 1))
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise DataError(
                f"{where(*parts)} holds {float(block[r, c])!r} at item {rows.start + r + 1}, LLM "
                f"{c + 1} (1-based); correctness must lie in [0, 1] (NaN for missing)",
                file=file,
            )
        binary = binary and bool(np.all((block == 0) | (block == 1) | ~present))
    return binary


def _encode_into(stored: np.ndarray, start: int, arr: np.ndarray, kind: str) -> None:
    for rows in _row_blocks(*arr.shape):
        block = arr[rows].astype(np.float32)
        target = slice(start + rows.start, start + rows.stop)
        if kind == BINARY:
            missing = np.isnan(block)
            block[missing] = MISSING_U8
            stored[target] = block.astype(np.uint8)
        else:
            stored[target] = block.astype(np.float16)


def is_leaderboard(path: str | Path) -> bool:
    """True for raw leaderboard files (``leaderboard_*.pkl``), False for router datasets.

    Decided by RouterEval's file names, so a file is unpickled once, by the
    reader that fits it.
    """
    return Path(path).name.startswith("leaderboard")


def read_leaderboard(path: str | Path) -> dict[str, Benchmark]:
    """Read ``leaderboard_{old,new,mmlu_pro}.pkl`` into one benchmark per RouterEval benchmark.

    Keys are RouterEval's benchmark names (``arc``, ``mmlu``, ``bbh``, ...,
    ``harness_truthfulqa_mc_0``); subtasks not in its lists become benchmarks
    named after themselves. Prompts run through the subtasks in RouterEval's
    order, then items in file order; ``task`` is the subtask and ``prompt_id``
    is ``<subtask>-<item>`` with the 0-based item position. NaN = missing.
    """
    file = str(path)
    raw = safe_load(path)
    if not isinstance(raw, Mapping):
        raise DataError(
            f"holds a {type(raw).__name__}, expected a dict (leaderboard layout)", file=file
        )
    key = "model" if "model" in raw else "models"
    models = model_names(child(raw, key, (), file), (key,), file)
    data = child(raw, "data", (), file)
    if not isinstance(data, Mapping) or not data:
        raise DataError("data must be a non-empty dict of subtasks", file=file)
    subtasks = list(data)
    for sub in subtasks:
        if not isinstance(sub, str):
            raise DataError(f"data: subtask key {sub!r} is not a name", file=file)
    out: dict[str, Benchmark] = {}
    for bench, subs in _group_subtasks(subtasks).items():
        arrays = [_correctness(data, s, len(models), file) for s in subs]
        binary = all(
            _is_binary(a, ("data", s, "correctness"), file) for a, s in zip(arrays, subs)
        )
        kind = BINARY if binary else CONTINUOUS
        n = sum(a.shape[0] for a in arrays)
        if kind == BINARY:
            stored = np.full((n, len(models)), MISSING_U8, dtype=np.uint8, order="F")
        else:
            stored = np.empty((n, len(models)), dtype=np.float16, order="F")
        start = 0
        for a in arrays:
            _encode_into(stored, start, a, kind)
            start += a.shape[0]
        prompts = pd.DataFrame(
            {
                "prompt_id": [f"{s}-{i}" for s, a in zip(subs, arrays) for i in range(a.shape[0])],
                "task": np.repeat(np.array(subs, dtype=object), [a.shape[0] for a in arrays]),
            }
        )
        out[bench] = Benchmark(
            name=bench,
            scores=stored,
            kind=kind,
            prompts=prompts,
            models=pd.DataFrame({"name": models}),
            provenance={"file": Path(file).name, "subtasks": list(subs)},
        )
    return out


def subtasks_of(benchmark: str) -> tuple[str, ...]:
    """RouterEval's leaderboard subtasks for one of its benchmarks (KeyError if unknown)."""
    for scenarios in LEADERBOARD_SCENARIOS.values():
        if benchmark in scenarios:
            return scenarios[benchmark]
    raise KeyError(f"{benchmark!r} is not a RouterEval benchmark")
