"""``routereval bench``: the RouterEval benchmark on any dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from routereval.errors import ConfigError

# Every baseline but MLC, which fine-tunes a transformer for each pool (about 4 CPU-minutes per
# pool on MMLU-Pro): the default run stays a few minutes long; `--routers ...,mlc` adds it.
DEFAULT_ROUTERS = "oracle,ro,linear,mlp,cluster,knn,random,best-single"


def parse_sizes(text: str) -> list[int]:
    """'3,5' -> [3, 5]; 'easy' / 'hard' / 'all' name RouterEval's size sets."""
    from routereval.datasets.pools import EASY_SIZES, HARD_SIZES

    named = {"easy": list(EASY_SIZES), "hard": list(HARD_SIZES), "all": list(EASY_SIZES + HARD_SIZES)}
    if text in named:
        return named[text]
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise ConfigError(f"--sizes must be a list of integers or easy/hard/all, got {text!r}") from exc


def bench(
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset name, imported name, or path (.pkl, table, store)."),
    sizes: str = typer.Option("easy", help="Pool sizes: 3,5 or easy (3,5), hard (10,100,1000), all."),
    groups: str = typer.Option("all_strong,all_weak,strong_to_weak", help="Candidate groups."),
    routers: str = typer.Option(
        DEFAULT_ROUTERS,
        help="Routers, with parameters as name:key=value (e.g. ro:p=0.3, mlp:setting=faithful). "
        "Add mlc to fine-tune a text encoder per pool (minutes per pool on a CPU).",
    ),
    protocol: str = typer.Option("faithful", help="faithful (as published) or clean (no test data in any choice)."),
    encoder: str = typer.Option("auto", help="minilm, tfidf, precomputed:<key>, or auto (precomputed if the data has it)."),
    seed: int = typer.Option(0, help="Seed of the routers and the bootstrap."),
    split_seed: int = typer.Option(42, help="Seed of the split and pool draws (RouterEval: 42)."),
    reference: Optional[str] = typer.Option(None, help="mu_ref for V_R: a number or a model name."),
    by_group: bool = typer.Option(False, "--by-group", help="Show each candidate group, not only their mean."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write all result rows to this JSON file."),
    markdown_out: Optional[Path] = typer.Option(None, "--markdown", help="Write the tables as Markdown."),
    n_boot: int = typer.Option(1000, help="Bootstrap resamples for the mu_o interval."),
) -> None:
    """Train and measure routers on candidate pools of a dataset (RouterEval's table)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from routereval.cli.output import console, err_console, to_json
    from routereval.evaluation.bench import parse_routers, run_pools
    from routereval.evaluation.prepare import features, prepare
    from routereval.evaluation.prepare import reference as resolve_reference
    from routereval.reports.tables import markdown, print_tables
    from routereval.routers.base import all_routers

    specs = parse_routers(routers)
    known = all_routers()
    for s in specs:
        if s.name not in known:
            raise ConfigError(f"unknown router {s.name!r}; known: {', '.join(sorted(known))}")
        s.make()  # rejects unknown parameters before any work
    size_list = parse_sizes(sizes)
    group_list = [g.strip() for g in groups.split(",") if g.strip()]
    prepared = prepare(dataset, size_list, group_list, protocol, seed=split_seed)
    for m, why in prepared.skipped.items():
        err_console.print(f"[yellow]skipping m = {m}:[/] {why}", highlight=False)
    if not prepared.pools:
        raise ConfigError("no candidate pool can be built for the sizes asked for")
    need_texts = any(known[s.name].inputs == "texts" for s in specs)
    need_vectors = any(known[s.name].inputs == "embeddings" for s in specs)
    feats = features(prepared, encoder, need_texts=need_texts, need_vectors=need_vectors)
    ref = resolve_reference(prepared, reference)
    total = len(prepared.pools) * len(specs)
    with Progress("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=err_console, transient=True) as bar:
        task = bar.add_task("routers x pools", total=total)

        def advance(row: dict) -> None:
            bar.update(task, advance=1, description=f"m={row['m']} {row['group']} {row['router']}")

        rows = run_pools(prepared.pools, specs, feats, ref, n_boot=n_boot, seed=seed, on_result=advance)
    console.print(f"[bold]{prepared.bench.name}[/] ({prepared.source})", highlight=False)
    print_tables(rows, by_group=by_group, console=console)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(to_json(rows))
        console.print(f"wrote {len(rows)} rows to {json_out}")
    if markdown_out is not None:
        markdown_out.write_text(markdown(rows, by_group=by_group))

