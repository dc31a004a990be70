"""Policies: turn quality estimates into choices.

A router estimates each candidate's expected score in [0, 1]; a policy
decides. Keeping them apart lets one fitted router serve several deployments:
the plain argmax, a cost-aware trade-off swept over its cost weight for a
cost-quality curve, a threshold ("the cheapest candidate that is good
enough"), or a cost cap. Every policy gives

* ``rank(quality, costs)``: n x m candidate indices, best first. The first is
  the choice; the rest is the fallback order a proxy tries when a backend
  fails.
* ``choose(quality, costs=..., scores=...)``: n x m rows, the probability of
  sending each prompt to each candidate (one-hot for deterministic policies).
  Metrics read this, so randomised policies are measured exactly.

The *oracle family* (:class:`Oracle`, :class:`OracleMix` = r_o(p),
:class:`Random` = r_o(0)) are policies over the true scores of the test
prompts (``needs_scores``), not learners: they bound what routing can reach.

Ties always go to the lowest candidate index. ``costs`` is one cost per
candidate (length m) or one per prompt and candidate (n x m), in any unit the
caller keeps consistent (dollars per query in routereval's cost tables).

The package: :mod:`~routereval.policies.base` (the contract),
:mod:`~routereval.policies.rules` (argmax, cost-aware, cost cap, threshold,
tolerance), :mod:`~routereval.policies.oracle` (the oracle family),
:mod:`~routereval.policies.sweeps` (exact cost-quality sweeps, budgets).
"""

from __future__ import annotations

from routereval.policies.base import Policy
from routereval.policies.oracle import (
    REFERENCE_POLICIES,
    CheapestOracle,
    Oracle,
    OracleMix,
    Random,
    oracle,
    oracle_cheapest,
    random,
    ro,
)
from routereval.policies.rules import Rule, argmax, cost_aware, cost_cap, threshold, tolerance
from routereval.policies.sweeps import Budget, Sweep, budget, cost_sweep, sweep_points
from routereval.routers.base import normalised_scores

__all__ = [
    "Policy", "Rule", "Oracle", "OracleMix", "Random",
    "argmax", "cost_aware", "cost_cap", "threshold", "tolerance", "oracle", "ro", "random",
    "normalised_scores", "REFERENCE_POLICIES",
    "Sweep", "cost_sweep", "sweep_points", "Budget", "budget", "CheapestOracle", "oracle_cheapest",
]
