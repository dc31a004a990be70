"""Readers for RouterEval's own files: router datasets and raw leaderboard scores.

Two layouts (SPEC section 2), both pickles, both read through
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

Structural problems raise :class:`~routereval.errors.DataError` naming the file
and the key path inside it (``hard -> 100 -> all_weak -> data -> test_score``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from routereval.errors import DataError
from routereval.records.benchmark import BINARY, CONTINUOUS, MISSING_U8, Benchmark
from routereval.sources.safe_pickle import safe_load

SPLITS = ("train", "val", "test")
SETTINGS = ("easy", "hard")
GROUPS = ("all_strong", "all_weak", "strong_to_weak")
EMBEDDING_NAME = "routereval-roberta"
_ROUTER_SUFFIX = "_router_dataset"

# RouterEval's benchmarks and the leaderboard subtasks that make each of them,
# in the order RouterEval concatenates them (which fixes the prompt order).
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


@dataclass(frozen=True, eq=False)
class Pool:
    """One published candidate pool and its scores on each split.

    Score matrices are ``float32``, n_split x m, columns in the order of
    ``models``, NaN for a missing record. ``train_label`` is the 0/1 training
    target RouterEval derived for continuous benchmarks, when the file has one.
    """

    setting: str
    m: int
    group: str
    models: list[str]
    train_score: np.ndarray
    val_score: np.ndarray
    test_score: np.ndarray
    train_label: np.ndarray | None = None

    @property
    def key(self) -> tuple[str, int, str]:
        """``(setting, m, group)``, e.g. ``("hard", 100, "all_weak")``."""
        return (self.setting, self.m, self.group)

    def score(self, split: str) -> np.ndarray:
        """The score matrix of ``split`` (``train``, ``val`` or ``test``)."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        return getattr(self, f"{split}_score")


@dataclass(frozen=True, eq=False)
class RouterEvalDataset:
    """A RouterEval router dataset: split prompts, their embeddings and the pools.

    ``split_index``, ``prompts`` and ``embeddings`` are keyed by split
    (``train``, ``val``, ``test``). ``split_index[s]`` holds the positions of
    the split's prompts in the benchmark's full prompt list (int64);
    ``embeddings[s]`` is n_s x d ``float32``. ``pools`` are in file order:
    easy before hard, sizes ascending, groups all_strong, all_weak, strong_to_weak.
    ``source`` is the file it was read from, for error messages.
    """

    benchmark: str
    split_index: dict[str, np.ndarray]
    prompts: dict[str, list[str]]
    embeddings: dict[str, np.ndarray]
    pools: list[Pool]
    source: str | None = None

    def pool(self, setting: str, m: int, group: str) -> Pool:
        """The pool for ``(setting, m, group)``; KeyError if the file has none."""
        for p in self.pools:
            if p.key == (setting, m, group):
                return p
        have = ", ".join(f"{s}/{k}/{g}" for s, k, g in (p.key for p in self.pools))
        raise KeyError(f"{self.benchmark} has no pool {setting}/{m}/{group}; it has: {have}")

    @property
    def sizes(self) -> dict[str, int]:
        """Number of prompts per split."""
        return {s: len(self.split_index[s]) for s in SPLITS}


# -- router datasets ----------------------------------------------------------


def _where(*parts: Any) -> str:
    return " -> ".join(str(p) for p in parts)


def _child(mapping: Any, key: str, parts: Sequence[Any], file: str) -> Any:
    if not isinstance(mapping, Mapping):
        raise DataError(
            f"{_where(*parts)} is a {type(mapping).__name__}, expected a dict", file=file
        )
    if key not in mapping:
        keys = ", ".join(repr(k) for k in list(mapping)[:8])
        raise DataError(
            f"{_where(*parts, key)} is missing (keys present: {keys or 'none'})", file=file
        )
    return mapping[key]


def _size_key(key: Any, parts: Sequence[Any], file: str) -> int:
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return int(key)
    if isinstance(key, str) and key.isdigit():
        return int(key)
    raise DataError(f"{_where(*parts, key)}: pool size must be a whole number", file=file)


def _names(value: Any, parts: Sequence[Any], file: str) -> list[str]:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise DataError(f"{_where(*parts)} must be a list of model names", file=file)
    seen: set[str] = set()
    for name in value:
        if name in seen:
            raise DataError(f"{_where(*parts)} lists model {name!r} twice", file=file)
        seen.add(name)
    return list(value)


def _matrix(value: Any, parts: Sequence[Any], file: str, rows: int, cols: int) -> np.ndarray:
    """A float32 n x m score matrix with values in [0, 1] or NaN."""
    try:
        arr = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{_where(*parts)} is not a numeric matrix ({exc})", file=file) from exc
    if arr.ndim != 2:
        raise DataError(
            f"{_where(*parts)} has {arr.ndim} dimension(s), expected a prompts x models matrix",
            file=file,
        )
    if arr.shape[0] != rows:
        raise DataError(
            f"{_where(*parts)} has {arr.shape[0]} rows but the split has {rows} prompts", file=file
        )
    if arr.shape[1] != cols:
        raise DataError(
            f"{_where(*parts)} has {arr.shape[1]} columns but the pool lists {cols} models",
            file=file,
        )
    bad = ~(np.isnan(arr) | ((arr >= 0) & (arr <= 1)))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataError(
            f"{_where(*parts)} holds {float(arr[r, c])!r} at row {r + 1}, column {c + 1} "
            "(1-based); scores must lie in [0, 1] (NaN for missing)",
            file=file,
        )
    return arr


def _split_index(raw: Any, file: str) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for split in SPLITS:
        parts = ("split_index", f"{split}_indices")
        arr = np.asarray(_child(raw, f"{split}_indices", parts[:1], file))
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.number)):
            raise DataError(f"{_where(*parts)} must be a 1-D array of prompt positions", file=file)
        if arr.size and (np.any(arr != np.round(arr)) or arr.min() < 0):
            raise DataError(
                f"{_where(*parts)} must hold non-negative whole numbers", file=file
            )
        out[split] = arr.astype(np.int64)
    everything = np.concatenate([out[s] for s in SPLITS])
    uniq, counts = np.unique(everything, return_counts=True)
    if np.any(counts > 1):
        raise DataError(
            f"split_index: prompt position {int(uniq[counts > 1][0])} appears more than once "
            "across train/val/test",
            file=file,
        )
    return out


def _prompts(raw: Any, sizes: Mapping[str, int], file: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for split in SPLITS:
        parts = ("prompt", f"{split}_prompt")
        value = _child(raw, f"{split}_prompt", parts[:1], file)
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if not isinstance(value, (list, tuple)):
            raise DataError(f"{_where(*parts)} must be a list of prompt texts", file=file)
        if len(value) != sizes[split]:
            raise DataError(
                f"{_where(*parts)} has {len(value)} prompts but split_index -> {split}_indices "
                f"has {sizes[split]}",
                file=file,
            )
        for i, text in enumerate(value):
            if not isinstance(text, str):
                raise DataError(
                    f"{_where(*parts)} item {i + 1} (1-based) is a {type(text).__name__}, "
                    "expected text",
                    file=file,
                )
        out[split] = list(value)
    return out


def _embeddings(raw: Any, sizes: Mapping[str, int], file: str) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for split in SPLITS:
        parts = ("embedding", f"{split}_embed")
        value = _child(raw, f"{split}_embed", parts[:1], file)
        try:
            arr = np.asarray(value, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{_where(*parts)} is not a numeric matrix ({exc})", file=file) from exc
        if arr.ndim != 2 or arr.shape[0] != sizes[split]:
            raise DataError(
                f"{_where(*parts)} has shape {arr.shape}, expected ({sizes[split]}, d): one "
                "vector per prompt of the split",
                file=file,
            )
        out[split] = arr
    dims = {out[s].shape[1] for s in SPLITS}
    if len(dims) > 1:
        raise DataError(
            "embedding: the splits have vectors of different lengths "
            f"({', '.join(f'{s} {out[s].shape[1]}' for s in SPLITS)})",
            file=file,
        )
    return out


def _pool(raw: Any, setting: str, m: int, group: str, sizes: Mapping[str, int], file: str) -> Pool:
    base = (setting, m, group)
    models = _names(_child(raw, "model", base, file), (*base, "model"), file)
    if len(models) != m:
        raise DataError(
            f"{_where(*base, 'model')} lists {len(models)} models, expected {m}", file=file
        )
    data = _child(raw, "data", base, file)
    scores = {
        split: _matrix(
            _child(data, f"{split}_score", (*base, "data"), file),
            (*base, "data", f"{split}_score"), file, sizes[split], m,
        )
        for split in SPLITS
    }
    label = None
    if isinstance(data, Mapping) and data.get("train_label") is not None:
        parts = (*base, "data", "train_label")
        label = _matrix(data["train_label"], parts, file, sizes["train"], m)
    return Pool(
        setting=setting, m=m, group=group, models=models,
        train_score=scores["train"], val_score=scores["val"], test_score=scores["test"],
        train_label=label,
    )


def _pools(raw: Mapping[str, Any], sizes: Mapping[str, int], file: str) -> list[Pool]:
    pools: list[Pool] = []
    for setting in SETTINGS:
        by_size = raw.get(setting)
        if by_size is None:
            continue
        if not isinstance(by_size, Mapping):
            raise DataError(
                f"{setting} is a {type(by_size).__name__}, expected a dict of pool sizes", file=file
            )
        sized: dict[int, Any] = {}
        for key, groups in by_size.items():
            m = _size_key(key, (setting,), file)
            if m in sized:
                raise DataError(f"{setting}: pool size {m} appears twice", file=file)
            sized[m] = groups
        for m, groups in sorted(sized.items()):
            if not isinstance(groups, Mapping):
                raise DataError(
                    f"{_where(setting, m)} is a {type(groups).__name__}, expected a dict of groups",
                    file=file,
                )
            unknown = [g for g in groups if g not in GROUPS]
            if unknown:
                raise DataError(
                    f"{_where(setting, m, unknown[0])}: unknown group; expected {', '.join(GROUPS)}",
                    file=file,
                )
            for group in GROUPS:
                if group in groups:
                    pools.append(_pool(groups[group], setting, m, group, sizes, file))
    if not pools:
        raise DataError("holds no candidate pools (no easy -> m or hard -> m entries)", file=file)
    return pools


def benchmark_from_filename(path: str | Path) -> str:
    """``<bench>_router_dataset.pkl`` -> ``<bench>`` (else the file's stem)."""
    stem = Path(path).name.split(".", 1)[0]
    return stem[: -len(_ROUTER_SUFFIX)] if stem.endswith(_ROUTER_SUFFIX) else stem


def read_router_dataset(path: str | Path, benchmark: str | None = None) -> RouterEvalDataset:
    """Read ``<bench>_router_dataset.pkl`` into a validated :class:`RouterEvalDataset`.

    ``benchmark`` defaults to the ``<bench>`` part of the file name. Pools
    missing from the file (a benchmark too small for hard m = 1000, say) are
    simply absent from ``pools``.
    """
    file = str(path)
    raw = safe_load(path)
    if not isinstance(raw, Mapping):
        raise DataError(
            f"holds a {type(raw).__name__}, expected a dict (router dataset layout)", file=file
        )
    split_index = _split_index(_child(raw, "split_index", (), file), file)
    sizes = {s: len(split_index[s]) for s in SPLITS}
    return RouterEvalDataset(
        benchmark=benchmark or benchmark_from_filename(path),
        split_index=split_index,
        prompts=_prompts(_child(raw, "prompt", (), file), sizes, file),
        embeddings=_embeddings(_child(raw, "embedding", (), file), sizes, file),
        pools=_pools(raw, sizes, file),
        source=file,
    )


def _first_conflict(
    ds: RouterEvalDataset, pool: Pool, model: str, split: str, row: int, value: float
) -> str:
    """Name the earlier pool that gave ``model`` another score on this prompt."""
    for other in ds.pools:
        if other is pool:
            break
        if model in other.models:
            theirs = other.score(split)[row, other.models.index(model)]
            if not np.isnan(theirs) and theirs != value:
                return f"{_where(*other.key)} ({theirs:g})"
    return "an earlier pool"


def router_dataset_to_benchmark(ds: RouterEvalDataset, name: str | None = None) -> Benchmark:
    """One benchmark over the union of all pools' models.

    Prompts are train, then val, then test, each in ``split_index`` order, with
    ``prompt_id`` the prompt's original position (as text) and a ``split``
    column. A model in several pools must have the same score on a prompt in
    each; otherwise the file contradicts itself and a DataError says where.
    The pools themselves are kept in ``provenance["routereval_pools"]``.
    """
    models = list(dict.fromkeys(m for p in ds.pools for m in p.models))
    col = {m: i for i, m in enumerate(models)}
    sizes = ds.sizes
    offsets = dict(zip(SPLITS, np.cumsum([0] + [sizes[s] for s in SPLITS[:-1]])))
    n = sum(sizes.values())
    values = np.full((n, len(models)), np.nan, dtype=np.float32)
    for pool in ds.pools:
        cols = np.array([col[m] for m in pool.models], dtype=np.int64)
        for split in SPLITS:
            rows = slice(int(offsets[split]), int(offsets[split]) + sizes[split])
            new = pool.score(split)
            old = values[rows][:, cols]
            clash = ~np.isnan(old) & ~np.isnan(new) & (old != new)
            if clash.any():
                r, c = np.argwhere(clash)[0]
                model = pool.models[c]
                earlier = _first_conflict(ds, pool, model, split, r, float(new[r, c]))
                raise DataError(
                    f"model {model!r} scores {new[r, c]:g} on prompt {ds.split_index[split][r]} "
                    f"({split}) in {_where(*pool.key)} but {earlier}: the pools disagree",
                    file=ds.source,
                )
            values[rows, cols] = np.where(np.isnan(new), old, new)
    prompts = pd.DataFrame(
        {
            "prompt_id": np.concatenate([ds.split_index[s] for s in SPLITS]).astype(str),
            "task": ds.benchmark,
            "text": [t for s in SPLITS for t in ds.prompts[s]],
            "split": np.repeat(np.array(SPLITS, dtype=object), [sizes[s] for s in SPLITS]),
        }
    )
    embeddings = {EMBEDDING_NAME: np.concatenate([ds.embeddings[s] for s in SPLITS])}
    provenance = {
        "routereval_benchmark": ds.benchmark,
        "routereval_pools": [
            {"setting": p.setting, "m": p.m, "group": p.group, "models": list(p.models)}
            for p in ds.pools
        ],
    }
    return Benchmark.from_values(
        name or ds.benchmark, values, prompts, models,
        embeddings=embeddings, provenance=provenance,
    )


# -- raw leaderboard scores ---------------------------------------------------


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
    arr = np.asarray(_child(_child(data, sub, ("data",), file), "correctness", ("data", sub), file))
    parts = ("data", sub, "correctness")
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{_where(*parts)} is not numeric ({exc})", file=file) from exc
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise DataError(f"{_where(*parts)} has dtype {arr.dtype}, expected numbers", file=file)
    if arr.ndim != 2 or arr.shape[1] != n_models:
        raise DataError(
            f"{_where(*parts)} has shape {arr.shape}, expected (items, {n_models}): one column "
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
                f"{_where(*parts)} holds {float(block[r, c])!r} at item {rows.start + r + 1}, LLM "
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
    models = _names(_child(raw, key, (), file), (key,), file)
    data = _child(raw, "data", (), file)
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


__all__ = [
    "EMBEDDING_NAME",
    "GROUPS",
    "LEADERBOARD_SCENARIOS",
    "Pool",
    "RouterEvalDataset",
    "SETTINGS",
    "SPLITS",
    "benchmark_from_filename",
    "read_leaderboard",
    "read_router_dataset",
    "router_dataset_to_benchmark",
    "subtasks_of",
]
