"""Fuzzing the proxy's HTTP API from its own request schema, in-process and against a real running proxy.

Bodies are generated from ``ChatRequest``'s JSON schema, then mutated (a field dropped, retyped or nested deeply, the bytes cut or
garbled). Whatever arrives, the proxy gives exactly one answer, in time, with
a status the API documents, never a 500, and never the backend's key.

The schema is turned into a strategy by :func:`from_json_schema` (the
keywords pydantic emits) rather than by hypothesis-jsonschema, whose object
generation relies on Hypothesis internals that hypothesis 6.170 no longer has
(``'many' object has no attribute 'more'``).
"""

from __future__ import annotations

import json
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.proxy import running
from support.tiny_routing import MODELS

from routereval.serving.app import create_app
from routereval.serving.backends import parse_backends
from routereval.serving.echo import EchoServer
from routereval.serving.requests import (
    MAX_DEPTH,
    BadRequest,
    chat_schema,
    parse_body,
    validate_chat,
)
from routereval.strict_json import nesting_depth

SECRET = "sk-fuzz-secret-0123456789abcdefXYZ"
ALLOWED = {200, 400, 401, 404, 413, 415, 422, 429, 502, 503, 504}
DEADLINE = 6.0  # the proxy's request_timeout is 4 s; one answer must come well within this

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=20)


def from_json_schema(schema: dict, root: dict | None = None) -> st.SearchStrategy:
    """A strategy for the documents a JSON schema (as pydantic writes them) accepts, or nearly: values a
    model validator refuses (stream_options without stream) are generated too, which the tests want."""
    root = root or schema
    if "$ref" in schema:
        return st.deferred(lambda: from_json_schema(root["$defs"][schema["$ref"].rsplit("/", 1)[1]], root))
    if "anyOf" in schema:
        return st.one_of([from_json_schema(s, root) for s in schema["anyOf"]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(schema.get("minimum", -(2 ** 40)), schema.get("maximum", 2 ** 40))
    if kind == "number":
        return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False, allow_infinity=False)
    if kind == "string":
        return st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 40), 40))
    if kind == "array":
        items = from_json_schema(schema.get("items", {}), root)
        return st.lists(items, min_size=schema.get("minItems", 0), max_size=min(schema.get("maxItems", 4), 4))
    if kind == "object":
        properties = schema.get("properties", {})
        required = {k: from_json_schema(v, root) for k, v in properties.items() if k in schema.get("required", ())}
        optional = {k: from_json_schema(v, root) for k, v in properties.items() if k not in required}
        extra = st.dictionaries(st.text(max_size=8).filter(lambda k: k not in properties), JSON, max_size=2) \
            if schema.get("additionalProperties", True) is not False else st.just({})
        return st.builds(lambda a, b, c: {**c, **a, **b}, st.fixed_dictionaries(required, optional=optional),
                         st.just({}), extra)
    return JSON


SCHEMA_BODIES = from_json_schema(chat_schema())
MODEL_NAMES = st.sampled_from(["router", *MODELS, "gpt-9", "模型", "a\r\nb", ""]) | st.text(max_size=30)


def depth(value) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


@st.composite
def bodies(draw) -> bytes:
    """A request body: from the schema, often with a real model name, then perhaps mutated."""
    doc = draw(SCHEMA_BODIES)
    if draw(st.booleans()):
        doc["model"] = draw(MODEL_NAMES)
    mutation = draw(st.sampled_from(["none", "none", "drop", "retype", "deep", "cut", "garble", "other"]))
    if mutation == "drop" and doc:
        doc.pop(draw(st.sampled_from(sorted(doc))))
    elif mutation == "retype":
        doc[draw(st.sampled_from(["model", "messages", "stream", "n", "routing", "stream_options"]))] = draw(JSON)
    elif mutation == "deep":
        inner: list = []
        for _ in range(draw(st.integers(MAX_DEPTH - 2, MAX_DEPTH + 200))):
            inner = [inner]
        doc["metadata"] = inner
    elif mutation == "other":
        doc = draw(JSON)
    raw = json.dumps(doc, ensure_ascii=draw(st.booleans())).encode()
    if mutation == "cut" and raw:
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
    elif mutation == "garble" and raw:
        at = draw(st.integers(0, len(raw) - 1))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=4)) + raw[at + 1:]
    return raw


# -- the schema alone, in-process ---------------------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SCHEMA_BODIES)
def test_bodies_from_the_schema_are_accepted_or_refused_with_a_400(doc):
    try:
        parsed = validate_chat(doc)
    except BadRequest as problem:
        assert problem.status == 400 and problem.message and "\n" not in problem.message
        return
    assert parsed.model == doc["model"] and len(parsed.messages) == len(doc["messages"])


@pytest.mark.slow  # hundreds of generated requests
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies())
def test_any_body_parses_to_an_object_or_one_400(raw):
    try:
        doc = parse_body(raw)
        validate_chat(doc)
    except BadRequest as problem:
        assert problem.status == 400 and problem.message


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_nesting_depth_matches_the_parsed_document(value):
    assert nesting_depth(json.dumps(value).encode()) == depth(value)


@pytest.mark.parametrize("size", [10_000, 500_000])
def test_deep_nesting_is_refused_in_linear_time(size):
    started = time.perf_counter()
    with pytest.raises(BadRequest, match="nests"):
        parse_body(b"[" * size + b"]" * size)
    assert time.perf_counter() - started < 1.0


# -- a real proxy --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(artifact):  # noqa: F811
    servers = {name: EchoServer(name).start() for name in MODELS}
    config = parse_backends({"backends": [{"name": n, "base_url": s.base_url, "api_key_env": "FUZZ_KEY", "timeout": 2}
                                          for n, s in servers.items()],
                             "failover": {"retries": 0, "backoff": 0.01}, "proxy": {"request_timeout": 4}},
                            "fuzz.toml", {"FUZZ_KEY": SECRET})
    with running(create_app(artifact, config, max_body_bytes=200_000)) as url, httpx.Client(timeout=30) as client:
        yield url, client, servers
    for server in servers.values():
        server.stop()


BEHAVIOURS = st.sampled_from([("ok",), ("ok",), ("echo_key",), ("status", 500, None), ("status", 400, None),
                              ("raw", 200, "text/html", b"<html>oops</html>"), ("close",), ("cut",),
                              ("encode", "gzip")])


@pytest.mark.slow  # hundreds of generated requests
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(raw=bodies(), behaviour=BEHAVIOURS,
       path=st.sampled_from(["/v1/chat/completions", "/v1/chat/completions", "/v1/chat/completions", "/v1/route"]))
def test_every_request_gets_one_answer_in_time_never_a_500_never_the_key(live, raw, behaviour, path):
    url, client, servers = live
    for server in servers.values():
        server.plan.clear()
        server.plan.append(behaviour)
    started = time.monotonic()
    with client.stream("POST", url + path, content=raw, headers={"content-type": "application/json"}) as response:
        body = b"".join(response.iter_raw())
    took = time.monotonic() - started
    assert response.status_code in ALLOWED, (response.status_code, body[:500])
    assert took < DEADLINE
    assert SECRET.encode() not in body
    if response.status_code != 200:
        assert isinstance(json.loads(body)["error"]["message"], str)
    elif response.headers.get("content-type", "").startswith("text/event-stream"):
        assert body.endswith(b"\n\n")
    else:
        assert isinstance(json.loads(body), dict)
