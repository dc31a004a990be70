"""``routereval cache``: check, repair and clear the embedding cache."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="Check, repair and clear the embedding cache.", no_args_is_help=True)

DIR_HELP = "Embeddings folder (default: the one under ROUTEREVAL_HOME)."


def _root(folder: Path | None) -> Path:
    from routereval import paths
    from routereval.errors import RouterEvalError

    root = folder if folder is not None else paths.embeddings_dir()
    if root.exists() and not root.is_dir():
        raise RouterEvalError(f"{root} is a file, not an embeddings folder")
    return root


def _encoder_folders(root: Path, encoder: str | None) -> list[Path]:
    from routereval.errors import RouterEvalError

    if encoder is not None:
        folder = root / encoder
        if not (folder / "encoder.json").is_file():
            known = ", ".join(sorted(p.name for p in _encoder_folders(root, None))) or "none"
            raise RouterEvalError(f"no embedding cache for encoder {encoder!r} in {root} (cached encoders: {known})")
        return [folder]
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / "encoder.json").is_file())


@app.command("verify")
def verify(
    encoder: Optional[str] = typer.Option(None, "--encoder", help="Check only this encoder's cache."),
    folder: Optional[Path] = typer.Option(None, "--dir", help=DIR_HELP),
    repair: bool = typer.Option(False, "--repair", help="Drop damaged shards; their texts are embedded again."),
) -> None:
    """Hash every cached shard against the index; exit 1 if any is damaged (unless --repair)."""
    import json

    from routereval.cli.output import console, error
    from routereval.encoders.cache import (
        CacheDamagedError,
        EmbeddingCache,
        repair_command,
    )
    from routereval.errors import RouterEvalError

    root = _root(folder)
    folders = _encoder_folders(root, encoder)
    if not folders:
        console.print(f"no embedding caches in {root}")
        return
    damaged_total = 0
    for path in folders:
        try:
            dim = int(json.loads((path / "encoder.json").read_text())["dim"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            error(f"{path}: encoder.json cannot be read ({exc}); delete it with "
                  f"`{repair_command(path.name, root, clear=True)}`")
            damaged_total += 1
            continue
        try:
            cache = EmbeddingCache(path.name, dim, root, check=False)
        except CacheDamagedError as exc:
            error(str(exc))
            damaged_total += 1
            continue
        with cache:
            damaged = cache.verify()
            texts = len(cache)
            if not damaged:
                console.print(f"{path.name}: ok ({texts:,} texts)", highlight=False)
                continue
            for shard, reason in damaged:
                error(f"{path.name}: shard {shard}.npy is {reason}")
            if repair:
                forgotten = cache.drop_shards([shard for shard, _ in damaged])
                console.print(
                    f"{path.name}: dropped {len(damaged)} damaged shard(s), {forgotten:,} texts will be "
                    "embedded again on the next run",
                    highlight=False,
                )
            else:
                damaged_total += len(damaged)
                error(f"{path.name}: repair with `{repair_command(path.name, root)}`")
    if damaged_total:
        raise RouterEvalError(f"{damaged_total} damaged part(s) found in {root}")


@app.command("clear")
def clear(
    encoder: str = typer.Option(..., "--encoder", help="The encoder whose cache is deleted."),
    folder: Optional[Path] = typer.Option(None, "--dir", help=DIR_HELP),
) -> None:
    """Delete one encoder's cached vectors (they are computed again when next needed)."""
    from routereval.cli.output import console
    from routereval.encoders.base import check_name
    from routereval.errors import RouterEvalError

    root = _root(folder)
    try:
        check_name(encoder)
    except ValueError as exc:
        raise RouterEvalError(str(exc)) from exc
    path = root / encoder
    if not path.is_dir():
        raise RouterEvalError(f"no embedding cache for encoder {encoder!r} in {root}")
    shutil.rmtree(path)
    console.print(f"deleted the {encoder} cache ({path})", highlight=False)
