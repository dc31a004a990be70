"""The OpenAI-compatible proxy: ``create_app(artifact, backends)`` builds it; nothing happens at import.

Endpoints: ``POST /v1/chat/completions`` (``model="router"`` routes, a
backend name goes direct), ``POST /v1/route`` (the decision only),
``GET /v1/models``, ``GET /health/liveness``, ``GET /health/readiness`` and
``GET /metrics``. Failures follow :mod:`routereval.serving.failover`.

Streams: the proxy waits for the backend's first SSE event before it commits
to that backend, adds ``routing`` and sets ``model`` in that first event, and
passes every later event through as it completes (the final chunk with
``finish_reason`` and ``usage`` included). A stream that breaks after the
first event ends with an SSE ``error`` event.

Hostile input: bodies are checked by :mod:`routereval.serving.requests`
before anything else; each request has one deadline (``request_timeout``)
over every retry and fallback; backend answers are decoded (gzip, deflate)
and bounded in size; every byte relayed and every log line is scrubbed of
keys (:mod:`routereval.serving.scrub`); header values are made safe.
"""


import asyncio
import hmac
import json
import logging
import math
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routereval.errors import ConfigError
from routereval.serving.backends import Backend, BackendsConfig, load_backends
from routereval.serving.requests import BadRequest, parse_body, validate_chat, validate_route
from routereval.serving.scrub import LogScrubber, Scrubber
from routereval.serving.failover import (
    Cooldown,
    is_transient,
    retry_after_seconds,
    retry_delay,
)
from routereval.serving.metrics import ProxyMetrics
from routereval.serving.model import RoutingModel, RoutingOptions

log = logging.getLogger("routereval.serving")

#: The model name that asks the proxy to route.
ROUTER_MODEL = "router"
#: Response header naming the backend that answered.
BACKEND_HEADER = "x-routereval-model"
DEFAULT_MAX_BODY = 1 << 20
#: Seconds a client has to send its whole body: a client trickling bytes must not hold a request open.
BODY_SECONDS = 30.0
#: Largest answer read from a backend (after decoding gzip / deflate), and largest single stream event.
MAX_ANSWER_BYTES = 64 << 20
#: Request content types read as JSON: JSON itself, and curl's default for -d (a JSON body sent without -H).
JSON_TYPES = ("application/json", "application/x-www-form-urlencoded")
#: Most prompts embedded in one decision batch.
MAX_BATCH = 64


class _Transient(Exception):
    """A failure worth a retry: carries the attempt's reason and HTTP status (None for network errors)."""

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.status, self.retry_after = reason, status, retry_after


@dataclass
class Attempt:
    backend: str
    status: int | None
    reason: str
    latency_ms: float

    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "status": self.status, "reason": self.reason,
                "latency_ms": round(self.latency_ms, 3)}


@dataclass
class _Call:
    """What one chat request carries through the failover loop."""

    payload: dict[str, Any]
    stream: bool
    deadline: float = math.inf  # the event loop's clock
    routing: dict[str, Any] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)


def _error(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None,
           **extra: Any) -> Any:
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": {"message": message, "type": kind, "code": code, **extra}}, status_code=status)


def _network_reason(exc: Exception) -> str:
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return "timeout before the first byte"
    if isinstance(exc, httpx.ConnectError):
        return "connection refused"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return "connection reset or closed before the first byte"
    return f"network error ({type(exc).__name__})"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json_object(body: bytes) -> dict[str, Any] | None:
    """The JSON object in a backend's bytes, or None (not JSON, NaN, nested past the parser's limit)."""
    try:
        doc = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None
    return doc if isinstance(doc, dict) else None


def _is_error_object(doc: dict[str, Any]) -> bool:
    """True for an OpenAI error object (some servers send one with status 200)."""
    return "error" in doc and not doc.get("choices")


def header_value(text: str) -> str:
    """``text`` safe for an HTTP header: printable ASCII kept, anything else percent-encoded (UTF-8).

    Names may be any Unicode text; a header carries Latin-1 at most and never
    CR or LF (which would end the header or the response).
    """
    from urllib.parse import quote

    return quote(text, safe="".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%"))


def timeout_error(seconds: float, attempts: list[Attempt]) -> Any:
    """The 504 for a request that ran out of time."""
    tried = "; ".join(f"{a.backend}: {a.reason}" for a in attempts)
    return _error(504, f"no answer within the request timeout of {seconds:g} s (request_timeout in the backends "
                  f"file)" + (f"; attempts: {tried}" if tried else ""), kind="timeout_error", code="request_timeout",
                  attempts=[a.to_dict() for a in attempts])


def message_text(messages: Any, route_on: str) -> str | None:
    """The text routed on: the last user message (or every user turn joined); None if there is none."""
    if not isinstance(messages, list):
        return None
    texts = []
    for message in messages:
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, list):  # content parts: keep the text ones
            content = "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
        if isinstance(content, str) and content.strip():
            texts.append(content)
    if not texts:
        return None
    return texts[-1] if route_on == "last_user" else "\n\n".join(texts)


class _EventFramer:
    """Cuts a backend's SSE bytes at event boundaries and passes each event on as it completes.

    The first event gets ``routing`` and ``model`` = the backend's name; later
    events have the backend's model id replaced by its name as raw bytes (safe:
    inside JSON strings quotes are escaped, so only the ``model`` field
    matches) and are otherwise the backend's bytes; the usage event is counted.
    """

    def __init__(self, backend: Backend, routing: dict[str, Any], count_usage: Any) -> None:
        self.backend, self.routing, self.count_usage = backend, routing, count_usage
        self.pending = b""
        self.first = True
        self.replace: list[tuple[bytes, bytes]] = []
        if backend.model != backend.name:
            old, new = json.dumps(backend.model).encode(), json.dumps(backend.name).encode()
            self.replace = [(b'"model":' + old, b'"model":' + new), (b'"model": ' + old, b'"model": ' + new)]

    def feed(self, data: bytes) -> bytes:
        """The complete events in ``data`` (with what was held back), ready to send."""
        self.pending += data
        if len(self.pending) > MAX_ANSWER_BYTES:
            raise ValueError(f"a stream event over {MAX_ANSWER_BYTES} bytes")
        cut = max(self.pending.rfind(b"\n\n"), self.pending.rfind(b"\r\n\r\n"))
        if cut < 0:
            return b""
        end = cut + (4 if self.pending.startswith(b"\r\n\r\n", cut) else 2)
        ready, self.pending = self.pending[:end], self.pending[end:]
        if self.first:
            self.first = False
            ready = self._annotate_first(ready)
        for old, new in self.replace:
            if old in ready:
                ready = ready.replace(old, new)
        if b'"usage"' in ready:
            self._count(ready)
        return ready

    def flush(self) -> bytes:
        rest, self.pending = self.pending, b""
        return rest

    def _annotate_first(self, raw: bytes) -> bytes:
        ends = [(raw.find(sep), sep) for sep in (b"\n\n", b"\r\n\r\n") if sep in raw]
        sep = min(ends)[1]
        event, _, after = raw.partition(sep)
        lines = event.split(b"\n")
        for i, line in enumerate(lines):
            if line.startswith(b"data:"):
                doc = _json_object(line[5:].strip())
                if doc is not None:
                    doc["model"] = self.backend.name
                    doc["routing"] = self.routing
                    lines[i] = b"data: " + json.dumps(doc).encode()
                break
        return b"\n".join(lines) + sep + after

    def _count(self, events: bytes) -> None:
        for line in events.split(b"\n"):
            if line.startswith(b"data:") and b'"usage"' in line:
                doc = _json_object(line[5:].strip())
                if doc is not None:
                    self.count_usage(self.backend, doc.get("usage"))


def serving_threads() -> None:
    """One BLAS thread for the process: a decision multiplies small matrices, and idle BLAS threads
    spinning for work cost more than they give (3x the CPU per decision on a busy 2-CPU machine)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


class Proxy:
    """The proxy's state and request handling (one per app)."""

    def __init__(self, model: RoutingModel, config: BackendsConfig, *, token: str | None, max_body: int) -> None:
        config.check_candidates(model.candidates)
        self.model = model.with_prices(config.prices())
        self.config = config
        self.token = token
        self.max_body = int(max_body)
        self.metrics = ProxyMetrics()
        self.cooldown = Cooldown(config.failover)
        self.scrubber = Scrubber([s for s in [*config.secrets(), token] if s])
        self._log_scrubber = LogScrubber(self.scrubber)
        self.client: Any = None
        self._queue: asyncio.Queue | None = None
        self._decider_task: asyncio.Task | None = None
        self.ready = False

    # -- plumbing -------------------------------------------------------------------------

    async def start(self) -> None:
        import httpx

        # One pooled client for every backend; per-request timeouts come from the backends file.
        self.client = httpx.AsyncClient(limits=httpx.Limits(max_connections=512, max_keepalive_connections=256),
                                        timeout=httpx.Timeout(60.0), follow_redirects=False)
        serving_threads()
        self._log_scrubber.install()
        self._queue = asyncio.Queue()
        self._decider_task = asyncio.create_task(self._decider())
        if self.model.inputs == "embeddings":
            # Load the encoder now (MiniLM takes seconds), not on the first request.
            await asyncio.to_thread(self.model.embed, ["warm-up"])
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        if self._decider_task is not None:
            self._decider_task.cancel()
        if self.client is not None:
            await self.client.aclose()
        self._log_scrubber.uninstall()

    def scrub(self, text: str) -> str:
        """``text`` with every key and the proxy token (in every form a backend may echo) replaced by ``***``."""
        return self.scrubber.text(text)

    def authorised(self, request: Any) -> bool:
        """True without a token; with one, exactly one ``Authorization`` header carrying it."""
        if not self.token:
            return True
        given = request.headers.getlist("authorization")
        # Two Authorization headers are ambiguous (which one would a backend or a log see?): refused.
        if len(given) != 1:
            return False
        return hmac.compare_digest(given[0].encode("latin-1"), f"Bearer {self.token}".encode("latin-1"))

    async def read_json(self, request: Any) -> dict[str, Any]:
        """The body as a JSON object; raises :class:`BadRequest` for a wrong type, size, pace or content."""
        from starlette.requests import ClientDisconnect

        kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if kind and kind not in JSON_TYPES and not kind.endswith("+json"):
            self.metrics.rejected.inc("unsupported_media_type")
            raise BadRequest(415, "send the body as JSON (Content-Type: application/json)", "unsupported_media_type")
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            self.metrics.rejected.inc("body_too_large")
            raise BadRequest(413, f"request body is {int(length)} bytes; the limit is {self.max_body}", "too_large")
        body = bytearray()
        try:
            async with asyncio.timeout(BODY_SECONDS):
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > self.max_body:
                        self.metrics.rejected.inc("body_too_large")
                        raise BadRequest(413, f"request body exceeds the limit of {self.max_body} bytes",
                                         "too_large")
        except ClientDisconnect:
            raise BadRequest(400, "the client closed the connection before sending the whole body",
                             "client_disconnected") from None
        except TimeoutError:
            self.metrics.rejected.inc("body_timeout")
            raise BadRequest(408, f"the request body did not arrive within {BODY_SECONDS:g} s",
                             "request_timeout") from None
        try:
            return parse_body(bytes(body))
        except BadRequest:
            self.metrics.rejected.inc("invalid_json")
            raise

    # -- deciding -------------------------------------------------------------------------

    async def decide(self, text: str, options: RoutingOptions) -> tuple[list[str], dict[str, Any]]:
        """Candidates best first for one prompt, and the routing object's decision fields.

        Prompts that arrive while a batch is being embedded wait and go
        together in the next one: one encoder call for many requests is what
        keeps the decision cheap under load (MiniLM embeds 64 short prompts
        in little more time than one).
        """
        self.model.check_options(options)
        started = time.perf_counter()
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((text, options, future))
        result = await future
        if isinstance(result, Exception):
            raise result
        seconds = time.perf_counter() - started
        self.metrics.decision.observe(seconds)
        self.metrics.chosen.inc(result.chosen)
        return result.ranked, {**result.to_dict(), "decision_ms": round(seconds * 1000, 3)}

    async def _decider(self) -> None:
        """Take every waiting prompt (up to MAX_BATCH), decide them in one call off the event loop, repeat."""
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                results = await asyncio.to_thread(self.model.decide_each, [b[0] for b in batch],
                                                  [b[1] for b in batch])
            except Exception as exc:  # noqa: BLE001 - an encoder failure fails these requests, not the proxy
                results = [exc] * len(batch)
            for (_, _, future), result in zip(batch, results):
                if not future.done():
                    future.set_result(result)

    # -- forwarding -----------------------------------------------------------------------

    async def _send_once(self, backend: Backend, call: _Call) -> Any:
        """One call to ``backend``: the success response, a final error response, or raises :class:`_Transient`."""
        import httpx

        payload = dict(call.payload, model=backend.model)
        started = time.perf_counter()
        timeout = httpx.Timeout(backend.timeout, connect=min(backend.timeout, 10.0))
        request = self.client.build_request("POST", backend.url, json=payload, headers=backend.headers(),
                                            timeout=timeout)
        response = None
        committed = False
        try:
            response = await self.client.send(request, stream=True)
            if response.status_code != 200:
                body = await _read_limited(response)
                self.metrics.ttfb.observe(time.perf_counter() - started, backend.name)
                status = response.status_code
                if is_transient(status):
                    raise _Transient(f"http {status}", status, retry_after_seconds(response.headers.get("retry-after")))
                return self._relay_error(backend, status, body, call, started)
            if call.stream:
                first, rest = await self._first_event(response)
                doc = _first_data(first)
                if doc is not None and _is_error_object(doc):
                    raise _Transient("http 200 with an error event instead of an answer", 200)
            else:
                first, rest = await _read_limited(response), None
            self.metrics.ttfb.observe(time.perf_counter() - started, backend.name)
            latency = (time.perf_counter() - started) * 1000
            if call.stream:
                call.attempts.append(Attempt(backend.name, 200, "ok", latency))
                committed = True
                return self._stream_response(backend, call, response, first, rest)
        except httpx.HTTPError as exc:
            raise _Transient(_network_reason(exc)) from None
        finally:
            # Closed on every way out but a committed stream (its body closes it), timeouts included.
            if response is not None and not committed:
                await response.aclose()
        doc = _json_object(first)
        if doc is None:
            raise _Transient("http 200 with a body that is not a JSON object", 200)
        if _is_error_object(doc):
            raise _Transient("http 200 with an error object instead of an answer", 200)
        if not isinstance(doc.get("choices"), list):
            raise _Transient("http 200 with no choices", 200)
        call.attempts.append(Attempt(backend.name, 200, "ok", latency))
        return self._json_response(backend, call, doc)

    async def _first_event(self, response: Any) -> tuple[bytes, AsyncIterator[bytes]]:
        """Read up to the end of the first SSE event; raises :class:`_Transient` if the stream ends first.

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
                raise _Transient(f"a first stream event over {MAX_ANSWER_BYTES} bytes")
        raise _Transient("stream ended before the first chunk")

    def _routing(self, backend: Backend, call: _Call) -> dict[str, Any]:
        return {**call.routing, "answered_by": backend.name, "attempts": [a.to_dict() for a in call.attempts]}

    def _json_response(self, backend: Backend, call: _Call, doc: dict[str, Any]) -> Any:
        from fastapi.responses import Response

        doc["model"] = backend.name
        doc["routing"] = self._routing(backend, call)
        self._count_usage(backend, doc.get("usage"))
        self.metrics.requests.inc(backend.name, "200")
        body = self.scrubber.bytes(json.dumps(doc).encode())
        return Response(body, media_type="application/json", headers={BACKEND_HEADER: header_value(backend.name)})

    def _relay_error(self, backend: Backend, status: int, body: bytes, call: _Call, started: float) -> Any:
        """A 4xx that is the request's fault: back to the caller (keys scrubbed), always as an OpenAI error object."""
        from fastapi.responses import Response

        call.attempts.append(Attempt(backend.name, status, f"http {status}", (time.perf_counter() - started) * 1000))
        self.metrics.attempts.inc(backend.name, f"http_{status}")
        self.metrics.requests.inc(backend.name, str(status))
        doc = _json_object(body)
        if doc is None or not isinstance(doc.get("error"), dict):
            # Not an OpenAI error (an HTML page, plain text): wrapped so every client can read it.
            text = body[:2000].decode("utf-8", errors="replace")
            doc = {"error": {"message": f"{backend.name} answered {status}: {text}", "type": "upstream_error",
                             "code": None}}
        return Response(self.scrubber.bytes(json.dumps(doc).encode()), status_code=status,
                        media_type="application/json", headers={BACKEND_HEADER: header_value(backend.name)})

    def _stream_response(self, backend: Backend, call: _Call, response: Any, first: bytes,
                         rest: AsyncIterator[bytes]) -> Any:
        from fastapi.responses import StreamingResponse

        frame = _EventFramer(backend, self._routing(backend, call), self._count_usage)
        head = self.scrubber.bytes(frame.feed(first))
        self.metrics.requests.inc(backend.name, "200")
        deadline, seconds = call.deadline, self.config.request_timeout

        async def body() -> AsyncIterator[bytes]:
            try:
                yield head
                while True:
                    try:
                        # The request's deadline covers the stream too: a backend trickling bytes is cut off.
                        async with asyncio.timeout_at(deadline):
                            chunk = await anext(rest)
                    except StopAsyncIteration:
                        break
                    out = frame.feed(chunk)
                    if out:
                        yield self.scrubber.bytes(out)
                leftover = frame.flush()
                if leftover:
                    yield self.scrubber.bytes(leftover)
            except TimeoutError:
                self.metrics.stream_errors.inc(backend.name)
                log.warning("stream from %s passed the request timeout of %g s", backend.name, seconds)
                yield _error_event(f"the stream from {backend.name} passed the request timeout of {seconds:g} s "
                                   "(request_timeout in the backends file); the answer is incomplete",
                                   "timeout_error", "request_timeout")
            except Exception as exc:  # noqa: BLE001 - any break after commit ends the stream with an error event
                self.metrics.stream_errors.inc(backend.name)
                log.warning("stream from %s broke after the first chunk: %s", backend.name, type(exc).__name__)
                yield _error_event(f"the stream from {backend.name} broke after it started "
                                   f"({type(exc).__name__}); the answer is incomplete", "upstream_error",
                                   "stream_broken")
            finally:
                await response.aclose()

        return StreamingResponse(body(), media_type="text/event-stream",
                                 headers={BACKEND_HEADER: header_value(backend.name)})

    def _count_usage(self, backend: Backend, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if not isinstance(prompt, int) or not isinstance(completion, int):
            return
        self.metrics.tokens.inc(backend.name, "prompt", amount=prompt)
        self.metrics.tokens.inc(backend.name, "completion", amount=completion)
        price_in, price_out = self.model.prices.get(backend.name, (float("nan"), float("nan")))
        cost = (prompt * price_in + completion * price_out) / 1e6
        if not math.isnan(cost):  # unknown prices: count no cost rather than a wrong one
            self.metrics.cost.inc(backend.name, amount=cost)

    async def forward(self, order: list[str], call: _Call) -> Any:
        """Try the backends in ``order`` with retries; the first answer wins (see the failure table).

        The caller bounds the whole of it by the request's deadline.
        """
        settings = self.config.failover
        last_reason = ""
        for position, name in enumerate(order):
            backend = self.config.backends[name]
            if position:
                self.metrics.fallbacks.inc(last_reason)
            for attempt in range(settings.retries + 1):
                started = time.perf_counter()
                try:
                    response = await self._send_once(backend, call)
                except _Transient as failure:
                    reason = self.scrub(failure.reason)
                    call.attempts.append(Attempt(name, failure.status, reason, (time.perf_counter() - started) * 1000))
                    self.metrics.attempts.inc(name, reason.split(" (")[0].replace(" ", "_"))
                    last_reason = reason
                    if attempt == settings.retries:
                        break
                    delay = retry_delay(attempt, failure.retry_after, settings)
                    if delay is None:  # Retry-After longer than we wait: the next candidate is the better bet
                        break
                    await asyncio.sleep(delay)
                    continue
                except asyncio.CancelledError:
                    # The request's deadline (or the client leaving) cut this attempt short: say so in the 504.
                    call.attempts.append(Attempt(name, None, "request timeout",
                                                 (time.perf_counter() - started) * 1000))
                    raise
                if response.status_code == 200:
                    self.metrics.attempts.inc(name, "ok")
                self.cooldown.success(name)
                return response
            self.cooldown.failure(name)
        self.metrics.requests.inc("none", "502")
        summary = "; ".join(f"{a.backend}: {a.reason}" for a in call.attempts)
        return _error(502, f"every candidate failed ({summary})", kind="upstream_error", code="all_backends_failed",
                      routing={**call.routing, "attempts": [a.to_dict() for a in call.attempts]})


async def _read_limited(response: Any, limit: int = MAX_ANSWER_BYTES) -> bytes:
    """A backend's whole (decoded) body, refusing more than ``limit`` bytes: a gzip bomb stops here."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            raise _Transient(f"answer over {limit} bytes")
    return bytes(body)


def _first_data(event: bytes) -> dict[str, Any] | None:
    """The JSON object of the first ``data:`` line of an SSE event, if it is one."""
    for line in event.split(b"\n"):
        if line.startswith(b"data:"):
            return _json_object(line[5:].strip())
    return None


def _error_event(message: str, kind: str, code: str) -> bytes:
    """An SSE ``error`` event ending a stream that cannot go on (the openai client raises ``APIError`` on it)."""
    event = {"error": {"message": message, "type": kind, "code": code}}
    return b"event: error\ndata: " + json.dumps(event).encode() + b"\n\n"


def create_app(
    artifact: str | os.PathLike | RoutingModel,
    backends: str | os.PathLike | BackendsConfig,
    *,
    token: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    route_on: str | None = None,
) -> Any:
    """The proxy as a FastAPI app; the artifact and backends file are read now, when the app is made.

    ``token``: if given, every ``/v1`` and ``/metrics`` request must carry
    ``Authorization: Bearer <token>`` (health checks stay open for probes).
    """
    from contextlib import asynccontextmanager

    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, PlainTextResponse

    model = artifact if isinstance(artifact, RoutingModel) else RoutingModel.load(Path(artifact))
    config = backends if isinstance(backends, BackendsConfig) else load_backends(backends)
    if route_on is not None:
        from dataclasses import replace

        from routereval.serving.backends import ROUTE_ON

        if route_on not in ROUTE_ON:
            raise ConfigError(f"route_on must be one of {', '.join(ROUTE_ON)}, got {route_on!r}")
        config = replace(config, route_on=route_on)
    if max_body_bytes < 1:
        raise ConfigError(f"max_body_bytes must be positive, got {max_body_bytes}")
    proxy = Proxy(model, config, token=token, max_body=max_body_bytes)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await proxy.start()
        log.info("routing over %d backends: %s", len(config.backends), ", ".join(config.backends))
        yield
        await proxy.stop()

    app = FastAPI(title="routereval proxy", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.proxy = proxy

    def unauthorised() -> Any:
        proxy.metrics.rejected.inc("unauthorised")
        return _error(401, "missing or wrong bearer token for this proxy", kind="authentication_error",
                      code="invalid_api_key")

    @app.get("/health/liveness")
    async def liveness() -> Any:
        return {"status": "alive"}

    @app.get("/health/readiness")
    async def readiness() -> Any:
        body = {"status": "ready" if proxy.ready else "starting", "router": getattr(model.router, "name", ""),
                "candidates": model.candidates, "cooling_down": proxy.cooldown.cooling_names()}
        return JSONResponse(body, status_code=200 if proxy.ready else 503)

    @app.get("/metrics")
    async def metrics(request: Request) -> Any:
        if not proxy.authorised(request):
            return unauthorised()
        return PlainTextResponse(proxy.metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models")
    async def models(request: Request) -> Any:
        if not proxy.authorised(request):
            return unauthorised()
        ids = [ROUTER_MODEL, *config.backends]
        return {"object": "list", "data": [{"id": i, "object": "model", "created": 0, "owned_by": "routereval"}
                                           for i in ids]}

    def bad(problem: BadRequest) -> Any:
        return _error(problem.status, problem.message, code=problem.code)

    def options_from(routing: Any) -> RoutingOptions:
        # The schema has checked the types; RoutingOptions checks what the artifact can do with them.
        return RoutingOptions.from_dict(None if routing is None else routing.model_dump(exclude_none=True))

    @app.post("/v1/route")
    async def route(request: Request) -> Any:
        if not proxy.authorised(request):
            return unauthorised()
        try:
            parsed = validate_route(await proxy.read_json(request))
        except BadRequest as problem:
            return bad(problem)
        messages = None if parsed.messages is None else [m.model_dump() for m in parsed.messages]
        text = parsed.prompt if parsed.prompt is not None else message_text(messages, config.route_on)
        if not text or not text.strip():
            proxy.metrics.rejected.inc("no_user_message")
            return _error(400, "give 'prompt' (text) or 'messages' with a user message to route", code="no_prompt")
        try:
            async with asyncio.timeout(config.request_timeout):
                _, info = await proxy.decide(text, options_from(parsed.routing))
        except ConfigError as exc:
            proxy.metrics.rejected.inc("bad_routing_options")
            return _error(400, str(exc), code="invalid_routing")
        except TimeoutError:
            return timeout_error(config.request_timeout, [])
        return info

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        if not proxy.authorised(request):
            return unauthorised()
        started = time.perf_counter()
        deadline = asyncio.get_running_loop().time() + config.request_timeout
        try:
            doc = await proxy.read_json(request)
            parsed = validate_chat(doc)
        except BadRequest as problem:
            if problem.code == "invalid_request":
                proxy.metrics.rejected.inc("invalid_request")
            return bad(problem)
        name = parsed.model
        if name != ROUTER_MODEL and name not in config.backends:
            proxy.metrics.rejected.inc("unknown_model")
            known = ", ".join([ROUTER_MODEL, *config.backends])
            return _error(404, f"unknown model {name!r}; use 'router' to route, or one of: {known}",
                          code="model_not_found")
        doc.pop("routing", None)
        call = _Call(doc, stream=bool(parsed.stream), deadline=deadline)
        try:
            async with asyncio.timeout_at(deadline):
                if name == ROUTER_MODEL:
                    text = message_text(doc["messages"], config.route_on)
                    if text is None:
                        proxy.metrics.rejected.inc("no_user_message")
                        return _error(400, "no user message with text to route on", code="no_user_message")
                    try:
                        options = options_from(parsed.routing)
                        order, info = await proxy.decide(text, options)
                    except ConfigError as exc:
                        proxy.metrics.rejected.inc("bad_routing_options")
                        return _error(400, str(exc), code="invalid_routing")
                    call.routing = {**info, "options": options.to_dict()}
                    order = proxy.cooldown.order(order)
                else:
                    order = [name]
                    call.routing = {"chosen": name, "direct": True}
                response = await proxy.forward(order, call)
        except TimeoutError:
            proxy.metrics.requests.inc("none", "504")
            response = timeout_error(config.request_timeout, call.attempts)
        # %r: the name is the client's text, and a line break in it must not forge a log line.
        log.info("request %s model=%r answered=%s status=%s attempts=%d ms=%.1f", uuid.uuid4().hex[:8], name,
                 response.headers.get(BACKEND_HEADER, "-"), response.status_code, len(call.attempts),
                 (time.perf_counter() - started) * 1000)
        return response

    @app.exception_handler(Exception)
    async def defect(request: Request, exc: Exception) -> Any:
        # A defect, not the client's fault: logged with its traceback (scrubbed), answered in the OpenAI shape.
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, "internal error in the proxy; its log has the details", kind="server_error",
                      code="internal_error")

    return app
