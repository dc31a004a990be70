"""``routereval scaling``: the model-level scaling curve of r_o(p) over random candidate pools."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from routereval.errors import ConfigError

if TYPE_CHECKING:
    from routereval.cli.output import Column

# The p columns shown on the terminal (all p are in the files).
SHOWN_PS = (0.0, 0.5, 1.0)


def parse_list(text: str, option: str, cast: type[int] | type[float]) -> list:
    """'1,2,5' -> [1, 2, 5] (``cast`` int) or '0,0.5,1' -> [0.0, 0.5, 1.0] (``cast`` float)."""
    kind = "integers" if cast is int else "numbers"
    try:
        values = [cast(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise ConfigError(f"{option} must be a comma-separated list of {kind}, got {text!r}") from exc
    if not values:
        raise ConfigError(f"{option} needs at least one value")
    return values


def parse_formats(text: str) -> list[str]:
    """'png,svg' -> ['png', 'svg'], each a format the figures can be written in; '' -> no figure."""
    from routereval.reports.scaling_figures import check_formats

    return check_formats(list(dict.fromkeys(f.strip().lower().lstrip(".") for f in text.split(",") if f.strip())))


def scaling(
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset name, imported name, or path (.pkl, table, store)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for <dataset>.json, .csv and the figures."),
    draws: Optional[int] = typer.Option(
        None, help="Random pools per size (default 1,000); sizes with fewer distinct pools use all of them."
    ),
    seed: int = typer.Option(0, help="Seed of the pool draws."),
    sizes: Optional[str] = typer.Option(
        None, help="Pool sizes, e.g. 1,2,5,10 (default 1, 2, 3, 5, 10, 20, 50, ... up to the number of models)."
    ),
    ps: Optional[str] = typer.Option(None, "--ps", help="Probabilities of the oracle (default 0, 0.1, ..., 1)."),
    reference: Optional[str] = typer.Option(
        None, help="Reference line: a number or a model name (default RouterEval's constant, else the best model)."
    ),
    formats: str = typer.Option("png,svg", help="Figure formats, e.g. png,svg,pdf; empty for no figure."),
) -> None:
    """mu_o of r_o(p) against the pool size m, over random pools of the dataset's models."""
    from routereval.cli.output import console, err_console
    from routereval.evaluation.scaling import (
        DEFAULT_DRAWS,
        DEFAULT_PS,
        check_ps,
        file_stem,
        scaling_study,
        write_study,
    )
    from routereval.evaluation.reference import resolve_reference
    from routereval.sources.catalog import load_dataset

    n_draws = DEFAULT_DRAWS if draws is None else draws
    if n_draws < 1:
        raise ConfigError(f"--draws must be >= 1, got {n_draws}")
    p_list = check_ps(DEFAULT_PS if ps is None else parse_list(ps, "--ps", float))
    size_list = None if sizes is None else parse_list(sizes, "--sizes", int)
    if size_list is not None and min(size_list) < 1:
        raise ConfigError(f"--sizes must be >= 1, got {min(size_list)}")
    format_list = parse_formats(formats)
    bench = load_dataset(dataset)
    ref = resolve_reference(bench, reference)
    n_models = int((bench.model_summary()["n_records"] > 0).sum())
    if size_list is not None:
        skipped = sorted({m for m in size_list if m > n_models})
        if skipped:
            err_console.print(
                f"[yellow]skipping m = {', '.join(map(str, skipped))}:[/] {bench.name} has {n_models} models with records",
                highlight=False,
            )
        size_list = [m for m in size_list if m <= n_models]
        if not size_list:
            raise ConfigError(f"every size asked for is larger than the {n_models} models of {bench.name!r}")
    doc = scaling_study(bench, sizes=size_list, ps=p_list, n_draws=n_draws, seed=seed, reference=ref, progress=True)
    stem = out / file_stem(bench.name)
    written = write_study(doc, stem)
    if format_list:
        from routereval.reports.scaling_figures import write_scaling_figures

        written += write_scaling_figures(doc, stem, format_list)
    from routereval.cli.output import print_table

    print_table(f"{doc['dataset']}: mu_o of r_o(p) over random pools", *summary_table(doc))
    console.print("means over pools; bands and every p are in the files", style="dim", highlight=False)
    best, refd = doc["best_single"], doc["reference"]
    console.print(
        f"best single model: {best['model']} {best['value']:.3f}; reference: {refd['value']:.3f} ({refd['source']})",
        highlight=False, soft_wrap=True,
    )
    for path in written:
        console.print(f"wrote {path}", highlight=False, soft_wrap=True)


def summary_table(doc: dict[str, Any]) -> tuple[list[Column], list[list[str]]]:
    """One row per m: the mean over pools for p = 0, 0.5, 1 and of the best model in the pool.

    Columns and cells for :func:`routereval.cli.output.print_table`, which never cuts a number.
    """
    from routereval.cli.output import Column

    all_ps = sorted({pt["p"] for pt in doc["points"]})
    shown = [p for p in SHOWN_PS if p in all_ps] or sorted({all_ps[0], all_ps[-1]})
    cell = {(pt["m"], pt["p"]): pt for pt in doc["points"]}
    columns = ([Column("m"), Column("pools")] + [Column(f"p = {p:g}") for p in shown]
               + [Column("best in pool")])
    rows = []
    for row in doc["best_in_pool"]:
        m = row["m"]
        first = cell[(m, all_ps[0])]
        pools = f"{first['n_subsets']:,} (all)" if first["enumerated"] else f"{first['n_subsets']:,}"
        rows.append([str(m), pools, *(f"{cell[(m, p)]['mean']:.3f}" for p in shown), f"{row['mean']:.3f}"])
    return columns, rows
