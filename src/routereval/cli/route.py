"""``routereval route``: route prompts with a saved router (one, a file of them, or stdin)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer

from routereval.errors import ConfigError
from routereval.reports.tables import Column

#: Prompts embedded and routed per batch.
BATCH = 256


def names_option(option: str, text: Optional[str]) -> Optional[list[str]]:
    """Comma-separated names given to ``option`` (None when it is not given).

    An empty value or an empty item (``''``, ``','``, ``'a,,b'``) is refused
    rather than read as "no restriction": ``--candidates "$LIST"`` with an
    unset variable must not route to every model.
    """
    if text is None:
        return None
    names = [t.strip() for t in text.split(",")]
    if not any(names):
        raise ConfigError(f"{option} is empty; give comma-separated model names, or leave the option out")
    if not all(names):
        raise ConfigError(f"{option} {text!r} has an empty name at position {names.index('') + 1}; "
                          "give comma-separated model names")
    return names


def route(
    folder: Path = typer.Argument(..., help="Artifact folder written by `routereval train`."),
    prompt: Optional[str] = typer.Argument(None, help="The prompt; omit it to read --file or stdin (one per line)."),
    file: Optional[Path] = typer.Option(None, "--file", "-f", help="Prompts: .txt (one per line), or the 'prompt' "
                                        "column of a .csv / .tsv / .jsonl / .parquet table."),
    json_out: bool = typer.Option(False, "--json", help="JSON Lines on stdout, one decision per prompt."),
    cost_weight: float = typer.Option(0.0, help="Maximise quality - cost_weight x cost ($ per request)."),
    max_cost: Optional[float] = typer.Option(None, help="Cap on the estimated $ per request."),
    tolerance: Optional[float] = typer.Option(None, help="Cheapest candidate within this much quality of the best."),
    candidates: Optional[str] = typer.Option(None, help="Comma-separated candidates to keep."),
    exclude: Optional[str] = typer.Option(None, help="Comma-separated candidates to leave out."),
    top: int = typer.Option(0, help="Show only the best N of the ranked list (0: all)."),
) -> None:
    """Choose a model for each prompt and print the ranked candidates with quality and cost estimates."""
    from rich.markup import escape

    from routereval.cli.output import console, print_table, to_json
    from routereval.deploy.model import RoutingModel, RoutingOptions

    if prompt is not None and file is not None:
        raise ConfigError("give a prompt or --file, not both")
    if prompt is not None:
        prompts = [prompt]
    elif file is not None:
        from routereval.selection.newtask import read_prompts

        prompts = read_prompts(file)
    else:
        if sys.stdin.isatty():
            raise ConfigError("no prompt: give one as an argument, --file, or pipe prompts on stdin (one per line)")
        prompts = [line for line in sys.stdin.read().splitlines() if line.strip()]
        if not prompts:
            raise ConfigError("stdin held no prompts")
    options = RoutingOptions.from_dict({
        "cost_weight": cost_weight, "max_cost": max_cost, "tolerance": tolerance,
        "candidates": names_option("--candidates", candidates), "exclude": names_option("--exclude", exclude) or [],
    })
    model = RoutingModel.load(folder)
    out = sys.stdout
    for start in range(0, len(prompts), BATCH):
        batch = prompts[start:start + BATCH]
        decisions = model.decide(batch, options).decisions()
        for text, decision in zip(batch, decisions):
            doc = decision.to_dict()
            if top > 0:
                doc["ranked"] = doc["ranked"][:top]
            if json_out:
                out.write(to_json({"prompt": text, **doc}).replace("\n", "") + "\n")
                continue
            if len(prompts) > 1:
                console.print(f"[bold]{_short(text)}[/]", highlight=False, soft_wrap=True)
            console.print(f"chosen: [bold green]{escape(doc['chosen'])}[/]", highlight=False, soft_wrap=True)
            if doc["basis"] == "prior":
                console.print("  (no word of this prompt is known to the router: candidates ranked by their mean "
                              "score in training)", highlight=False, markup=False,
                              soft_wrap=not console.is_terminal)  # prose: wrapped at spaces in a terminal
            print_table(None, RANKED_COLUMNS, ranked_rows(doc["ranked"]), console=console)


#: The ranked list as a table (printed by the one table rule of every command): model names may wrap after
#: a separator in a narrow terminal, numbers never.
RANKED_COLUMNS = [Column("rank"), Column("model", "name"), Column("quality"), Column("est. $/request")]


def ranked_rows(ranked: list[dict[str, Any]]) -> list[list[str]]:
    """The cells of the ranked list: rank, model, estimated quality, estimated cost ('unknown' without a price)."""
    return [[str(rank), row["model"], f"{row['quality']:.3f}",
             "unknown" if row["cost"] is None else f"{row['cost']:.6f}"] for rank, row in enumerate(ranked, 1)]


def _short(text: str, width: int = 80) -> str:
    from rich.markup import escape

    one = " ".join(text.split())
    return escape(one if len(one) <= width else one[: width - 3] + "...")
