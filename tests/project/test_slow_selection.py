"""Which tests a run selects: the default leaves out ``slow`` ones and says so; --slow, CI=true or -m bring them in.

Each case is a real ``pytest`` process on a throwaway suite holding this
checkout's conftest and support package and two tests (one fast, one slow);
the expected outcome of each is written out by hand from the rule in
tests/conftest.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
from support.processes import REPO

INI = """[pytest]
testpaths = tests
pythonpath = tests
markers =
    slow: left out by default
"""
SUITE = """import pytest


def test_fast():
    pass


@pytest.mark.slow
def test_slow():
    pass
"""


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    root = tmp_path_factory.mktemp("suite")
    (root / "tests").mkdir()
    shutil.copy(REPO / "tests" / "conftest.py", root / "tests" / "conftest.py")
    shutil.copytree(REPO / "tests" / "support", root / "tests" / "support",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (root / "tests" / "test_two.py").write_text(SUITE)
    (root / "pytest.ini").write_text(INI)
    return root


def run_pytest(root, *args: str, ci: str | None = None) -> tuple[set[str], str]:
    """The names of the tests that passed, and the whole output."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    if ci is not None:
        env["CI"] = ci
    proc = subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:randomly", "-p", "no:cacheprovider", *args],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return set(re.findall(r"::(test_\w+) PASSED", proc.stdout)), proc.stdout


def test_a_default_run_leaves_out_slow_tests_and_says_how_to_run_them(suite):
    passed, out = run_pytest(suite)
    assert passed == {"test_fast"}
    assert "1 test marked slow left out: run them with `pytest --slow` or `CI=true pytest`" in out
    assert "1 deselected" in out


# Each case starts a pytest (a few seconds): the two ways of asking run by default, the other spellings with --slow.
@pytest.mark.parametrize(("args", "ci"), [
    (("--slow",), None), ((), "true"),
    pytest.param((), "1", marks=pytest.mark.slow), pytest.param((), "TRUE", marks=pytest.mark.slow),
], ids=["--slow", "CI=true", "CI=1", "CI=TRUE"])
def test_slow_tests_run_when_asked_for_or_in_ci(suite, args, ci):
    passed, out = run_pytest(suite, *args, ci=ci)
    assert passed == {"test_fast", "test_slow"}
    assert "left out" not in out


@pytest.mark.slow
@pytest.mark.parametrize("ci", ["false", "0", ""])
def test_a_false_ci_variable_is_a_default_run(suite, ci):
    passed, _ = run_pytest(suite, ci=ci)
    assert passed == {"test_fast"}


@pytest.mark.slow
@pytest.mark.parametrize(("expression", "expected"), [
    ("slow", {"test_slow"}),
    ("not slow", {"test_fast"}),
])
def test_an_explicit_marker_expression_alone_decides(suite, expression, expected):
    passed, out = run_pytest(suite, "-m", expression)
    assert passed == expected
    assert "left out" not in out


def test_a_test_named_by_its_id_runs_whatever_its_marks(suite):
    passed, out = run_pytest(suite, "tests/test_two.py::test_slow")
    assert passed == {"test_slow"}
    assert "left out" not in out
