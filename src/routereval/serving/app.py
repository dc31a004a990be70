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
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

from routereval.deploy.model import RoutingModel, RoutingOptions
from routereval.errors import ConfigError
from routereval.serving.answers import (
    BACKEND_HEADER,
    CACHE_HEADER,
    Call,
    error_response,
    header_value,
    json_object,
    timeout_error,
)
from routereval.serving.backends import BackendsConfig, load_backends
from routereval.serving.decider import Decider
from routereval.serving.deployments import Deployments
from routereval.serving.failover import Cooldown
from routereval.serving.forwarding import Forwarder
from routereval.serving.metrics import ProxyMetrics
from routereval.serving.requests import BadRequest, parse_body, validate_chat, validate_route
from routereval.serving.response_cache import ResponseCache
from routereval.serving.scrub import LogScrubber, Scrubber

log = logging.getLogger("routereval.serving")

__all__ = ["BACKEND_HEADER", "ROUTER_MODEL", "create_app", "header_value", "message_text", "serving_threads"]

#: The model name that asks the proxy to route.
ROUTER_MODEL = "router"
DEFAULT_MAX_BODY = 1 << 20
#: Seconds a client has to send its whole body: a client trickling bytes must not hold a request open.
BODY_SECONDS = 30.0
#: Request content types read as JSON: JSON itself, and curl's default for -d (a JSON body sent without -H).
JSON_TYPES = ("application/json", "application/x-www-form-urlencoded")


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


def serving_threads() -> None:
    """One BLAS thread for the process: a decision multiplies small matrices, and idle BLAS threads
    spinning for work cost more than they give (3x the CPU per decision on a busy 2-CPU machine)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


class Proxy:
    """The proxy's state: its router, deployments, metrics and cache (one per app)."""

    def __init__(self, model: RoutingModel, config: BackendsConfig, *, token: str | None, max_body: int) -> None:
        config.check_candidates(model.candidates)
        self.model = model.with_prices(config.prices())
        self.config = config
        self.token = token
        self.max_body = int(max_body)
        self.metrics = ProxyMetrics()
        self.deployments = Deployments(config, Cooldown(config.failover), self.metrics)
        self.scrubber = Scrubber([s for s in [*config.secrets(), token] if s])
        self._log_scrubber = LogScrubber(self.scrubber)
        nan = (float("nan"), float("nan"))
        self.forwarder = Forwarder(config, self.deployments, self.metrics, self.scrubber,
                                   lambda name: self.model.prices.get(name, nan))
        self.decider = Decider(self.model, self.metrics)
        self.cache = ResponseCache(config.cache) if config.cache.enabled else None
        self.ready = False

    async def start(self) -> None:
        serving_threads()
        self._log_scrubber.install()
        await self.forwarder.start()
        await self.decider.start()
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        await self.decider.stop()
        await self.forwarder.stop()
        self._log_scrubber.uninstall()

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

    def from_cache(self, key: bytes) -> Any:
        """The cached answer for ``key`` as a response, or None (counted either way)."""
        hit = self.cache.get(key)
        self.metrics.cache.inc("hit" if hit else "miss")
        if hit is None:
            return None
        doc = json_object(hit)
        doc["routing"] = {**doc.get("routing", {}), "cache": "hit"}
        backend = self.config.deployments[doc["model"]][0]
        self.metrics.requests.inc(backend.name, "200")
        return self.forwarder.relay.json_response(backend, doc, {CACHE_HEADER: "hit"})


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
        log.info("routing over %d models (%d deployments): %s", len(config.deployments), len(config.backends),
                 ", ".join(config.deployments))
        yield
        await proxy.stop()

    app = FastAPI(title="routereval proxy", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.proxy = proxy

    def unauthorised() -> Any:
        proxy.metrics.rejected.inc("unauthorised")
        return error_response(401, "missing or wrong bearer token for this proxy", kind="authentication_error",
                      code="invalid_api_key")

    @app.get("/health/liveness")
    async def liveness() -> Any:
        return {"status": "alive"}

    @app.get("/health/readiness")
    async def readiness() -> Any:
        body = {"status": "ready" if proxy.ready else "starting", "router": getattr(model.router, "name", ""),
                "candidates": model.candidates, "cooling_down": proxy.deployments.cooling_names()}
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
        ids = [ROUTER_MODEL, *config.deployments]
        return {"object": "list", "data": [{"id": i, "object": "model", "created": 0, "owned_by": "routereval"}
                                           for i in ids]}

    def bad(problem: BadRequest) -> Any:
        return error_response(problem.status, problem.message, code=problem.code)

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
            return error_response(400, "give 'prompt' (text) or 'messages' with a user message to route", code="no_prompt")
        proxy.decider.busy += 1
        try:
            async with asyncio.timeout(config.request_timeout):
                _, info = await proxy.decider.decide(text, options_from(parsed.routing))
        except ConfigError as exc:
            proxy.metrics.rejected.inc("bad_routing_options")
            return error_response(400, str(exc), code="invalid_routing")
        except TimeoutError:
            return timeout_error(config.request_timeout, [])
        return info

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        if not proxy.authorised(request):
            return unauthorised()
        started = time.perf_counter()
        proxy.metrics.in_flight.inc()
        proxy.decider.busy += 1
        try:
            response, name, attempts = await answer(request)
        finally:
            proxy.decider.busy -= 1
            proxy.metrics.in_flight.dec()
        proxy.metrics.request.observe(time.perf_counter() - started, str(response.status_code))
        # %r: the name is the client's text, and a line break in it must not forge a log line.
        log.info("request %s model=%r answered=%s status=%s attempts=%d ms=%.1f", uuid.uuid4().hex[:8], name,
                 response.headers.get(BACKEND_HEADER, "-"), response.status_code, attempts,
                 (time.perf_counter() - started) * 1000)
        return response

    async def answer(request: Request) -> tuple[Any, Any, int]:
        """``(response, the model asked for, attempts made)`` for one chat request."""
        deadline = asyncio.get_running_loop().time() + config.request_timeout
        try:
            doc = await proxy.read_json(request)
            parsed = validate_chat(doc)
        except BadRequest as problem:
            if problem.code == "invalid_request":
                proxy.metrics.rejected.inc("invalid_request")
            return bad(problem), None, 0
        name = parsed.model
        if name != ROUTER_MODEL and name not in config.deployments:
            proxy.metrics.rejected.inc("unknown_model")
            known = ", ".join([ROUTER_MODEL, *config.deployments])
            return error_response(404, f"unknown model {name!r}; use 'router' to route, or one of: {known}",
                                  code="model_not_found"), name, 0
        key = None
        if proxy.cache is not None and not parsed.stream:
            key = proxy.cache.key(doc)
            cached = proxy.from_cache(key)
            if cached is not None:
                return cached, name, 0
        doc.pop("routing", None)
        call = Call(doc, stream=bool(parsed.stream), deadline=deadline)
        try:
            async with asyncio.timeout_at(deadline):
                if name == ROUTER_MODEL:
                    text = message_text(doc["messages"], config.route_on)
                    if text is None:
                        proxy.metrics.rejected.inc("no_user_message")
                        return error_response(400, "no user message with text to route on",
                                              code="no_user_message"), name, 0
                    try:
                        options = options_from(parsed.routing)
                        order, info = await proxy.decider.decide(text, options)
                    except ConfigError as exc:
                        proxy.metrics.rejected.inc("bad_routing_options")
                        return error_response(400, str(exc), code="invalid_routing"), name, 0
                    call.routing = {**info, "options": options.to_dict()}
                    order = proxy.deployments.order_candidates(order)
                else:
                    # A named model goes to its own deployments, then to its [fallbacks] if the file gives any.
                    order = [name, *config.fallbacks.get(name, ())]
                    call.routing = {"chosen": name, "direct": True}
                    if len(order) > 1:
                        call.routing["fallbacks"] = order[1:]
                response = await proxy.forwarder.forward(order, call)
        except TimeoutError:
            proxy.metrics.requests.inc("none", "504")
            response = timeout_error(config.request_timeout, call.attempts)
        if key is not None and response.status_code == 200:
            proxy.cache.put(key, response.body)
        return response, name, len(call.attempts)

    @app.exception_handler(Exception)
    async def defect(request: Request, exc: Exception) -> Any:
        # A defect, not the client's fault: logged with its traceback (scrubbed), answered in the OpenAI shape.
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal error in the proxy; its log has the details", kind="server_error",
                      code="internal_error")

    return app
