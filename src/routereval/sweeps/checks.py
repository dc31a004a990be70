"""Everything a sweep run checks before its first grid point, in one function that ``--check`` runs too.

Parsing the sweep file (:func:`routereval.sweeps.config.load_sweep`) checks the
file alone. A run also meets the data: the results folder, each dataset's
records, the price file against its models, the cost unit, the reference, the
prompt texts an encoder needs, and router parameters bounded by the data (a
k-nearest-neighbour router's k). :func:`check_sweep` makes exactly those
checks, with the same functions the run uses, so ``routereval sweep --check``
passes only files that run; the run calls it first. It loads each dataset's
records but embeds nothing and trains nothing.
"""

from __future__ import annotations

from pathlib import Path

from routereval.errors import ConfigError, DataError
from routereval.sweeps.sweep import Sweep, check_name

#: Router parameters that count training prompts, and so can be no larger than the training set.
#: Decision: a k above the number of training prompts is refused, not clipped: a clipped k would make
#: the rows of a sweep with one k come from different routers on different datasets without a word.
PROMPT_COUNT_PARAMS = ("k",)


def results_folder(sweep: Sweep, out: str | Path | None = None) -> Path:
    """Where a sweep's results go: ``out``, else ``results/<name>`` (a plain name, so always inside results/)."""
    if out is not None:
        return Path(out)
    why = check_name(sweep.name)
    if why:
        raise ConfigError(why)
    return Path("results") / sweep.name


def check_sweep(sweep: Sweep, folder: str | Path | None = None) -> None:
    """Make every check a run of ``sweep`` makes before its first grid point; raise the first problem.

    ``folder`` is the results folder (None for an in-memory run). Raises
    :class:`ConfigError` or :class:`DataError` naming the dataset or folder.
    """
    if folder is not None:
        _check_folder(Path(folder))
    for source in sweep.datasets:
        _check_dataset(sweep, source)


def _check_folder(folder: Path) -> None:
    for parent in (folder, *folder.parents):
        if parent.exists() and not parent.is_dir():
            raise ConfigError(f"results folder {folder}: {parent} is a file, not a folder; choose another --out")


def _check_dataset(sweep: Sweep, source: str) -> None:
    from routereval.datasets.router_dataset import router_datasets
    from routereval.evaluation.evaluate import reference_for
    from routereval.evaluation.features import _refuse_textless, encoder_for, encoder_name
    from routereval.sources.catalog import load_dataset

    location = sweep.location(source)
    bench = load_dataset(location, progress=False)
    if sweep.prices:
        from routereval.sources.prices import apply_price_file

        bench = apply_price_file(bench, sweep.prices)
    if sweep.cost:
        from routereval.records.costs import resolve_unit, study_costs

        try:
            study_costs(bench, resolve_unit(bench, sweep.cost))
        except ValueError as exc:
            raise ConfigError(f"dataset {source!r}: {exc}") from exc
    # Every split the run draws: pools (and a named reference's place in them) differ from split to split.
    for split_seed in sweep.splits:
        data = router_datasets(bench, list(sweep.sizes), list(sweep.groups), sweep.protocol, split_seed=split_seed)
        reference_for(data, sweep.reference)
    if not data.pools:
        return  # every size is skipped (the run notes why); nothing is embedded or trained
    inputs = {r.inputs for r in sweep.routers}
    if "texts" in inputs:
        _refuse_textless(bench, "routers that read the text cannot run")
    if "embeddings" in inputs:
        name = encoder_name(bench, sweep.encoder)
        if name.startswith("precomputed:"):
            encoder_for(bench, name)  # the key must be one the dataset ships
        else:
            _refuse_textless(bench, f"they cannot be embedded with {name!r}")
    n_train = len(data.split.train)
    for router in sweep.routers:
        for key in PROMPT_COUNT_PARAMS:
            value = router.params.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value > n_train:
                raise DataError(f"router {router.label}: {key} = {value} is more than the {n_train} training "
                                f"prompts of {source!r}; {key} must lie in 1..{n_train}")
