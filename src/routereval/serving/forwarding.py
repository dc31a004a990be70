"""Forwarding one chat request to the backends: retries, fallback, parallel fallback and the time bounds.

The order of candidates comes from the router (or is the model a request
names, then its ``[fallbacks]``). :meth:`Forwarder.forward` walks it under
the failure policy of :mod:`routereval.serving.failover`:

* a fast failure (429, 5xx, a refused or reset connection, a 200 that is not
  an answer) is retried on the candidate's next deployment with backoff,
  then the next candidate is tried;
* a *timeout* (no first byte, or no first stream event, within the
  deployment's ``timeout``) is never retried where it happened: with
  ``parallel_fallback`` (default) every remaining candidate, and the
  candidate's other deployments, are sent the request at once and the first
  answer wins; the others are cancelled (their connections closed, which
  stops an OpenAI-compatible server generating). So a request waits for one
  timeout, then at most one more for all the rest together, however many
  candidates hang; cool-downs then move the hanging ones to the end;
* time bounds per attempt: the first byte within ``timeout``; the first
  stream event, or the whole of a JSON answer, within ``timeout`` of the
  attempt's start plus ``timeout`` after its first byte; each later stream
  event within ``timeout`` of the one before (a backend trickling bytes is
  cut off); and over everything, the request's ``request_timeout``.

Fan-out costs money where backends are paid for (a request may be answered
by more than one), which is why it happens only after a timeout, a failure
mode, and can be turned off (``parallel_fallback = false``: one candidate
after another, each costing its timeout).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from routereval.serving.answers import (
    MAX_ANSWER_BYTES,
    Answer,
    Attempt,
    Call,
    error_response,
    first_data,
    is_error_object,
    json_object,
)
from routereval.serving.backends import Backend, BackendsConfig
from routereval.serving.deployments import Deployments
from routereval.serving.failover import is_transient, retry_after_seconds, retry_delay
from routereval.serving.metrics import ProxyMetrics
from routereval.serving.relay import Relay
from routereval.serving.scrub import Scrubber



class Transient(Exception):
    """A failure worth trying elsewhere: the attempt's reason, HTTP status (None for network errors), whether
    it was a timeout (never retried where it happened) and the backend's ``Retry-After``."""

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None, *,
                 timed_out: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.status, self.retry_after, self.timed_out = reason, status, retry_after, timed_out


@dataclass
class _Race:
    """Shared by the lanes of one race: whether one of them has answered (so the others start no new attempt)."""

    won: bool = False


class _Failed:
    """How a lane ended without an answer: the last reason, and whether it ended on a timeout."""

    def __init__(self, reason: str, timed_out: bool, rest: list[Backend]) -> None:
        self.reason, self.timed_out, self.rest = reason, timed_out, rest


class Forwarder:
    """Sends requests to deployments under the failure policy; :class:`Relay` makes the response (one per proxy)."""

    def __init__(self, config: BackendsConfig, deployments: Deployments, metrics: ProxyMetrics,
                 scrubber: Scrubber, prices: Callable[[str], tuple[float, float]]) -> None:
        self.config, self.deployments, self.metrics, self.scrubber = config, deployments, metrics, scrubber
        self.relay = Relay(config, metrics, scrubber, prices)
        self.client: Any = None
        self._background: set[asyncio.Future] = set()  # losing lanes of races, finishing their attempt

    async def start(self) -> None:
        import httpx

        from routereval.serving.transport import AiohttpTransport

        # One pooled client for every backend; per-request timeouts come from the backends file.
        self.client = httpx.AsyncClient(transport=AiohttpTransport(limit=512), timeout=httpx.Timeout(60.0),
                                        follow_redirects=False)

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        if self.client is not None:
            await self.client.aclose()

    # -- one attempt ----------------------------------------------------------------------

    async def send_once(self, backend: Backend, call: Call) -> Answer:
        """One call to ``backend``: its answer (success or a 4xx to relay), or raises :class:`Transient`."""
        import httpx

        loop = asyncio.get_running_loop()
        payload = dict(call.payload, model=backend.model)
        started = time.perf_counter()
        timeout = httpx.Timeout(backend.timeout, connect=min(backend.timeout, 10.0))
        request = self.client.build_request("POST", backend.url, json=payload, headers=backend.headers(),
                                            timeout=timeout)
        response = None
        committed = False
        self.deployments.acquire(backend)
        try:
            response = await self.client.send(request, stream=True)
            # The headers are the first byte: from here the rest gets one more `timeout`.
            limit = loop.time() + backend.timeout
            self.metrics.ttfb.observe(time.perf_counter() - started, backend.id)
            if response.status_code != 200:
                body = await self._within(limit, _read_limited(response), backend)
                status = response.status_code
                if is_transient(status):
                    raise Transient(f"http {status}", status, retry_after_seconds(response.headers.get("retry-after")))
                call.attempts.append(Attempt(backend.id, status, f"http {status}",
                                             (time.perf_counter() - started) * 1000))
                self.metrics.attempts.inc(backend.id, f"http_{status}")
                return Answer(backend, "error", status=status, body=body)
            if call.stream:
                first, rest = await self._within(limit, _first_event(response), backend)
                doc = first_data(first)
                if doc is not None and is_error_object(doc):
                    raise Transient("http 200 with an error event instead of an answer", 200)
                self._observe(backend, call, started)
                committed = True
                return Answer(backend, "stream", first=first, rest=rest, response=response,
                              release=lambda: self.deployments.release(backend))
            body = await self._within(limit, _read_limited(response), backend)
        except httpx.TimeoutException:
            where = "before the first byte" if response is None else "reading the answer"
            raise Transient(f"timeout {where}", timed_out=True) from None
        except httpx.HTTPError as exc:
            raise Transient(_network_reason(exc)) from None
        finally:
            # Closed on every way out but a committed stream (its body closes it), cancellation included.
            if not committed:
                self.deployments.release(backend)
                if response is not None:
                    await response.aclose()
        doc = json_object(body)
        if doc is None:
            raise Transient("http 200 with a body that is not a JSON object", 200)
        if is_error_object(doc):
            raise Transient("http 200 with an error object instead of an answer", 200)
        if not isinstance(doc.get("choices"), list):
            raise Transient("http 200 with no choices", 200)
        self._observe(backend, call, started)
        return Answer(backend, "json", doc=doc)

    def _observe(self, backend: Backend, call: Call, started: float) -> None:
        seconds = time.perf_counter() - started
        call.attempts.append(Attempt(backend.id, 200, "ok", seconds * 1000))
        self.metrics.attempts.inc(backend.id, "ok")
        self.metrics.backend.observe(seconds, backend.id)

    @staticmethod
    async def _within(limit: float, work: Any, backend: Backend) -> Any:
        """``work`` awaited until the loop's clock reaches ``limit``; a timeout raises a timed-out Transient."""
        try:
            async with asyncio.timeout_at(limit):
                return await work
        except TimeoutError:
            raise Transient(f"answer not complete within the timeout of {backend.timeout:g} s",
                            timed_out=True) from None

    # -- one candidate, several candidates -------------------------------------------------

    async def _lane(self, lane: list[Backend], call: Call, race: _Race | None = None) -> Answer | _Failed:
        """Try the deployments of ``lane`` (one candidate's) in turn, ``retries`` extra times in all; stop at a
        timeout.

        A deployment that failed this request counts one failure towards its
        cool-down (however many retries it had), as a request, not an attempt,
        is what a cool-down counts.
        """
        settings = self.config.failover
        reason = ""
        failed: dict[str, Backend] = {}
        outcome: Answer | _Failed = _Failed("", False, [])
        for attempt in range(settings.retries + 1):
            if race is not None and race.won:
                break  # another lane answered: no new attempts, only the one under way finishes
            backend = lane[attempt % len(lane)]
            started = time.perf_counter()
            try:
                answer = await self.send_once(backend, call)
            except Transient as failure:
                reason = self.scrubber.text(failure.reason)
                call.attempts.append(Attempt(backend.id, failure.status, reason,
                                             (time.perf_counter() - started) * 1000))
                self.metrics.attempts.inc(backend.id, reason.split(" (")[0].replace(" ", "_"))
                failed[backend.id] = backend
                if failure.timed_out:
                    # Never again here: the lane's untried deployments go on in parallel with the rest.
                    outcome = _Failed(reason, True, lane[attempt + 1:])
                    break
                outcome = _Failed(reason, False, [])
                if attempt == settings.retries:
                    break
                delay = retry_delay(attempt, failure.retry_after, settings)
                if delay is None:  # Retry-After longer than we wait: the next candidate is the better bet
                    break
                await asyncio.sleep(delay)
                continue
            except asyncio.CancelledError:
                # Another lane answered first, the request's deadline passed, or the client left.
                call.attempts.append(Attempt(backend.id, None, "request timeout",
                                             (time.perf_counter() - started) * 1000))
                raise
            self.deployments.success(backend)
            failed.pop(backend.id, None)
            outcome = answer
            break
        for backend in failed.values():
            self.deployments.failure(backend)
        return outcome

    async def _race(self, lanes: list[list[Backend]], call: Call) -> Answer | _Failed:
        """Every lane at once; the first answer wins.

        The lanes still waiting when one answers are not cut off at once: each
        finishes its current attempt in the background (no retries), up to its
        first byte or its timeout, and is then closed. That is what tells a
        hanging deployment from a slower one, so hanging ones cool down; an
        answer that arrives late is closed unread.
        """
        race = _Race()
        tasks = [asyncio.create_task(self._lane(lane, call, race)) for lane in lanes]
        pending = set(tasks)
        failures: list[_Failed] = []
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                # Several may finish in one tick: the best-ranked of them wins, the rest are closed.
                answers = [t.result() for t in tasks if t in done and isinstance(t.result(), Answer)]
                failures += [t.result() for t in tasks if t in done and isinstance(t.result(), _Failed)]
                if answers:
                    race.won = True
                    for extra in answers[1:]:
                        await extra.close()
                    for task in pending:
                        self._background.add(task)
                        task.add_done_callback(self._finish_loser)
                    pending = set()
                    return answers[0]
            return failures[-1] if failures else _Failed("", False, [])
        finally:
            # Only when the race itself is cancelled (the deadline, the client leaving): stop every lane now.
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    def _finish_loser(self, task: asyncio.Task) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is None and isinstance(task.result(), Answer):
            self._background.add(asyncio.ensure_future(task.result().close()))

    async def forward(self, order: list[str], call: Call) -> Any:
        """Try the candidates in ``order`` under the failure policy; the response to send.

        The caller bounds the whole of it by the request's deadline.
        """
        last_reason = ""
        for position, name in enumerate(order):
            if position:
                self.metrics.fallbacks.inc(last_reason)
            outcome = await self._lane(self.deployments.order(name), call)
            if isinstance(outcome, Answer):
                return self.relay.respond(outcome, call)
            last_reason = outcome.reason
            if not outcome.timed_out or not self.config.failover.parallel_fallback:
                continue
            lanes = ([outcome.rest] if outcome.rest else []) + [self.deployments.order(n) for n in order[position + 1:]]
            if not lanes:
                break
            self.metrics.fallbacks.inc("parallel_after_timeout")
            outcome = await self._race(lanes, call)
            if isinstance(outcome, Answer):
                return self.relay.respond(outcome, call)
            break
        self.metrics.requests.inc("none", "502")
        summary = "; ".join(f"{a.backend}: {a.reason}" for a in call.attempts)
        return error_response(502, f"every candidate failed ({summary})", kind="upstream_error",
                              code="all_backends_failed", routing={**call.routing, "attempts":
                                                                    [a.to_dict() for a in call.attempts]})

def _network_reason(exc: Exception) -> str:
    import httpx

    if isinstance(exc, httpx.ConnectError):
        return "connection refused"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return "connection reset or closed before the first byte"
    return f"network error ({type(exc).__name__})"


async def _read_limited(response: Any, limit: int = MAX_ANSWER_BYTES) -> bytes:
    """A backend's whole (decoded) body, refusing more than ``limit`` bytes: a gzip bomb stops here."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            raise Transient(f"answer over {limit} bytes")
    return bytes(body)


async def _first_event(response: Any) -> tuple[bytes, AsyncIterator[bytes]]:
    """Read up to the end of the first SSE event; raises :class:`Transient` if the stream ends first.

    ``aiter_bytes`` undoes any Content-Encoding (gzip, deflate): what the
    proxy passes on is always the plain event stream.
    """
    stream = response.aiter_bytes()
    buffer = b""
    async for chunk in stream:
        buffer += chunk
        if b"\n\n" in buffer or b"\r\n\r\n" in buffer:
            return buffer, stream
        if len(buffer) > MAX_ANSWER_BYTES:
            raise Transient(f"a first stream event over {MAX_ANSWER_BYTES} bytes")
    raise Transient("stream ended before the first chunk")
