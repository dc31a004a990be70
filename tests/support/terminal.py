"""Running the command line on a pseudo-terminal or into a file, and checking its tables are readable."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

#: As a console script starts it (``python -m routereval``), so the terminal is the child's own stdout.
CLI = [sys.executable, "-m", "routereval"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def on_terminal(*args: str, columns: int = 80, env: dict | None = None) -> tuple[int, str]:
    """Run the CLI with stdout on a pseudo-terminal ``columns`` wide: (exit code, stdout without colour).

    stderr (progress bars, redrawn in place) goes to a file: the tables are what is checked here.
    """
    master, slave = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = subprocess.Popen(CLI + list(args), stdout=slave, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            env={**os.environ, **(env or {}), "COLUMNS": str(columns), "TERM": "xterm"})
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    code = proc.wait(timeout=120)
    text = ANSI.sub("", b"".join(chunks).decode("utf-8", "replace")).replace("\r\n", "\n")
    return code, text


def to_file(tmp_path: Path, *args: str, env: dict | None = None) -> str:
    """Run the CLI with stdout a real file; its content."""
    out = tmp_path / "stdout.txt"
    with open(out, "w") as f:
        proc = subprocess.run(CLI + list(args), stdout=f, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, **(env or {}), "COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    return out.read_text()


def assert_readable(text: str, width: int = 80) -> None:
    """No cell cut short with an ellipsis, and no line wider than ``width``."""
    assert "…" not in text and "..." not in text.replace("...)", "")
    too_long = [line for line in text.splitlines() if len(line) > width]
    assert not too_long, f"lines wider than {width}: {too_long}"


def cell_lines(text: str) -> list[list[str]]:
    """The cells of each body line of the rich tables in ``text``."""
    return [[c.strip() for c in line.strip("│").split("│")] for line in text.splitlines() if line.startswith("│")]
