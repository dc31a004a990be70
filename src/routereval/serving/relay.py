"""Turning a backend's answer into the response the client gets: JSON, a relayed 4xx, or a stream.

The answer's ``model`` becomes the candidate's name and a ``routing`` object
is added (the decision, who answered, every attempt); tokens and cost are
counted; keys are scrubbed from every byte. A stream is passed on event by
event under its time bounds (docs/serving.md, "Time bounds"): each event within
the deployment's ``timeout`` of the one before, all of it within the request's
deadline; a stream that breaks, stalls or runs out of time ends with one SSE
``error`` event.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import AsyncIterator, Callable
from typing import Any

from routereval.serving.answers import (
    BACKEND_HEADER,
    Answer,
    Call,
    EventFramer,
    error_event,
    header_value,
    json_object,
)
from routereval.serving.backends import Backend, BackendsConfig
from routereval.serving.metrics import ProxyMetrics
from routereval.serving.scrub import Scrubber

log = logging.getLogger("routereval.serving")


class Relay:
    """Builds the client's response from the winning answer (one per proxy)."""

    def __init__(self, config: BackendsConfig, metrics: ProxyMetrics, scrubber: Scrubber,
                 prices: Callable[[str], tuple[float, float]]) -> None:
        self.config, self.metrics, self.scrubber, self.prices = config, metrics, scrubber, prices

    def routing(self, backend: Backend, call: Call) -> dict[str, Any]:
        """The ``routing`` object of an answer: the decision, who answered, and every attempt."""
        return {**call.routing, "answered_by": backend.name, "attempts": [a.to_dict() for a in call.attempts]}

    def respond(self, answer: Answer, call: Call) -> Any:
        """The response for the winning answer."""
        if answer.kind == "stream":
            return self._stream_response(answer, call)
        if answer.kind == "error":
            return self._relay_error(answer)
        return self.json_response(answer.backend, self.annotate(answer, call))

    def annotate(self, answer: Answer, call: Call) -> dict[str, Any]:
        """The JSON answer as the client gets it: ``model`` is the candidate's name, ``routing`` added."""
        doc = answer.doc
        doc["model"] = answer.backend.name
        doc["routing"] = self.routing(answer.backend, call)
        self.count_usage(answer.backend, doc.get("usage"))
        self.metrics.requests.inc(answer.backend.name, "200")
        return doc

    def json_response(self, backend: Backend, doc: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        """``doc`` as a JSON response from ``backend`` (keys scrubbed)."""
        from fastapi.responses import Response

        body = self.scrubber.bytes(json.dumps(doc).encode())
        return Response(body, media_type="application/json",
                        headers={BACKEND_HEADER: header_value(backend.name), **(headers or {})})

    def _relay_error(self, answer: Answer) -> Any:
        """A 4xx that is the request's fault: back to the caller (keys scrubbed), always as an OpenAI error object."""
        from fastapi.responses import Response

        backend, status = answer.backend, answer.status
        self.metrics.requests.inc(backend.name, str(status))
        doc = json_object(answer.body)
        if doc is None or not isinstance(doc.get("error"), dict):
            # Not an OpenAI error (an HTML page, plain text): wrapped so every client can read it.
            text = answer.body[:2000].decode("utf-8", errors="replace")
            doc = {"error": {"message": f"{backend.name} answered {status}: {text}", "type": "upstream_error",
                             "code": None}}
        return Response(self.scrubber.bytes(json.dumps(doc).encode()), status_code=status,
                        media_type="application/json", headers={BACKEND_HEADER: header_value(backend.name)})

    def _stream_response(self, answer: Answer, call: Call) -> Any:
        from fastapi.responses import StreamingResponse

        backend, rest = answer.backend, answer.rest
        frame = EventFramer(backend, self.routing(backend, call), self.count_usage)
        head = self.scrubber.bytes(frame.feed(answer.first))
        self.metrics.requests.inc(backend.name, "200")
        deadline, seconds = call.deadline, self.config.request_timeout

        async def body() -> AsyncIterator[bytes]:
            loop = asyncio.get_running_loop()
            try:
                yield head
                while True:
                    # The request's deadline covers the stream; and each event must follow the one before within
                    # the backend's timeout, so a backend trickling bytes is cut off long before the deadline.
                    limit = min(deadline, loop.time() + backend.timeout)
                    try:
                        async with asyncio.timeout_at(limit):
                            out = b""
                            while not out:
                                chunk = await anext(rest)
                                out = frame.feed(chunk)
                    except StopAsyncIteration:
                        break
                    yield self.scrubber.bytes(out)
                leftover = frame.flush()
                if leftover:
                    yield self.scrubber.bytes(leftover)
            except TimeoutError:
                self.metrics.stream_errors.inc(backend.id)
                if loop.time() >= deadline:
                    log.warning("stream from %s passed the request timeout of %g s", backend.id, seconds)
                    yield error_event(f"the stream from {backend.name} passed the request timeout of {seconds:g} s "
                                      "(request_timeout in the backends file); the answer is incomplete",
                                      "timeout_error", "request_timeout")
                else:
                    log.warning("stream from %s stalled for %g s", backend.id, backend.timeout)
                    yield error_event(f"the stream from {backend.name} sent no complete event for {backend.timeout:g} "
                                      "s (its timeout in the backends file); the answer is incomplete",
                                      "timeout_error", "stream_stalled")
            except Exception as exc:  # noqa: BLE001 - any break after commit ends the stream with an error event
                self.metrics.stream_errors.inc(backend.id)
                log.warning("stream from %s broke after the first chunk: %s", backend.id, type(exc).__name__)
                yield error_event(f"the stream from {backend.name} broke after it started "
                                  f"({type(exc).__name__}); the answer is incomplete", "upstream_error",
                                  "stream_broken")
            finally:
                await answer.close()

        return StreamingResponse(body(), media_type="text/event-stream",
                                 headers={BACKEND_HEADER: header_value(backend.name)})

    def count_usage(self, backend: Backend, usage: Any) -> None:
        """Count the tokens and the cost a backend reports for one answer."""
        if not isinstance(usage, dict):
            return
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if not isinstance(prompt, int) or not isinstance(completion, int):
            return
        self.metrics.tokens.inc(backend.name, "prompt", amount=prompt)
        self.metrics.tokens.inc(backend.name, "completion", amount=completion)
        price_in, price_out = self.prices(backend.name)
        cost = (prompt * price_in + completion * price_out) / 1e6
        if not math.isnan(cost):  # unknown prices: count no cost rather than a wrong one
            self.metrics.cost.inc(backend.name, amount=cost)
