"""Fixtures of the encoder tests: a home shared by a whole module, for what is slow to build once."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def module_home(tmp_path_factory) -> Path:
    """One home for a module, so what it builds (the ONNX export, the static table) is built once, not per test."""
    return tmp_path_factory.mktemp("encoders-module-home")


@pytest.fixture
def in_module_home(module_home, monkeypatch) -> Path:
    """The module's home set as ROUTEREVAL_HOME for one test (``pytestmark = pytest.mark.usefixtures(...)``)."""
    monkeypatch.setenv("ROUTEREVAL_HOME", str(module_home))
    return module_home
