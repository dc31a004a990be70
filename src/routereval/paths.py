"""Where routereval keeps things: one home folder, an optional offline mirror."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The routereval home: ``$ROUTEREVAL_HOME`` or the user's cache folder."""
    env = os.environ.get("ROUTEREVAL_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("routereval"))


def downloads_dir() -> Path:
    """Verified upstream files, one per sha256."""
    return home() / "downloads"


def datasets_dir() -> Path:
    """Built records stores, one folder per dataset name."""
    return home() / "datasets"


def embeddings_dir() -> Path:
    """Cached text embeddings, one folder per encoder."""
    return home() / "embeddings"


def mirror_root() -> Path | None:
    """``$ROUTEREVAL_MIRROR``: a folder laid out as ``<owner>/<repo>/<commit>/<path>``."""
    env = os.environ.get("ROUTEREVAL_MIRROR")
    return Path(env).expanduser() if env else None
