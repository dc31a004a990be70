"""A router anchored on the best single model, leaving it only for a predicted gain above a margin.

Source: the finding of independent studies (LLMRouterBench, "The Routing
Plateau", OpenRouterBench) that most routers land at 0.97-1.02 of the best
single model: a deployment wants a router that cannot do worse than that
model, and RouteLLM's lesson that a router should decide on a *difference*
(its win-rate threshold) rather than on raw scores.

What it learns:

* the anchor: the candidate with the best mean over the training and
  validation labels (the deployable best single model; where the training
  records are continuous and the labels are a binarisation of them, the
  anchor is the best mean raw training score, since validation scores are not
  given to routers);
* a ``base`` router (a registered name or a router object, fitted on the
  training prompts with the validation split) that estimates every
  candidate's quality;
* a margin: a prompt leaves the anchor a only when the best predicted gain
  max_i (q_i - q_a) exceeds it, for the candidate with that gain.

The margin is chosen on the validation split from (0, 0.02, 0.05, 0.1, 0.15,
0.2, 0.3, 0.5, inf) unless given: for each, the per-prompt gain over the
anchor (label of the chosen candidate minus the anchor's, 0 where the anchor
is kept or a label is missing) and the lower confidence bound
mean - z * sd / sqrt(n); the margin with the highest bound wins, ties to the
larger (safer) margin. inf (never leave the anchor) has bound 0, so a margin
is used only where routing helped on validation with confidence z
(default 1.645, one-sided 95%). The base router tunes itself on the same
validation split, so its validation estimates are a little optimistic; z
absorbs some of that.

The estimates it returns keep the base's estimate for the anchor (at least
1e-6) and lower every other candidate's by the margin (and 1e-9, so an exact
tie stays with the anchor), clipped at 0: their argmax is the decision above,
for any candidate order.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from routereval.routers.base import Labelled, Prompts, Router, make_router, register
from routereval.routers.checks import check_labels, column_means

MARGIN_GRID = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, float("inf"))
# The anchor's estimate is kept above 0 so that clipped others never tie with it.
_FLOOR = 1e-6
# Exact ties at the margin stay with the anchor.
_SLACK = 1e-9


def anchored(quality: np.ndarray, anchor: int, margin: float) -> np.ndarray:
    """Estimates whose argmax leaves ``anchor`` only for a gain above ``margin`` (see the module docstring)."""
    out = np.clip(quality - margin - _SLACK, 0.0, 1.0) if np.isfinite(margin) else np.zeros_like(quality)
    out[:, anchor] = np.maximum(quality[:, anchor], _FLOOR)
    return out


def lower_bound(quality: np.ndarray, labels: np.ndarray, anchor: int, margin: float, z: float) -> float:
    """Lower confidence bound of the mean gain over the anchor of routing with ``margin`` on labelled prompts."""
    choice = np.argmax(anchored(quality, anchor, margin), axis=1)
    gain = labels[np.arange(len(labels)), choice] - labels[:, anchor]
    gain = np.where(np.isnan(gain), 0.0, gain)
    if len(gain) < 2 or not gain.any():
        return 0.0 if not gain.any() else -np.inf
    return float(gain.mean() - z * gain.std(ddof=1) / np.sqrt(len(gain)))


def records_are_binarised(scores: np.ndarray | None, labels: np.ndarray) -> bool:
    """True when raw training scores are given and differ from the labels (continuous records)."""
    if scores is None:
        return False
    s = np.asarray(scores, dtype=float)
    return s.shape != labels.shape or not np.array_equal(np.isnan(s), np.isnan(labels)) or \
        not np.allclose(np.nan_to_num(s), np.nan_to_num(labels))


@register
class SafeRouter(Router):
    """Best single model (train + validation) unless the base router predicts a gain above a validated margin."""

    name = "safe"
    # Declared on the class, where sweeps read it: the base router must read embeddings (or nothing).
    inputs = "embeddings"

    def __init__(self, base: Any = "knn-tuned", margin: float | None = None, z: float = 1.645, random_state: int = 0) -> None:
        self.base = base
        self.margin = margin
        self.z = z
        self.random_state = random_state

    def requirements(self) -> tuple[str, ...]:
        """What the base router needs."""
        base = self._base_router()
        return base.requirements() if hasattr(base, "requirements") else ()

    def _base_router(self) -> Any:
        if isinstance(self.base, str):
            router = make_router(self.base)
        else:
            router = type(self.base)(**self.base.get_params(deep=False))
        if getattr(router, "inputs", "embeddings") == "texts":
            raise ValueError(f"the safe router's base must read embeddings; {self.base!r} reads prompt texts")
        if hasattr(router, "get_params") and "random_state" in router.get_params(deep=False):
            router.set_params(random_state=self.random_state)
        return router

    def fit(self, prompts: Prompts, labels: np.ndarray, validation: Labelled | None = None) -> SafeRouter:
        y = check_labels(labels, len(prompts))
        if self.margin is not None and float(self.margin) < 0:
            raise ValueError(f"margin must be >= 0, got {self.margin}")
        yv = None
        if validation is not None and len(validation.prompts):
            yv = check_labels(validation.labels, len(validation.prompts))
            if yv.shape[1] != y.shape[1]:
                raise ValueError(f"validation labels have {yv.shape[1]} candidates; the training labels have {y.shape[1]}")
        if records_are_binarised(prompts.scores, y):
            self.anchor_ = int(np.argmax(column_means(np.asarray(prompts.scores, dtype=float))))
        else:
            self.anchor_ = int(np.argmax(column_means(y if yv is None else np.vstack([y, yv]))))
        base = self._base_router()
        if yv is not None and "validation" in inspect.signature(base.fit).parameters:
            base.fit(prompts, y, validation=Labelled(validation.prompts, yv))
        else:
            base.fit(prompts, y)
        if self.margin is not None:
            self.margin_ = float(self.margin)
        elif yv is None:
            # Nothing to judge a margin on: stay with the anchor.
            self.margin_ = float("inf")
        else:
            quality = base.predict_quality(validation.prompts)
            bounds = [lower_bound(quality, yv, self.anchor_, m, float(self.z)) for m in MARGIN_GRID]
            best = max(bounds)
            # The largest margin reaching the best bound: ties go to staying put more often.
            self.margin_ = float(max(m for m, b in zip(MARGIN_GRID, bounds) if b == best))
            self.validation_bounds_ = np.array(bounds)
        self.base_ = base
        return self

    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        self._check_fitted("base_")
        return anchored(np.asarray(self.base_.predict_quality(prompts), dtype=float), self.anchor_, self.margin_)
