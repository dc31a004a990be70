"""The router to deploy when you do not want to choose one: the zoo member nested validation picks.

Source: model selection by cross-validation as scikit-learn's
``GridSearchCV`` does it, with the fallback of "The Routing Plateau" and
LLMRouterBench in mind (most routers do not beat the best single model, so a
user who names no router should get that model unless a router is shown to
beat it).

How it chooses, on the labelled prompts only (train + validation; never the
test prompts):

1. the anchor is the best single model on the training prompts, the
   evaluation's ``best_single_train`` (:func:`routereval.routers.guarantee.anchor_of`);
2. every member (``members``, registered routers joined by ``+``) gets an
   out-of-fold estimate for every labelled prompt by cross-fitting over
   ``folds`` folds (:func:`routereval.routers._tuning.cross_fit`); a member
   tunes its own settings on an inner validation fold, so the whole choice
   is nested validation;
3. each member, and the mean of all members' estimates (``mean(a+b+c)``:
   stacking in its plainest form, validated on the same out-of-fold
   estimates), is scored by the mean gain over the anchor of routing by its
   argmax; the best mean is the candidate (ties: the one listed first);
4. it is deployed only if it beats the anchor with confidence, by the same
   bound ``safe`` uses (:func:`routereval.routers.guarantee.certify`,
   Bonferroni over the members compared, level 1 - ``delta``, tolerance
   ``epsilon``, 0 by default); otherwise ``auto`` is the best single model.

With ``epsilon = 0`` the promise is the one ``safe`` states with no
tolerance: with probability at least 1 - delta, the expected score of the
deployed router on new prompts is at least the anchor's, prompts assumed
exchangeable.

The chosen member (or every member, for the mean) is then fitted on the
training prompts with the validation split. Default members are the zoo routers that fit in seconds on thousands
of prompts (``knn-tuned``, ``sw-ranking``, ``clusters``); ``logistic``,
``mf`` and the torch routers can be added by name, at a multiple of the cost
(each member is fitted ``folds`` + 1 times).

Learned: ``chosen_`` (a member's name, the members' mean or ``best-single``),
``reason_`` (one sentence), ``members_`` (the candidates' names),
``member_scores_`` (out-of-fold mean score of routing by each),
``member_gains_`` and ``member_bounds_`` (mean gain over the anchor and its
lower bound), ``anchor_`` and ``models_`` (the fitted routers whose mean
estimate it routes by: one, or every member for the mean). :meth:`AutoRouter.describe` prints them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from routereval.routers import guarantee
from routereval.routers._tuning import DEFAULT_FOLDS, cross_fit, labelled_pool
from routereval.routers.base import Labelled, Prompts, Router, register, router_class
from routereval.routers.checks import check_labels
from routereval.routers.safe import anchored, base_router, checked_validation, fit_with_validation

DEFAULT_MEMBERS = "knn-tuned+sw-ranking+clusters"
FALLBACK = "best-single"


def blend_name(names: Sequence[str]) -> str:
    """How the mean of the members' estimates is named among the candidates: ``mean(a+b+c)``."""
    return f"mean({'+'.join(names)})"


def member_names(members: str | Sequence[str]) -> list[str]:
    """Registered router names from ``"a+b"`` or a list; each must read embeddings (or nothing)."""
    names = [m.strip() for m in members.split("+")] if isinstance(members, str) else [str(m) for m in members]
    if not names or any(not n for n in names):
        raise ValueError(f"members must name at least one router, e.g. {DEFAULT_MEMBERS!r}; got {members!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"members lists a router twice: {members!r}")
    for n in names:
        if n in ("auto", "safe"):
            raise ValueError(f"members cannot include {n!r} (it chooses by the same rule)")
        if getattr(router_class(n), "inputs", "embeddings") == "texts":
            raise ValueError(f"auto's members must read embeddings; {n!r} reads prompt texts")
    return names


@register
class AutoRouter(Router):
    """The member that beats the best single model by nested validation with confidence, else that model."""

    name = "auto"
    inputs = "embeddings"

    def __init__(self, members: str | Sequence[str] = DEFAULT_MEMBERS, delta: float = guarantee.DEFAULT_DELTA,
                 epsilon: float = 0.0, folds: int = DEFAULT_FOLDS, random_state: int = 0) -> None:
        self.members = members
        self.delta = delta
        self.epsilon = epsilon
        self.folds = folds
        self.random_state = random_state

    def check_params(self) -> None:
        """Refuse unknown or text-reading members, a delta outside (0, 1), a negative epsilon, fewer than 3 folds."""
        member_names(self.members)
        guarantee.check_levels(self.delta, self.epsilon)
        if not isinstance(self.folds, int) or self.folds < 3:
            raise ValueError(f"folds must be an integer >= 3, got {self.folds!r}")

    def requirements(self) -> tuple[str, ...]:
        """What the members need."""
        needed: dict[str, None] = {}
        for n in member_names(self.members):
            needed.update(dict.fromkeys(base_router(n, self.random_state, "auto").requirements()))
        return tuple(needed)

    def fit(self, prompts: Prompts, labels: np.ndarray, validation: Labelled | None = None) -> AutoRouter:
        self.check_params()
        y = check_labels(labels, len(prompts))
        validation = checked_validation(validation, y.shape[1])
        names = member_names(self.members)
        self.anchor_ = guarantee.anchor_of(y if prompts.scores is None else np.asarray(prompts.scores, dtype=float))
        pool, pool_labels = labelled_pool(prompts, y, validation)
        qualities = []
        for name in names:
            quality = cross_fit(lambda n=name: base_router(n, self.random_state, "auto"), pool, pool_labels,
                                int(self.folds), int(self.random_state))
            if quality is None:
                break
            qualities.append(np.asarray(quality, dtype=float))
        # The mean of the members' estimates is one more candidate, validated on the same out-of-fold estimates:
        # where members err on different prompts, their mean errs less (stacking in its plainest form).
        candidates = list(names)
        if len(qualities) == len(names) and len(names) > 1:
            candidates.append(blend_name(names))
            qualities.append(np.mean(qualities, axis=0))
        scores, gains, bounds, per_prompt = [], [], [], []
        for quality in qualities:
            choice = np.argmax(quality, axis=1)
            got = pool_labels[np.arange(len(choice)), choice]
            g = guarantee.gains(choice, pool_labels, self.anchor_)
            scores.append(float(np.nanmean(got)) if (~np.isnan(got)).any() else float("nan"))
            per_prompt.append(g)
            gains.append(float(g.mean()))
            bounds.append(guarantee.lower_bound(g, self.delta, len(candidates)))
        self.members_ = candidates
        self.member_scores_ = np.array(scores, dtype=float)
        self.member_gains_ = np.array(gains, dtype=float)
        self.member_bounds_ = np.array(bounds, dtype=float)
        z = guarantee.critical_value(self.delta, len(candidates))
        if len(qualities) < len(names):
            self.chosen_ = FALLBACK
            self.reason_ = (f"{len(pool_labels)} labelled prompts are too few for {self.folds}-fold cross-fitting; "
                            "nothing can be shown to beat the best single model")
        else:
            best = int(np.argmax(self.member_gains_))
            if guarantee.certify(per_prompt[best], self.delta, self.epsilon, len(candidates)):
                self.chosen_ = candidates[best]
                self.reason_ = (f"{candidates[best]} has the best out-of-fold gain over the best single model "
                                f"({gains[best]:+.4f}); its lower bound ({bounds[best]:+.4f}, z = {z:.3f}) "
                                f"is at least -{float(self.epsilon):g}")
            else:
                self.chosen_ = FALLBACK
                self.reason_ = (f"no member beats the best single model with confidence: the best, "
                                f"{candidates[best]}, gains {gains[best]:+.4f} out of fold with lower bound "
                                f"{bounds[best]:+.4f} (z = {z:.3f})")
        chosen = names if self.chosen_ == blend_name(names) else [self.chosen_]
        self.models_ = [fit_with_validation(base_router(n, self.random_state, "auto"), prompts, y, validation)
                        for n in chosen]
        return self

    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        self._check_fitted("models_")
        quality = np.mean([np.asarray(m.predict_quality(prompts), dtype=float) for m in self.models_], axis=0)
        if self.chosen_ == FALLBACK:
            # Exactly the anchor everywhere, whatever the fallback's own tie-breaking would say.
            return anchored(quality, self.anchor_, float("inf"))
        return quality

    def describe(self) -> str:
        """What was chosen and why, with each member's out-of-fold figures (for ``routereval train``)."""
        self._check_fitted("models_")
        lines = [f"auto chose {self.chosen_}: {self.reason_}",
                 "member          out-of-fold score   gain vs best single   lower bound"]
        for i, name in enumerate(self.members_[: len(self.member_scores_)]):
            lines.append(f"{name:15s} {self.member_scores_[i]:17.4f}   {self.member_gains_[i]:+19.4f}   "
                         f"{self.member_bounds_[i]:+11.4f}")
        return "\n".join(lines)
