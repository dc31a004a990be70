"""Where the checkout is, and the two ways tests start a child process: the command line and a Python snippet."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

#: The checkout: README, docs/, experiments/, pyproject.toml and src/ sit here.
REPO = Path(__file__).resolve().parents[2]
SRC = str(REPO / "src")
#: The command as a user's console script runs it, in a fresh interpreter.
CLI = [sys.executable, "-c", "from routereval.cli import main; main()"]


def run_cli(*args: str, env: dict | None = None, check: bool = True, timeout: float = 600,
            **options) -> subprocess.CompletedProcess:
    """``routereval *args`` in a child interpreter, its output captured as text.

    A non-zero exit fails the test and shows both streams, unless ``check``
    is false (a test of a command that must fail reads ``returncode`` itself).
    ``env`` replaces the environment (default: this one, with the test's
    ROUTEREVAL_HOME); a child still running after ``timeout`` seconds fails the
    test rather than hanging the run. ``options`` go to :func:`subprocess.run`.
    """
    proc = subprocess.run(CLI + list(args), capture_output=True, text=True, check=False, timeout=timeout,
                          env=os.environ.copy() if env is None else env, **options)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


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
