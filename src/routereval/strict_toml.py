"""TOML configuration a user writes or is handed (sweep files, the proxy's backends file), read with bounds.

A configuration file is small: one larger than ``max_bytes`` is refused
before it is read. ``tomllib`` recurses once per level of nested arrays and
inline tables, so a short file can reach the interpreter's recursion limit;
that is reported as a file nested too deeply, like any other TOML error,
never as a traceback.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from routereval.errors import ConfigError


def read_text(path: Path, *, max_bytes: int, what: str) -> str:
    """The UTF-8 text of ``path``, refusing a file larger than ``max_bytes`` (``what`` names it: "a sweep file")."""
    size = path.stat().st_size
    if size > max_bytes:
        raise ConfigError(f"{path}: is {size} bytes; {what} is at most {max_bytes}")
    with path.open("rb") as f:
        data = f.read(max_bytes + 1)  # the file may have grown since stat()
    if len(data) > max_bytes:
        raise ConfigError(f"{path}: is larger than {max_bytes} bytes; {what} is at most {max_bytes}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None


def loads(text: str, origin: str) -> dict[str, Any]:
    """The TOML document in ``text``; a ConfigError starting with ``origin`` where it is not valid TOML."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: not valid TOML ({exc})") from None
    except RecursionError:
        raise ConfigError(f"{origin}: not valid TOML (arrays or tables nested too deeply)") from None
