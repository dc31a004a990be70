"""RouterEval's router datasets (``<bench>_router_dataset.pkl``): split prompts, embeddings, pools.

:func:`read_router_dataset` gives a validated :class:`RouterEvalDataset`;
:func:`router_dataset_to_benchmark` turns it into a
:class:`~routereval.records.Benchmark` over the union of the pools' models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from routereval.errors import DataError
from routereval.records.benchmark import Benchmark
from routereval.sources.routereval_native.keys import child, model_names, where
from routereval.sources.safe_pickle import safe_load

SPLITS = ("train", "val", "test")
SETTINGS = ("easy", "hard")
GROUPS = ("all_strong", "all_weak", "strong_to_weak")
EMBEDDING_NAME = "routereval-roberta"
_ROUTER_SUFFIX = "_router_dataset"


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


def _size_key(key: Any, parts: Sequence[Any], file: str) -> int:
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return int(key)
    if isinstance(key, str) and key.isdigit():
        return int(key)
    raise DataError(f"{where(*parts, key)}: pool size must be a whole number", file=file)


def _matrix(value: Any, parts: Sequence[Any], file: str, rows: int, cols: int) -> np.ndarray:
    """A float32 n x m score matrix with values in [0, 1] or NaN."""
    try:
        arr = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{where(*parts)} is not a numeric matrix ({exc})", file=file) from exc
    if arr.ndim != 2:
        raise DataError(
            f"{where(*parts)} has {arr.ndim} dimension(s), expected a prompts x models matrix",
            file=file,
        )
    if arr.shape[0] != rows:
        raise DataError(
            f"{where(*parts)} has {arr.shape[0]} rows but the split has {rows} prompts", file=file
        )
    if arr.shape[1] != cols:
        raise DataError(
            f"{where(*parts)} has {arr.shape[1]} columns but the pool lists {cols} models",
            file=file,
        )
    bad = ~(np.isnan(arr) | ((arr >= 0) & (arr <= 1)))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataError(
            f"{where(*parts)} holds {float(arr[r, c])!r} at row {r + 1}, column {c + 1} "
            "(1-based); scores must lie in [0, 1] (NaN for missing)",
            file=file,
        )
    return arr


def _split_index(raw: Any, file: str) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for split in SPLITS:
        parts = ("split_index", f"{split}_indices")
        arr = np.asarray(child(raw, f"{split}_indices", parts[:1], file))
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.number)):
            raise DataError(f"{where(*parts)} must be a 1-D array of prompt positions", file=file)
        if arr.size and (np.any(arr != np.round(arr)) or arr.min() < 0):
            raise DataError(
                f"{where(*parts)} must hold non-negative whole numbers", file=file
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
        value = child(raw, f"{split}_prompt", parts[:1], file)
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if not isinstance(value, (list, tuple)):
            raise DataError(f"{where(*parts)} must be a list of prompt texts", file=file)
        if len(value) != sizes[split]:
            raise DataError(
                f"{where(*parts)} has {len(value)} prompts but split_index -> {split}_indices "
                f"has {sizes[split]}",
                file=file,
            )
        for i, text in enumerate(value):
            if not isinstance(text, str):
                raise DataError(
                    f"{where(*parts)} item {i + 1} (1-based) is a {type(text).__name__}, "
                    "expected text",
                    file=file,
                )
        out[split] = list(value)
    return out


def _embeddings(raw: Any, sizes: Mapping[str, int], file: str) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for split in SPLITS:
        parts = ("embedding", f"{split}_embed")
        value = child(raw, f"{split}_embed", parts[:1], file)
        try:
            arr = np.asarray(value, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{where(*parts)} is not a numeric matrix ({exc})", file=file) from exc
        if arr.ndim != 2 or arr.shape[0] != sizes[split]:
            raise DataError(
                f"{where(*parts)} has shape {arr.shape}, expected ({sizes[split]}, d): one "
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
    models = model_names(child(raw, "model", base, file), (*base, "model"), file)
    if len(models) != m:
        raise DataError(
            f"{where(*base, 'model')} lists {len(models)} models, expected {m}", file=file
        )
    data = child(raw, "data", base, file)
    scores = {
        split: _matrix(
            child(data, f"{split}_score", (*base, "data"), file),
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
                    f"{where(setting, m)} is a {type(groups).__name__}, expected a dict of groups",
                    file=file,
                )
            unknown = [g for g in groups if g not in GROUPS]
            if unknown:
                raise DataError(
                    f"{where(setting, m, unknown[0])}: unknown group; expected {', '.join(GROUPS)}",
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
    split_index = _split_index(child(raw, "split_index", (), file), file)
    sizes = {s: len(split_index[s]) for s in SPLITS}
    return RouterEvalDataset(
        benchmark=benchmark or benchmark_from_filename(path),
        split_index=split_index,
        prompts=_prompts(child(raw, "prompt", (), file), sizes, file),
        embeddings=_embeddings(child(raw, "embedding", (), file), sizes, file),
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
                return f"{where(*other.key)} ({theirs:g})"
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
                    f"({split}) in {where(*pool.key)} but {earlier}: the pools disagree",
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
