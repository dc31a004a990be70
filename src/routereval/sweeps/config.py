"""Reading sweep files: a grid of datasets x pool sizes x groups x routers x seeds, in TOML, checked into a
:class:`~routereval.sweeps.sweep.Sweep`.

Example (``experiments/routereval-easy.toml`` is a full one)::

    name = "my-grid"                 # results go to results/<name> unless --out says otherwise
    datasets = ["mmlu-pro", "llmrouter", "my_results.csv"]
    sizes = [3, 5]                   # or "easy", "hard", "all"
    groups = ["all_strong", "all_weak", "strong_to_weak"]
    protocol = "faithful"            # or "clean"
    encoder = "auto"                 # minilm, tfidf, precomputed:<key>
    seeds = [0, 1, 2]                # router and bootstrap seeds
    split_seeds = [0, 1, 2]          # or "0-9"; splits (and pools) drawn with each; or split_seed = 42 for one
    routers = ["oracle", "knn", "ro:p=0.3", {name = "mlp", recipe = "published"}]

Routers may also be written as ``[[routers]]`` tables (``name = "mlp"`` and one
line per parameter) when there are many parameters; TOML does not allow both
forms in one file.

Everything is checked before anything runs, and every problem is reported
with the line it is on, all at once: a typo found after an hour of training
costs an hour. Relative dataset paths are read from the sweep file's folder.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from routereval import strict_toml
from routereval.datasets.pools import GROUPS, NAMED_SIZES
from routereval.datasets.splits import SPLIT_SEED
from routereval.errors import ConfigError
from routereval.evaluation.specs import RouterSpec
from routereval.metrics.core import DEFAULT_N_BOOT, MAX_N_BOOT
from routereval.sweeps.sweep import MAX_SEED, Sweep, check_name, check_seed, parse_seed_list, setting_problems
from routereval.sweeps.toml_lines import Problems, TomlLines

#: A sweep file lists datasets and routers: 1 MiB is far beyond any real one, and bounds what a file can cost.
MAX_FILE_BYTES = 1 << 20
#: Random pools per size in the scaling study: beyond 100,000 the curve does not move, the run only slows.
MAX_SCALING_DRAWS = 100_000


TOP_KEYS = {
    "name", "datasets", "sizes", "groups", "protocol", "encoder", "seeds", "split_seed", "split_seeds", "n_boot",
    "reference", "routers", "scaling", "scaling_draws", "cost", "prices",
}


def load_sweep(path: str | Path) -> Sweep:
    """Read and check a sweep file; raises :class:`ConfigError` listing every problem with its line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"sweep file {path} not found")
    text = strict_toml.read_text(path, max_bytes=MAX_FILE_BYTES, what="a sweep file")
    return parse_sweep(text, name=path.stem, origin=str(path), base=path.parent)


def parse_sweep(text: str, *, name: str = "sweep", origin: str = "<sweep>", base: Path | None = None) -> Sweep:
    """Check a sweep given as TOML text (see :func:`load_sweep`)."""
    doc = strict_toml.loads(text, origin)
    lines, problems = TomlLines(text), Problems(origin)
    for key in doc:
        if key not in TOP_KEYS:
            hint = difflib.get_close_matches(key, TOP_KEYS, n=1)
            problems.add(lines.key(key) or lines.key(key, key), f"unknown key {key!r}"
                         + (f" (did you mean {hint[0]!r}?)" if hint else f"; known: {', '.join(sorted(TOP_KEYS))}"))

    def typed(key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        value = doc.get(key, default)
        if value is not default and (not isinstance(value, kind) or isinstance(value, bool) and kind is int):
            problems.add(lines.key(key), f"{key} must be {_kind_name(kind)}, got {value!r}")
            return default
        return value

    def str_list(key: str, default: list | None) -> list:
        value = doc.get(key, default)
        if value is None:
            problems.add(None, f"{key} is required")
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or not value:
            problems.add(lines.key(key), f"{key} must be a non-empty list of strings, got {value!r}")
            return []
        return value

    sweep_name = typed("name", str, name)
    bad_name = check_name(sweep_name)
    if bad_name:
        at = lines.key("name")
        problems.add(at, bad_name if at else bad_name + " (taken from the file's name; set name = \"...\")")
    protocol = typed("protocol", str, "faithful")
    encoder = typed("encoder", str, "auto")
    split_seed = typed("split_seed", int, None)
    split_seeds = _split_seeds(doc.get("split_seeds"), lines, problems)
    n_boot = typed("n_boot", int, DEFAULT_N_BOOT)
    reference = doc.get("reference")
    if reference is not None and (isinstance(reference, bool) or not isinstance(reference, (str, int, float))):
        problems.add(lines.key("reference"), f"reference must be a model name or a number, got {reference!r}")
        reference = None
    scaling = typed("scaling", bool, True)
    scaling_draws = typed("scaling_draws", int, None)
    cost = typed("cost", str, None)
    prices = typed("prices", str, None)
    if prices is not None:
        found = (base / prices) if base is not None and not Path(prices).is_absolute() else Path(prices)
        if not found.is_file():
            problems.add(lines.key("prices"), f"price file {prices!r} not found (read from the sweep file's folder)")
        prices = str(found)
    if scaling_draws is not None and not 1 <= scaling_draws <= MAX_SCALING_DRAWS:
        problems.add(lines.key("scaling_draws"), f"scaling_draws must lie in 1..{MAX_SCALING_DRAWS}, got {scaling_draws}")

    datasets = str_list("datasets", None)
    locations = {}
    for entry in datasets:
        where = _locate_dataset(entry, base)
        if where is None:
            problems.add(lines.value("datasets", entry), _unknown_dataset(entry))
        else:
            locations[entry] = where
    if len(set(datasets)) != len(datasets):
        problems.add(lines.key("datasets"), "datasets lists an entry twice")

    sizes = _sizes(doc.get("sizes", "easy"), lines, problems)
    groups = str_list("groups", list(GROUPS))

    seeds = doc.get("seeds", [0])
    seeds = [seeds] if isinstance(seeds, int) and not isinstance(seeds, bool) else seeds
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        problems.add(lines.key("seeds"), f"seeds must be a non-empty list of integers, got {seeds!r}")
        seeds = [0]
    values = {"protocol": protocol, "encoder": encoder, "split_seed": split_seed, "split_seeds": split_seeds,
              "n_boot": n_boot, "reference": reference, "cost": cost, "sizes": sizes, "groups": groups,
              "seeds": seeds}
    for problem in setting_problems(values):
        at = lines.key(problem.field) if problem.value is None else lines.value(problem.field, problem.value)
        problems.add(at, problem.message)

    routers = _routers(doc.get("routers"), lines, problems)
    problems.raise_any()
    return Sweep(
        name=sweep_name, datasets=tuple(datasets), sizes=tuple(sizes), groups=tuple(groups),
        routers=tuple(routers), seeds=tuple(seeds), protocol=protocol, encoder=encoder,
        split_seed=SPLIT_SEED if split_seed is None else split_seed, split_seeds=tuple(split_seeds), n_boot=n_boot,
        reference=None if reference is None else str(reference),
        scaling=scaling, scaling_draws=scaling_draws, cost=cost, prices=prices, locations=locations, text=text,
    )


def _split_seeds(value: Any, lines: TomlLines, problems: Problems) -> list[int]:
    """``split_seeds`` as a list of integers or a range text such as "0-9"; [] when absent."""
    if value is None:
        return []
    if isinstance(value, str):
        try:
            return parse_seed_list(value, "split_seeds")
        except ConfigError as exc:
            problems.add(lines.key("split_seeds"), str(exc))
            return []
    if not isinstance(value, list) or not value or not all(isinstance(s, int) and not isinstance(s, bool) for s in value):
        problems.add(lines.key("split_seeds"), f"split_seeds must be a non-empty list of integers or a range such "
                     f"as \"0-9\", got {value!r}")
        return []
    return list(value)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", bool: "true or false", float: "a number"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _locate_dataset(entry: str, base: Path | None) -> str | None:
    from routereval.sources.catalog import dataset_exists

    # A relative path is read from the sweep file's folder, wherever the command runs: a file of the
    # same name in the current folder must not be picked up instead.
    if base is not None and not Path(entry).is_absolute():
        beside = base / entry
        if beside.exists():
            return str(beside)
    return entry if dataset_exists(entry) else None


def _unknown_dataset(entry: str) -> str:
    from routereval.sources.catalog import imported_names
    from routereval.sources.registry import all_specs

    known = sorted(set(all_specs()) | set(imported_names()))
    hint = difflib.get_close_matches(entry, known, n=1)
    return (f"unknown dataset {entry!r}: neither a dataset name nor an existing path"
            + (f" (did you mean {hint[0]!r}?)" if hint else f"; known: {', '.join(known)}"))


def _sizes(value: Any, lines: TomlLines, problems: Problems) -> list[int]:
    if isinstance(value, str):
        if value not in NAMED_SIZES:
            problems.add(lines.key("sizes"), f"sizes must be a list of integers or one of {', '.join(NAMED_SIZES)}, got {value!r}")
            return []
        return list(NAMED_SIZES[value])
    if not isinstance(value, list) or not value or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        problems.add(lines.key("sizes"), f"sizes must be a non-empty list of integers, got {value!r}")
        return []
    return sorted(set(value), key=value.index)


def _routers(value: Any, lines: TomlLines, problems: Problems) -> list[RouterSpec]:
    """Routers as strings (``"ro:p=0.3"``) and/or ``[[routers]]`` tables with ``name`` and parameters."""
    from routereval.evaluation.specs import parse_routers

    if value is None:
        problems.add(None, "routers is required (e.g. routers = [\"oracle\", \"knn\"])")
        return []
    if not isinstance(value, list) or not value:
        problems.add(lines.key("routers"), "routers must be a non-empty list")
        return []
    specs: list[tuple[RouterSpec, int | None]] = []
    for index, item in enumerate(value):
        if isinstance(item, str):
            line = lines.value("routers", item.split(":")[0])
            try:
                specs += [(s, line) for s in parse_routers(item)]
            except ConfigError as exc:
                problems.add(line, str(exc))
            continue
        if not isinstance(item, dict):
            problems.add(lines.key("routers"), f"a router is a name or a table with name = ..., got {item!r}")
            continue
        params = dict(item)
        name = params.pop("name", None)
        in_table = ("routers", index) in lines.tables  # [[routers]] rather than an inline {name = ...}

        def line_of(key: str, index: int = index, in_table: bool = in_table, name: Any = name) -> int | None:
            return lines.key(key, "routers", index) if in_table else lines.value("routers", name or "name")

        if not isinstance(name, str):
            problems.add(line_of("name"), "a router table needs name = \"<router>\"")
            continue
        for key, v in params.items():
            if isinstance(v, (dict, list)):
                problems.add(line_of(key), f"router parameter {key} must be a plain value, got {v!r}")
        specs.append((RouterSpec(name, params), line_of("name")))
    seen: dict[str, int | None] = {}
    for spec, line in specs:
        try:
            spec.check()
        except ConfigError as exc:
            problems.add(line, str(exc))
            continue
        if spec.label in seen:
            problems.add(line, f"router {spec.label} is listed twice")
        seen[spec.label] = line
    return [s for s, _ in specs]


__all__ = [
    "MAX_FILE_BYTES", "MAX_N_BOOT", "MAX_SCALING_DRAWS", "MAX_SEED", "TOP_KEYS", "Sweep", "check_name", "check_seed",
    "load_sweep", "parse_seed_list", "parse_sweep",
]
