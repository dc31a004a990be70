"""The one in-memory type for performance records: :class:`Benchmark`.

A benchmark holds an N x M score matrix (N prompts, M models) plus tables that
describe the prompts and the models. Scores are stored compactly so that
RouterEval's full data (8,567 models x 23,000+ prompts) fits in memory or can be
memory-mapped:

* binary scores (0/1 correct) as ``uint8``, 1 byte per record, 255 = missing;
* continuous scores in [0, 1] as ``float16``, 2 bytes per record, NaN = missing.

A missing record means "this model was not run on this prompt"; it is never a
zero. Consumers decode with :meth:`Benchmark.values`, which gives ``float32``
with NaN for missing, and say what they do with the NaNs.

The matrix is kept model-major (Fortran order): selecting a pool of candidate
models, the commonest access, then reads contiguous memory.
"""

from __future__ import annotations

import mmap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

BINARY = "binary"
CONTINUOUS = "continuous"
MISSING_U8 = 255

PROMPT_COLUMNS = ("prompt_id", "task", "text")
OPTIONAL_PROMPT_COLUMNS = ("reference", "split")
MODEL_COLUMNS = ("name", "n_params", "input_price", "output_price")
#: Optional per-record token counts (N x M float32, NaN = unknown), saved like ``costs``.
TOKEN_FIELDS = ("input_tokens", "output_tokens")

# Columns are processed in blocks so that summaries of a 200M-record matrix
# never decode more than ~64 MB at a time.
_BLOCK_BYTES = 16 * 2**20


def encode_scores(values: np.ndarray, kind: str | None = None) -> tuple[np.ndarray, str]:
    """Encode a float matrix (NaN = missing) into its compact stored form.

    ``kind`` is inferred when not given: binary when every present value is 0 or 1.
    Returns the Fortran-ordered stored array and its kind.
    """
    values = np.asarray(values, dtype=np.float32)
    present = ~np.isnan(values)
    if kind is None:
        kind = BINARY if np.all((values[present] == 0) | (values[present] == 1)) else CONTINUOUS
    if kind == BINARY:
        stored = np.full(values.shape, MISSING_U8, dtype=np.uint8, order="F")
        stored[present] = values[present].astype(np.uint8)
        return stored, kind
    if kind == CONTINUOUS:
        return np.asfortranarray(values.astype(np.float16)), kind
    raise ValueError(f"unknown score kind {kind!r}; expected {BINARY!r} or {CONTINUOUS!r}")


def decode_scores(stored: np.ndarray, kind: str) -> np.ndarray:
    """Stored scores -> ``float32`` with NaN for missing records."""
    if kind == BINARY:
        out = stored.astype(np.float32)
        out[stored == MISSING_U8] = np.nan
        return out
    return stored.astype(np.float32)


def stored_dtype(kind: str) -> np.dtype:
    """The on-disk dtype for a score kind."""
    return np.dtype(np.uint8) if kind == BINARY else np.dtype(np.float16)


def _as_index(selector: Any, n: int) -> np.ndarray | slice:
    if selector is None:
        return slice(None)
    if isinstance(selector, slice):
        return selector
    arr = np.asarray(selector)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise ValueError(f"boolean selector has shape {arr.shape}, expected ({n},)")
        return np.flatnonzero(arr)
    return arr.astype(np.int64)


@dataclass(eq=False)
class Benchmark:
    """Performance records of M models on N prompts.

    Attributes:
        name: short identifier (``mmlu-pro``, ``llmrouter``, ...).
        scores: N x M stored scores (see module docstring); may be a memmap.
        kind: ``"binary"`` or ``"continuous"``.
        prompts: one row per prompt: ``prompt_id`` (unique str), ``task`` (str),
            ``text`` (str or missing), optional ``reference`` and ``split``.
        models: one row per model: ``name`` (unique), ``n_params``,
            ``input_price`` and ``output_price`` in $ per 1M tokens (NaN if unknown).
        costs: optional N x M dollars per record (float32, NaN = unknown).
        embeddings: precomputed prompt vectors by encoder name, each N x d.
        provenance: source, licence, upstream files with sha256, version, notes.
        input_tokens, output_tokens: optional N x M token counts per record
            (float32, NaN = unknown); with the models' prices they give a
            record's cost where ``costs`` has none (:mod:`routereval.records.costs`).
    """

    name: str
    scores: np.ndarray
    kind: str
    prompts: pd.DataFrame
    models: pd.DataFrame
    costs: np.ndarray | None = None
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    input_tokens: np.ndarray | None = None
    output_tokens: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.prompts = _normalise_prompts(self.prompts)
        self.models = _normalise_models(self.models)
        n, m = len(self.prompts), len(self.models)
        if self.scores.shape != (n, m):
            raise ValueError(
                f"scores have shape {self.scores.shape}, but there are {n} prompts and {m} models"
            )
        if self.scores.dtype != stored_dtype(self.kind):
            raise ValueError(
                f"{self.kind} scores must be stored as {stored_dtype(self.kind)}, got {self.scores.dtype}"
            )
        if self.costs is not None and self.costs.shape != (n, m):
            raise ValueError(f"costs have shape {self.costs.shape}, expected {(n, m)}")
        for what in TOKEN_FIELDS:
            tokens = getattr(self, what)
            if tokens is not None and tokens.shape != (n, m):
                raise ValueError(f"{what} have shape {tokens.shape}, expected {(n, m)}")
        for enc, vec in self.embeddings.items():
            if vec.ndim != 2 or vec.shape[0] != n:
                raise ValueError(f"embeddings {enc!r} have shape {vec.shape}, expected ({n}, d)")

    # -- construction -----------------------------------------------------

    @classmethod
    def from_values(
        cls,
        name: str,
        values: np.ndarray,
        prompts: pd.DataFrame | Sequence[str],
        models: pd.DataFrame | Sequence[str],
        *,
        kind: str | None = None,
        costs: np.ndarray | None = None,
        embeddings: dict[str, np.ndarray] | None = None,
        provenance: dict[str, Any] | None = None,
        input_tokens: np.ndarray | None = None,
        output_tokens: np.ndarray | None = None,
    ) -> Benchmark:
        """Build from a float matrix with NaN for missing records.

        ``prompts`` and ``models`` may be tables or plain lists of ids / names.
        """
        if not isinstance(prompts, pd.DataFrame):
            prompts = pd.DataFrame({"prompt_id": [str(p) for p in prompts]})
        if not isinstance(models, pd.DataFrame):
            models = pd.DataFrame({"name": [str(m) for m in models]})
        values = np.asarray(values, dtype=np.float32)
        if not np.all(np.isnan(values) | ((values >= 0) & (values <= 1))):
            raise ValueError("scores must lie in [0, 1] (NaN for missing records)")
        stored, kind = encode_scores(values, kind)
        return cls(
            name=name,
            scores=stored,
            kind=kind,
            prompts=prompts,
            models=models,
            costs=None if costs is None else np.asfortranarray(costs, dtype=np.float32),
            embeddings=dict(embeddings or {}),
            provenance=dict(provenance or {}),
            input_tokens=None if input_tokens is None else np.asfortranarray(input_tokens, dtype=np.float32),
            output_tokens=None if output_tokens is None else np.asfortranarray(output_tokens, dtype=np.float32),
        )

    # -- shape and names ----------------------------------------------------

    @property
    def n_prompts(self) -> int:
        return self.scores.shape[0]

    @property
    def n_models(self) -> int:
        return self.scores.shape[1]

    @property
    def model_names(self) -> list[str]:
        return self.models["name"].tolist()

    @property
    def tasks(self) -> list[str]:
        """Task names in order of first appearance (the order splits use)."""
        return list(dict.fromkeys(self.prompts["task"].tolist()))

    def model_index(self, names: Sequence[str]) -> np.ndarray:
        """Column positions of the given model names (KeyError names the unknown one)."""
        pos = {n: i for i, n in enumerate(self.model_names)}
        missing = [n for n in names if n not in pos]
        if missing:
            raise KeyError(f"unknown model(s) in {self.name!r}: {', '.join(missing[:5])}")
        return np.array([pos[n] for n in names], dtype=np.int64)

    # -- reading scores ---------------------------------------------------

    def values(self, prompts: Any = None, models: Any = None) -> np.ndarray:
        """Decoded ``float32`` scores (NaN = missing) for a sub-matrix.

        ``prompts`` / ``models`` are index arrays, boolean masks or slices.
        """
        rows = _as_index(prompts, self.n_prompts)
        cols = _as_index(models, self.n_models)
        block = self.scores[:, cols]
        block = block[rows, :] if isinstance(rows, slice) else block[rows]
        return decode_scores(np.asarray(block), self.kind)

    def _column_blocks(self) -> Sequence[slice]:
        per_col = max(1, self.n_prompts * self.scores.dtype.itemsize)
        step = max(1, _BLOCK_BYTES // per_col)
        return [slice(a, min(a + step, self.n_models)) for a in range(0, self.n_models, step)]

    def model_summary(self) -> pd.DataFrame:
        """Per model: ``name``, ``mean_score`` over its present records, ``n_records``."""
        sums = np.zeros(self.n_models)
        counts = np.zeros(self.n_models, dtype=np.int64)
        for cols in self._column_blocks():
            # Work on the stored bytes: decoding to float32 would need 4x the memory.
            block = np.asarray(self.scores[:, cols])
            if self.kind == BINARY:
                counts[cols] = block.shape[0] - np.count_nonzero(block == MISSING_U8, axis=0)
                sums[cols] = np.count_nonzero(block == 1, axis=0)
            else:
                present = ~np.isnan(block)
                counts[cols] = present.sum(axis=0)
                sums[cols] = np.nansum(block, axis=0, dtype=np.float64)
            del block
            _release_pages(self.scores, cols)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        return pd.DataFrame({"name": self.model_names, "mean_score": means, "n_records": counts})

    @property
    def n_records(self) -> int:
        """Number of present (non-missing) records."""
        return int(self.model_summary()["n_records"].sum())

    @property
    def n_missing(self) -> int:
        return self.n_prompts * self.n_models - self.n_records

    # -- subsets ----------------------------------------------------------

    def select(self, prompts: Any = None, models: Any = None, name: str | None = None) -> Benchmark:
        """A new benchmark restricted to some prompts and/or models (copies the data)."""
        rows = _as_index(prompts, self.n_prompts)
        cols = _as_index(models, self.n_models)
        scores = np.asfortranarray(np.asarray(self.scores)[rows][:, cols])
        costs = None if self.costs is None else np.asfortranarray(np.asarray(self.costs)[rows][:, cols])
        return Benchmark(
            name=name or self.name,
            scores=scores,
            kind=self.kind,
            prompts=self.prompts.iloc[rows].reset_index(drop=True),
            models=self.models.iloc[cols].reset_index(drop=True),
            costs=costs,
            embeddings={k: np.asarray(v)[rows] for k, v in self.embeddings.items()},
            provenance=dict(self.provenance),
            **{what: None if getattr(self, what) is None
               else np.asfortranarray(np.asarray(getattr(self, what))[rows][:, cols]) for what in TOKEN_FIELDS},
        )

    def __repr__(self) -> str:
        return (
            f"Benchmark({self.name!r}, {self.n_prompts} prompts x {self.n_models} models, "
            f"{self.kind}, {len(self.tasks)} tasks)"
        )


def _release_pages(array: np.ndarray, cols: slice) -> None:
    """Let the kernel drop the pages of a memory-mapped column block we are done with.

    A full pass over a memory-mapped store would otherwise leave every page it
    read resident in this process, so a summary of 200M records would hold all
    of them at once. The data stays in the page cache and is read back if needed.
    """
    mm = getattr(array, "_mmap", None)
    if mm is None or not hasattr(mm, "madvise") or not array.flags.f_contiguous:
        return
    per_col = array.shape[0] * array.dtype.itemsize
    start = (cols.start * per_col) // mmap.PAGESIZE * mmap.PAGESIZE
    stop = min(len(mm), cols.stop * per_col)
    if stop > start:
        mm.madvise(mmap.MADV_DONTNEED, start, stop - start)


def _unique_key(table: pd.DataFrame, key: str, what: str) -> pd.DataFrame:
    """A copy of ``table`` with a fresh index and ``key`` as unique strings."""
    table = table.reset_index(drop=True).copy()
    if key not in table:
        raise ValueError(f"{what} need a {key!r} column")
    table[key] = table[key].astype(str)
    dup = table[key].duplicated()
    if dup.any():
        raise ValueError(f"{key} {table[key][dup].iloc[0]!r} appears more than once in the {what}")
    return table


def _normalise_prompts(prompts: pd.DataFrame) -> pd.DataFrame:
    prompts = _unique_key(prompts, "prompt_id", "prompts")
    if "task" not in prompts:
        prompts["task"] = "default"
    prompts["task"] = prompts["task"].fillna("default").astype(str)
    if "text" not in prompts:
        prompts["text"] = pd.Series([None] * len(prompts), dtype=object)
    prompts["text"] = prompts["text"].astype(object).where(prompts["text"].notna(), None)
    unknown = [c for c in prompts.columns if c not in PROMPT_COLUMNS + OPTIONAL_PROMPT_COLUMNS]
    if unknown:
        raise ValueError(f"unknown prompt column(s): {', '.join(unknown)}")
    return prompts


def _normalise_models(models: pd.DataFrame) -> pd.DataFrame:
    models = _unique_key(models, "name", "models")
    for col in MODEL_COLUMNS[1:]:
        models[col] = pd.to_numeric(models[col], errors="raise") if col in models else np.nan
        models[col] = models[col].astype(float)
    unknown = [c for c in models.columns if c not in MODEL_COLUMNS]
    if unknown:
        raise ValueError(f"unknown model column(s): {', '.join(unknown)}")
    return models[list(MODEL_COLUMNS)]
