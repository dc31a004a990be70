"""``routereval train``: fit an encoder + router on a dataset and save it as a routing artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from routereval.errors import ConfigError


def train(
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset name, imported name, or path."),
    router: str = typer.Option("auto", help="Router with parameters, e.g. knn:k=10 or mlp:recipe=fast. Default: "
                                            "auto, the zoo member that beats the best single model by nested "
                                            "validation with confidence, else that model."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write the artifact to."),
    encoder: str = typer.Option("minilm", help="minilm, minilm-static (a table distilled from it: decisions in well under a millisecond), or tfidf[-<dim>] (fitted on the training prompts, saved)."),
    models: Optional[str] = typer.Option(None, help="Comma-separated candidate models (default: all of the dataset)."),
    split: str = typer.Option("all", help="all: fit on every prompt; train: fit on the training split and "
                                          "record the held-out test score in the manifest."),
    output_tokens: int = typer.Option(256, help="Output tokens assumed per answer in cost estimates."),
    force: bool = typer.Option(False, "--force", help="Replace an artifact already in --out."),
) -> None:
    """Train a router on a dataset's records and save it (manifest.json + .npz weights; no pickle)."""
    from routereval.cli.output import console
    from routereval.cli.route import names_option
    from routereval.deploy.model import check_destination
    from routereval.deploy.train import train_model
    from routereval.evaluation.specs import parse_routers
    from routereval.sources.catalog import load_dataset

    specs = parse_routers(router)
    if len(specs) != 1:
        raise ConfigError(f"--router takes one router, got {router!r}")
    from routereval.deploy.manifest import MAX_OUTPUT_TOKENS

    if not 0 <= output_tokens <= MAX_OUTPUT_TOKENS:
        raise ConfigError(f"--output-tokens must be in 0..{MAX_OUTPUT_TOKENS}, got {output_tokens}")
    names = names_option("--models", models)
    # Checked before any data is read or fitted: a wrong --out should not cost a training run.
    check_destination(out, overwrite=force)
    bench = load_dataset(dataset)
    model = train_model(bench, specs[0].name, specs[0].params, encoder, models=names, split=split,
                        output_tokens=output_tokens, progress=True)
    model.save(out, overwrite=force)
    console.print(f"saved {specs[0].label} over {len(model.candidates)} candidates of {bench.name} to {out}",
                  highlight=False, soft_wrap=True, markup=False)
    if hasattr(model.router, "describe"):
        console.print(model.router.describe(), highlight=False, soft_wrap=True, markup=False)
    held = model.info.get("held_out")
    if held:
        console.print(
            f"held-out test ({held['n_test']} prompts): router {held['mean_score']:.4f}, best single (picked on "
            f"train) {held['best_single_on_train']:.4f}, oracle {held['oracle']:.4f}", highlight=False, soft_wrap=True)
