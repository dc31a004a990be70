"""RoutingModel: a fitted encoder + router + prices, saved as a folder of data, and routing new prompts.

The folder (format version 1, described in docs/serving.md):

* ``manifest.json``: format version, routereval version, router name and
  parameters, the router's state layout, encoder name and settings,
  candidates, prices, training data (name, sha256, protocol), held-out
  metrics, creation time, and the sha256 of every other file.
* ``router.npz``: the router's learned state (its attributes ending in ``_``).
* ``encoder.npz``: a fitted TF-IDF encoder's vocabulary, IDF weights and axes
  (absent for a pretrained encoder and for routers that read no prompt).

Loading reads JSON and ``np.load(allow_pickle=False)`` only, so nothing in
the folder can run code; the router class comes from routereval's registry by
name. Costs are estimated in US dollars per request from the candidates'
prices ($ per 1M tokens): input tokens ~ characters / 4 (the usual rule of
thumb for English), output tokens as set at training (``output_tokens``).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from routereval.errors import ConfigError, DataError, RouterEvalError
from routereval.records.integrity import full_sha256
from routereval.serving import encoder_state
from routereval.serving.state import decode_state, encode_state, learned_attributes

FORMAT = "routereval-router"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ROUTER_WEIGHTS = "router.npz"
ENCODER_WEIGHTS = "encoder.npz"
#: Characters per token for the input-cost estimate (OpenAI's rule of thumb for English text).
CHARS_PER_TOKEN = 4.0
#: Output tokens assumed per answer when a cost is estimated before the answer exists.
DEFAULT_OUTPUT_TOKENS = 256


class ArtifactError(RouterEvalError):
    """A routing artifact that cannot be loaded as it is (named file, what is wrong, what to do)."""


@dataclass(frozen=True)
class RoutingOptions:
    """Per-request routing options (``extra_body.routing`` in the proxy).

    ``cost_weight``: maximise quality - cost_weight * cost ($ per request);
    ``max_cost``: $ per request cap; ``tolerance``: the cheapest candidate
    within this much estimated quality of the best; ``candidates`` /
    ``exclude``: keep only / drop these candidate names.
    """

    cost_weight: float = 0.0
    max_cost: float | None = None
    tolerance: float | None = None
    candidates: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, raw: Any) -> RoutingOptions:
        """Options from a JSON object; unknown keys and wrong types are refused with the key named."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise ConfigError(f"routing options must be an object, got {type(raw).__name__}")
        known = {"cost_weight", "max_cost", "tolerance", "candidates", "exclude"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"unknown routing option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        values: dict[str, Any] = {}
        for key in ("cost_weight", "max_cost", "tolerance"):
            value = raw.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"routing option {key} must be a number >= 0, got {value!r}")
            values[key] = float(value)
        for key in ("candidates", "exclude"):
            value = raw.get(key)
            if value is None:
                continue
            if isinstance(value, str) or not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"routing option {key} must be a list of model names, got {value!r}")
            values[key] = tuple(value)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {"cost_weight": self.cost_weight, "max_cost": self.max_cost, "tolerance": self.tolerance,
                "candidates": None if self.candidates is None else list(self.candidates),
                "exclude": list(self.exclude)}


@dataclass(frozen=True)
class Decision:
    """The routing decision for one prompt: candidates best first, with their estimates."""

    ranked: list[str]
    quality: list[float]
    cost: list[float | None]

    @property
    def chosen(self) -> str:
        return self.ranked[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "chosen": self.chosen,
            "ranked": [{"model": m, "quality": round(q, 6), "cost": None if c is None else float(f"{c:.6g}")}
                       for m, q, c in zip(self.ranked, self.quality, self.cost)],
        }


@dataclass
class RankedBatch:
    """Decisions for a batch as arrays: ``order`` n x k candidate indices best first (k = allowed candidates)."""

    order: np.ndarray
    quality: np.ndarray  # n x m
    cost: np.ndarray | None  # n x m, $ per request; None where no price is known
    candidates: list[str]

    @property
    def chosen(self) -> list[str]:
        return [self.candidates[i] for i in self.order[:, 0]]

    def decision(self, i: int) -> Decision:
        row = self.order[i]
        cost = [None] * len(row) if self.cost is None else [float(self.cost[i, j]) for j in row]
        return Decision([self.candidates[j] for j in row], [float(self.quality[i, j]) for j in row], cost)

    def decisions(self) -> list[Decision]:
        return [self.decision(i) for i in range(len(self.order))]


def _jsonable(value: Any) -> Any:
    """Hyper-parameters as JSON (tuples become lists); anything else is refused by name."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    raise ConfigError(f"hyper-parameter value {value!r} cannot be written to JSON")


@dataclass
class RoutingModel:
    """A fitted router with what it needs to route a new prompt: encoder, candidates, prices.

    ``prices`` maps candidate -> (input, output) $ per 1M tokens (NaN = unknown).
    ``info`` holds provenance for the manifest (training data, metrics).
    """

    router: Any
    encoder: Any
    candidates: list[str]
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)
    output_tokens: int = DEFAULT_OUTPUT_TOKENS
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(set(self.candidates)) != len(self.candidates) or not self.candidates:
            raise ConfigError(f"candidates must be distinct names, at least one; got {self.candidates}")
        self._index = {name: i for i, name in enumerate(self.candidates)}
        self._price_arrays()

    def _price_arrays(self) -> None:
        nan = (math.nan, math.nan)
        p = np.array([self.prices.get(c, nan) for c in self.candidates], dtype=float).reshape(-1, 2)
        self._in_price, self._out_price = p[:, 0], p[:, 1]

    @property
    def inputs(self) -> str:
        """What the router reads: "embeddings", "texts" or "none"."""
        return getattr(self.router, "inputs", "embeddings")

    def with_prices(self, prices: Mapping[str, tuple[float, float]]) -> RoutingModel:
        """A copy whose prices are overridden for the candidates named (e.g. from the backends file)."""
        unknown = sorted(set(prices) - set(self.candidates))
        if unknown:
            raise ConfigError(f"prices given for unknown candidate(s) {', '.join(unknown)}")
        merged = dict(self.prices)
        merged.update({k: (float(v[0]), float(v[1])) for k, v in prices.items()})
        return RoutingModel(self.router, self.encoder, list(self.candidates), merged, self.output_tokens, self.info)

    # -- routing ------------------------------------------------------------------------

    def embed(self, texts: Sequence[str]) -> np.ndarray | None:
        """The router's input vectors for ``texts`` (None for routers that read no vectors)."""
        if self.inputs != "embeddings":
            return None
        return self.encoder.encode(list(texts), progress=False)

    def quality(self, texts: Sequence[str] | None = None, embeddings: np.ndarray | None = None) -> np.ndarray:
        """Each candidate's estimated quality in [0, 1] on each prompt, n x m."""
        from routereval.routers.base import Prompts

        if self.inputs == "embeddings":
            x = self.embed(texts) if embeddings is None else np.asarray(embeddings, dtype=np.float32)
            prompts = Prompts(embeddings=x, n=len(x))
        elif self.inputs == "texts":
            prompts = Prompts(texts=list(texts or []), n=len(texts or []))
        else:
            n = len(texts) if texts is not None else len(embeddings)
            prompts = Prompts(n=n)
        return np.clip(np.asarray(self.router.predict_quality(prompts), dtype=float), 0.0, 1.0)

    def costs(self, texts: Sequence[str] | None, n: int | None = None) -> np.ndarray | None:
        """Estimated $ per request, n x m (NaN where a candidate has no price); None if no price is known."""
        if np.isnan(self._in_price).all() and np.isnan(self._out_price).all():
            return None
        if texts is None:
            tokens_in = np.zeros(n or 0)
        else:
            tokens_in = np.fromiter((len(t) / CHARS_PER_TOKEN for t in texts), dtype=float, count=len(texts))
        return (tokens_in[:, None] * self._in_price[None, :] + self.output_tokens * self._out_price[None, :]) / 1e6

    def _allowed(self, options: RoutingOptions) -> np.ndarray | None:
        names = set(options.candidates) if options.candidates is not None else None
        for name in list(names or ()) + list(options.exclude):
            if name not in self._index:
                known = ", ".join(self.candidates)
                raise ConfigError(f"unknown candidate {name!r} in the routing options; known: {known}")
        if names is None and not options.exclude:
            return None
        allowed = np.array([(names is None or c in names) and c not in options.exclude for c in self.candidates])
        if not allowed.any():
            raise ConfigError("the routing options leave no candidate")
        return allowed

    def rank(self, quality: np.ndarray, costs: np.ndarray | None, options: RoutingOptions,
             allowed: np.ndarray | None = None) -> np.ndarray:
        """Candidates best first per prompt (only allowed ones) through :class:`routereval.policies.Rule`."""
        from routereval.policies import Rule

        rule = Rule(cost_weight=options.cost_weight, max_cost=options.max_cost, tolerance=options.tolerance)
        mask = self._allowed(options) if allowed is None else allowed
        keep = np.ones(len(self.candidates), bool) if mask is None else mask
        known = costs is not None and not np.isnan(costs[:, keep]).any()
        if (rule.needs_costs or rule.tolerance is not None) and not known:
            missing = [c for c, k, p in zip(self.candidates, keep, self._in_price + self._out_price)
                       if k and math.isnan(p)]
            raise ConfigError(
                f"cost_weight, max_cost and tolerance need a price for every candidate in play; none known for "
                f"{', '.join(missing)}: give prices in the backends file or exclude them"
            )
        if not known:
            costs = None
        elif mask is not None:
            # Prices of candidates out of play do not matter; keep NaN out of the policy.
            costs = np.where(mask[None, :], costs, 0.0)
        order = rule.rank(quality, costs, allowed=mask)
        if mask is not None:
            k = int(mask.sum())
            order = order[:, :k]  # the allowed candidates come first: the rest are never tried
        return order

    def route_embeddings(self, embeddings: np.ndarray | None, texts: Sequence[str] | None = None,
                         options: RoutingOptions | None = None, **kw: Any) -> RankedBatch:
        """Decisions for prompts already embedded (``texts`` only feed the cost estimate)."""
        options = options or RoutingOptions.from_dict(kw or None)
        quality = self.quality(texts=texts, embeddings=embeddings)
        costs = self.costs(texts, n=len(quality))
        return RankedBatch(self.rank(quality, costs, options), quality, costs, self.candidates)

    def decide(self, texts: Sequence[str], options: RoutingOptions | None = None) -> RankedBatch:
        """Decisions for a batch of prompt texts, as arrays."""
        options = options or RoutingOptions()
        texts = list(texts)
        embeddings = self.embed(texts)
        quality = self.quality(texts=texts, embeddings=embeddings)
        costs = self.costs(texts)
        return RankedBatch(self.rank(quality, costs, options), quality, costs, self.candidates)

    def decide_each(self, texts: Sequence[str], options: Sequence[RoutingOptions]) -> list[Decision | ConfigError]:
        """One decision per prompt, each under its own options, embedding the batch at once.

        What the proxy runs on the requests that arrived together; a prompt
        whose options cannot be met gets its ConfigError in place of a decision.
        """
        texts = list(texts)
        quality = self.quality(texts=texts, embeddings=self.embed(texts))
        costs = self.costs(texts)
        out: list[Decision | ConfigError] = []
        for i, opts in enumerate(options):
            row_costs = None if costs is None else costs[i:i + 1]
            try:
                order = self.rank(quality[i:i + 1], row_costs, opts)
            except ConfigError as exc:
                out.append(exc)
                continue
            out.append(RankedBatch(order, quality[i:i + 1], row_costs, self.candidates).decision(0))
        return out

    def check_options(self, options: RoutingOptions) -> None:
        """Refuse options that name unknown candidates or leave none (before any work is done)."""
        self._allowed(options)

    def route(
        self,
        texts: str | Sequence[str],
        *,
        cost_weight: float = 0.0,
        max_cost: float | None = None,
        tolerance: float | None = None,
        candidates: Sequence[str] | None = None,
        exclude: Sequence[str] = (),
    ) -> list[Decision]:
        """One :class:`Decision` per prompt: ``.chosen`` and ``.ranked`` (the fallback order) with estimates."""
        if isinstance(texts, str):
            texts = [texts]
        options = RoutingOptions.from_dict({
            "cost_weight": cost_weight, "max_cost": max_cost, "tolerance": tolerance,
            "candidates": None if candidates is None else list(candidates), "exclude": list(exclude),
        })
        return self.decide(texts, options).decisions()

    # -- the folder ---------------------------------------------------------------------

    def save(self, folder: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the artifact folder (see the module docstring); returns its path."""
        import routereval
        from routereval.atomic import write_text_atomic

        folder = Path(folder)
        if (folder / MANIFEST).exists() and not overwrite:
            raise ConfigError(f"{folder} already holds a routing artifact; pass overwrite=True (--force) to replace it")
        name = getattr(self.router, "name", "")
        from routereval.routers.base import all_routers

        if all_routers().get(name) is not type(self.router):
            raise ConfigError(
                f"router {type(self.router).__name__} is not a registered router, so it could not be rebuilt "
                "on load; register it (routereval.routers entry point) first"
            )
        tree, arrays = encode_state(learned_attributes(self.router), f"router {name!r}")
        if not tree:
            raise ConfigError(f"router {name!r} has no learned state (attributes ending in '_'): fit it first")
        folder.mkdir(parents=True, exist_ok=True)
        files: dict[str, str] = {}
        np.savez(folder / ROUTER_WEIGHTS, **arrays)
        files[ROUTER_WEIGHTS] = full_sha256(folder / ROUTER_WEIGHTS)
        encoder_entry = None
        if self.inputs == "embeddings":
            encoder_entry, enc_arrays = encoder_state.describe(self.encoder)
            if enc_arrays:
                np.savez(folder / ENCODER_WEIGHTS, **enc_arrays)
                files[ENCODER_WEIGHTS] = full_sha256(folder / ENCODER_WEIGHTS)
        elif self.inputs == "texts":
            raise ConfigError(f"router {name!r} reads raw texts with its own model; it cannot be saved as data yet")
        if encoder_entry is None and (folder / ENCODER_WEIGHTS).exists():
            (folder / ENCODER_WEIGHTS).unlink()
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "routereval_version": routereval.__version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "router": {"name": name, "params": _jsonable(self.router.get_params(deep=False)),
                       "inputs": self.inputs, "state": tree},
            "encoder": encoder_entry,
            "candidates": list(self.candidates),
            "prices": {c: {"input": _num(p[0]), "output": _num(p[1])} for c, p in self.prices.items()},
            "cost_model": {"unit": "USD per request", "chars_per_token": CHARS_PER_TOKEN,
                           "output_tokens": int(self.output_tokens)},
            **{k: v for k, v in self.info.items() if k not in ("files",)},
            "files": files,
        }
        write_text_atomic(folder / MANIFEST, json.dumps(manifest, indent=2, allow_nan=False) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> RoutingModel:
        """Read an artifact folder: checks format version and every file's sha256; runs no code from it."""
        folder = Path(folder)
        path = folder / MANIFEST
        if not path.is_file():
            raise ArtifactError(f"{path}: no such file; is {folder} a folder written by `routereval train`?")
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ArtifactError(f"{path}: not valid JSON ({exc})") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ArtifactError(f"{path}: not a routereval router manifest (no format {FORMAT!r})")
        version = manifest.get("format_version")
        if version != FORMAT_VERSION:
            raise ArtifactError(
                f"{path}: format version {version!r} is not supported (this routereval reads version "
                f"{FORMAT_VERSION}); retrain with this version or upgrade routereval"
            )
        files = manifest.get("files") or {}
        for name, digest in files.items():
            target = folder / name
            if Path(name).name != name:
                raise ArtifactError(f"{path}: file entry {name!r} is not a plain file name")
            if not target.is_file():
                raise ArtifactError(f"{target}: missing (listed in the manifest); copy the whole folder")
            if full_sha256(target) != digest:
                raise ArtifactError(f"{target}: sha256 does not match the manifest; the file was altered or damaged")
        try:
            return cls._from_manifest(folder, manifest, files)
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"{path}: malformed manifest ({type(exc).__name__}: {exc})") from exc

    @classmethod
    def _from_manifest(cls, folder: Path, manifest: dict[str, Any], files: dict[str, str]) -> RoutingModel:
        from routereval.routers.base import all_routers

        entry = manifest["router"]
        routers = all_routers()
        if entry["name"] not in routers:
            raise ArtifactError(
                f"{folder / MANIFEST}: router {entry['name']!r} is not registered in this installation; "
                f"known: {', '.join(sorted(routers))}"
            )
        router = routers[entry["name"]](**entry["params"])
        if ROUTER_WEIGHTS not in files:
            raise ArtifactError(f"{folder / MANIFEST}: {ROUTER_WEIGHTS} is not listed with a checksum")
        arrays = _read_arrays(folder / ROUTER_WEIGHTS)
        try:
            state = decode_state(entry["state"], arrays, f"router {entry['name']!r}")
        except DataError as exc:
            raise ArtifactError(f"{folder / ROUTER_WEIGHTS}: {exc}") from exc
        for key, value in state.items():
            setattr(router, key, value)
        encoder = None
        if manifest.get("encoder"):
            enc_arrays: dict[str, np.ndarray] = {}
            if ENCODER_WEIGHTS in files:
                enc_arrays = _read_arrays(folder / ENCODER_WEIGHTS)
            elif manifest["encoder"].get("kind") == "tfidf":
                raise ArtifactError(
                    f"{folder / MANIFEST}: a tfidf encoder needs {ENCODER_WEIGHTS}, which is not listed")
            encoder = encoder_state.rebuild(manifest["encoder"], enc_arrays)
        prices = {c: (_from_num(p.get("input")), _from_num(p.get("output"))) for c, p in manifest["prices"].items()}
        info = {k: manifest[k] for k in ("training", "held_out", "created", "routereval_version") if k in manifest}
        return cls(router, encoder, list(manifest["candidates"]), prices,
                   int(manifest.get("cost_model", {}).get("output_tokens", DEFAULT_OUTPUT_TOKENS)), info)


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz``, refusing pickled objects (allow_pickle=False)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (ValueError, OSError) as exc:
        raise ArtifactError(f"{path}: cannot be read as plain arrays ({exc})") from exc


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


def _from_num(x: Any) -> float:
    return math.nan if x is None else float(x)
