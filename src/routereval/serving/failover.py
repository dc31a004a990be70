"""The failure policy: which backend answers retry, fall back or go back to the caller, and cool-downs.

The table in docs/serving.md is this module in words; each row has a test.

* A status in :data:`RETRY_STATUSES` (429, 408, every 5xx), a refused or
  reset connection, and a timeout or a closed stream before the first byte
  are *transient*: the same backend is retried (``retries`` times, with
  exponential backoff, honouring ``Retry-After`` up to ``max_retry_after``
  seconds), then the next candidate of the ranked list is tried.
* Any other 4xx (400, 401, 403, 404, 422, ...) is the request's or the key's
  fault: another model would fail the same way or answer a request it was
  not meant for, so the backend's error goes back to the caller as it is.
* A backend whose requests failed ``cooldown_failures`` times in a row (after
  retries) cools down for ``cooldown_seconds``: routed requests try it last.
  Cooling demotes rather than skips, so no request fails untried.
"""

from __future__ import annotations

import email.utils
import math
import threading
import time
from dataclasses import dataclass

#: Statuses worth another try: rate limits, request timeouts and server errors.
RETRY_STATUSES = frozenset({408, 429})


@dataclass(frozen=True)
class FailoverSettings:
    """Retry, backoff and cool-down settings (the ``[failover]`` table of the backends file)."""

    retries: int = 2
    backoff: float = 0.1
    max_backoff: float = 2.0
    max_retry_after: float = 10.0
    cooldown_failures: int = 3
    cooldown_seconds: float = 30.0
    #: After a first-byte timeout, send to every remaining candidate at once (first answer wins) rather than
    #: one after another: a request then waits at most one timeout however many candidates hang.
    parallel_fallback: bool = True


def is_transient(status: int) -> bool:
    """True for statuses that retry and then fall back; other 4xx go back to the caller."""
    return status in RETRY_STATUSES or status >= 500


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def retry_delay(attempt: int, retry_after: float | None, settings: FailoverSettings) -> float | None:
    """Seconds to wait before retry number ``attempt`` (0-based); None = do not wait, move on.

    Without ``Retry-After``: backoff * 2^attempt, capped at ``max_backoff``.
    With it: that many seconds, unless it exceeds ``max_retry_after``, when
    the next candidate is the better bet.
    """
    if retry_after is not None:
        return retry_after if retry_after <= settings.max_retry_after else None
    # The exponent is capped: 2.0 ** 1e9 would overflow long before the cap on the delay applies.
    return min(settings.backoff * (2.0 ** min(attempt, 64)), settings.max_backoff)


class Cooldown:
    """Consecutive failures per backend, and until when a backend is cooling down."""

    def __init__(self, settings: FailoverSettings, clock=time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._failures: dict[str, int] = {}
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def success(self, name: str) -> None:
        with self._lock:
            self._failures[name] = 0
            self._until.pop(name, None)

    def failure(self, name: str) -> None:
        with self._lock:
            count = self._failures.get(name, 0) + 1
            self._failures[name] = count
            if count >= self.settings.cooldown_failures:
                self._until[name] = self._clock() + self.settings.cooldown_seconds

    def cooling(self, name: str) -> bool:
        until = self._until.get(name)
        return until is not None and self._clock() < until

    def cooling_names(self) -> list[str]:
        return sorted(n for n in list(self._until) if self.cooling(n))

    def order(self, names: list[str]) -> list[str]:
        """``names`` with cooling backends moved to the end (their relative order kept)."""
        warm = [n for n in names if not self.cooling(n)]
        return warm + [n for n in names if n not in warm]
