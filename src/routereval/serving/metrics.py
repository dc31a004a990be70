"""Counters and histograms for ``GET /metrics`` in the Prometheus text format (version 0.0.4).

A few dozen lines rather than a dependency: the proxy needs counters with
labels and latency histograms, nothing more. Label values are model and
reason names chosen by the proxy, never request data or secrets.
"""

from __future__ import annotations

import threading
from collections import defaultdict

#: Latency buckets in seconds: from sub-millisecond decisions to slow first bytes.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: tuple[str, ...], values: tuple[str, ...], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class Counter:
    """A monotonically increasing number per label combination."""

    def __init__(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> None:
        self.name, self.doc, self.labels = name, doc, labels
        self._values: dict[tuple[str, ...], float] = defaultdict(float)
        self._lock = threading.Lock()

    def inc(self, *values: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[tuple(values)] += amount

    def value(self, *values: str) -> float:
        return self._values.get(tuple(values), 0.0)

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.doc}", f"# TYPE {self.name} counter"]
        with self._lock:
            for key, v in sorted(self._values.items()):
                lines.append(f"{self.name}{_labels(self.labels, key)} {v:.17g}")
        return lines


class Histogram:
    """Observations counted into cumulative buckets, with their sum and count, per label combination."""

    def __init__(self, name: str, doc: str, labels: tuple[str, ...] = (), buckets: tuple[float, ...] = BUCKETS):
        self.name, self.doc, self.labels, self.buckets = name, doc, labels, buckets
        self._counts: dict[tuple[str, ...], list[int]] = {}
        self._sums: dict[tuple[str, ...], float] = defaultdict(float)
        self._lock = threading.Lock()

    def observe(self, seconds: float, *values: str) -> None:
        key = tuple(values)
        with self._lock:
            counts = self._counts.setdefault(key, [0] * (len(self.buckets) + 1))
            for i, bound in enumerate(self.buckets):
                if seconds <= bound:
                    counts[i] += 1
                    break
            else:
                counts[-1] += 1
            self._sums[key] += seconds

    def count(self, *values: str) -> int:
        return sum(self._counts.get(tuple(values), ()))

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.doc}", f"# TYPE {self.name} histogram"]
        with self._lock:
            for key in sorted(self._counts):
                running = 0
                for bound, c in zip(self.buckets, self._counts[key]):
                    running += c
                    le = 'le="%g"' % bound
                    lines.append(f"{self.name}_bucket{_labels(self.labels, key, le)} {running}")
                running += self._counts[key][-1]
                inf = 'le="+Inf"'
                lines.append(f"{self.name}_bucket{_labels(self.labels, key, inf)} {running}")
                lines.append(f"{self.name}_sum{_labels(self.labels, key)} {self._sums[key]:.17g}")
                lines.append(f"{self.name}_count{_labels(self.labels, key)} {running}")
        return lines


class ProxyMetrics:
    """Everything the proxy counts."""

    def __init__(self) -> None:
        self.requests = Counter("routereval_requests_total", "Chat requests by the backend that answered "
                                "(none when every candidate failed) and HTTP status.", ("model", "status"))
        self.chosen = Counter("routereval_routed_total", "Routed requests by the router's first choice.", ("model",))
        self.attempts = Counter("routereval_backend_attempts_total", "Calls to backends by outcome.",
                                ("backend", "outcome"))
        self.fallbacks = Counter("routereval_fallbacks_total", "Moves to the next candidate, by the reason the "
                                 "previous one failed.", ("reason",))
        self.stream_errors = Counter("routereval_stream_errors_total", "Streams that broke after their first chunk.",
                                     ("backend",))
        self.rejected = Counter("routereval_rejected_total", "Requests refused before routing, by reason.",
                                ("reason",))
        self.tokens = Counter("routereval_tokens_total", "Tokens reported by backends.", ("backend", "kind"))
        self.cost = Counter("routereval_cost_usd_total", "Cost of answered requests from reported tokens and prices.",
                            ("backend",))
        self.decision = Histogram("routereval_decision_seconds", "Time to embed the prompt and rank the candidates.")
        self.ttfb = Histogram("routereval_time_to_first_byte_seconds",
                              "From sending to a backend to its first response bytes.", ("backend",))

    def render(self) -> str:
        lines: list[str] = []
        for metric in (self.requests, self.chosen, self.attempts, self.fallbacks, self.stream_errors, self.rejected,
                       self.tokens, self.cost, self.decision, self.ttfb):
            lines.extend(metric.render())
        return "\n".join(lines) + "\n"
