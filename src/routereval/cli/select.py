"""``routereval select``: choose a model for a task from its unlabelled prompts (Shnitzer et al.)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import typer

from routereval.errors import ConfigError

REFERENCES = ("loto", "published")


@dataclass(frozen=True)
class Analyses:
    """What, beyond the summary, a leave-one-task-out run was asked for."""

    pointwise: bool = False
    candidates: str | None = None
    against: str | None = None
    distance_bins: int = 0
    correlation: bool = False
    figures: Path | None = None

    @property
    def asked(self) -> bool:
        return bool(self.pointwise or self.candidates or self.against or self.distance_bins or self.correlation
                    or self.figures)


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
    references: str = typer.Option(
        "loto", "--references", help="Reference pairs for S3's p: loto (leak-free: the held-out task is kept out "
        "of the first pass) or published (the authors' scheme: each reference predictor's pool keeps it)."
    ),
    pool_alphas: bool = typer.Option(
        False, "--pool-alphas", help="Estimate p from the reference pairs of every --alpha value pooled, "
        "as the authors' code does."
    ),
    pointwise: bool = typer.Option(
        False, "--pointwise", help="Also route each prompt to the model with the highest predicted correctness."
    ),
    candidates: Optional[str] = typer.Option(
        None, "--candidates", help="Models that may be chosen: a,b,c or a size filter such as params<=13e9."
    ),
    against: Optional[str] = typer.Option(
        None, "--against", help="Reference model: how often and by how much the chosen model matches it."
    ),
    distance_bins: int = typer.Option(
        0, "--distance-bins", help="Choice quality in this many bins of the prompts' distance to the training pool."
    ),
    correlation: bool = typer.Option(
        False, "--correlation", help="Per task: correlation of S1-S3 with true accuracy against the task descriptor."
    ),
    figures: Optional[Path] = typer.Option(
        None, "--figures", help="Write the figures of the analyses asked for (PNG and SVG) to this folder."
    ),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the result rows to this JSON file."),
    encoder: Optional[str] = typer.Option(
        None, help="A MiniLM path (cached; by default minilm-onnx, the fp32 path, as the published protocol embeds: "
        "the faster minilm-int8 moves a few task-level choices), tfidf[-<dim>], or precomputed:<key>."
    ),
    markdown_out: Optional[Path] = typer.Option(
        None, "--markdown", help="Write the summary tables (one per alpha) as Markdown to this file."
    ),
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
    analyses = Analyses(pointwise, candidates, against, distance_bins, correlation, figures)
    if new_task is not None and (alphas != [0.0] or analyses.asked or references != "loto" or pool_alphas
                                 or markdown_out is not None):
        raise ConfigError(
            "--alpha, --references, --pool-alphas, --markdown and the analyses apply to leave-one-task-out; "
            "they cannot be combined with --new-task"
        )
    if k < 1 or draws < 1 or bandwidth <= 0 or not 0 < win_share <= 1 or not 0 <= threshold <= 1:
        raise ConfigError("need k >= 1, draws >= 1, bandwidth > 0, 0 < win-share <= 1 and 0 <= threshold <= 1")
    if distance_bins < 0:
        raise ConfigError(f"--distance-bins must be 0 (off) or more, got {distance_bins}")
    if figures is not None and not (distance_bins or correlation or against):
        raise ConfigError("--figures draws the analyses: add --distance-bins N, --correlation or --against MODEL")
    for flag, path in (("--json", json_out), ("--markdown", markdown_out)):
        if path is not None and path.is_dir():
            raise ConfigError(f"{flag} {path} is a folder; give a file name")
        if path is not None:
            from routereval.atomic import check_output

            check_output(path)  # a named pipe, a device, a link to nowhere, a file where a folder is needed
    if encoder is None:
        from routereval.selection.vectors import SELECTION_ENCODER

        encoder = SELECTION_ENCODER
    if references not in REFERENCES:
        raise ConfigError(f"--references must be one of {', '.join(REFERENCES)}, got {references!r}")
    model = make_predictor(predictor, k=k, seed=seed)
    settings = Settings(bandwidth=bandwidth, n_draws=draws, win_share=win_share, seed=seed,
                        references=references, pool_alphas=pool_alphas)
    bench = load_dataset(dataset)
    data = task_data(bench, threshold)
    context = {"dataset": data.name, "encoder": encoder, "predictor": predictor, "k": k, "seed": seed,
               "references": references, "pool_alphas": pool_alphas}
    if new_task is not None:
        rows, tables = _new_task(data, bench, new_task, model, settings, encoder), []
    else:
        rows, tables = _leave_one_out(data, bench, alphas, model, settings, encoder, per_task, analyses)
    notes = []
    if data.n_duplicates:
        notes.append(f"{data.n_duplicates} repeated prompts inside tasks removed")
    if data.threshold is not None:
        notes.append(f"continuous scores counted correct where >= {data.threshold:g}")
    if notes:
        console.print("; ".join(notes), style="dim", highlight=False, soft_wrap=True)
    from routereval.atomic import write_text_atomic

    if json_out is not None:
        write_text_atomic(json_out, to_json([{**context, **r} for r in rows]))
        console.print(f"wrote {len(rows)} rows to {json_out}", highlight=False, soft_wrap=True)
    if markdown_out is not None:
        write_text_atomic(markdown_out, "\n".join(tables))


def _leave_one_out(data, bench, alphas, model, settings, encoder, per_task,
                   analyses: Analyses) -> tuple[list[dict], list[str]]:
    import numpy as np

    from routereval.cli.output import console, print_table
    from routereval.progress import progress
    from routereval.reports.selection import per_task_table, summary_markdown, summary_table
    from routereval.selection.candidates import model_index, parse_candidates
    from routereval.selection.protocol import leave_one_task_out
    from routereval.selection.summary import summary_rows, task_rows
    from routereval.selection.vectors import attach_vectors

    allowed, notes = None, []
    if analyses.candidates:
        allowed, notes = parse_candidates(analyses.candidates, bench.models)
    reference = None
    if analyses.against:
        reference = model_index(analyses.against, list(data.models), "--against")
        if allowed is None:
            allowed = np.ones(data.n_models, dtype=bool)
            allowed[reference] = False
            notes.append(f"candidates: every model but {analyses.against}")
    for note in notes:
        console.print(note, style="dim", highlight=False, soft_wrap=True)
    attach_vectors(data, bench, encoder)
    with progress("leave one task out", total=data.n_tasks) as bar:

        def held_out(task: str) -> None:
            bar.description = f"leave one task out (held out: {task})"
            bar.advance(1)

        folds = leave_one_task_out(data, model, alphas=alphas, settings=settings, candidates=allowed,
                                   on_fold=held_out)
    per = task_rows(folds, data.models, data.name, pointwise=analyses.pointwise)
    summary = summary_rows(per)
    name = type(model).__name__.replace("Predictor", "").lower()
    refs = settings.references + (", reference pairs pooled over alphas" if settings.pool_alphas else "")
    subset = f", {int(allowed.sum())} candidates" if allowed is not None else ""
    tables: list[str] = []
    for a in alphas:
        head = (f"{data.name}: leave one task out, {data.n_tasks} tasks x {data.n_models} models "
                f"({encoder}, {name}, references: {refs}{subset})" + (f", alpha = {a:g}" if len(alphas) > 1 or a else ""))
        print_table(head, *summary_table([r for r in summary if r["alpha"] == a]))
        tables.append(summary_markdown([r for r in summary if r["alpha"] == a], head))
        s3 = [r for r in per if r["alpha"] == a and r["method"] == "S3"]
        agreed = sum(r["m_star"] == r["model"] and r["bma_chosen"] for r in s3)
        kept = sum(r["m_star"] == r["model"] and not r["bma_chosen"] for r in s3)
        if agreed == len(s3):
            line = f"  S3's best model was BMA on all {len(s3)} tasks"
        else:
            line = (f"  S3's best model was BMA on {agreed} of {len(s3)} tasks; on the other {len(s3) - agreed}, "
                    f"the fallback test kept it on {kept} and returned to BMA on {len(s3) - agreed - kept}")
        console.print(line, highlight=False, soft_wrap=True)
        _print_ties([r for r in per if r["alpha"] == a], [r for r in summary if r["alpha"] == a])
        if per_task:
            print_table(f"choices per task (alpha = {a:g})", *per_task_table([r for r in per if r["alpha"] == a]))
            if analyses.pointwise:
                for r in (r for r in per if r["alpha"] == a and r["method"] == "Pointwise"):
                    console.print(f"  {r['task']}: per-prompt routing {r['accuracy']:.3f} over {r['n_models_used']} "
                                  f"models (most prompts to {r['model']})", highlight=False, soft_wrap=True)
    extra: list[dict] = []
    if analyses.correlation:
        extra += _correlation(per, data.name, analyses.figures)
    if analyses.distance_bins:
        extra += _distance(folds, data, analyses.distance_bins, settings, alphas, analyses.figures)
    if reference is not None:
        extra += _against(per, data, reference, analyses.figures)
    return per + summary + extra, tables


def _print_ties(per: list[dict], summary: list[dict]) -> None:
    from routereval.cli.output import console

    counted = [f"{r['method']} {r['n_ties']}" for r in summary if r.get("n_ties")]
    if not counted:
        console.print("  no tie at the top of any score", highlight=False, soft_wrap=True)
        return
    console.print(f"  tasks whose top score was tied (exact scores): {', '.join(counted)}", highlight=False,
                  soft_wrap=True)
    for r in per:
        if r.get("tie"):
            chosen = r.get("m_star", r["model"])
            console.print(f"    {r['task']}, {r['method']}: {chosen} tied with {', '.join(r['tied_with'])}; "
                          f"settled by {r['tie_rule']}", highlight=False, soft_wrap=True)


def _table(title: str, columns: list[str], lines: list[list[str]]) -> None:
    """Print an analysis table through the one renderer (never cut): the first column names, the rest numbers."""
    from routereval.cli.output import Column, print_table

    print_table(title, [Column(columns[0], "name")] + [Column(c) for c in columns[1:]], lines)


def _save(fig, folder: Path, stem: str) -> None:
    from routereval.cli.output import console
    from routereval.reports.figures import save_figure

    folder.mkdir(parents=True, exist_ok=True)
    for path in save_figure(fig, folder / stem):
        console.print(f"wrote {path}", highlight=False, soft_wrap=True)


def _correlation(per, dataset, figures) -> list[dict]:
    from routereval.cli.output import console
    from routereval.reports.tables import fmt
    from routereval.selection.analyses import correlation_by_descriptor

    rows, summary = correlation_by_descriptor(per)
    for a in dict.fromkeys(r["alpha"] for r in rows):
        block = sorted((r for r in rows if r["alpha"] == a), key=lambda r: r["u"])
        _table(f"correlation of scores with true accuracy, by task descriptor u (alpha = {a:g})",
               ["task", "u", "S1", "S2", "S3"],
               [[r["task"], fmt(r["u"]), fmt(r["S1"]), fmt(r["S2"]), fmt(r["S3"])] for r in block])
        console.print("  Spearman over tasks of u against each correlation: " + ", ".join(
            f"{r['method']} {fmt(r['spearman_u'])}" for r in summary if r["alpha"] == a), highlight=False)
    if figures is not None:
        from routereval.reports.selection_figures import plot_correlation

        a0 = rows[0]["alpha"]
        _save(plot_correlation([r for r in rows if r["alpha"] == a0], [r for r in summary if r["alpha"] == a0],
                               f"{dataset}: correlation with true accuracy against u(d') (alpha = {a0:g})"),
              figures, f"{dataset}-correlation")
    return rows + summary


def _distance(folds, data, n_bins, settings, alphas, figures) -> list[dict]:
    from routereval.reports.tables import fmt
    from routereval.selection.analyses import DISTANCE_METHODS, by_distance

    out = []
    for a in alphas:
        per, summary = by_distance([f for f in folds if f.alpha == a], data, n_bins, settings)
        bins = list(dict.fromkeys(r["bin"] for r in summary))
        lines = []
        for b in bins:
            by = {r["method"]: r for r in summary if r["bin"] == b}
            first = by[DISTANCE_METHODS[0]]
            lines.append([f"{b + 1}", fmt(first["u"]), str(first["n_subsets"]), str(first["n_prompts"]),
                          *[fmt(by[m]["ratio"]) for m in DISTANCE_METHODS if m != "Oracle"]])
        _table(f"ratio to the best model on the prompts, by distance to the training pool (alpha = {a:g})",
               ["bin", "mean u", "task subsets", "prompts", *[m for m in DISTANCE_METHODS if m != "Oracle"]], lines)
        if figures is not None and a == alphas[0]:
            from routereval.reports.selection_figures import plot_distance

            _save(plot_distance(summary, f"{data.name}: choice quality by distance to the training pool "
                                         f"({n_bins} bins, alpha = {a:g})"), figures, f"{data.name}-distance")
        out += per + summary
    return out


def _against(per, data, reference, figures) -> list[dict]:
    from routereval.reports.tables import fmt
    from routereval.selection.analyses import against_reference

    name = data.models[reference]
    acc = data.task_accuracy()[:, reference]
    ref_acc = {task: float(acc[t]) for t, task in enumerate(data.tasks)}
    methods = [m for m in ("S1", "S2", "S3", "Pointwise", "BMA", "Oracle")]
    rows = against_reference([r for r in per if r["method"] in methods], ref_acc, name)
    for a in dict.fromkeys(r["alpha"] for r in rows):
        block = [r for r in rows if r["alpha"] == a]
        _table(
            f"chosen among the candidates against {name} (alpha = {a:g}; {name}: {fmt(block[0]['reference_accuracy'])})",
            ["method", "accuracy", "tasks matched", "mean difference", "mean ratio"],
            [[r["method"], fmt(r["accuracy"]), f"{r['match_share'] * r['n_tasks']:.0f}/{r['n_tasks']}",
              f"{r['mean_difference']:+.3f}", fmt(r["mean_ratio"])] for r in block])
    if figures is not None:
        from routereval.reports.selection_figures import plot_against

        _save(plot_against(rows, f"{data.name}: the candidates against {name}"), figures, f"{data.name}-against")
    return rows


def _new_task(data, bench, path, model, settings, encoder) -> list[dict]:
    from routereval.cli.output import console, print_table
    from routereval.reports.selection import new_task_table
    from routereval.selection.newtask import (
        choose_for_prompts,
        read_prompts,
        unique_prompts,
    )
    from routereval.selection.vectors import attach_vectors

    prompts = unique_prompts(read_prompts(path))
    vectors = attach_vectors(data, bench, encoder, new_texts=prompts)
    choice = choose_for_prompts(data, vectors, model, settings)
    rows = choice.rows(data.name)
    title = f"{path.name}: {len(prompts)} prompts, scored from {data.n_tasks} tasks of {data.name}"
    print_table(title, *new_task_table([r for r in rows if r["kind"] == "model"]))
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
    for method, tied in decision["ties"].items():
        console.print(f"  {method}: {', '.join(tied)} tied at the top (exact scores); settled towards the best "
                      "model on average, then model order", highlight=False, soft_wrap=True)
    return rows
