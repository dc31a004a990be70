"""Deployments: which endpoint of a candidate gets the next attempt, and each endpoint's health.

A candidate model may have several deployments (several ``[[backends]]``
entries with its name: replicas of one server, or the same model at two
providers). Each deployment has its own in-flight count and its own
cool-down, so one failing replica is demoted while the others keep serving.

Balancing (``[proxy] balancing``):

* ``least-busy`` (default): the deployment with the fewest requests in
  flight per unit of ``weight``; ties go round-robin, so an idle pool is
  spread evenly. It adapts to slow replicas without any setting.
* ``weighted``: smooth weighted round-robin (each deployment gets its share
  of ``weight`` exactly, interleaved rather than in runs), for replicas of
  known, fixed capacity.

Cooling deployments always come after warm ones. Retries of a candidate go
to its next deployment, so a retry after a failure lands on another replica
where there is one. A candidate cools down when every one of its deployments
does.

State is per process: with ``routereval serve --workers N`` each worker
counts failures and in-flight requests on its own (docs/serving.md).
"""

from __future__ import annotations

import itertools
import time

from routereval.serving.backends import Backend, BackendsConfig
from routereval.serving.failover import Cooldown
from routereval.serving.metrics import ProxyMetrics


class Deployments:
    """The deployments of every candidate, their in-flight counts and cool-downs."""

    def __init__(self, config: BackendsConfig, cooldown: Cooldown, metrics: ProxyMetrics | None = None) -> None:
        self.groups = config.deployments
        self.metrics = metrics
        self.balancing = config.balancing
        self.cooldown = cooldown
        self.in_flight: dict[str, int] = {b.id: 0 for b in config.backends}
        self._turn = itertools.count()
        self._current: dict[str, float] = {b.id: 0.0 for b in config.backends}
        if metrics is not None:
            for b in config.backends:  # every deployment's series exists from the start, at 0
                metrics.deployment_in_flight.set(0, b.id)
                metrics.cooldown_until.set(0, b.id)

    def order(self, name: str) -> list[Backend]:
        """``name``'s deployments in the order to try them: warm first, then by the balancing rule."""
        group = list(self.groups[name])
        if len(group) > 1:
            group = self._weighted(group) if self.balancing == "weighted" else self._least_busy(group)
        warm = [b for b in group if not self.cooldown.cooling(b.id)]
        return warm + [b for b in group if self.cooldown.cooling(b.id)]

    def _least_busy(self, group: list[Backend]) -> list[Backend]:
        start = next(self._turn) % len(group)
        rotated = group[start:] + group[:start]  # ties keep this order: round-robin
        return sorted(rotated, key=lambda b: self.in_flight[b.id] / b.weight)

    def _weighted(self, group: list[Backend]) -> list[Backend]:
        total = sum(b.weight for b in group)
        for b in group:
            self._current[b.id] += b.weight
        first = max(group, key=lambda b: self._current[b.id])
        self._current[first.id] -= total
        return [first] + sorted((b for b in group if b is not first), key=lambda b: -b.weight)

    def cooling(self, name: str) -> bool:
        """True when every deployment of candidate ``name`` is cooling down."""
        return all(self.cooldown.cooling(b.id) for b in self.groups[name])

    def order_candidates(self, names: list[str]) -> list[str]:
        """``names`` with candidates whose every deployment cools moved to the end (their order kept)."""
        warm = [n for n in names if not self.cooling(n)]
        return warm + [n for n in names if n not in warm]

    def acquire(self, backend: Backend) -> None:
        """Count one more request in flight at ``backend`` (until :meth:`release`: a stream holds it to its end)."""
        self.in_flight[backend.id] += 1
        if self.metrics is not None:
            self.metrics.deployment_in_flight.inc(backend.id)

    def release(self, backend: Backend) -> None:
        """One request fewer in flight at ``backend``."""
        self.in_flight[backend.id] -= 1
        if self.metrics is not None:
            self.metrics.deployment_in_flight.dec(backend.id)

    def success(self, backend: Backend) -> None:
        """``backend`` answered: its failure count and any cool-down end."""
        was_cooling = self.cooldown.cooling(backend.id)
        self.cooldown.success(backend.id)
        if was_cooling and self.metrics is not None:
            self.metrics.cooldown_until.set(0.0, backend.id)

    def failure(self, backend: Backend) -> None:
        """``backend`` failed a request (after its retries); it may start cooling down."""
        was_cooling = self.cooldown.cooling(backend.id)
        self.cooldown.failure(backend.id)
        if self.metrics is not None and self.cooldown.cooling(backend.id) and not was_cooling:
            self.metrics.cooldown_until.set(time.time() + self.cooldown.settings.cooldown_seconds, backend.id)

    def cooling_names(self) -> list[str]:
        """Deployment ids cooling down now."""
        return self.cooldown.cooling_names()
