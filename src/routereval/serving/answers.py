"""What the proxy sends back: OpenAI error objects, relayed answers and stream events, made safe.

Every answer a client gets from the proxy is built here: an error is always
an OpenAI error object; a backend's stream is cut at event boundaries and
passed on event by event (:class:`EventFramer`); header values are made safe
for HTTP. Nothing here talks to a backend.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from routereval.serving.backends import Backend

#: Response header naming the backend that answered.
BACKEND_HEADER = "x-routereval-model"
#: Response header saying an answer came from the response cache.
CACHE_HEADER = "x-routereval-cache"
#: Largest answer read from a backend (after decoding gzip / deflate), and largest single stream event.
MAX_ANSWER_BYTES = 64 << 20


@dataclass
class Attempt:
    """One call to one deployment, as it appears in ``routing.attempts``."""

    backend: str
    status: int | None
    reason: str
    latency_ms: float

    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "status": self.status, "reason": self.reason,
                "latency_ms": round(self.latency_ms, 3)}


def error_response(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None,
                   **extra: Any) -> Any:
    """An OpenAI error object as a JSON response."""
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": {"message": message, "type": kind, "code": code, **extra}}, status_code=status)


def timeout_error(seconds: float, attempts: list[Attempt]) -> Any:
    """The 504 for a request that ran out of time."""
    tried = "; ".join(f"{a.backend}: {a.reason}" for a in attempts)
    return error_response(504, f"no answer within the request timeout of {seconds:g} s (request_timeout in the "
                          "backends file)" + (f"; attempts: {tried}" if tried else ""), kind="timeout_error",
                          code="request_timeout", attempts=[a.to_dict() for a in attempts])


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_object(body: bytes) -> dict[str, Any] | None:
    """The JSON object in a backend's bytes, or None (not JSON, NaN, nested past the parser's limit)."""
    try:
        doc = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None
    return doc if isinstance(doc, dict) else None


def is_error_object(doc: dict[str, Any]) -> bool:
    """True for an OpenAI error object (some servers send one with status 200)."""
    return "error" in doc and not doc.get("choices")


def header_value(text: str) -> str:
    """``text`` safe for an HTTP header: printable ASCII kept, anything else percent-encoded (UTF-8).

    Names may be any Unicode text; a header carries Latin-1 at most and never
    CR or LF (which would end the header or the response).
    """
    from urllib.parse import quote

    return quote(text, safe="".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%"))


def first_data(event: bytes) -> dict[str, Any] | None:
    """The JSON object of the first ``data:`` line of an SSE event, if it is one."""
    for line in event.split(b"\n"):
        if line.startswith(b"data:"):
            return json_object(line[5:].strip())
    return None


def error_event(message: str, kind: str, code: str) -> bytes:
    """An SSE ``error`` event ending a stream that cannot go on (the openai client raises ``APIError`` on it)."""
    event = {"error": {"message": message, "type": kind, "code": code}}
    return b"event: error\ndata: " + json.dumps(event).encode() + b"\n\n"


@dataclass
class Call:
    """What one chat request carries through the failover loop."""

    payload: dict[str, Any]
    stream: bool
    deadline: float = math.inf  # the event loop's clock
    routing: dict[str, Any] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)


@dataclass
class Answer:
    """A backend's answer, not yet sent on: a JSON document, a stream begun, or a 4xx to relay."""

    backend: Backend
    kind: str  # "json", "stream" or "error"
    doc: dict[str, Any] | None = None
    first: bytes = b""
    rest: AsyncIterator[bytes] | None = None
    response: Any = None  # the open httpx response of a stream
    status: int = 200
    body: bytes = b""
    release: Callable[[], None] | None = None

    async def close(self) -> None:
        """Give back what the answer holds (an open stream, the in-flight count) when it is not sent on."""
        if self.response is not None:
            await self.response.aclose()
            self.response = None
        self._released()

    def _released(self) -> None:
        if self.release is not None:
            self.release()
            self.release = None


class EventFramer:
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
                doc = json_object(line[5:].strip())
                if doc is not None:
                    doc["model"] = self.backend.name
                    doc["routing"] = self.routing
                    lines[i] = b"data: " + json.dumps(doc).encode()
                break
        return b"\n".join(lines) + sep + after

    def _count(self, events: bytes) -> None:
        for line in events.split(b"\n"):
            if line.startswith(b"data:") and b'"usage"' in line:
                doc = json_object(line[5:].strip())
                if doc is not None:
                    self.count_usage(self.backend, doc.get("usage"))
