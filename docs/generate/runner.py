"""Run routereval commands for the generated blocks, each command once per generator run."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
_PLACEHOLDER = re.compile(r"\{out(:[a-z0-9_-]+)?\}")


def benchmark_result(name: str) -> Any:
    """``benchmarks/results/<name>.json``, which the benchmark script ``name`` wrote from its own runs."""
    return json.loads((REPO / "benchmarks" / "results" / f"{name}.json").read_text(encoding="utf-8"))


class CommandFailed(Exception):
    """A command behind a block exited non-zero; the message holds its last lines of output."""


class Runner:
    """Runs ``routereval`` (or a script of this repository) as a user would, in a fresh process with the
    caller's environment, and keeps each result.

    ``{out}`` in an argument becomes a file in a private folder, read back after the run (``{out:NAME}`` a
    second one, read with ``name="NAME"``); several blocks built from one command (a table and the sentence
    that reads it) share one run.
    """

    def __init__(self, log=sys.stderr) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="routereval-docs-"))
        self._done: dict[tuple[str, ...], tuple[str, Path]] = {}
        self._log = log

    def routereval(self, *args: str) -> tuple[str, Path]:
        """(stdout, output file) of ``routereval ARGS`` where ``{out}`` names the output file."""
        return self._run(("-m", "routereval"), args, "routereval")

    def script(self, path: str, *args: str) -> tuple[str, Path]:
        """(stdout, output file) of ``python PATH ARGS`` (a script of this repository), as :meth:`routereval`."""
        return self._run((str(REPO / path),), args, f"python {path}")

    def _run(self, program: tuple[str, ...], args: tuple[str, ...], name: str) -> tuple[str, Path]:
        key = (*program, *args)
        if key not in self._done:
            out = self._folder / f"out-{len(self._done)}"
            argv = [sys.executable, *program, *(_PLACEHOLDER.sub(lambda m: f"{out}{m.group(1) or ''}", a) for a in args)]
            shown = f"{name} " + " ".join(shlex.quote(a) for a in args)
            print(f"running: {shown}", file=self._log, flush=True)
            started = time.monotonic()
            env = {**os.environ, "COLUMNS": "200"}
            proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=REPO)
            if proc.returncode != 0:
                tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
                raise CommandFailed(f"{shown} exited with {proc.returncode}:\n{tail}")
            print(f"  done in {time.monotonic() - started:.0f} s", file=self._log, flush=True)
            self._done[key] = (proc.stdout, out)
        return self._done[key]

    def close(self) -> None:
        """Remove the private folder of output files."""
        shutil.rmtree(self._folder, ignore_errors=True)

    def text(self, *args: str, name: str = "") -> str:
        """The file ``routereval ARGS`` wrote at ``{out}`` (or at ``{out:NAME}``), as text."""
        out = self.routereval(*args)[1]
        return out.with_name(f"{out.name}:{name}" if name else out.name).read_text(encoding="utf-8")

    def json(self, *args: str, name: str = "") -> Any:
        """The file ``routereval ARGS`` wrote at ``{out}`` (or at ``{out:NAME}``), parsed as JSON."""
        return json.loads(self.text(*args, name=name))
