"""A router anchored on the best single model, leaving it only where a certified rule says it pays.

Source: the finding of independent studies (LLMRouterBench, "The Routing
Plateau", OpenRouterBench) that most routers land at 0.97-1.02 of the best
single model: a deployment wants a router that cannot do worse than that
model, and RouteLLM's lesson that a router should decide on a *difference*
(its win-rate threshold) rather than on raw scores.

The promise (statistics in :mod:`routereval.routers.guarantee`): with
probability at least 1 - ``delta`` over the draw of the labelled prompts,
the expected score of ``safe`` on new prompts is not below that of the best
single model chosen on the training prompts by more than ``epsilon``
(defaults 0.05 and 0: not below it at all), assuming training, validation and future prompts
are exchangeable (drawn from one distribution). When no margin is certified,
``safe`` *is* that model.

What it learns:

* ``anchor_``: the candidate with the best mean training score (raw scores
  where given, else labels), exactly the evaluation's ``best_single_train``;
* ``base_``: a ``base`` router (a registered name or a router object), fitted
  on the training prompts with the validation split, that estimates every
  candidate's quality;
* ``margin_``: a prompt leaves the anchor a only when the best predicted gain
  max_i (q_i - q_a) exceeds it, for the candidate with that gain.

How the margin is chosen: every training and validation prompt gets an
out-of-fold estimate from the base fitted on the other folds
(:func:`routereval.routers._tuning.cross_fit`, ``folds`` folds), so the
gains below are measured on prompts the base did not see. For each margin of
(0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5) the per-prompt gain of routing with
it over the anchor is bounded below at level 1 - delta / 8 (Bonferroni over
the eight margins, so picking one of them keeps the level); margins whose
bound is at least -epsilon and whose mean gain is above 0 are certified, and
of those the one with the highest bound is used (ties to the larger margin).
None certified: ``margin_`` is inf, the anchor everywhere. A ``margin`` given
by the user is used as given, and then no promise is made.

The estimates it returns keep the base's estimate for the anchor (at least
1e-6) and lower every other candidate's by the margin (and 1e-9, so an exact
tie stays with the anchor), clipped at 0: their argmax is the decision above,
for any candidate order.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from routereval.routers import guarantee
from routereval.routers._tuning import DEFAULT_FOLDS, cross_fit, labelled_pool
from routereval.routers.base import Labelled, Prompts, Router, make_router, register, unfitted_copy
from routereval.routers.checks import check_labels

MARGIN_GRID = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5)
# The anchor's estimate is kept above 0 so that clipped others never tie with it.
_FLOOR = 1e-6
# Exact ties at the margin stay with the anchor.
_SLACK = 1e-9


def anchored(quality: np.ndarray, anchor: int, margin: float) -> np.ndarray:
    """Estimates whose argmax leaves ``anchor`` only for a gain above ``margin`` (see the module docstring)."""
    out = np.clip(quality - margin - _SLACK, 0.0, 1.0) if np.isfinite(margin) else np.zeros_like(quality)
    out[:, anchor] = np.maximum(quality[:, anchor], _FLOOR)
    return out


def margin_gains(quality: np.ndarray, labels: np.ndarray, anchor: int, margin: float) -> np.ndarray:
    """Per-prompt gain over the anchor of routing ``quality`` with ``margin`` (0 where a label is missing)."""
    return guarantee.gains(np.argmax(anchored(quality, anchor, margin), axis=1), labels, anchor)


def base_router(base: Any, random_state: int, owner: str) -> Any:
    """A fresh, unfitted copy of ``base`` (a registered name or a router object) seeded with ``random_state``."""
    router = make_router(base) if isinstance(base, str) else unfitted_copy(base)
    if getattr(router, "inputs", "embeddings") == "texts":
        raise ValueError(f"the {owner} router's members must read embeddings; {base!r} reads prompt texts")
    if hasattr(router, "get_params") and "random_state" in router.get_params(deep=False):
        router.set_params(random_state=random_state)
    return router


def fit_with_validation(router: Any, prompts: Prompts, labels: np.ndarray, validation: Labelled | None) -> Any:
    """``router.fit`` with the validation split where it takes one and one is given."""
    if validation is not None and len(validation.prompts) and "validation" in inspect.signature(router.fit).parameters:
        return router.fit(prompts, labels, validation=validation)
    return router.fit(prompts, labels)


def checked_validation(validation: Labelled | None, m: int) -> Labelled | None:
    """The validation split with checked labels, or None when absent or empty."""
    if validation is None or not len(validation.prompts):
        return None
    yv = check_labels(validation.labels, len(validation.prompts))
    if yv.shape[1] != m:
        raise ValueError(f"validation labels have {yv.shape[1]} candidates; the training labels have {m}")
    return Labelled(validation.prompts, yv)


@register
class SafeRouter(Router):
    """The best single model (chosen on train) unless a certified margin says routing pays (see the module docstring)."""

    name = "safe"
    # Declared on the class, where sweeps read it: the base router must read embeddings (or nothing).
    inputs = "embeddings"

    def __init__(self, base: Any = "knn-tuned", margin: float | None = None, delta: float = guarantee.DEFAULT_DELTA,
                 epsilon: float = guarantee.DEFAULT_EPSILON, folds: int = DEFAULT_FOLDS,
                 random_state: int = 0) -> None:
        self.base = base
        self.margin = margin
        self.delta = delta
        self.epsilon = epsilon
        self.folds = folds
        self.random_state = random_state

    def requirements(self) -> tuple[str, ...]:
        """What the base router needs."""
        base = base_router(self.base, self.random_state, "safe")
        return base.requirements() if hasattr(base, "requirements") else ()

    def check_params(self) -> None:
        """Refuse a negative margin, a delta outside (0, 1), a negative epsilon or fewer than 3 folds."""
        if self.margin is not None and not float(self.margin) >= 0:
            raise ValueError(f"margin must be >= 0, got {self.margin}")
        guarantee.check_levels(self.delta, self.epsilon)
        if not isinstance(self.folds, int) or self.folds < 3:
            raise ValueError(f"folds must be an integer >= 3, got {self.folds!r}")

    def fit(self, prompts: Prompts, labels: np.ndarray, validation: Labelled | None = None) -> SafeRouter:
        self.check_params()
        y = check_labels(labels, len(prompts))
        validation = checked_validation(validation, y.shape[1])
        self.anchor_ = guarantee.anchor_of(y if prompts.scores is None else np.asarray(prompts.scores, dtype=float))
        base = base_router(self.base, self.random_state, "safe")
        if self.margin is not None:
            self.margin_ = float(self.margin)
        else:
            self.margin_ = self._certified_margin(prompts, y, validation)
        self.base_ = fit_with_validation(base, prompts, y, validation)
        return self

    def _certified_margin(self, prompts: Prompts, y: np.ndarray, validation: Labelled | None) -> float:
        pool, pool_labels = labelled_pool(prompts, y, validation)
        quality = cross_fit(lambda: base_router(self.base, self.random_state, "safe"), pool, pool_labels,
                            int(self.folds), int(self.random_state))
        if quality is None:
            # Too few labelled prompts to measure anything out of fold: nothing can be certified.
            self.bounds_ = np.full(len(MARGIN_GRID), -np.inf)
            self.mean_gains_ = np.zeros(len(MARGIN_GRID))
            return float("inf")
        g = [margin_gains(quality, pool_labels, self.anchor_, m) for m in MARGIN_GRID]
        self.mean_gains_ = np.array([gi.mean() for gi in g])
        self.bounds_ = np.array([guarantee.lower_bound(gi, self.delta, len(MARGIN_GRID)) for gi in g])
        ok = [i for i, gi in enumerate(g) if guarantee.certify(gi, self.delta, self.epsilon, len(MARGIN_GRID))]
        if not ok:
            return float("inf")
        best = max(self.bounds_[i] for i in ok)
        # The largest margin reaching the best bound: ties go to staying put more often.
        return float(max(MARGIN_GRID[i] for i in ok if self.bounds_[i] == best))

    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        self._check_fitted("base_")
        return anchored(np.asarray(self.base_.predict_quality(prompts), dtype=float), self.anchor_, self.margin_)
