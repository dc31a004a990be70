"""``routereval data``: list, pull, inspect and import performance records."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="List, pull, inspect, import and verify performance records.", no_args_is_help=True)


@app.command("list")
def list_datasets(
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document instead of a table."),
) -> None:
    """Registered datasets and the ones stored in the routereval home."""
    from routereval.cli.output import console, print_json
    from routereval.sources.catalog import imported_names, store_path
    from routereval.sources.registry import all_specs

    specs = all_specs()
    stored = set(imported_names())
    rows = [
        {
            "name": s.name,
            "kind": "registered",
            "stored": s.name in stored,
            "n_prompts": s.n_prompts,
            "n_models": s.n_models,
            "license": s.license,
            "source": _source(s.homepage),
            "description": s.description,
        }
        for s in specs.values()
    ]
    rows += [
        {"name": n, "kind": "imported", "stored": True, "n_prompts": None, "n_models": None,
         "license": None, "source": "imported", "description": str(store_path(n))}
        for n in sorted(stored - set(specs))
    ]
    if json_out:
        print_json({"datasets": rows})
        return
    from routereval.cli.output import Column, print_table

    # One line per dataset: the name is typed whole (a key, never wrapped); the prose stays in --json and
    # `data info`, as `pip list` leaves descriptions to `pip show`.
    print_table("routereval datasets", [Column("name", "key"), Column("prompts x models"), Column("source", "key"),
                                        Column("state", "key")],
                [[r["name"], f"{r['n_prompts']:,} x {r['n_models']}" if r["n_prompts"] else "-", r["source"],
                  "stored" if r["stored"] else "not pulled"] for r in rows])
    console.print("more: routereval data list --json; routereval data info NAME",
                  highlight=False, markup=False, soft_wrap=True)


def _source(homepage: str) -> str:
    """``owner/repo`` for a GitHub homepage (what a user recognises), else the address as given."""
    prefix = "https://github.com/"
    return homepage[len(prefix):].rstrip("/") if homepage.startswith(prefix) else homepage


@app.command("pull")
def pull(
    name: str = typer.Argument(..., help="A registered dataset name (see `routereval data list`)."),
    force: bool = typer.Option(False, "--force", help="Rebuild even if already stored."),
) -> None:
    """Download a registered dataset (or read it from $ROUTEREVAL_MIRROR) and store its records."""
    from routereval.cli.output import console, warn
    from routereval.sources.catalog import open_stored
    from routereval.sources.catalog import pull as pull_dataset

    path = pull_dataset(name, force=force, note=warn)
    console.print(f"[green]stored[/] {open_stored(name)!r} at {path}")


@app.command("import")
def import_(
    path: Path = typer.Argument(..., help="A long or wide table (CSV, TSV, Parquet, JSONL) or a RouterEval .pkl."),
    name: str = typer.Option(..., "--name", help="The name to use it by in every command."),
    layout: Optional[str] = typer.Option(None, help="long or wide (default: detected)."),
    score_scale: Optional[str] = typer.Option(
        None, "--score-scale", help="LO,HI: scores are on this scale and are rescaled to [0, 1]."
    ),
    replace: bool = typer.Option(False, "--replace", help="Replace a dataset already stored under this name."),
    prices: Optional[Path] = typer.Option(
        None, "--prices", help="Price file (CSV/JSON: model, input, output in $ per 1M tokens) stored with the records."
    ),
) -> None:
    """Store your own performance records under a name.

    Two imports of one name at once would each write a store and one would
    silently replace the other, so an import first reserves its name (a lock
    the kernel releases when the import ends, however it ends). A second import
    of a name being imported is refused, also with ``--replace``: replacing
    what another import is still writing would leave the winner to chance.
    """
    from routereval import paths
    from routereval.cli.output import console
    from routereval.errors import DataError
    from routereval.locks import Busy, exclusive
    from routereval.sources.catalog import check_name, describe_stored, import_table, open_stored

    options: dict = {}
    if layout is not None:
        options["layout"] = layout
    if score_scale is not None:
        try:
            lo, hi = (float(x) for x in score_scale.split(","))
        except ValueError as exc:  # not two numbers: too few, too many, or not numbers
            raise typer.BadParameter(f"must be LO,HI (two numbers), got {score_scale!r}",
                                     param_hint="--score-scale") from exc
        options["score_scale"] = (lo, hi)
    check_name(name)  # before the name becomes part of a file name
    reservation = paths.writable_dir(paths.datasets_dir()) / f".import-{name}.lock"
    try:
        with exclusive(reservation, remove=True):
            old = describe_stored(name) if replace else None
            import_table(path, name, replace=replace, prices=prices, **options)
    except Busy:
        raise DataError(
            f"the name {name!r} is being imported by another process right now (its reservation ends when that "
            "import does, even if it is killed); wait for it, or choose another --name"
        ) from None
    if old is not None:
        console.print(f"[yellow]replaced[/] the dataset {name!r} that held {old}", highlight=False)
    console.print(f"[green]imported[/] {open_stored(name)!r} as {name!r}")


@app.command("verify")
def verify(
    name: str = typer.Argument(..., help="A stored dataset name (see `routereval data list`)."),
) -> None:
    """Check every byte of a stored dataset against the checksums recorded when it was written."""
    import time

    from routereval.cli.output import console
    from routereval.sources.catalog import verify_stored

    start = time.perf_counter()
    checked = verify_stored(name)
    console.print(
        f"[green]ok[/] {name}: {checked['files']} files, {checked['bytes'] / 2**20:,.1f} MiB match their "
        f"checksums ({time.perf_counter() - start:.2f} s)",
        highlight=False,
    )


def dataset_info(bench) -> dict:
    """The summary document behind ``data info --json``."""
    summary = bench.model_summary()
    tasks = bench.prompts.groupby("task", sort=False).size()
    n_records = int(summary["n_records"].sum())
    from routereval.records.costs import model_cost_summary  # cost columns ($ per 1k queries, tokens)

    models = bench.models.merge(summary, on="name").merge(model_cost_summary(bench), on="name")
    return {
        "name": bench.name,
        "kind": bench.kind,
        "n_prompts": bench.n_prompts,
        "n_models": bench.n_models,
        "n_records": n_records,
        "n_missing": bench.n_prompts * bench.n_models - n_records,
        "has_text": bool(bench.prompts["text"].notna().any()),
        "has_costs": bench.costs is not None,
        "embeddings": sorted(bench.embeddings),
        "tasks": [{"name": t, "n_prompts": int(n)} for t, n in tasks.items()],
        "models": [
            {
                "name": r.name,
                "mean_score": float(r.mean_score),
                "n_records": int(r.n_records),
                "coverage": r.n_records / bench.n_prompts if bench.n_prompts else 0.0,
                "input_price": float(r.input_price),
                "output_price": float(r.output_price),
                "cost_per_1k": float(r.cost_per_1k),
                "input_tokens": float(r.input_tokens),
                "output_tokens": float(r.output_tokens),
            }
            for r in models.itertuples()
        ],
        "provenance": bench.provenance,
    }


@app.command("info")
def info(
    dataset: str = typer.Argument(..., help="A dataset name or a path."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document instead of tables."),
) -> None:
    """Models (mean score, coverage), prompts, tasks and missing records of a dataset."""
    from routereval.cli.output import Column, console, print_json, print_table
    from routereval.sources.catalog import load_dataset

    bench = load_dataset(dataset)
    doc = dataset_info(bench)
    if json_out:
        print_json(doc)
        return
    console.print(
        f"[bold]{doc['name']}[/]: {doc['n_prompts']:,} prompts x {doc['n_models']} models, "
        f"{doc['kind']} scores, {doc['n_records']:,} records, {doc['n_missing']:,} missing "
        f"({doc['n_missing'] / max(1, doc['n_prompts'] * doc['n_models']):.1%})"
    )
    prov = doc["provenance"]
    if prov:
        console.print(f"source: {prov.get('source', '?')}  licence: {prov.get('license', '?')}  "
                      f"version: {prov.get('version', '?')}", highlight=False)
    price = lambda v: "" if v != v else f"{v:.2f}"  # noqa: E731 - NaN prices print blank
    ranked = sorted(doc["models"], key=lambda m: -(m["mean_score"] if m["mean_score"] == m["mean_score"] else -1))
    print_table("models (sorted by mean score)",
                [Column("model", "name")] + [Column(c) for c in ("mean score", "records", "coverage", "$/1M in",
                                                                "$/1M out", "$/1k queries", "tokens in/out")],
                [[m["name"], f"{m['mean_score']:.4f}", f"{m['n_records']:,}", f"{m['coverage']:.1%}",
                  price(m["input_price"]), price(m["output_price"]),
                  "" if m["cost_per_1k"] != m["cost_per_1k"] else f"{m['cost_per_1k']:.3g}",
                  "" if m["input_tokens"] != m["input_tokens"] and m["output_tokens"] != m["output_tokens"]
                  else f"{m['input_tokens']:.0f}/{m['output_tokens']:.0f}".replace("nan", "?")] for m in ranked])
    print_table(f"{len(doc['tasks'])} tasks", [Column("task", "name"), Column("prompts")],
                [[t["name"], f"{t['n_prompts']:,}"] for t in doc["tasks"]])
