"""``routereval bench``: the RouterEval benchmark on one dataset, in this process.

A bench run is a one-dataset sweep: the same grid machinery, grid points and
aggregation as ``routereval sweep``, with an in-memory results store and the
grid points run one after another here. Its rows are therefore identical to a
sweep's over the same settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from routereval.datasets.splits import SPLIT_SEED
from routereval.errors import ConfigError
from routereval.metrics.core import DEFAULT_N_BOOT

# Every baseline but MLC, which fine-tunes a transformer for each pool (about 4 CPU-minutes per
# pool on MMLU-Pro): the default run stays a few minutes long; `--routers ...,mlc` adds it.
DEFAULT_ROUTERS = "oracle,ro,linear,mlp,cluster,knn,random,best-single"
#: The flag of each sweep setting bench takes, for messages.
FLAGS = {"sizes": "--sizes", "groups": "--groups", "protocol": "--protocol", "encoder": "--encoder", "seeds": "--seed",
         "split_seed": "--split-seed", "split_seeds": "--split-seeds", "n_boot": "--n-boot",
         "reference": "--reference", "cost": "--cost-unit"}


def parse_sizes(text: str) -> list[int]:
    """'3,5' -> [3, 5]; 'easy' / 'hard' / 'all' name RouterEval's size sets."""
    from routereval.datasets.pools import NAMED_SIZES

    if text in NAMED_SIZES:
        return list(NAMED_SIZES[text])
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
        help="Routers, with parameters as name:key=value (e.g. ro:p=0.3, mlp:recipe=published), or "
        "pkg.module:Class for a router class of your own. Add mlc to fine-tune a text encoder per pool "
        "(minutes per pool on a CPU).",
    ),
    protocol: str = typer.Option("faithful", help="faithful (as published) or clean (no test data in any choice)."),
    encoder: str = typer.Option("auto", help="minilm, minilm-static (a table distilled from it: for a small CPU), tfidf, precomputed:<key>, or auto (precomputed if the data has it)."),
    seed: int = typer.Option(0, help="Seed of the routers (their random_state) and the bootstrap."),
    split_seed: Optional[int] = typer.Option(None, help="Seed of the split and pool draws (default: RouterEval's 42)."),
    split_seeds: Optional[str] = typer.Option(
        None, help="Several split seeds, e.g. 0-9 or 0,1,2: every router runs on each split, and each mean "
        "comes with an interval over splits and prompts and a paired test against the best router."),
    reference: Optional[str] = typer.Option(None, help="mu_ref for V_R: a number or a model name."),
    by_group: bool = typer.Option(False, "--by-group", help="Show each candidate group, not only their mean."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write all result rows to this JSON file."),
    markdown_out: Optional[Path] = typer.Option(None, "--markdown", help="Write the tables as Markdown."),
    n_boot: int = typer.Option(DEFAULT_N_BOOT, help="Bootstrap resamples for the mu_o interval."),
    timings: bool = typer.Option(False, "--timings", help="Print the seconds spent in each stage and router."),
    cost: bool = typer.Option(False, "--cost", help="Add cost columns and the cost-quality table (AIQ; APGR, CPT for a pair)."),
    cost_unit: str = typer.Option("auto", help="Cost unit: dollars, input-dollars, compute, calls (a pair), or auto: "
                                  "the first of these the data has."),
    prices: Optional[Path] = typer.Option(None, help="Price file (CSV/JSON: model, input, output in $ per 1M tokens)."),
    workers: Optional[int] = typer.Option(None, help="Worker processes for the routers (default: one per core when "
                                          "the dataset has 2,000 prompts or more, else none; 1 runs everything in "
                                          "this process)."),
) -> None:
    """Train and measure routers on candidate pools of a dataset (RouterEval's table)."""
    from routereval.cli.output import console, err_console, to_json
    from routereval.evaluation.aggregate import summary_rows, without_arrays
    from routereval.evaluation.specs import parse_routers
    from routereval.progress import progress
    from routereval.cli.output import print_tables
    from routereval.reports.tables import markdown
    from routereval.results.store import MemoryStore
    from routereval.sweeps.sweep import Sweep, parse_seed_list, setting_problems
    from routereval.sweeps.executors import AutoExecutor
    from routereval.sweeps.runner import run_sweep
    from routereval.sweeps.tasks import load

    # The flags first: a wrong --workers is named even where a default router's package is missing.
    executor = AutoExecutor(workers)  # refuses --workers 0 before any work
    specs = parse_routers(routers)
    if not specs:
        raise ConfigError("--routers names no router; e.g. --routers knn,oracle")
    for s in specs:
        s.check()  # unknown routers and parameters are refused before any work
    splits = tuple(parse_seed_list(split_seeds)) if split_seeds is not None else ()
    settings = {"sizes": tuple(parse_sizes(sizes)), "groups": tuple(g.strip() for g in groups.split(",") if g.strip()),
                "protocol": protocol, "encoder": encoder, "seeds": (seed,), "split_seed": split_seed,
                "split_seeds": splits, "n_boot": n_boot, "reference": reference,
                "cost": cost_unit if cost else None}
    # The sweep file's checks, the settings named by their flags.
    problems = setting_problems(settings, name_of=lambda key: FLAGS[key])
    if problems:
        raise ConfigError(problems[0].message)
    for flag, path in (("--json", json_out), ("--markdown", markdown_out)):
        # Checked before the run, not after minutes of training.
        if path is not None and path.is_dir():
            raise ConfigError(f"{flag} {path} is a folder; give a file name")
        if path is not None:
            from routereval.atomic import check_output

            check_output(path)  # a named pipe, a device, a link to nowhere, a file where a folder is needed
    splits = splits or (SPLIT_SEED if split_seed is None else split_seed,)
    sweep = Sweep(
        name=dataset, datasets=(dataset,), sizes=settings["sizes"], groups=settings["groups"], routers=tuple(specs),
        seeds=(seed,), protocol=protocol, encoder=encoder, split_seed=splits[0],
        split_seeds=splits if len(splits) > 1 else (), n_boot=n_boot, reference=reference,
        scaling=False, cost=settings["cost"], prices=None if prices is None else str(prices),
    )
    store = MemoryStore()
    # Shown from the moment the grid is planned: the records and vectors loaded before have their own.
    bar = progress("routers x pools")

    def planned(todo: int, done: int) -> None:
        bar.total = todo
        bar.start()

    def advance(task: object, _: object) -> None:
        bar.description = f"routers x pools ({task})"
        bar.advance(1)

    try:
        outcome = run_sweep(sweep, store, executor, progress=True, on_row=advance, on_plan=planned)
    finally:
        bar.stop()
    loaded = load(dataset, sweep.context())  # what the run loaded, from this process's memo
    if loaded.pools or cost:
        for m, why in loaded.skipped.items():
            err_console.print(f"[yellow]skipping m = {m}:[/] {why}", highlight=False, soft_wrap=True)
    if not loaded.pools and cost:
        # A strong/weak pair has no RouterEval pool, but its cost-quality study is what --cost asks for.
        _print_cost_study(loaded, specs, encoder, seed, console, err_console)
        return
    if not loaded.pools:
        raise ConfigError("no candidate pool can be built for the sizes asked for: " + "; ".join(loaded.skipped.values()))
    rows = store.read_rows()
    if outcome.failed:
        for t, failure in outcome.failed:
            err_console.print(f"[red]failed:[/] {t}: {failure.error}", highlight=False, soft_wrap=True)
    if not rows:
        raise ConfigError("no router produced a result")
    # Paired tests against the best router come with several splits: with one, the table stays RouterEval's.
    table = summary_rows(rows, n_boot=n_boot, seed=seed, compare=len(splits) > 1)
    console.print(f"[bold]{dataset}[/] ({loaded.source})", highlight=False)
    print_tables(table, by_group=by_group, console=console)
    if json_out is not None or markdown_out is not None:
        from routereval.atomic import write_text_atomic
    if json_out is not None:
        out = without_arrays(rows) + [r for r in table if r["group"] == "mean"]
        write_text_atomic(json_out, to_json(out))
        console.print(f"wrote {len(out)} rows to {json_out}")
    if markdown_out is not None:
        write_text_atomic(markdown_out, markdown(table, by_group=by_group))
    if cost:
        _print_cost_study(loaded, specs, encoder, seed, console, err_console)
    if timings:
        stages = dict(loaded.timings)
        for r in rows:
            stages[f"router {r['router']}"] = stages.get(f"router {r['router']}", 0.0) + float(r["seconds"])
        width = max(map(len, stages))
        for stage, seconds in stages.items():
            err_console.print(f"{stage:<{width}}  {seconds:8.2f} s", highlight=False)
    if outcome.failed:
        raise typer.Exit(1)


def _print_cost_study(loaded, specs, encoder: str, seed: int, console, err_console) -> None:
    """The cost-quality table of every router on the dataset's models (and the pair metrics for two)."""
    from routereval.evaluation.curves import cost_quality
    from routereval.evaluation.features import embed
    from routereval.cli.output import print_records
    from routereval.reports.cost_figures import metrics_table

    usable = [s for s in specs if s.name != "ro"]
    if len(usable) < len(specs):
        err_console.print("r_o(p) has no cost-quality curve; left out of the cost table", highlight=False)
    vectors = loaded.features.embeddings
    if vectors is None and any(s.inputs == "embeddings" for s in usable):
        # No pool was built (a strong/weak pair), so nothing was embedded yet.
        vectors = embed(loaded.bench, encoder)
    try:
        study = cost_quality(loaded.bench, usable, unit=loaded.cost_unit, embeddings=vectors, seed=seed,
                             costs=loaded.costs, cost_note=loaded.cost_note)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    doc = study.to_dict()
    lo, hi = doc["aiq_cost_range"]
    console.print(f"\n[bold]cost-quality[/] ({doc['cost_note']}); AIQ over [{lo:.4g}, {hi:.4g}] per query, "
                  f"{doc['n_test']} test prompts", highlight=False, soft_wrap=True)
    print_records(None, metrics_table(doc), console=console)
    print_records(None, doc["pair"], console=console)
