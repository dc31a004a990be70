"""The documentation site: `mkdocs build --strict` passes, and the API reference comes from the docstrings."""

from __future__ import annotations

import html
import importlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.processes import REPO

import routereval
from routereval.routers.base import Router, all_routers

API = REPO / "docs" / "api"


def _directives() -> set[str]:
    """Every object named by a `::: name` line of the API reference pages."""
    found = set()
    for page in API.glob("*.md"):
        found.update(re.findall(r"^::: (\S+)$", page.read_text(encoding="utf-8"), flags=re.MULTILINE))
    return found


def _path(obj: object) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def test_every_public_name_has_a_reference_entry():
    documented = _directives()
    for name, (module, attr) in routereval._EXPORTS.items():
        target = module if attr is None else _path(getattr(importlib.import_module(module), attr))
        assert target in documented, f"rv.{name} ({target}) has no `::: {target}` in docs/api/"


def test_every_registered_router_has_a_reference_entry():
    documented = _directives()
    missing = sorted(name for name, cls in all_routers().items() if _path(cls) not in documented)
    assert not missing, f"registered routers missing from docs/api/routers.md: {missing}"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    for module in ("mkdocs", "mkdocstrings", "mkdocstrings_handlers.python", "material"):
        pytest.importorskip(module, reason=f"{module} is not installed: pip install -e '.[docs]'")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    # cwd is the repo: mkdocs.yml names the docstring extension by a path relative to it.
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"mkdocs build --strict failed:\n{run.stdout}\n{run.stderr}"
    return out


def _text(page: Path) -> str:
    """A page's visible text, whitespace collapsed."""
    raw = re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8"))
    return " ".join(html.unescape(raw).split())


@pytest.mark.slow  # builds the site
def test_router_contract_page_is_read_from_the_docstrings(site):
    page = site / "api" / "routers" / "index.html"
    assert 'id="routereval.routers.base.Router.predict_quality"' in page.read_text(encoding="utf-8")
    docstring = " ".join(inspect.getdoc(Router.predict_quality).split())
    assert docstring and docstring in _text(page)


def test_docstrings_render_without_sphinx_roles(site):
    for page in (site / "api").rglob("index.html"):
        text = _text(page)
        assert not re.search(r":(func|class|meth|mod|attr):", text), f"a Sphinx role printed verbatim in {page}"
