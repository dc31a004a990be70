"""The backends file: which OpenAI-compatible endpoint answers for each candidate, and proxy settings.

::

    [proxy]                      # optional
    route_on = "last_user"       # or "all_user": route on every user turn joined

    [failover]                   # optional; defaults shown in docs/serving.md
    retries = 2

    [[backends]]
    name = "qwen2.5-7b-instruct"           # a candidate of the router
    base_url = "http://127.0.0.1:11434/v1"
    model = "qwen2.5:7b"                   # the model id at that endpoint (default: name)
    api_key_env = "MY_KEY"                 # NAME of the environment variable with the key (optional)
    timeout = 30                           # seconds to the first byte
    input_price = 0.2                      # $ per 1M tokens (optional: the artifact's prices otherwise)
    output_price = 0.2

The file names environment variables, never keys: keys are read from the
environment when the file is loaded, kept out of every repr, and scrubbed
from anything the proxy relays.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import tomllib

from routereval.errors import ConfigError
from routereval.serving.failover import FailoverSettings

ROUTE_ON = ("last_user", "all_user")
_BACKEND_KEYS = {"name", "base_url", "model", "api_key_env", "timeout", "input_price", "output_price"}


@dataclass(frozen=True)
class Backend:
    """One OpenAI-compatible endpoint serving one candidate."""

    name: str
    base_url: str
    model: str
    api_key_env: str | None = None
    timeout: float = 60.0
    input_price: float | None = None
    output_price: float | None = None
    api_key: str | None = field(default=None, repr=False, compare=False)

    @property
    def url(self) -> str:
        """The chat completions endpoint."""
        return self.base_url.rstrip("/") + "/chat/completions"

    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.api_key}"} if self.api_key else {}


@dataclass(frozen=True)
class BackendsConfig:
    """Every backend, by name, with the proxy and failover settings of the file."""

    backends: dict[str, Backend]
    failover: FailoverSettings = field(default_factory=FailoverSettings)
    route_on: str = "last_user"
    source: str = "<memory>"

    def secrets(self) -> list[str]:
        """Every key value in use (to scrub from relayed text)."""
        return [b.api_key for b in self.backends.values() if b.api_key]

    def prices(self) -> dict[str, tuple[float, float]]:
        """Prices the file gives, by backend name ($ per 1M input and output tokens)."""
        out = {}
        for b in self.backends.values():
            if b.input_price is not None or b.output_price is not None:
                out[b.name] = (math.nan if b.input_price is None else b.input_price,
                               math.nan if b.output_price is None else b.output_price)
        return out

    def check_candidates(self, candidates: Sequence[str]) -> None:
        """Refuse a backends file whose names are not exactly the router's candidates."""
        unknown = [n for n in self.backends if n not in candidates]
        missing = [c for c in candidates if c not in self.backends]
        if unknown or missing:
            parts = []
            if missing:
                parts.append(f"no backend for candidate(s) {', '.join(missing)}")
            if unknown:
                parts.append(f"backend(s) {', '.join(unknown)} are not candidates of the router")
            raise ConfigError(
                f"{self.source}: the backends do not match the router's candidates ({'; '.join(parts)}); the "
                f"candidates are: {', '.join(candidates)}. Add one [[backends]] entry per candidate, or train the "
                "router with --models on the models you have"
            )


def _number(raw: dict[str, Any], key: str, where: str, default: float | None) -> float | None:
    value = raw.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{where}: {key} must be a number >= 0, got {value!r}")
    return float(value)


def parse_backends(doc: dict[str, Any], source: str = "<memory>", environ: dict[str, str] | None = None
                   ) -> BackendsConfig:
    """Validate a parsed backends document; keys are read from ``environ`` (default: the process's)."""
    env = os.environ if environ is None else environ
    unknown = sorted(set(doc) - {"backends", "proxy", "failover"})
    if unknown:
        raise ConfigError(f"{source}: unknown table(s) {', '.join(unknown)}; known: backends, proxy, failover")
    entries = doc.get("backends")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{source}: no [[backends]] entries")
    backends: dict[str, Backend] = {}
    for i, raw in enumerate(entries, 1):
        where = f"{source}: backend {i}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where} is not a table")
        extra = sorted(set(raw) - _BACKEND_KEYS)
        if extra:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(extra)}; known: {', '.join(sorted(_BACKEND_KEYS))}")
        name, base_url = raw.get("name"), raw.get("base_url")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}: needs a name (the candidate it serves)")
        where = f"{source}: backend {name!r}"
        if name in backends:
            raise ConfigError(f"{where} is listed twice")
        if name == "router":
            raise ConfigError(f"{where}: 'router' is the proxy's own model name; it cannot name a backend")
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}: base_url must be an http(s) URL, e.g. http://127.0.0.1:11434/v1")
        if "@" in base_url.split("//", 1)[1].split("/", 1)[0]:
            raise ConfigError(f"{where}: base_url must not carry credentials; put the key in an environment "
                              "variable and name it in api_key_env")
        key_env = raw.get("api_key_env")
        key = None
        if key_env is not None:
            if not isinstance(key_env, str) or not key_env.replace("_", "").isalnum():
                raise ConfigError(f"{where}: api_key_env must be the NAME of an environment variable, not a key")
            key = env.get(key_env)
            if not key:
                raise ConfigError(f"{where}: environment variable {key_env} (api_key_env) is not set")
        timeout = _number(raw, "timeout", where, 60.0)
        if not timeout:
            raise ConfigError(f"{where}: timeout must be above 0 seconds")
        model = raw.get("model", name)
        if not isinstance(model, str) or not model:
            raise ConfigError(f"{where}: model must be the model id at the endpoint")
        backends[name] = Backend(name, base_url, model, key_env, timeout,
                                 _number(raw, "input_price", where, None), _number(raw, "output_price", where, None),
                                 key)
    proxy = doc.get("proxy", {})
    route_on = proxy.get("route_on", "last_user") if isinstance(proxy, dict) else None
    if route_on not in ROUTE_ON:
        raise ConfigError(f"{source}: [proxy] route_on must be one of {', '.join(ROUTE_ON)}, got {route_on!r}")
    failover = doc.get("failover", {})
    if not isinstance(failover, dict):
        raise ConfigError(f"{source}: [failover] must be a table")
    known = {f.name for f in fields(FailoverSettings)}
    bad = sorted(set(failover) - known)
    if bad:
        raise ConfigError(f"{source}: unknown [failover] key(s) {', '.join(bad)}; known: {', '.join(sorted(known))}")
    for key in failover:
        _number(failover, key, f"{source}: [failover]", None)
    settings = FailoverSettings(**{k: (int(v) if isinstance(getattr(FailoverSettings, k), int) else float(v))
                                   for k, v in failover.items()})
    return BackendsConfig(backends, settings, route_on, source)


def load_backends(path: str | os.PathLike, environ: dict[str, str] | None = None) -> BackendsConfig:
    """Read and validate a backends TOML file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such backends file")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    return parse_backends(doc, str(path), environ)
