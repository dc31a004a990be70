"""The mean of several routers' calibrated quality estimates.

Source: averaging calibrated probability estimates, the plainest ensemble of
the field (the "routing plateau" studies find ensembles of simple routers
among the strongest); here each member's P(correct) is first calibrated on
the validation split, then the members' estimates are averaged per candidate.

Calibration is Platt scaling per member, pooled over candidates:
q' = sigmoid(alpha * logit(q) + beta), with (alpha, beta) the maximum-likelihood
fit on the member's validation estimates against the validation labels (the
present ones). Members tune their own settings on the same validation split,
so their validation estimates are a little optimistic; pooling over candidates
keeps the calibration to two numbers per member. Without a validation split
the raw estimates are averaged.

``members`` names registered routers that read embeddings, joined by ``+`` (``"knn-tuned+logistic"``,
as a sweep file or the command line writes it), or is a list of names or
router objects (their hyper-parameters are kept; each is fitted afresh).
The ensemble's ``random_state`` reaches every member that has one.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np

from routereval.routers.base import (
    Labelled,
    Prompts,
    Router,
    make_router,
    register,
    router_class,
    sigmoid,
    unfitted_copy,
)
from routereval.routers.checks import check_labels
from routereval.routers.mf import penalised_logistic

DEFAULT_MEMBERS = "knn-tuned+logistic+mf"
# Estimates are clipped this far from 0 and 1 before taking logits.
_CLIP = 1e-4


def member_list(members: str | Sequence[Any]) -> list[Any]:
    """Unfitted member routers from ``"a+b"`` or a list of names / router objects."""
    items = [m.strip() for m in members.split("+")] if isinstance(members, str) else list(members)
    if not items or any(isinstance(m, str) and not m for m in items):
        raise ValueError(f"members must name at least one router, e.g. {DEFAULT_MEMBERS!r}; got {members!r}")
    out = []
    for m in items:
        if getattr(m if not isinstance(m, str) else router_class(m), "inputs", "embeddings") == "texts":
            raise ValueError(f"ensemble members read embeddings; {m!r} reads prompt texts")
        if isinstance(m, str):
            out.append(make_router(m))
        else:
            out.append(unfitted_copy(m))  # the object given is never fitted in place
    return out


def logit(q: np.ndarray) -> np.ndarray:
    q = np.clip(q, _CLIP, 1 - _CLIP)
    return np.log(q / (1 - q))


def platt(quality: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(alpha, beta) of sigmoid(alpha * logit(q) + beta), fitted on the present labels; (1, 0) without any."""
    present = ~np.isnan(labels)
    if not present.any():
        return 1.0, 0.0
    w, b = penalised_logistic(logit(quality[present])[:, None], labels[present], l2=1e-6)
    return float(w[0]), b


@register
class EnsembleRouter(Router):
    """Mean of the members' estimates, each Platt-calibrated on the validation split."""

    name = "ensemble"
    # Declared on the class, where sweeps read it before building anything: members read embeddings (or nothing).
    inputs = "embeddings"

    def __init__(self, members: str | Sequence[Any] = DEFAULT_MEMBERS, random_state: int = 0) -> None:
        self.members = members
        self.random_state = random_state

    def requirements(self) -> tuple[str, ...]:
        """What the members need."""
        needed: dict[str, None] = {}
        for member in member_list(self.members):
            needed.update(dict.fromkeys(member.requirements() if hasattr(member, "requirements") else ()))
        return tuple(needed)

    def fit(self, prompts: Prompts, labels: np.ndarray, validation: Labelled | None = None) -> EnsembleRouter:
        y = check_labels(labels, len(prompts))
        fitted, calibration = [], []
        for member in member_list(self.members):
            params = member.get_params(deep=False) if hasattr(member, "get_params") else {}
            if "random_state" in params:
                member.set_params(random_state=self.random_state)
            takes_validation = "validation" in inspect.signature(member.fit).parameters
            if takes_validation and validation is not None:
                member.fit(prompts, y, validation=validation)
            else:
                member.fit(prompts, y)
            if validation is not None and len(validation.prompts):
                yv = check_labels(validation.labels, len(validation.prompts))
                calibration.append(platt(member.predict_quality(validation.prompts), yv))
            else:
                calibration.append((1.0, 0.0))
            fitted.append(member)
        self.members_ = fitted
        self.calibration_ = np.array(calibration)
        return self

    def member_estimates(self, prompts: Prompts) -> list[np.ndarray]:
        """Each member's calibrated estimates (n x m)."""
        self._check_fitted("members_")
        out = []
        for member, (a, b) in zip(self.members_, self.calibration_):
            quality = member.predict_quality(prompts)
            # (1, 0) is "not calibrated": the raw estimates, not their clipped round trip through a logit.
            out.append(quality if (a, b) == (1.0, 0.0) else sigmoid(a * logit(quality) + b))
        return out

    def predict_quality(self, prompts: Prompts) -> np.ndarray:
        return np.mean(self.member_estimates(prompts), axis=0)
