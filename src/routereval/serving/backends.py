"""The backends file: which OpenAI-compatible endpoint answers for each candidate, and proxy settings.

::

    [proxy]                      # optional
    route_on = "last_user"       # or "all_user": route on every user turn joined
    request_timeout = 600        # seconds per request, over every retry and fallback
    balancing = "least-busy"     # or "weighted": how a candidate's deployments share its requests

    [failover]                   # optional; defaults shown in docs/serving.md
    retries = 2

    [fallbacks]                  # optional: where a request that names a model may go if it fails
    "gpt-4o" = ["gpt-4o-mini"]

    [cache]                      # optional, off by default: exact-match answers
    enabled = true

    [[backends]]
    name = "qwen2.5-7b-instruct"           # a candidate of the router
    base_url = "http://127.0.0.1:11434/v1"
    model = "qwen2.5:7b"                   # the model id at that endpoint (default: name)
    api_key_env = "MY_KEY"                 # NAME of the environment variable with the key (optional)
    timeout = 30                           # seconds to the first byte
    input_price = 0.2                      # $ per 1M tokens (optional: the artifact's prices otherwise)
    output_price = 0.2
    weight = 1                             # share of the candidate's requests under "weighted" balancing
    id = "qwen-local"                      # this deployment's label in metrics and attempts (optional)

Several ``[[backends]]`` with the same name are *deployments* of one
candidate: its requests are shared between them, and each has its own health
and cool-down (:mod:`routereval.serving.deployments`).

The file names environment variables, never keys: keys are read from the
environment when the file is loaded, kept out of every repr, and scrubbed
from anything the proxy relays.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from routereval import strict_toml
from routereval.errors import ConfigError
from routereval.serving.failover import FailoverSettings

ROUTE_ON = ("last_user", "all_user")
#: Seconds from a request's arrival to its last byte, over every retry and fallback: the OpenAI client's own
#: default, so a proxy in front of it never gives up before a direct call would.
DEFAULT_REQUEST_TIMEOUT = 600.0
#: Largest backends file read: a thousand backends fit in a few hundred KiB.
MAX_FILE_BYTES = 1 << 20


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
    weight: float = 1.0
    #: The deployment's label in attempts and metrics: ``name`` when the candidate has one deployment.
    id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", self.name)

    @property
    def url(self) -> str:
        """The chat completions endpoint."""
        return self.base_url.rstrip("/") + "/chat/completions"

    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.api_key}"} if self.api_key else {}


@dataclass(frozen=True)
class CacheSettings:
    """The ``[cache]`` table: exact-match answers, off unless ``enabled``."""

    enabled: bool = False
    max_entries: int = 1000
    max_bytes: int = 64 << 20
    ttl_seconds: float = 3600.0


@dataclass(frozen=True)
class BackendsConfig:
    """Every deployment, grouped by candidate name, with the proxy, failover, fallback and cache settings."""

    deployments: dict[str, tuple[Backend, ...]]
    failover: FailoverSettings = field(default_factory=FailoverSettings)
    route_on: str = "last_user"
    source: str = "<memory>"
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    balancing: str = "least-busy"
    fallbacks: dict[str, tuple[str, ...]] = field(default_factory=dict)
    cache: CacheSettings = field(default_factory=CacheSettings)

    @property
    def names(self) -> list[str]:
        """The candidate (model) names, in the file's order."""
        return list(self.deployments)

    @property
    def backends(self) -> list[Backend]:
        """Every deployment, in the file's order."""
        return [b for group in self.deployments.values() for b in group]

    def secrets(self) -> list[str]:
        """Every key value in use (to scrub from relayed text)."""
        return [b.api_key for b in self.backends if b.api_key]

    def prices(self) -> dict[str, tuple[float, float]]:
        """Prices the file gives, by candidate name ($ per 1M input and output tokens)."""
        out = {}
        for name, group in self.deployments.items():
            b = group[0]  # deployments of one candidate must agree on prices (checked when the file is read)
            if b.input_price is not None or b.output_price is not None:
                out[name] = (math.nan if b.input_price is None else b.input_price,
                             math.nan if b.output_price is None else b.output_price)
        return out

    def check_candidates(self, candidates: Sequence[str]) -> None:
        """Refuse a backends file whose names are not exactly the router's candidates."""
        unknown = [n for n in self.deployments if n not in candidates]
        missing = [c for c in candidates if c not in self.deployments]
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


# -- the file's schema ----------------------------------------------------------------------------
# Strict types (an int is an int, a bool a bool, a string is not a number), bounded ranges and no unknown
# keys: a typo or a pasted value fails at start-up, not as odd behaviour under load.

_NAME = r"^[^\x00-\x1f\x7f]+$"  # any text without control characters (names go into headers and logs)


class _Table(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


class BackendEntry(_Table):
    """One ``[[backends]]`` table."""

    name: str = Field(min_length=1, max_length=256, pattern=_NAME)
    base_url: str = Field(max_length=2048)
    model: str | None = Field(None, min_length=1, max_length=256, pattern=_NAME)
    api_key_env: str | None = Field(None, min_length=1, max_length=256)
    timeout: float = Field(60.0, gt=0, le=3600)
    input_price: float | None = Field(None, ge=0, le=1e6)
    output_price: float | None = Field(None, ge=0, le=1e6)
    weight: float = Field(1.0, gt=0, le=1e6)
    id: str | None = Field(None, min_length=1, max_length=256, pattern=_NAME)


class FailoverTable(_Table):
    """``[failover]``: the fields of :class:`FailoverSettings`, bounded."""

    retries: int = Field(2, ge=0, le=10)
    backoff: float = Field(0.1, ge=0, le=60)
    max_backoff: float = Field(2.0, ge=0, le=600)
    max_retry_after: float = Field(10.0, ge=0, le=3600)
    cooldown_failures: int = Field(3, ge=1, le=1000)
    cooldown_seconds: float = Field(30.0, ge=0, le=86400)
    parallel_fallback: bool = True


class ProxyTable(_Table):
    """``[proxy]``."""

    route_on: Literal["last_user", "all_user"] = "last_user"
    request_timeout: float = Field(DEFAULT_REQUEST_TIMEOUT, gt=0, le=86400)
    balancing: Literal["least-busy", "weighted"] = "least-busy"


class CacheTable(_Table):
    """``[cache]``: the fields of :class:`CacheSettings`, bounded."""

    enabled: bool = False
    max_entries: int = Field(1000, ge=1, le=10_000_000)
    max_bytes: int = Field(64 << 20, ge=1024, le=1 << 40)
    ttl_seconds: float = Field(3600.0, gt=0, le=31 * 86400)


class BackendsFile(_Table):
    """The whole backends file."""

    backends: list[BackendEntry] = Field(min_length=1, max_length=1000)
    proxy: ProxyTable = ProxyTable()
    failover: FailoverTable = FailoverTable()
    fallbacks: dict[str, list[str]] = Field(default_factory=dict, max_length=1000)
    cache: CacheTable = CacheTable()


_TABLES = {"": BackendsFile, "[proxy]": ProxyTable, "[failover]": FailoverTable, "[cache]": CacheTable}
_TYPES = {"int_type": "an integer", "float_type": "a number", "string_type": "a string", "bool_type": "true or false",
          "list_type": "a list", "model_type": "a table", "dict_type": "a table"}


def _where(loc: tuple[Any, ...], doc: dict[str, Any]) -> tuple[str, str]:
    """(the table, the key) an error location points at, named as the file names them."""
    if loc and loc[0] == "backends" and len(loc) > 1 and isinstance(loc[1], int):
        entries = doc.get("backends") or []
        entry = entries[loc[1]] if loc[1] < len(entries) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        table = (f"backend {name!r}" if isinstance(name, str) and re.match(_NAME, name) and len(name) <= 256
                 else f"backend {loc[1] + 1}")
        return table, ".".join(str(p) for p in loc[2:])
    if len(loc) > 1:
        return f"[{loc[0]}]", ".".join(str(p) for p in loc[1:])
    return "", str(loc[0]) if loc else ""


def _range(metadata: list[Any]) -> str:
    """A field's bounds in words: "from 0 to 10", "above 0 and at most 3600", "at least 0"."""
    bound = {k: getattr(m, k) for m in metadata for k in ("ge", "gt", "le") if getattr(m, k, None) is not None}
    low = f"from {bound['ge']:g}" if "ge" in bound else f"above {bound['gt']:g}"
    if "le" not in bound:
        return low.replace("from", "at least")
    return f"{low} to {bound['le']:g}" if "ge" in bound else f"{low} and at most {bound['le']:g}"


def _schema_error(exc: ValidationError, doc: dict[str, Any], source: str) -> ConfigError:
    """The first schema error as one line naming file, table and key; values are never shown (one may be a key)."""
    import difflib

    errors = exc.errors(include_url=False, include_input=False)
    # An unknown key is usually the cause of a "missing" one (a typo), so it is the one reported.
    error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(error["loc"])
    table, key = _where(loc, doc)
    where = f"{source}: {table + ': ' if table else ''}"
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "extra_forbidden":
        model = _TABLES.get(table, BackendEntry)
        known = list(model.model_fields)
        hint = difflib.get_close_matches(key, known, n=1)
        what = f"table [{key}]" if not table else f"key {key!r}"
        return ConfigError(f"{where}unknown {what}" + (f"; did you mean {hint[0]!r}?" if hint else "")
                           + f" (known: {', '.join(known)})")
    if kind == "missing":
        return ConfigError(f"{where}{key} is required" + ("; add at least one [[backends]] table"
                                                          if key == "backends" else ""))
    if kind in _TYPES:
        what = "a list of [[backends]] tables" if (key, kind) == ("backends", "list_type") else _TYPES[kind]
        return ConfigError(f"{where}{key} must be {what}")
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        model = _TABLES.get(table, BackendEntry)
        return ConfigError(f"{where}{key} must be {_range(model.model_fields[key].metadata)}")
    if kind == "finite_number":
        return ConfigError(f"{where}{key} must be a finite number")
    if kind == "literal_error":
        return ConfigError(f"{where}{key} must be one of {ctx.get('expected', '')}")
    if kind == "string_pattern_mismatch":
        return ConfigError(f"{where}{key} must not contain control characters (line breaks, tabs)")
    if kind in ("too_short", "string_too_short"):
        return ConfigError(f"{where}{key} must not be empty" + (
            "; add at least one [[backends]] table" if key == "backends" else ""))
    if kind in ("too_long", "string_too_long"):
        return ConfigError(f"{where}{key} is too long (at most {ctx.get('max_length')})")
    return ConfigError(f"{where}{key}: {error['msg'][0].lower()}{error['msg'][1:]}")


# -- environment variables and keys ------------------------------------------------------------------

_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEY_PREFIXES = re.compile(r"^(sk|pk|rk)[-_]|^(hf|gsk|ghp|gho|github_pat|xai|xox[abp]|glpat|AIza|nvapi|pplx|r8)[-_]?",
                           re.IGNORECASE)


def looks_like_a_key(value: str) -> bool:
    """True for a value that looks like a secret rather than the name of an environment variable.

    Environment variable names are upper-case words (POSIX); keys are long,
    mixed-case or start with a provider's prefix. Such a value is never
    printed, whatever is wrong with it.
    """
    if _KEY_PREFIXES.match(value) or len(value) > 64:
        return True
    if not _VARIABLE.match(value):
        return True
    has_lower = any(c.islower() for c in value)
    return has_lower and sum(c.isdigit() for c in value) >= 4


def _key_for(entry: BackendEntry, where: str, env: Any) -> str | None:
    name = entry.api_key_env
    if name is None:
        return None
    if looks_like_a_key(name):
        raise ConfigError(f"{where}: api_key_env looks like a key, not the NAME of an environment variable (the "
                          "value is not shown); put the key in a variable, e.g. export MY_KEY=..., and write "
                          "api_key_env = \"MY_KEY\"")
    key = env.get(name)
    if not key:
        raise ConfigError(f"{where}: environment variable {name} (api_key_env) is not set")
    if not key.isascii() or not key.isprintable() or any(c.isspace() for c in key):
        # A key read with its trailing newline, say, would break the Authorization header on every request.
        raise ConfigError(f"{where}: environment variable {name} (api_key_env) holds spaces, line breaks or "
                          "non-ASCII characters (not shown); a key is one word of printable ASCII")
    return key


def parse_backends(doc: dict[str, Any], source: str = "<memory>", environ: dict[str, str] | None = None
                   ) -> BackendsConfig:
    """Validate a parsed backends document; keys are read from ``environ`` (default: the process's)."""
    env = os.environ if environ is None else environ
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: must be a table of [[backends]], [proxy] and [failover]")
    try:
        parsed = BackendsFile.model_validate(doc)
    except ValidationError as exc:
        raise _schema_error(exc, doc, source) from None
    entries: dict[str, list[BackendEntry]] = {}
    for entry in parsed.backends:
        where = f"{source}: backend {entry.name!r}"
        if entry.name == "router":
            raise ConfigError(f"{where}: 'router' is the proxy's own model name; it cannot name a backend")
        _check_url(entry.base_url, where)
        entries.setdefault(entry.name, []).append(entry)
    groups: dict[str, tuple[Backend, ...]] = {}
    ids: set[str] = set()
    for name, group in entries.items():
        where = f"{source}: backend {name!r}"
        if len({(e.input_price, e.output_price) for e in group}) > 1:
            raise ConfigError(f"{where}: its deployments give different prices; a candidate has one price (give "
                              "it on every entry, or on none)")
        deployments = []
        for k, e in enumerate(group, start=1):
            # A candidate with one deployment is labelled by its name; several are numbered in the file's order.
            label = e.id or (name if len(group) == 1 else f"{name}#{k}")
            if label in ids:
                raise ConfigError(f"{where}: deployment id {label!r} is used twice; give each [[backends]] entry "
                                  "its own id")
            ids.add(label)
            deployments.append(Backend(name, e.base_url, e.model or name, e.api_key_env, float(e.timeout),
                                       e.input_price, e.output_price, _key_for(e, where, env), float(e.weight),
                                       label))
        groups[name] = tuple(deployments)
    fallbacks = {}
    for name, targets in parsed.fallbacks.items():
        for target in [name, *targets]:
            if target not in groups:
                raise ConfigError(f"{source}: [fallbacks]: {target!r} is not a backend name; fallbacks name "
                                  f"backends of this file ({', '.join(groups)})")
        if name in targets or len(set(targets)) != len(targets):
            raise ConfigError(f"{source}: [fallbacks]: the list for {name!r} repeats a name or names the model "
                              "itself")
        fallbacks[name] = tuple(targets)
    settings = FailoverSettings(**parsed.failover.model_dump())
    return BackendsConfig(groups, settings, parsed.proxy.route_on, source,
                          request_timeout=float(parsed.proxy.request_timeout), balancing=parsed.proxy.balancing,
                          fallbacks=fallbacks, cache=CacheSettings(**parsed.cache.model_dump()))


def _check_url(url: str, where: str) -> None:
    """An http(s) URL with a host and no credentials; the URL itself is never echoed (it may hold a key)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        host, parts = None, None
    if parts is None or parts.scheme not in ("http", "https") or not host or not url.isprintable() or " " in url:
        raise ConfigError(f"{where}: base_url must be an http(s) URL, e.g. http://127.0.0.1:11434/v1")
    # "user:password@" also when the password holds a "/" (which makes the URL parser read it as a path).
    userinfo = re.match(r"^[A-Za-z]+://([^@]*)@", url)
    if parts.username is not None or parts.password is not None or (userinfo and ":" in userinfo.group(1)):
        raise ConfigError(f"{where}: base_url must not carry credentials; put the key in an environment "
                          "variable and name it in api_key_env")


def load_backends(path: str | os.PathLike, environ: dict[str, str] | None = None) -> BackendsConfig:
    """Read and validate a backends TOML file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such backends file")
    doc = strict_toml.loads(strict_toml.read_text(path, max_bytes=MAX_FILE_BYTES, what="a backends file"), str(path))
    return parse_backends(doc, str(path), environ)
