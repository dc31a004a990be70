"""Where routereval keeps things: one home folder, an optional offline mirror."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from routereval.errors import EnvironmentProblem


def home() -> Path:
    """The routereval home: ``$ROUTEREVAL_HOME`` or the user's cache folder.

    A home that exists but is not a folder is refused here, once, with a line
    that says which variable to change, instead of as an odd error later.
    """
    env = os.environ.get("ROUTEREVAL_HOME")
    if env:
        path = Path(env).expanduser()
        where = f"ROUTEREVAL_HOME={env}"
    else:
        from platformdirs import user_cache_dir

        path = Path(user_cache_dir("routereval"))
        where = f"the routereval home {path}"
    if path.exists() and not path.is_dir():
        raise EnvironmentProblem(f"{where} is a file, not a folder; point ROUTEREVAL_HOME at a folder")
    return path


def writable_dir(path: Path) -> Path:
    """Create the folder ``path`` if needed and check that files can be written in it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise EnvironmentProblem(f"{path} is a file, but a folder is needed there") from None
    except NotADirectoryError:
        raise EnvironmentProblem(f"{path}: a file stands where one of its parent folders should be") from None
    except OSError as exc:
        raise EnvironmentProblem(_cannot_write(path, exc)) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise EnvironmentProblem(_cannot_write(path, OSError(errno.EACCES, os.strerror(errno.EACCES))))
    return path


def _cannot_write(path: Path, exc: OSError) -> str:
    return (
        f"cannot write in {path} ({exc.strerror or exc}); make it writable, "
        "or point ROUTEREVAL_HOME at a folder you can write to"
    )


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
