"""RoutingModel: a fitted encoder + router + prices, saved as a folder of data, and routing new prompts.

The folder (format version 2, described in docs/serving.md):

* ``manifest.json``: format version, routereval version, router name and
  parameters, the router's state layout, encoder name and settings,
  candidates, prices, each candidate's mean training score (``prior``),
  training data (name, sha256, protocol), held-out metrics, creation time,
  the sha256 of every other file, the dtype and shape of every array, and a
  checksum of its own content (schema: :mod:`routereval.serving.manifest`).
* ``router.npz``: the router's learned state (its attributes ending in ``_``)
  and the candidate names, which bind their order to the state.
* ``encoder.npz``: a fitted TF-IDF encoder's vocabulary, IDF weights and axes
  (absent for a pretrained encoder and for routers that read no prompt).

Loading reads JSON and plain arrays only (:mod:`routereval.serving.npz`), so
nothing in the folder can run code, and checks every field against the schema
and the arrays before anything is used; the router class comes from
routereval's registry by name.

A prompt the encoder cannot read (empty, or no word of a TF-IDF vocabulary: an
all-zero vector) tells the router nothing; kNN would rank it by arbitrary
ties. Such a prompt is ranked by ``prior`` and its decision says
``basis: "prior"``. Costs are estimated in US dollars per request from the candidates'
prices ($ per 1M tokens): input tokens ~ characters / 4 (the usual rule of
thumb for English), output tokens as set at training (``output_tokens``).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import shutil
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from routereval.errors import EXIT_DAMAGED, ConfigError, DataError, RouterEvalError
from routereval.records.integrity import full_sha256
from routereval.serving import encoder_state
from routereval.serving import manifest as mf
from routereval.serving.manifest import ENCODER_WEIGHTS, FORMAT, FORMAT_VERSION, MANIFEST, ROUTER_WEIGHTS
from routereval.serving.npz import NpzError, read_npz, spec_of, write_npz
from routereval.serving.state import check_values, decode_state, encode_state, learned_attributes

#: Characters per token for the input-cost estimate (OpenAI's rule of thumb for English text).
CHARS_PER_TOKEN = 4.0
#: Output tokens assumed per answer when a cost is estimated before the answer exists.
DEFAULT_OUTPUT_TOKENS = 256


class ArtifactError(RouterEvalError):
    """A routing artifact that cannot be loaded as it is (named file, what is wrong, what to do)."""


class DamagedArtifactError(ArtifactError):
    """An artifact whose content was altered or damaged since it was written (exit 3, like a damaged store)."""

    exit_code = EXIT_DAMAGED


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
    #: "router": the router's estimates for this prompt; "prior": the candidates' mean training scores, used
    #: for a prompt the encoder cannot read (empty, or no word of its vocabulary).
    basis: str = "router"

    @property
    def chosen(self) -> str:
        return self.ranked[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "chosen": self.chosen,
            "basis": self.basis,
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
    prior_rows: np.ndarray | None = None  # n booleans: ranked by the prior (see Decision.basis)

    @property
    def chosen(self) -> list[str]:
        return [self.candidates[i] for i in self.order[:, 0]]

    def decision(self, i: int) -> Decision:
        row = self.order[i]
        cost = [None] * len(row) if self.cost is None else [float(self.cost[i, j]) for j in row]
        basis = "prior" if self.prior_rows is not None and self.prior_rows[i] else "router"
        return Decision([self.candidates[j] for j in row], [float(self.quality[i, j]) for j in row], cost, basis)

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
    ``prior`` is each candidate's mean score (in [0, 1]) on the training
    prompts: the estimate for a prompt the encoder cannot read.
    """

    router: Any
    encoder: Any
    candidates: list[str]
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)
    output_tokens: int = DEFAULT_OUTPUT_TOKENS
    info: dict[str, Any] = field(default_factory=dict)
    prior: Sequence[float] | None = None

    def __post_init__(self) -> None:
        if len(set(self.candidates)) != len(self.candidates) or not self.candidates:
            raise ConfigError(f"candidates must be distinct names, at least one; got {self.candidates}")
        if self.prior is not None:
            prior = np.asarray(self.prior, dtype=float)
            if prior.shape != (len(self.candidates),) or not np.all((prior >= 0) & (prior <= 1)):
                raise ConfigError(f"prior must hold one value in [0, 1] per candidate; got {list(self.prior)}")
            self.prior = prior
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
        return RoutingModel(self.router, self.encoder, list(self.candidates), merged, self.output_tokens, self.info,
                            self.prior)

    # -- routing ------------------------------------------------------------------------

    def embed(self, texts: Sequence[str]) -> np.ndarray | None:
        """The router's input vectors for ``texts`` (None for routers that read no vectors)."""
        if self.inputs != "embeddings":
            return None
        texts = [str(t) for t in texts]
        readable = [i for i, t in enumerate(texts) if t.strip()]
        if len(readable) == len(texts):
            return self.encoder.encode(texts, progress=False)
        # A blank prompt has nothing to embed: a zero vector, which routes on the prior (see _estimate).
        out = np.zeros((len(texts), self.encoder.dim), dtype=np.float32)
        if readable:
            out[readable] = self.encoder.encode([texts[i] for i in readable], progress=False)
        return out

    def quality(self, texts: Sequence[str] | None = None, embeddings: np.ndarray | None = None) -> np.ndarray:
        """Each candidate's estimated quality in [0, 1] on each prompt, n x m (the prior where it is used)."""
        return self._estimate(texts, embeddings)[0]

    def _estimate(self, texts: Sequence[str] | None, embeddings: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """``(quality n x m, prior_rows n)``: prompts the encoder cannot read get the prior (see the module doc)."""
        from routereval.routers.base import Prompts

        blank = None
        if self.inputs == "embeddings":
            x = self.embed(texts) if embeddings is None else np.asarray(embeddings, dtype=np.float32)
            prompts = Prompts(embeddings=x, n=len(x))
            blank = ~np.any(x != 0, axis=1)
            if texts is not None:
                blank |= np.fromiter((not str(t).strip() for t in texts), dtype=bool, count=len(x))
        elif self.inputs == "texts":
            prompts = Prompts(texts=list(texts or []), n=len(texts or []))
        else:
            n = len(texts) if texts is not None else len(embeddings)
            prompts = Prompts(n=n)
        quality = np.clip(np.asarray(self.router.predict_quality(prompts), dtype=float), 0.0, 1.0)
        if blank is None or self.prior is None or not blank.any():
            return quality, np.zeros(len(quality), dtype=bool)
        quality[blank] = self.prior
        return quality, blank

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
        quality, prior_rows = self._estimate(texts, embeddings)
        costs = self.costs(texts, n=len(quality))
        return RankedBatch(self.rank(quality, costs, options), quality, costs, self.candidates, prior_rows)

    def decide(self, texts: Sequence[str], options: RoutingOptions | None = None) -> RankedBatch:
        """Decisions for a batch of prompt texts, as arrays."""
        options = options or RoutingOptions()
        texts = list(texts)
        quality, prior_rows = self._estimate(texts, self.embed(texts))
        costs = self.costs(texts)
        return RankedBatch(self.rank(quality, costs, options), quality, costs, self.candidates, prior_rows)

    def decide_each(self, texts: Sequence[str], options: Sequence[RoutingOptions],
                    embeddings: np.ndarray | None = None) -> list[Decision | ConfigError]:
        """One decision per prompt, each under its own options, embedding the batch at once.

        What the proxy runs on the requests that arrived together; a prompt
        whose options cannot be met gets its ConfigError in place of a decision.
        ``embeddings``: the prompts' vectors where the caller has them already.
        """
        texts = list(texts)
        quality, prior_rows = self._estimate(texts, self.embed(texts) if embeddings is None else embeddings)
        costs = self.costs(texts)
        out: list[Decision | ConfigError] = []
        for i, opts in enumerate(options):
            row_costs = None if costs is None else costs[i:i + 1]
            try:
                order = self.rank(quality[i:i + 1], row_costs, opts)
            except ConfigError as exc:
                out.append(exc)
                continue
            out.append(RankedBatch(order, quality[i:i + 1], row_costs, self.candidates, prior_rows[i:i + 1]).decision(0))
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
        """Write the artifact folder (see the module docstring); returns its path.

        The folder is written complete beside ``folder`` and then swapped into
        place (:func:`routereval.atomic.replace_folder`), so an interruption
        leaves the old artifact or the new one, never a mix or nothing.
        """
        from routereval.atomic import TMP_PREFIX, replace_folder

        folder = Path(folder)
        check_destination(folder, overwrite=overwrite)
        manifest, arrays = self._contents()
        folder.parent.mkdir(parents=True, exist_ok=True)
        staged = folder.with_name(f"{TMP_PREFIX}{os.getpid()}-{folder.name}")
        shutil.rmtree(staged, ignore_errors=True)
        try:
            staged.mkdir()
            for file, members in arrays.items():
                write_npz(staged / file, members)
                manifest["files"][file] = full_sha256(staged / file)
            text = json.dumps(mf.seal(manifest), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
            (staged / MANIFEST).write_text(text, encoding="utf-8")
            replace_folder(staged, folder)  # flushes every file before the swap
        finally:
            shutil.rmtree(staged, ignore_errors=True)
        return folder

    def _contents(self) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
        """``(manifest without file digests, arrays by file)``, checked against the schema before anything is written."""
        import routereval
        from routereval.routers.base import all_routers

        name = getattr(self.router, "name", "")
        if all_routers().get(name) is not type(self.router):
            raise ConfigError(
                f"router {type(self.router).__name__} is not a registered router, so it could not be rebuilt "
                "on load; register it (routereval.routers entry point) first"
            )
        if self.prior is None:
            raise ConfigError("this routing model has no prior (each candidate's mean score in training), which an "
                              "artifact needs for prompts the encoder cannot read; build it with train_model")
        state = learned_attributes(self.router)
        tree, router_arrays = encode_state(state, f"router {name!r}")
        if not tree:
            raise ConfigError(f"router {name!r} has no learned state (attributes ending in '_'): fit it first")
        try:
            check_values(state, f"router {name!r}")
        except DataError as exc:
            raise ConfigError(f"{exc}; such a state cannot be saved") from None
        router_arrays[mf.CANDIDATES_MEMBER] = _utf8_lines(self.candidates, "candidate names")
        arrays = {ROUTER_WEIGHTS: router_arrays}
        encoder_entry = None
        if self.inputs == "embeddings":
            encoder_entry, enc_arrays = encoder_state.describe(self.encoder)
            if enc_arrays:
                arrays[ENCODER_WEIGHTS] = enc_arrays
        elif self.inputs == "texts":
            raise ConfigError(f"router {name!r} reads raw texts with its own model; it cannot be saved as data yet")
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
            "prior": [float(v) for v in self.prior],
            **{k: v for k, v in self.info.items() if k in ("training", "held_out")},
            "files": {file: "0" * 64 for file in arrays},
            "arrays": {file: {k: spec_of(a) for k, a in members.items()} for file, members in arrays.items()},
        }
        try:
            mf.validate(mf.seal(json.loads(json.dumps(manifest, allow_nan=False))))
        except (mf.ManifestError, ValueError) as exc:
            raise ConfigError(f"this routing model cannot be saved as an artifact: {exc}") from None
        return manifest, arrays

    @classmethod
    def load(cls, folder: str | os.PathLike) -> RoutingModel:
        """Read an artifact folder, checking everything before it is used; runs no code from it.

        Refuses (:class:`ArtifactError`, or :class:`DamagedArtifactError` when
        the content was altered) a manifest that fails its checksum or schema,
        files that are missing, links, or differ from their sha256, arrays not
        as declared, and state that cannot have come from a fit.
        """
        folder = Path(folder)
        path = folder / MANIFEST
        if os.path.lexists(folder) and not folder.is_dir():
            raise ArtifactError(f"{folder}: not a folder; give the folder that routereval train --out wrote")
        _regular_file(path, missing=ArtifactError(
            f"{path}: no such file; is {folder} a folder written by routereval train?"))
        try:
            doc = mf.parse(mf.read_bytes_bounded(path))
        except mf.ManifestError as exc:
            raise DamagedArtifactError(f"{path}: {exc}; {_RETRAIN}") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ArtifactError(f"{path}: not a routereval router manifest (no format {FORMAT!r})")
        version = doc.get("format_version")
        if version != FORMAT_VERSION:
            shown = version if isinstance(version, int) and not isinstance(version, bool) else repr(version)[:40]
            raise ArtifactError(
                f"{path}: format version {shown} is not supported (this routereval reads version {FORMAT_VERSION}"
                f"{'; version 1 artifacts have no checksum of their own' if version == 1 else ''}); "
                "train the router again with this routereval"
            )
        if not mf.checksum_matches(doc):
            raise DamagedArtifactError(f"{path}: checksum does not match its content: the manifest was altered or "
                                       f"damaged; {_RETRAIN}")
        try:
            manifest = mf.validate(doc)
        except mf.ManifestError as exc:
            raise DamagedArtifactError(f"{path}: {exc}; {_RETRAIN}") from None
        arrays = {file: _read_file(folder / file, digest, manifest.arrays[file])
                  for file, digest in manifest.files.items()}
        return cls._from_manifest(folder, manifest, arrays)

    @classmethod
    def _from_manifest(cls, folder: Path, manifest: mf.Manifest, arrays: dict[str, dict[str, np.ndarray]]
                       ) -> RoutingModel:
        weights = folder / ROUTER_WEIGHTS
        router_arrays = arrays[ROUTER_WEIGHTS]
        names = _from_utf8_lines(router_arrays.pop(mf.CANDIDATES_MEMBER), weights)
        if names != manifest.candidates:
            raise DamagedArtifactError(
                f"{folder / MANIFEST}: candidates {_short_list(manifest.candidates)} are not those the router was "
                f"trained on, in that order ({_short_list(names)}, in {ROUTER_WEIGHTS}); {_RETRAIN}")
        entry = manifest.router
        router = mf.build_router(entry.name, entry.params)
        try:
            state = decode_state(entry.state, router_arrays, f"router {entry.name!r}")
            check_values(state, f"router {entry.name!r}")
        except DataError as exc:
            raise DamagedArtifactError(f"{weights}: {exc}; {_RETRAIN}") from None
        for key, value in state.items():
            if hasattr(type(router), key):  # learned state never shadows what the class defines
                raise DamagedArtifactError(f"{folder / MANIFEST}: router.state.{key} would replace a part of the "
                                           f"router class; {_RETRAIN}")
            setattr(router, key, value)
        encoder = None
        if manifest.encoder is not None:
            try:
                encoder = encoder_state.rebuild(manifest.encoder.model_dump(), arrays.get(ENCODER_WEIGHTS, {}))
            except DataError as exc:
                raise DamagedArtifactError(f"{folder / ENCODER_WEIGHTS}: {exc}; {_RETRAIN}") from None
        prices = {c: (_from_num(p.input), _from_num(p.output)) for c, p in manifest.prices.items()}
        info = {"training": None if manifest.training is None else manifest.training.model_dump(),
                "held_out": None if manifest.held_out is None else manifest.held_out.model_dump(),
                "created": manifest.created, "routereval_version": manifest.routereval_version}
        model = cls(router, encoder, list(manifest.candidates), prices, manifest.cost_model.output_tokens,
                    {k: v for k, v in info.items() if v is not None}, prior=list(manifest.prior))
        model._probe(folder, manifest.encoder.dim if manifest.encoder is not None else 0)
        return model

    def _probe(self, folder: Path, dim: int) -> None:
        """Route a few fixed vectors: the state must give one finite estimate per candidate, or it is refused."""
        from routereval.routers.base import Prompts

        n = 4
        if self.inputs == "embeddings":
            probe = np.random.default_rng(0).standard_normal((n, dim)).astype(np.float32)
            prompts = Prompts(embeddings=probe / np.linalg.norm(probe, axis=1, keepdims=True), n=n)
        else:
            prompts = Prompts(n=n)
        try:
            with np.errstate(all="ignore"):
                out = np.asarray(self.router.predict_quality(prompts), dtype=float)
        except Exception as exc:  # noqa: BLE001 - any failure here means a state no fit produced
            raise DamagedArtifactError(
                f"{folder / ROUTER_WEIGHTS}: the router's state does not fit its settings ({type(exc).__name__}: "
                f"{str(exc)[:200]}); {_RETRAIN}") from None
        m = len(self.candidates)
        if out.shape != (n, m) or not np.isfinite(out).all():
            what = f"shape {out.shape}, expected ({n}, {m})" if out.shape != (n, m) else "non-finite values"
            raise DamagedArtifactError(f"{folder / ROUTER_WEIGHTS}: the router's estimates for {m} candidates have "
                                       f"{what}; {_RETRAIN}")


#: What to do about an artifact that was altered, damaged or written by another version.
_RETRAIN = "run routereval train again (with --force), or copy the folder again"
#: The files an artifact folder holds; a folder holding anything else is not replaced by `--force`.
ARTIFACT_FILES = frozenset({MANIFEST, ROUTER_WEIGHTS, ENCODER_WEIGHTS})


def check_destination(folder: Path, *, overwrite: bool) -> None:
    """Refuse to write an artifact where it would replace anything but an artifact (or one without ``overwrite``)."""
    folder = Path(folder)
    if not os.path.lexists(folder):
        return
    if folder.is_symlink() or not folder.is_dir():
        kind = "a symbolic link" if folder.is_symlink() else "a file"
        raise ConfigError(f"{folder} is {kind}, not an artifact folder; choose a new or empty folder for --out")
    try:
        entries = sorted(p.name for p in folder.iterdir())
    except OSError as exc:
        raise ConfigError(f"{folder}: cannot be listed ({exc.strerror})") from None
    if not entries:
        return
    if MANIFEST not in entries:
        raise ConfigError(f"{folder} holds other things ({_short_list(entries)}) and no routing artifact; "
                          "choose a new or empty folder for --out")
    others = [e for e in entries if e not in ARTIFACT_FILES]
    if others:
        raise ConfigError(f"{folder} holds a routing artifact and other things ({_short_list(others)}), which "
                          "--force would delete; move them out or choose another folder")
    if not overwrite:
        raise ConfigError(f"{folder} already holds a routing artifact; pass --force to replace it")


def _regular_file(path: Path, missing: RouterEvalError) -> os.stat_result:
    """``path``'s status if it is a regular file in place (not a link, folder, pipe or device)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise missing from None
    except OSError as exc:
        raise DamagedArtifactError(f"{path}: cannot be read ({exc.strerror})") from None
    if stat.S_ISLNK(info.st_mode):
        raise DamagedArtifactError(f"{path}: is a symbolic link; an artifact holds its own files, so copy the "
                                   "folder with its files (cp -rL)")
    if not stat.S_ISREG(info.st_mode):
        raise DamagedArtifactError(f"{path}: is not a regular file; {_RETRAIN}")
    return info


def _read_file(path: Path, digest: str, declared: dict[str, mf.ArraySpec]) -> dict[str, np.ndarray]:
    """A listed .npz: in place, of a plausible size, with its sha256, read within its declared arrays."""
    info = _regular_file(path, missing=DamagedArtifactError(
        f"{path}: missing (listed in the manifest); copy the whole folder"))
    # np.savez adds a few hundred bytes per member around the data: anything far larger was not written so.
    limit = sum(spec.nbytes for spec in declared.values()) + (len(declared) + 1) * 8192
    if info.st_size > limit:
        raise DamagedArtifactError(f"{path}: is {info.st_size} bytes, more than the {limit} its declared arrays "
                                   f"take; {_RETRAIN}")
    if full_sha256(path) != digest:
        raise DamagedArtifactError(f"{path}: sha256 does not match the manifest; the file was altered or damaged; "
                                   f"{_RETRAIN}")
    try:
        return read_npz(path, declared)
    except NpzError as exc:
        raise DamagedArtifactError(f"{path}: {exc}; {_RETRAIN}") from None


def _utf8_lines(names: Sequence[str], what: str) -> np.ndarray:
    if any("\n" in n for n in names):
        raise ConfigError(f"{what} must not contain line breaks")
    return np.frombuffer("\n".join(names).encode("utf-8"), dtype=np.uint8).copy()


def _from_utf8_lines(array: np.ndarray, path: Path) -> list[str]:
    try:
        return array.tobytes().decode("utf-8").split("\n")
    except UnicodeDecodeError:
        raise DamagedArtifactError(f"{path}: candidate names are not UTF-8; {_RETRAIN}") from None


def _short_list(items: Sequence[str], most: int = 4) -> str:
    shown = ", ".join(repr(i)[:60] for i in items[:most])
    return shown + (f", ... ({len(items)} in all)" if len(items) > most else "")


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


def _from_num(x: Any) -> float:
    return math.nan if x is None else float(x)
