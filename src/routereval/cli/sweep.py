"""``routereval sweep``: run a grid from a TOML file into a resumable results store."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def sweep(
    file: Path = typer.Argument(..., help="Sweep file (TOML); see experiments/ for the published grids."),
    out: Optional[Path] = typer.Option(None, help="Results store folder (default: results/<name of the sweep>)."),
    executor: str = typer.Option("local", help="local (processes on this machine) or ray."),
    workers: Optional[int] = typer.Option(None, help="Parallel workers (default: one per core)."),
    address: Optional[str] = typer.Option(None, help="Ray cluster address (e.g. auto); default: a local Ray instance."),
    check: bool = typer.Option(False, "--check", help="Make every check a run makes (file, data, prices, results "
                               "folder) and print the grid; train nothing."),
    quiet: bool = typer.Option(False, help="No progress bars and no tables."),
    recompute_stale: bool = typer.Option(False, "--recompute-stale",
                                         help="Recompute stored rows made from other records of a dataset (re-imported)."),
) -> None:
    """Run every (dataset, m, group, router, seed, split seed) of a sweep; a rerun skips finished rows."""
    from routereval.cli.output import console, err_console
    from routereval.evaluation.aggregate import summary_rows
    from routereval.progress import progress
    from routereval.cli.output import print_tables
    from routereval.results.store import ResultsStore
    from routereval.sweeps.config import load_sweep
    from routereval.sweeps.executors import Failure, make_executor
    from routereval.sweeps.checks import check_sweep, results_folder
    from routereval.sweeps.runner import run_sweep

    spec = load_sweep(file)
    runner = make_executor(executor, workers=workers, address=address)
    folder = results_folder(spec, out)
    size_note = ", ".join(map(str, spec.sizes))
    console.print(
        f"[bold]{spec.name}[/]: {len(spec.datasets)} datasets x sizes {size_note} x {len(spec.groups)} groups x "
        f"{len(spec.routers)} routers x {len(spec.seeds)} seeds"
        f"{f' x {len(spec.splits)} split seeds' if len(spec.splits) > 1 else ''} -> {folder} ({runner.name}, "
        f"{runner.workers or 'cluster'} worker{'' if runner.workers == 1 else 's'})", highlight=False)
    if check:
        check_sweep(spec, folder)  # the checks the run makes first, data included; nothing is trained
        console.print("the sweep file is valid")
        return
    store = ResultsStore(folder)
    # Shown from the moment the grid is planned: loading records and vectors has its own progress.
    bar = progress("grid points", enabled=not quiet)

    def on_row(task, result) -> None:
        if isinstance(result, Failure):
            err_console.print(f"[red]failed:[/] {task}: {result.error}", highlight=False)
        bar.description = f"grid points ({task})"
        bar.advance(1)

    def started(todo: int, done: int) -> None:
        bar.total = todo
        bar.description = f"grid points ({done} already done)"
        if done:
            err_console.print(f"resuming: {done} of {todo + done} grid points already done", highlight=False)
        bar.start()

    try:
        outcome = run_sweep(spec, store, runner, progress=not quiet, on_row=on_row, on_plan=started,
                            recompute_stale=recompute_stale)
    finally:
        bar.stop()
    for source, notes in store.notes().items():
        for m, why in notes.items():
            err_console.print(f"[yellow]{source}: skipped m = {m}:[/] {why}", highlight=False, soft_wrap=True)
    if not quiet:
        print_tables(summary_rows(store.read_rows(), n_boot=spec.n_boot, compare=len(spec.splits) > 1),
                     console=console)
    console.print(
        f"{outcome.stored} rows stored, {outcome.already_done} were already done, {len(outcome.failed)} failed "
        f"({outcome.seconds:.1f} s, of which {outcome.grid_seconds:.1f} s running the grid); results in {folder}",
        highlight=False, soft_wrap=True)
    if outcome.failed:
        for task, failure in outcome.failed:
            err_console.print(f"[red]{task}[/]\n{failure.traceback or failure.error}", highlight=False)
        raise typer.Exit(1)
