"""The on-disk form of a :class:`Benchmark`: one folder, written atomically.

    <store>/
      manifest.json      written last: a folder without it is not a finished store
      scores.bin         raw stored scores, model-major (each model's column contiguous)
      prompts.parquet
      models.parquet
      costs.bin          optional, float32, model-major
      input_tokens.bin, output_tokens.bin   optional token counts, float32, model-major
      embeddings/<encoder>.npy   optional precomputed prompt vectors

``scores.bin`` is memory-mapped on load, so opening RouterEval-scale data costs
almost nothing until scores are read. The whole folder is written under a
temporary name and renamed into place, so a crash never leaves a half-written
store that looks finished.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from routereval.errors import DataError
from routereval.records.benchmark import TOKEN_FIELDS, Benchmark, stored_dtype

FORMAT = "routereval-records"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"

# Column blocks written at a time: bounds the extra memory a save needs.
_WRITE_BLOCK_BYTES = 64 * 2**20


def is_store(path: str | os.PathLike) -> bool:
    """True if ``path`` is a finished records store."""
    return (Path(path) / MANIFEST).is_file()


def _write_model_major(array: np.ndarray, path: Path) -> None:
    n, m = array.shape
    step = max(1, _WRITE_BLOCK_BYTES // max(1, n * array.dtype.itemsize))
    with open(path, "wb") as f:
        for a in range(0, m, step):
            np.ascontiguousarray(np.asarray(array[:, a : a + step]).T).tofile(f)


def _open_model_major(path: Path, dtype: np.dtype, n: int, m: int, mmap: bool) -> np.ndarray:
    expected = n * m * dtype.itemsize
    size = path.stat().st_size if path.exists() else -1
    if size != expected:
        raise DataError(
            f"is {size} bytes, expected {expected} ({n} prompts x {m} models); the store is damaged, "
            "pull or import the dataset again",
            file=str(path),
        )
    if mmap:
        return np.memmap(path, dtype=dtype, mode="r", shape=(m, n)).T
    return np.fromfile(path, dtype=dtype).reshape(m, n).T


def save_benchmark(bench: Benchmark, path: str | os.PathLike) -> Path:
    """Write ``bench`` to the folder ``path`` (replacing any store there), atomically."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.partial-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        _write_model_major(bench.scores, tmp / "scores.bin")
        if bench.costs is not None:
            _write_model_major(bench.costs.astype(np.float32), tmp / "costs.bin")
        tokens = [what for what in TOKEN_FIELDS if getattr(bench, what) is not None]
        for what in tokens:
            _write_model_major(np.asarray(getattr(bench, what), dtype=np.float32), tmp / f"{what}.bin")
        bench.prompts.to_parquet(tmp / "prompts.parquet", index=False)
        bench.models.to_parquet(tmp / "models.parquet", index=False)
        if bench.embeddings:
            (tmp / "embeddings").mkdir()
            for enc, vec in bench.embeddings.items():
                np.save(tmp / "embeddings" / f"{enc}.npy", np.asarray(vec, dtype=np.float32))
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "name": bench.name,
            "kind": bench.kind,
            "n_prompts": bench.n_prompts,
            "n_models": bench.n_models,
            "score_dtype": str(bench.scores.dtype),
            "has_costs": bench.costs is not None,
            "tokens": tokens,
            "embeddings": sorted(bench.embeddings),
            "provenance": bench.provenance,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
        if final.exists():
            old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
            final.rename(old)
            tmp.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def load_benchmark(path: str | os.PathLike, *, mmap: bool = True) -> Benchmark:
    """Open a store written by :func:`save_benchmark` (scores memory-mapped by default)."""
    root = Path(path)
    if not is_store(root):
        raise DataError("is not a finished routereval records store (no manifest.json)", file=str(root))
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"manifest is not valid JSON ({exc})", file=str(root / MANIFEST)) from exc
    if manifest.get("format") != FORMAT or manifest.get("format_version", 0) > FORMAT_VERSION:
        raise DataError(
            f"unsupported store format {manifest.get('format')!r} v{manifest.get('format_version')}",
            file=str(root / MANIFEST),
        )
    n, m, kind = manifest["n_prompts"], manifest["n_models"], manifest["kind"]
    scores = _open_model_major(root / "scores.bin", stored_dtype(kind), n, m, mmap)
    costs = None
    if manifest.get("has_costs"):
        costs = _open_model_major(root / "costs.bin", np.dtype(np.float32), n, m, mmap)
    tokens = {
        what: _open_model_major(root / f"{what}.bin", np.dtype(np.float32), n, m, mmap)
        for what in manifest.get("tokens", []) if what in TOKEN_FIELDS
    }
    embeddings = {
        enc: np.load(root / "embeddings" / f"{enc}.npy", mmap_mode="r" if mmap else None)
        for enc in manifest.get("embeddings", [])
    }
    return Benchmark(
        name=manifest["name"],
        scores=scores,
        kind=kind,
        prompts=pd.read_parquet(root / "prompts.parquet"),
        models=pd.read_parquet(root / "models.parquet"),
        costs=costs,
        embeddings=embeddings,
        provenance=manifest.get("provenance", {}),
        **tokens,
    )
