"""One entry point for every dataset: a registered name, an imported name, or a path.

``load_dataset("mmlu-pro")`` pulls and builds the registered dataset on first use
and opens the stored records afterwards; ``load_dataset("my-bench")`` opens what
``routereval data import`` stored; ``load_dataset("results.csv")``,
``load_dataset("gsm8k_router_dataset.pkl")`` or a store folder are read directly.
A leaderboard pickle holds several benchmarks: pick one with ``file.pkl#bbh``.

A name that is also a readable path in the current folder (an imported
``good.csv`` next to a file ``good.csv``) is refused as ambiguous rather than
resolved either way: ``./good.csv`` always means the file. A stored dataset
that was changed on disk is refused with the command that repairs it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from routereval import paths
from routereval.errors import DamagedStoreError, DataError, UnknownDatasetError
from routereval.records import Benchmark, is_store, load_benchmark, read_manifest, save_benchmark, verify_store

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
    """Read a dataset straight from a file or store folder; one with no scores at all is refused."""
    bench = _read_path(path, name, **table_options)
    # A store was checked when it was written; files are checked here (one pass over the scores).
    if not path.is_dir() and bench.n_records == 0:
        raise DataError(
            f"holds no scores: all {bench.n_prompts * bench.n_models:,} records ({bench.n_prompts:,} prompts x "
            f"{bench.n_models:,} models) are missing",
            file=str(path),
        )
    return bench


def _read_path(path: Path, name: str | None = None, **table_options: Any) -> Benchmark:
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


def pull(
    name: str, *, force: bool = False, progress: bool = True, note: Callable[[str], None] | None = None
) -> Path:
    """Download (or read from the mirror) a registered dataset and store its records.

    A stored copy of the current version is kept unless ``force``; a damaged
    one is never kept: it is rebuilt, and ``note`` is told why.
    """
    from routereval.sources.download import fetch_spec
    from routereval.sources.registry import get_spec

    spec = get_spec(name)
    dest = store_path(name)
    if not force and is_store(dest):
        try:
            version = read_manifest(dest).get("provenance", {}).get("version")
            if version == spec.version:
                load_benchmark(dest)  # the cheap integrity check of every file
                return dest
        except DamagedStoreError as exc:
            if note is not None:
                note(f"the stored copy is damaged ({exc}); rebuilding it")
    from routereval.progress import progress as progress_display

    paths.writable_dir(paths.datasets_dir())
    local = fetch_spec(spec, progress=progress)  # downloads show their own bar (bytes and speed)
    # The first use of a dataset takes seconds to a minute: each stage says where it is.
    with progress_display(f"building {name}", total=3, unit="stages", enabled=progress) as bar:
        bar.stage("reading and converting the records")
        bench = spec.build(local)
        bar.stage("writing the store and its checksums")
        saved = save_benchmark(bench, dest)
        bar.stage("checking the store")
        load_benchmark(saved)
    return saved


def _stored_version(dest: Path) -> str | None:
    """The registered version a store was built from (None if absent or damaged)."""
    if not is_store(dest):
        return None
    try:
        return read_manifest(dest).get("provenance", {}).get("version")
    except DataError:
        return None


def repair_command(name: str) -> str:
    """The command that rebuilds the stored dataset ``name``."""
    from routereval.sources.registry import all_specs

    if name in all_specs():
        return f"routereval data pull {name} --force"
    source = None
    try:
        source = read_manifest(store_path(name)).get("provenance", {}).get("imported_from")
    except DataError:
        pass
    return f"routereval data import {source or '<your file>'} --name {name} --replace"


def open_stored(name: str) -> Benchmark:
    """Open the stored dataset ``name``; a damaged store is refused with its repair command."""
    try:
        return load_benchmark(store_path(name))
    except DamagedStoreError as exc:
        raise DamagedStoreError(f"{exc}; repair it with: {repair_command(name)}") from exc


def verify_stored(name: str) -> dict:
    """Check every byte of the stored dataset ``name`` (see :func:`routereval.records.verify_store`)."""
    dest = store_path(name)
    if not is_store(dest):
        raise UnknownDatasetError(f"no stored dataset {name!r}; stored: {', '.join(imported_names()) or 'none'}")
    try:
        return verify_store(dest)
    except DamagedStoreError as exc:
        raise DamagedStoreError(f"{exc}; repair it with: {repair_command(name)}") from exc


def describe_stored(name: str) -> str | None:
    """A short description of what is stored under ``name`` (None if nothing is)."""
    dest = store_path(name)
    if not dest.exists():
        return None
    try:
        m = read_manifest(dest)
    except DataError:
        return f"a damaged or unfinished store at {dest}"
    source = m.get("provenance", {}).get("imported_from") or m.get("provenance", {}).get("source")
    return f"{m['n_prompts']:,} prompts x {m['n_models']:,} models" + (f" from {source}" if source else "")


def import_table(
    path: str | Path, name: str, *, replace: bool = False, prices: str | Path | None = None, **table_options: Any
) -> Path:
    """Store a user's own records under ``name`` so every command can use it.

    An existing dataset of that name is replaced only with ``replace``.
    ``prices`` is a price file (CSV/JSON: model, input, output in $ per 1M
    tokens) stored with the records, so token counts become dollar costs.
    """
    from routereval.sources.registry import all_specs

    check_name(name)
    if name in all_specs():
        raise DataError(f"{name!r} is the name of a registered dataset; choose another --name")
    old = describe_stored(name)
    if old is not None and not replace:
        raise DataError(
            f"a dataset named {name!r} already exists ({old}); pass --replace to replace it, "
            "or choose another --name"
        )
    paths.writable_dir(paths.datasets_dir())
    source = Path(path)
    bench = read_path(source, name=name, **table_options)
    bench.name = name
    bench.provenance = {**bench.provenance, "imported_from": str(source.expanduser().resolve())}
    if prices is not None:
        from routereval.sources.prices import apply_price_file

        bench = apply_price_file(bench, prices)
        bench.provenance["prices_from"] = str(Path(prices).expanduser().resolve())
    return save_benchmark(bench, store_path(name))


def load_dataset(name_or_path: str | Path, *, progress: bool = True) -> Benchmark:
    """The performance records of a registered name, an imported name, or a path.

    Named as in Hugging Face ``datasets`` and as ``--dataset`` on the command
    line; what comes back is a :class:`~routereval.records.Benchmark`, the
    prompts x models score table (the papers' word for it), from which
    :func:`~routereval.datasets.router_dataset.router_datasets` draws splits
    and pools. A name that is also a readable path here is an error (write
    ``./name`` for the path).
    """
    from routereval.sources.registry import all_specs

    text = str(name_or_path)
    if isinstance(name_or_path, Path) and _is_existing_path(text):
        return read_path(name_or_path.expanduser())  # a Path object is always meant as a path
    specs = all_specs()
    stored = _NAME.match(text) is not None and is_store(paths.datasets_dir() / text)
    named = text in specs or stored
    if named and _is_readable_path(text) and not _same_place(text):
        kind = "registered" if text in specs else "imported"
        raise DataError(
            f"{text!r} is both the name of a{'n' if kind == 'imported' else ''} {kind} dataset and a path here; "
            f"write ./{text} (or its full path) to read the file, or run from another folder to use the dataset"
        )
    if stored:
        spec = specs.get(text)
        if spec is None or _stored_version(paths.datasets_dir() / text) == spec.version:
            return open_stored(text)
    if text in specs:
        pull(text, progress=progress)
        return open_stored(text)
    if _is_existing_path(text):
        return read_path(Path(text).expanduser())
    known = sorted(set(specs) | set(imported_names()))
    raise UnknownDatasetError(
        f"{text!r} is neither a dataset name nor an existing path. Known datasets: {', '.join(known)}"
    )


def _is_readable_path(text: str) -> bool:
    """A file, or a records store folder: something :func:`read_path` could read."""
    path = Path(text.rsplit("#", 1)[0] if "#" in text and not Path(text).exists() else text).expanduser()
    return path.is_file() or is_store(path)


def _same_place(text: str) -> bool:
    # Run from inside the datasets folder, the name and the path are the same store.
    try:
        return Path(text).resolve() == (paths.datasets_dir() / text).resolve()
    except OSError:
        return False


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
