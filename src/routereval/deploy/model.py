"""RoutingModel: a fitted encoder + router + prices, routing new prompts; saved as a folder of data.

The folder (format version 3; version 2 is still read) is written and read by :mod:`routereval.deploy.artifact`
(:meth:`RoutingModel.save`, :meth:`RoutingModel.load`); docs/serving.md describes it.

A prompt the encoder cannot read (empty, or no word of a TF-IDF vocabulary: an
all-zero vector) tells the router nothing; kNN would rank it by arbitrary
ties. Such a prompt is ranked by ``prior`` and its decision says
``basis: "prior"``. Costs are estimated in US dollars per request from the candidates'
prices ($ per 1M tokens): input tokens ~ characters / 4 (the usual rule of
thumb for English), output tokens as set at training (``output_tokens``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from routereval.deploy import artifact
from routereval.deploy.artifact import ArtifactError, DamagedArtifactError, check_destination
from routereval.errors import ConfigError

__all__ = ["ArtifactError", "DamagedArtifactError", "Decision", "RankedBatch", "RoutingModel", "RoutingOptions",
           "check_destination"]

#: Characters per token for the input-cost estimate (OpenAI's rule of thumb for English text).
CHARS_PER_TOKEN = 4.0
#: Output tokens assumed per answer when a cost is estimated before the answer exists.
DEFAULT_OUTPUT_TOKENS = 256


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
    #: Characters per input token in the cost estimate (written to the artifact's cost_model).
    chars_per_token: ClassVar[float] = CHARS_PER_TOKEN

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

    # -- the folder (routereval.deploy.artifact) -----------------------------------------

    def save(self, folder: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the artifact folder (docs/serving.md, "The artifact"); returns its path.

        The folder is written complete beside ``folder`` and then swapped into
        place (:func:`routereval.atomic.replace_folder`), so an interruption
        leaves the old artifact or the new one, never a mix or nothing.
        """
        return artifact.save(self, folder, overwrite=overwrite)

    @classmethod
    def load(cls, folder: str | os.PathLike) -> RoutingModel:
        """Read an artifact folder, checking everything before it is used; runs no code from it.

        Refuses (:class:`ArtifactError`, or :class:`DamagedArtifactError` when
        the content was altered) a manifest that fails its checksum or schema,
        files that are missing, links, or differ from their sha256, arrays not
        as declared, and state that cannot have come from a fit.
        """
        return artifact.load(cls, folder)
