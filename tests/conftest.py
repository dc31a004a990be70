"""Shared fixtures (an isolated routereval home, the offline data mirror) and the rule for slow tests.

A default ``pytest`` leaves out the tests marked ``slow`` and says how many on
one line; ``pytest --slow``, a true ``CI`` variable (``true`` or ``1``) or an
explicit ``-m`` expression runs them. A test named by its id on the command
line always runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support.requirements import MIRROR_MISSING, mirror_root


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", default=False,
                     help="also run the tests marked slow (as CI=true does)")


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() in {"true", "1"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the ``slow`` tests unless they are asked for, and say on one line how many and how to run them."""
    if config.getoption("markexpr") or config.getoption("--slow") or _true(os.environ.get("CI")):
        return  # an explicit -m expression decides alone; --slow and CI run everything
    named = _named_on_the_command_line(config)
    slow = [item for item in items if item.get_closest_marker("slow") and not named(item)]
    if not slow:
        return
    config.hook.pytest_deselected(items=slow)
    left_out = {id(item) for item in slow}
    items[:] = [item for item in items if id(item) not in left_out]
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        count = f"{len(slow)} test" if len(slow) == 1 else f"{len(slow)} tests"
        reporter.write_line(f"{count} marked slow left out: run them with `pytest --slow` or `CI=true pytest`")


def _named_on_the_command_line(config: pytest.Config):
    """A test named by its id (``path::test``, with or without parameters) runs whatever its marks."""
    named = []
    for arg in config.args:
        if "::" in arg:
            path, rest = arg.split("::", 1)
            named.append(((config.invocation_params.dir / path).resolve(), rest))

    def is_named(item: pytest.Item) -> bool:
        inside = item.nodeid.split("::", 1)[1] if "::" in item.nodeid else ""
        return any(item.path == path and (inside == rest or inside.startswith(rest + "[")) for path, rest in named)

    return is_named


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
        pytest.skip(MIRROR_MISSING)
    monkeypatch.setenv("ROUTEREVAL_MIRROR", str(root))
    return root


@pytest.fixture(scope="session")
def shared_home(tmp_path_factory) -> Path:
    """A home shared by a whole session, for tests that reuse built mirror datasets."""
    return tmp_path_factory.mktemp("routereval-shared-home")
