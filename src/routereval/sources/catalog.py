"""One entry point for every dataset: a registered name, an imported name, or a path.

``load_dataset("mmlu-pro")`` pulls and builds the registered dataset on first use
and opens the stored records afterwards; ``load_dataset("my-bench")`` opens what
``routereval data import`` stored; ``load_dataset("results.csv")``,
``load_dataset("gsm8k_router_dataset.pkl")`` or a store folder are read directly.
A leaderboard pickle holds several benchmarks: pick one with ``file.pkl#bbh``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from routereval import paths
from routereval.errors import DataError, UnknownDatasetError
from routereval.records import Benchmark, is_store, load_benchmark, save_benchmark

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def store_path(name: str) -> Path:
    """Where the records of dataset ``name`` are stored."""
    check_name(name)
    return paths.datasets_dir() / name


def check_name(name: str) -> str:
    """A dataset name is a plain token usable as a folder name."""
    if not _NAME.match(name):
        raise DataError(
            f"{name!r} is not a valid dataset name: use letters, digits, '.', '_' or '-'"
        )
    return name


def _is_table(path: Path) -> bool:
    # The table reader owns the list of formats it knows (with compressions).
    from routereval.sources.tables import COMPRESSIONS, FORMATS

    name = path.name.lower()
    for c in COMPRESSIONS:
        name = name.removesuffix(c)
    return any(name.endswith(s) for s in FORMATS)


def read_path(path: Path, name: str | None = None, **table_options: Any) -> Benchmark:
    """Read a dataset straight from a file or store folder."""
    selector = None
    if not path.exists() and "#" in path.name:
        path, selector = Path(str(path).rsplit("#", 1)[0]), str(path).rsplit("#", 1)[1]
    if path.is_dir():
        return load_benchmark(path)
    if not path.is_file():
        raise UnknownDatasetError(f"{path} does not exist")
    if path.suffix == ".pkl":
        from routereval.sources import routereval_native as native

        if native.is_leaderboard(path):
            collection = native.read_leaderboard(path)
            if selector is None:
                if len(collection) == 1:
                    return next(iter(collection.values()))
                raise DataError(
                    f"holds {len(collection)} benchmarks ({', '.join(collection)}); "
                    f"choose one with {path}#<benchmark>",
                    file=str(path),
                )
            if selector not in collection:
                raise DataError(f"has no benchmark {selector!r}; it holds {', '.join(collection)}", file=str(path))
            return collection[selector]
        return native.router_dataset_to_benchmark(native.read_router_dataset(path))
    if _is_table(path):
        from routereval.sources.tables import read_table

        return read_table(path, name=name, **table_options)
    raise DataError(
        "is not a format routereval reads: expected a records store folder, a RouterEval .pkl, "
        "or a table (.csv, .tsv, .parquet, .jsonl, .ndjson, optionally compressed)",
        file=str(path),
    )


def pull(name: str, *, force: bool = False, progress: bool = True) -> Path:
    """Download (or read from the mirror) a registered dataset and store its records."""
    from routereval.sources.download import fetch_spec
    from routereval.sources.registry import get_spec

    spec = get_spec(name)
    dest = store_path(name)
    if not force and _stored_version(dest) == spec.version:
        return dest
    local = fetch_spec(spec, progress=progress)
    bench = spec.build(local)
    return save_benchmark(bench, dest)


def _stored_version(dest: Path) -> str | None:
    if not is_store(dest):
        return None
    manifest = json.loads((dest / "manifest.json").read_text())
    return manifest.get("provenance", {}).get("version")


def import_table(path: str | Path, name: str, **table_options: Any) -> Path:
    """Store a user's own records under ``name`` so every command can use it."""
    from routereval.sources.registry import all_specs

    check_name(name)
    if name in all_specs():
        raise DataError(f"{name!r} is the name of a registered dataset; choose another --name")
    bench = read_path(Path(path), name=name, **table_options)
    bench.name = name
    return save_benchmark(bench, store_path(name))


def load_dataset(name_or_path: str | Path, *, progress: bool = True) -> Benchmark:
    """The benchmark for a registered name, an imported name, or a path."""
    text = str(name_or_path)
    if _NAME.match(text) and is_store(paths.datasets_dir() / text):
        from routereval.sources.registry import all_specs

        spec = all_specs().get(text)
        if spec is None or _stored_version(paths.datasets_dir() / text) == spec.version:
            return load_benchmark(paths.datasets_dir() / text)
    from routereval.sources.registry import all_specs

    if text in all_specs():
        return load_benchmark(pull(text, progress=progress))
    if _is_existing_path(text):
        return read_path(Path(text).expanduser())
    known = sorted(set(all_specs()) | set(imported_names()))
    raise UnknownDatasetError(
        f"{text!r} is neither a dataset name nor an existing path. Known datasets: {', '.join(known)}"
    )


def dataset_exists(name_or_path: str) -> bool:
    """True when :func:`load_dataset` can find ``name_or_path`` (without loading or fetching it)."""
    from routereval.sources.registry import all_specs

    return name_or_path in all_specs() or name_or_path in imported_names() or _is_existing_path(name_or_path)


def _is_existing_path(text: str) -> bool:
    # "file.pkl#benchmark" names one benchmark inside a leaderboard file.
    path = Path(text).expanduser()
    return path.exists() or ("#" in path.name and Path(text.rsplit("#", 1)[0]).expanduser().exists())


def imported_names() -> list[str]:
    """Names of the stores in the routereval home (pulled or imported)."""
    root = paths.datasets_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if not p.name.startswith(".") and is_store(p))
