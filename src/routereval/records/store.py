"""The on-disk form of a :class:`Benchmark`: one folder, written atomically.

    <store>/
      manifest.json      written last: a folder without it is not a finished store;
                         records each file's size and checksums, and its own checksum
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

The manifest is the envelope every routereval folder with checksums uses
(:mod:`routereval.manifests`); its own fields are the store's name, kind,
shape, score dtype, which optional files exist, and provenance. A store
changed on disk after it was written (a truncated copy, a flipped byte, an
edited manifest) is refused on open with a
:class:`~routereval.errors.DamagedStoreError`; :mod:`routereval.manifests`
says what is checked and when. Version 1 stores (written before manifests
recorded checksums) open unchecked.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from routereval import manifests
from routereval.atomic import replace_folder
from routereval.errors import DamagedStoreError, DataError
from routereval.records.benchmark import TOKEN_FIELDS, Benchmark, stored_dtype

FORMAT = "routereval-records"
# 2: the manifest records file checksums and its own. Version 1 stores open unchecked.
FORMAT_VERSION = 2
MANIFEST = "manifest.json"
#: A records manifest nests a few levels (files -> name -> digests, provenance); anything much deeper is damage.
MAX_MANIFEST_DEPTH = 32
#: A records manifest is a few kB (provenance included); anything near this is not one.
MAX_MANIFEST_BYTES = 16 * 2**20


def _refusal(problem: manifests.Problem) -> DataError:
    """A store's manifest problem as the error a store raises (exit 3 for damage, 1 for a newer store)."""
    if problem.code == "unfinished":
        return DataError("is not a finished routereval records store (no manifest.json)", file=str(problem.path.parent))
    if problem.code == "newer":
        return DataError(problem.what, file=str(problem.path))
    return DamagedStoreError(problem.line("the store is damaged"))


#: Version 1 stores were written before manifests recorded checksums: they open unchecked.
KIND = manifests.Kind(format=FORMAT, version=FORMAT_VERSION, error=_refusal, noun="store", manifest=MANIFEST,
                      older={1: None}, max_bytes=MAX_MANIFEST_BYTES, max_depth=MAX_MANIFEST_DEPTH)

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
        raise DamagedStoreError(
            f"is {size} bytes, expected {expected} ({n} prompts x {m} models); the store is damaged",
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
        fields = {
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
        manifests.write(tmp, KIND, fields, manifests.files_under(tmp, MANIFEST))  # last: the store is finished
        # A folder cannot be renamed over a folder; replace_folder swaps them so that Ctrl-C or a
        # kill at any moment leaves the old store or the new one under the name, whole.
        replace_folder(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def read_manifest(path: str | os.PathLike) -> dict:
    """The manifest of the store at ``path``, checked against its own checksum."""
    root = Path(path)
    if not is_store(root):
        raise DataError("is not a finished routereval records store (no manifest.json)", file=str(root))
    manifest, _ = manifests.read(root, KIND)
    file = str(root / MANIFEST)
    missing = [k for k in _REQUIRED if k not in manifest]
    if missing:
        raise DamagedStoreError(f"lacks {', '.join(missing)}; the store is damaged", file=file)
    return manifest


_REQUIRED = ("name", "kind", "n_prompts", "n_models")
#: The files every store holds, so its manifest must list them.
_ALWAYS_WRITTEN = ("scores.bin", "prompts.parquet", "models.parquet")


def _has_checksums(manifest: dict) -> bool:
    return manifest.get("format_version") != 1


def load_benchmark(path: str | os.PathLike, *, mmap: bool = True) -> Benchmark:
    """Open a store written by :func:`save_benchmark` (scores memory-mapped by default).

    Sizes and sampled checksums of its files are compared with the manifest
    first; a store changed on disk raises :class:`~routereval.errors.DamagedStoreError`.
    """
    root = Path(path)
    manifest = read_manifest(root)
    if _has_checksums(manifest):
        manifests.check_files(root, KIND, manifest, full=False, required=_ALWAYS_WRITTEN)
    n, m, kind = manifest["n_prompts"], manifest["n_models"], manifest["kind"]
    scores = _open_model_major(root / "scores.bin", stored_dtype(kind), n, m, mmap)
    costs = None
    if manifest.get("has_costs"):
        costs = _open_model_major(root / "costs.bin", np.dtype(np.float32), n, m, mmap)
    try:
        tokens = {
            what: _open_model_major(root / f"{what}.bin", np.dtype(np.float32), n, m, mmap)
            for what in manifest.get("tokens", []) if what in TOKEN_FIELDS
        }
        embeddings = {
            enc: np.load(root / "embeddings" / f"{enc}.npy", mmap_mode="r" if mmap else None)
            for enc in manifest.get("embeddings", [])
        }
        prompts = pd.read_parquet(root / "prompts.parquet")
        models = pd.read_parquet(root / "models.parquet")
    except (OSError, ValueError) as exc:  # pyarrow's errors are both; numpy's are ValueError
        if isinstance(exc, OSError) and not _is_damage(exc):
            raise
        raise DamagedStoreError(f"could not be read ({exc}); the store is damaged", file=str(root)) from exc
    try:
        return Benchmark(
            name=manifest["name"],
            scores=scores,
            kind=kind,
            prompts=prompts,
            models=models,
            costs=costs,
            embeddings=embeddings,
            provenance=manifest.get("provenance", {}),
            **tokens,
        )
    except (ValueError, KeyError) as exc:
        raise DamagedStoreError(
            f"holds tables that do not fit together ({exc}); the store is damaged", file=str(root)
        ) from exc


def _is_damage(exc: OSError) -> bool:
    # pyarrow reports a corrupt file as a plain OSError without errno; real I/O problems carry one.
    return exc.errno is None


def verify_store(path: str | os.PathLike) -> dict:
    """Check every byte of the store at ``path`` against its manifest's checksums.

    Returns ``{"files": n, "bytes": b}``; raises DamagedStoreError for the first
    file that differs, and DataError for a store written before checksums were recorded.
    """
    root = Path(path)
    manifest = read_manifest(root)
    if not _has_checksums(manifest):
        raise DataError(
            "was written by an older routereval without checksums, so it cannot be verified; "
            "pull or import it again to add them",
            file=str(root),
        )
    hashed = manifests.check_files(root, KIND, manifest, full=True, required=_ALWAYS_WRITTEN)
    return {"files": len(manifest["files"]), "bytes": hashed}
