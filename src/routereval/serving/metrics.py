"""Counters and histograms for ``GET /metrics``, kept and rendered by ``prometheus_client``.

Each proxy owns its own :class:`prometheus_client.CollectorRegistry`, never
the process-wide default one: two apps in one process (the tests, or an
embedding program) would otherwise share counters, and registering a second
app's metrics under the same names would fail. The ``*_created`` series
``prometheus_client`` adds to every counter and histogram are left out: the
proxy's start time is not a metric anyone asked for, and they double the
page. Label values are model, deployment and reason names chosen by the
proxy, never request data or secrets.

With ``routereval serve --workers N`` the workers are separate processes:
``serve`` gives them one ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics``, on
whichever worker answers it, adds up every worker's counters and histograms
and the in-flight gauges (prometheus_client's multiprocess mode). Process
metrics (CPU, memory, open files) are per process, so they are exported by a
single-process proxy only, as prometheus_client's multiprocess mode has them.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client import Counter as _PromCounter
from prometheus_client import Gauge as _PromGauge
from prometheus_client import Histogram as _PromHistogram

#: Latency buckets in seconds: from sub-millisecond decisions to slow first bytes.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

#: Request latency buckets in seconds: a chat answer takes from milliseconds (a cache hit) to minutes.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
#: Batch size buckets: how many prompts one encoder call embedded.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)

#: The media type of what :meth:`ProxyMetrics.render` returns (``generate_latest`` writes format 0.0.4).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Counter:
    """A monotonically increasing number per label combination, registered in one proxy's registry.

    ``name`` is the exposed name, ending in ``_total`` as Prometheus expects.
    """

    def __init__(self, registry: CollectorRegistry, name: str, doc: str, labels: tuple[str, ...] = ()) -> None:
        if not name.endswith("_total"):
            raise ValueError(f"a counter's name ends in _total, got {name!r}")
        self.name, self.labels = name, labels
        # prometheus_client adds the _total suffix itself.
        self._metric = _PromCounter(name.removesuffix("_total"), doc, labels, registry=registry)

    def inc(self, *values: str, amount: float = 1.0) -> None:
        """Add ``amount`` to the series of these label values (in the order of ``labels``)."""
        (self._metric.labels(*values) if self.labels else self._metric).inc(amount)

    def value(self, *values: str) -> float:
        """The current value of one series (0 if it was never increased)."""
        for metric in self._metric.collect():
            for sample in metric.samples:
                if sample.name == self.name and tuple(sample.labels[n] for n in self.labels) == values:
                    return sample.value
        return 0.0


class Histogram:
    """Observations in cumulative buckets, with their sum and count, per label combination."""

    def __init__(self, registry: CollectorRegistry, name: str, doc: str, labels: tuple[str, ...] = (),
                 buckets: tuple[float, ...] = BUCKETS) -> None:
        self.name, self.labels = name, labels
        self._metric = _PromHistogram(name, doc, labels, registry=registry, buckets=buckets)

    def observe(self, seconds: float, *values: str) -> None:
        """Count one observation into the series of these label values."""
        (self._metric.labels(*values) if self.labels else self._metric).observe(seconds)

    def count(self, *values: str) -> int:
        """How many observations one series holds."""
        for metric in self._metric.collect():
            for sample in metric.samples:
                if sample.name == f"{self.name}_count" and tuple(sample.labels[n] for n in self.labels) == values:
                    return int(sample.value)
        return 0


class Gauge:
    """A value that goes up and down per label combination (summed over workers when there are several)."""

    def __init__(self, registry: CollectorRegistry, name: str, doc: str, labels: tuple[str, ...] = (),
                 mode: str = "livesum") -> None:
        self.name, self.labels = name, labels
        self._metric = _PromGauge(name, doc, labels, registry=registry, multiprocess_mode=mode)

    def _series(self, values: tuple[str, ...]):  # noqa: ANN202 - prometheus_client's child type
        return self._metric.labels(*values) if self.labels else self._metric

    def inc(self, *values: str) -> None:
        """One more in the series of these label values."""
        self._series(values).inc()

    def dec(self, *values: str) -> None:
        """One fewer in the series of these label values."""
        self._series(values).dec()

    def set(self, value: float, *values: str) -> None:
        """Set the series of these label values to ``value``."""
        self._series(values).set(value)


class _WithoutCreated:
    """A registry view that leaves out the ``*_created`` series (see the module docstring)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self):  # noqa: ANN201 - prometheus_client's Metric families
        for family in self._registry.collect():
            family.samples = [s for s in family.samples if not s.name.endswith("_created")]
            yield family


class ProxyMetrics:
    """Everything the proxy counts, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(r, "routereval_requests_total", "Chat requests by the backend that answered "
                                "(none when every candidate failed) and HTTP status.", ("model", "status"))
        self.chosen = Counter(r, "routereval_routed_total", "Routed requests by the router's first choice.",
                              ("model",))
        self.attempts = Counter(r, "routereval_backend_attempts_total", "Calls to backends by outcome.",
                                ("backend", "outcome"))
        self.fallbacks = Counter(r, "routereval_fallbacks_total", "Moves to the next candidate, by the reason the "
                                 "previous one failed.", ("reason",))
        self.stream_errors = Counter(r, "routereval_stream_errors_total",
                                     "Streams that broke after their first chunk.", ("backend",))
        self.rejected = Counter(r, "routereval_rejected_total", "Requests refused before routing, by reason.",
                                ("reason",))
        self.tokens = Counter(r, "routereval_tokens_total", "Tokens reported by backends.", ("backend", "kind"))
        self.cost = Counter(r, "routereval_cost_usd_total",
                            "Cost of answered requests from reported tokens and prices.", ("backend",))
        self.cache = Counter(r, "routereval_cache_lookups_total", "Response cache lookups by result (hit, miss; "
                             "only with [cache] enabled).", ("result",))
        self.request = Histogram(r, "routereval_request_seconds", "Chat requests end to end, from arrival to the "
                                 "response's first byte (a stream's later events are not in it), by HTTP status.",
                                 ("status",), buckets=REQUEST_BUCKETS)
        self.decision = Histogram(r, "routereval_decision_seconds",
                                  "Time to embed the prompt and rank the candidates (waiting for the batch included).")
        self.batch = Histogram(r, "routereval_decision_batch_size", "Prompts decided in one encoder call.",
                               buckets=BATCH_BUCKETS)
        self.ttfb = Histogram(r, "routereval_time_to_first_byte_seconds",
                              "From sending to a deployment to its first response bytes.", ("backend",))
        self.backend = Histogram(r, "routereval_backend_seconds", "From sending to a deployment to its whole JSON "
                                 "answer or first stream event, successful attempts only.", ("backend",),
                                 buckets=REQUEST_BUCKETS)
        self.in_flight = Gauge(r, "routereval_requests_in_flight", "Chat and route requests being handled now.")
        self.deployment_in_flight = Gauge(r, "routereval_deployment_in_flight",
                                          "Requests sent to a deployment and not yet answered in full.", ("backend",))
        self.cooldown_until = Gauge(r, "routereval_cooldown_until_seconds", "Unix time until which a deployment "
                                    "cools down (it is cooling while this is above time()); 0 when it is not.",
                                    ("backend",), mode="livemax")
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        if not self.multiprocess:
            from prometheus_client import ProcessCollector
            from prometheus_client.gc_collector import GCCollector
            from prometheus_client.platform_collector import PlatformCollector

            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            GCCollector(registry=r)

    def render(self) -> str:
        """The Prometheus text exposition (format 0.0.4) of every metric (of every worker, when there are several)."""
        if self.multiprocess:
            from prometheus_client import multiprocess

            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged)
            return generate_latest(_WithoutCreated(merged)).decode("utf-8")
        return generate_latest(_WithoutCreated(self.registry)).decode("utf-8")
