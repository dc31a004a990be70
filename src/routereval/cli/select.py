"""``routereval select``: choose a model for a task from its unlabelled prompts (Shnitzer et al.)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from routereval.errors import ConfigError


def parse_alphas(text: str) -> list[float]:
    """'0,0.04,0.1' -> [0.0, 0.04, 0.1] (each in [0, 1], no repeats)."""
    try:
        alphas = [float(a) for a in text.split(",") if a.strip()]
    except ValueError as exc:
        raise ConfigError(f"--alpha must be a comma-separated list of numbers, got {text!r}") from exc
    if not alphas:
        raise ConfigError("--alpha needs at least one value")
    bad = [a for a in alphas if not 0.0 <= a <= 1.0]
    if bad:
        raise ConfigError(f"--alpha values must lie in [0, 1], got {bad[0]}")
    return list(dict.fromkeys(alphas))


def select(
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset name, imported name, or path."),
    new_task: Optional[Path] = typer.Option(
        None, "--new-task", help="Prompts of your own task (one per line, or a CSV/TSV/JSONL/Parquet 'prompt' column): "
        "choose a model for them, learning from every task of the dataset."
    ),
    alpha: str = typer.Option(
        "0", help="Share(s) of the held-out task's prompts revealed with labels, e.g. 0,0.04,0.1 "
        "(min(floor(alpha n), 50) prompts)."
    ),
    per_task: bool = typer.Option(False, "--per-task", help="Also list each task's choices."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the result rows to this JSON file."),
    encoder: str = typer.Option("minilm", help="minilm (cached), tfidf[-<dim>], or precomputed:<key>."),
    predictor: str = typer.Option(
        "knn", help="Correctness predictor: knn, or mlp (the paper's network; D(D-1)/2 + D fits: slow on a CPU)."
    ),
    k: int = typer.Option(5, help="Neighbours of the kNN predictor."),
    seed: int = typer.Option(0, help="Seed of the revealed prompts, the fallback draws and the MLP."),
    threshold: float = typer.Option(0.5, help="Continuous scores at or above this count as correct."),
    bandwidth: float = typer.Option(0.09, help="Bandwidth of the Gaussian kernel that estimates p."),
    draws: int = typer.Option(1000, help="Binomial draws of the fallback test."),
    win_share: float = typer.Option(0.6, help="Keep S3's choice only if it beats BMA in this share of draws."),
) -> None:
    """Choose the LLM for a task from its unlabelled prompts: S1, S2, S3 against BMA and the oracle."""
    from routereval.cli.output import console, to_json
    from routereval.selection.data import task_data
    from routereval.selection.predictors import make_predictor
    from routereval.selection.protocol import Settings
    from routereval.sources.catalog import load_dataset

    alphas = parse_alphas(alpha)
    if new_task is not None and alphas != [0.0]:
        raise ConfigError("--alpha applies to leave-one-task-out; it cannot be combined with --new-task")
    if k < 1 or draws < 1 or bandwidth <= 0 or not 0 < win_share <= 1 or not 0 <= threshold <= 1:
        raise ConfigError("need k >= 1, draws >= 1, bandwidth > 0, 0 < win-share <= 1 and 0 <= threshold <= 1")
    model = make_predictor(predictor, k=k, seed=seed)
    settings = Settings(bandwidth=bandwidth, n_draws=draws, win_share=win_share, seed=seed)
    bench = load_dataset(dataset)
    data = task_data(bench, threshold)
    context = {"dataset": data.name, "encoder": encoder, "predictor": predictor, "k": k, "seed": seed}
    if new_task is not None:
        rows = _new_task(data, bench, new_task, model, settings, encoder)
    else:
        rows = _leave_one_out(data, bench, alphas, model, settings, encoder, per_task)
    notes = []
    if data.n_duplicates:
        notes.append(f"{data.n_duplicates} repeated prompts inside tasks removed")
    if data.threshold is not None:
        notes.append(f"continuous scores counted correct where >= {data.threshold:g}")
    if notes:
        console.print("; ".join(notes), style="dim", highlight=False, soft_wrap=True)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(to_json([{**context, **r} for r in rows]))
        console.print(f"wrote {len(rows)} rows to {json_out}", highlight=False, soft_wrap=True)


def _leave_one_out(data, bench, alphas, model, settings, encoder, per_task) -> list[dict]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from routereval.cli.output import console, err_console
    from routereval.selection.protocol import leave_one_task_out
    from routereval.reports.selection import per_task_table, summary_table
    from routereval.selection.summary import summary_rows, task_rows
    from routereval.selection.vectors import attach_vectors

    attach_vectors(data, bench, encoder)
    with Progress("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True) as bar:
        job = bar.add_task("indexing neighbours", total=data.n_tasks)
        folds = leave_one_task_out(
            data, model, alphas=alphas, settings=settings,
            on_fold=lambda task: bar.update(job, advance=1, description=f"held out: {task}"),
        )
    per = task_rows(folds, data.models, data.name)
    summary = summary_rows(per)
    name = type(model).__name__.replace("Predictor", "").lower()
    for a in alphas:
        head = (f"{data.name}: leave one task out, {data.n_tasks} tasks x {data.n_models} models "
                f"({encoder}, {name})" + (f", alpha = {a:g}" if len(alphas) > 1 or a else ""))
        console.print(summary_table([r for r in summary if r["alpha"] == a], head))
        s3 = [r for r in per if r["alpha"] == a and r["method"] == "S3"]
        agreed = sum(r["m_star"] == r["model"] and r["bma_chosen"] for r in s3)
        kept = sum(r["m_star"] == r["model"] and not r["bma_chosen"] for r in s3)
        if agreed == len(s3):
            line = f"  S3's best model was BMA on all {len(s3)} tasks"
        else:
            line = (f"  S3's best model was BMA on {agreed} of {len(s3)} tasks; on the other {len(s3) - agreed}, "
                    f"the fallback test kept it on {kept} and returned to BMA on {len(s3) - agreed - kept}")
        console.print(line, highlight=False, soft_wrap=True)
        if per_task:
            console.print(per_task_table([r for r in per if r["alpha"] == a], f"choices per task (alpha = {a:g})"))
    return per + summary


def _new_task(data, bench, path, model, settings, encoder) -> list[dict]:
    from routereval.cli.output import console
    from routereval.selection.newtask import choose_for_prompts, read_prompts, unique_prompts
    from routereval.reports.selection import new_task_table
    from routereval.selection.vectors import attach_vectors

    prompts = unique_prompts(read_prompts(path))
    vectors = attach_vectors(data, bench, encoder, new_texts=prompts)
    choice = choose_for_prompts(data, vectors, model, settings)
    rows = choice.rows(data.name)
    title = f"{path.name}: {len(prompts)} prompts, scored from {data.n_tasks} tasks of {data.name}"
    console.print(new_task_table([r for r in rows if r["kind"] == "model"], title))
    decision = rows[-1]
    rate = decision["win_rate"]
    if decision["m_star"] == decision["bma"]:
        why = "S3's best model is also the best on average"
    elif rate is None or rate != rate:
        why = f"S3 preferred {decision['m_star']}, but it could not be tested against the best model on average"
    elif decision["fell_back"]:
        why = (f"S3 preferred {decision['m_star']}, but it beat {decision['bma']} in only {100 * rate:.0f}% "
               "of simulated draws, so the best model on average is kept")
    else:
        why = f"it beat the best model on average ({decision['bma']}) in {100 * rate:.0f}% of simulated draws"
    console.print(f"chosen: [bold]{decision['model']}[/] ({why}); task descriptor u = {decision['descriptor']:.3f}",
                  highlight=False, soft_wrap=True)
    return rows
