"""``routereval curve``: cost-quality curves of routers on one dataset, written as JSON, CSV, PNG and SVG."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from routereval.datasets.splits import SPLIT_SEED
from routereval.errors import ConfigError

DEFAULT_ROUTERS = "knn,mlp,best-single,oracle,random"


def curve(
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset name, imported name, or path."),
    routers: str = typer.Option(DEFAULT_ROUTERS, help="Routers (oracle = the cost-aware oracle; random = its point)."),
    out: Path = typer.Option(..., "--out", help="Folder for curves.json, curves.csv, metrics.csv and the figures."),
    cost: str = typer.Option("auto", help="Cost unit: dollars (records: stored, else tokens x prices), "
                             "input-dollars (prompt tokens x input price, where replies are not recorded), "
                             "compute (2 x params x tokens FLOPs), calls (to the strong model of a pair), "
                             "or auto: the first of dollars, calls, input-dollars, compute that prices two models."),
    prices: Optional[Path] = typer.Option(None, "--prices", help="CSV/JSON of model, input, output ($ per 1M "
                                          "tokens) setting or overriding the dataset's prices."),
    folds: int = typer.Option(10, help="Cross-fitting folds (every prompt held out once); 1 = the 80/10/10 split."),
    encoder: str = typer.Option("auto", help="minilm, minilm-static, tfidf, precomputed:<key>, or auto."),
    seed: int = typer.Option(0, help="Seed of the routers (their random_state)."),
    split_seed: int = typer.Option(SPLIT_SEED, help="Seed of the split or folds."),
    figures: bool = typer.Option(True, "--figures/--no-figures", help="Write PNG and SVG figures."),
    markdown_out: Optional[Path] = typer.Option(None, "--markdown", help="Also write the tables as Markdown."),
) -> None:
    """Sweep each router's cost weight over every point where its choices change; write curves and metrics."""
    import pandas as pd

    from routereval.atomic import write_text_atomic
    from routereval.cli.output import console, err_console, print_records, to_json
    from routereval.evaluation.curves import cost_quality
    from routereval.records.costs import UNITS
    from routereval.evaluation.specs import parse_routers
    from routereval.reports.cost_figures import (
        aiq_range_text,
        markdown_table,
        metrics_table,
    )
    from routereval.sources.catalog import load_dataset

    from routereval.sweeps.config import check_seed

    if folds < 1:
        raise ConfigError(f"--folds must be at least 1 (1 = the 80/10/10 split; k >= 2 folds cross-fit), got {folds}")
    for flag, value in (("--seed", seed), ("--split-seed", split_seed)):
        if check_seed(value, flag):
            raise ConfigError(check_seed(value, flag))
    if cost not in (*UNITS, "auto"):
        raise ConfigError(f"--cost must be one of auto, {', '.join(UNITS)}, got {cost!r}")
    specs = parse_routers(routers)
    if not specs:
        raise ConfigError("--routers names no router; e.g. --routers knn,best-single,oracle")
    for s in specs:
        s.check()
    if markdown_out is not None:  # checked before the run, as bench checks its --markdown
        from routereval.atomic import check_output

        if markdown_out.is_dir():
            raise ConfigError(f"--markdown {markdown_out} is a folder; give a file name")
        check_output(markdown_out)
    bench = load_dataset(dataset)
    if prices is not None:
        from routereval.sources.prices import apply_price_file

        bench = apply_price_file(bench, prices)
    needs_vectors = any(s.inputs == "embeddings" for s in specs)
    vectors = None
    if needs_vectors:
        from routereval.evaluation.features import embed

        vectors = embed(bench, encoder, progress=True)
    try:
        study = cost_quality(bench, specs, unit=cost, embeddings=vectors, folds=folds, seed=seed,
                             split_seed=split_seed)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    doc = study.to_dict()
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "curves.json", to_json(doc) + "\n")
    rows = [{"router": c["router"], "kind": "point", "lambda": p["lambda"], "cost": p["cost"], "quality": p["quality"]}
            for c in doc["curves"] for p in c["points"]]
    rows += [{"router": c["router"], "kind": "hull", "lambda": None, "cost": h["cost"], "quality": h["quality"]}
             for c in doc["curves"] for h in c["hull"]]
    rows += [{"router": s["model"], "kind": "pareto" if s["pareto"] else "single", "lambda": None,
              "cost": s["cost"], "quality": s["quality"]} for s in doc["singles"]]
    write_text_atomic(out / "curves.csv", pd.DataFrame(rows).to_csv(index=False))
    merged = pd.DataFrame(doc["metrics"] or [{"router": c["router"]} for c in doc["curves"]])
    if doc["pair"]:
        merged = merged.merge(pd.DataFrame(doc["pair"]), on="router", how="left")
    write_text_atomic(out / "metrics.csv", merged.to_csv(index=False))
    table = metrics_table(doc)
    console.print(f"[bold]{dataset}[/]: {doc['n_test']} held-out prompts, {len(doc['models'])} models with costs; "
                  f"{doc['cost_note']}", highlight=False)
    if doc["dropped_models"]:
        err_console.print(f"[yellow]left out (no known cost):[/] {', '.join(doc['dropped_models'])}", highlight=False)
    if doc["n_dropped_prompts"]:
        err_console.print(f"[yellow]{doc['n_dropped_prompts']} prompts left out[/] (a model lacks a score or a cost)",
                          highlight=False)
    console.print(f"AIQ over {aiq_range_text(doc)} (cheapest to dearest single model)", highlight=False)
    print_records("cost-quality metrics", table)
    print_records("strong/weak pair", doc["pair"])
    if markdown_out is not None:
        write_text_atomic(markdown_out, "\n".join(t for t in (markdown_table(table), markdown_table(doc["pair"])) if t))
        console.print(f"wrote {markdown_out}", highlight=False, soft_wrap=True)
    if figures:
        from routereval.reports.cost_figures import plot_cost_quality
        from routereval.reports.figures import save_figure

        for path in save_figure(plot_cost_quality(doc), out / "cost-quality"):
            console.print(f"wrote {path}")
    console.print(f"wrote {out / 'curves.json'}, {out / 'curves.csv'}, {out / 'metrics.csv'}")
