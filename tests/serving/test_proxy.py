"""The proxy over real sockets: echo backends on 127.0.0.1, the proxy under uvicorn, the official openai client.

One test per row of the failure table in docs/serving.md, then streaming,
bad requests, security and concurrency. The router is kNN on TF-IDF over
three topics (see tests/support/tiny_routing.py), so a math prompt ranks
math-model, code-model, poem-model: the fallback order the tests expect.
"""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import openai
import pytest
from support.proxy import MATH, POEM, ask, attempts, config_for, running
from support.tiny_routing import MODELS

from routereval.deploy.model import RoutingModel
from routereval.serving.app import BACKEND_HEADER, create_app
from routereval.serving.echo import EchoServer


@pytest.fixture
def proxy(artifact, backends):
    """(base URL, openai client, servers) for a proxy over the three echo backends."""
    with running(create_app(artifact, config_for(backends))) as url:
        yield url, openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0), backends


def metric(url, line_start):
    """The value of the first /metrics sample whose line starts with ``line_start`` (0 if absent)."""
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# -- the happy path ----------------------------------------------------------------------


def test_routed_request_is_answered_by_the_chosen_backend(proxy):
    url, client, servers = proxy
    raw = client.chat.completions.with_raw_response.create(
        model="router", messages=[{"role": "user", "content": MATH}])
    response = raw.parse()
    assert raw.headers[BACKEND_HEADER] == "math-model"
    assert response.model == "math-model"
    assert response.choices[0].message.content == f"math-model answered: {MATH}"
    routing = response.model_extra["routing"]
    assert routing["chosen"] == "math-model"
    assert [r["model"] for r in routing["ranked"]] == ["math-model", "code-model", "poem-model"]
    assert routing["ranked"][0]["quality"] == 1.0 and routing["decision_ms"] > 0
    assert attempts(response) == [("math-model", 200, "ok")]
    # The backend saw its own model id, and no routing options leaked into its request.
    seen = servers["math-model"].requests[-1]
    assert seen["model"] == "math-model-id" and "routing" not in seen["body"]
    assert ask(client, POEM).model == "poem-model"


def test_a_backend_name_goes_direct(proxy):
    _, client, servers = proxy
    response = client.chat.completions.create(model="code-model", messages=[{"role": "user", "content": MATH}])
    assert response.model == "code-model" and len(servers["math-model"].requests) == 0


def test_routing_options_in_extra_body(proxy):
    _, client, _ = proxy
    assert ask(client, extra_body={"routing": {"cost_weight": 5000}}).model == "code-model"
    assert ask(client, extra_body={"routing": {"exclude": ["math-model"]}}).model == "code-model"
    response = ask(client, extra_body={"routing": {"candidates": ["poem-model"]}})
    assert response.model == "poem-model"
    assert [r["model"] for r in response.model_extra["routing"]["ranked"]] == ["poem-model"]


def test_routes_on_the_last_user_message(proxy):
    _, client, _ = proxy
    messages = [{"role": "user", "content": MATH}, {"role": "assistant", "content": "x = 2"},
                {"role": "user", "content": [{"type": "text", "text": POEM}]}]
    assert client.chat.completions.create(model="router", messages=messages).model == "poem-model"


def test_route_endpoint_decides_without_calling_a_backend(proxy, artifact):
    url, _, servers = proxy
    body = httpx.post(f"{url}/v1/route", json={"messages": [{"role": "user", "content": MATH}],
                                               "routing": {"cost_weight": 5000}}).json()
    expected = RoutingModel.load(artifact).route(MATH, cost_weight=5000)[0].to_dict()
    assert body["chosen"] == expected["chosen"] == "code-model"
    assert body["ranked"] == expected["ranked"]
    assert all(len(s.requests) == 0 for s in servers.values())


def test_models_and_health(proxy):
    url, client, _ = proxy
    assert [m.id for m in client.models.list()] == ["router", *MODELS]
    assert httpx.get(f"{url}/health/liveness").json() == {"status": "alive"}
    ready = httpx.get(f"{url}/health/readiness")
    assert ready.status_code == 200 and ready.json()["candidates"] == MODELS


# -- the failure table, one test per row -------------------------------------------------


def test_row_429_retries_the_same_backend_after_retry_after(proxy):
    url, client, servers = proxy
    servers["math-model"].plan.append(("status", 429, 1))
    started = time.monotonic()
    response = ask(client)
    assert time.monotonic() - started >= 1.0  # Retry-After honoured
    assert response.model == "math-model"
    assert attempts(response) == [("math-model", 429, "http 429"), ("math-model", 200, "ok")]
    times = [r["time"] for r in servers["math-model"].requests]
    assert times[1] - times[0] >= 1.0


def test_row_retry_after_too_long_moves_to_the_next_candidate_at_once(proxy):
    _, client, servers = proxy
    servers["math-model"].plan.append(("status", 429, 60))
    started = time.monotonic()
    response = ask(client)
    assert time.monotonic() - started < 5
    assert attempts(response) == [("math-model", 429, "http 429"), ("code-model", 200, "ok")]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_row_5xx_retries_then_answers(proxy, status):
    _, client, servers = proxy
    servers["math-model"].plan.append(("status", status, None))
    response = ask(client)
    assert response.model == "math-model"
    assert attempts(response) == [("math-model", status, f"http {status}"), ("math-model", 200, "ok")]


def test_row_persistent_5xx_falls_back_to_the_next_best(proxy):
    url, client, servers = proxy
    servers["math-model"].plan.extend([("status", 500, None)] * 3)  # 1 try + 2 retries
    response = ask(client)
    assert response.model == "code-model"
    assert attempts(response) == [("math-model", 500, "http 500")] * 3 + [("code-model", 200, "ok")]
    assert metric(url, 'routereval_fallbacks_total{reason="http 500"}') == 1


def test_row_connection_refused_falls_back(proxy):
    url, client, servers = proxy
    servers["math-model"].stop()
    response = ask(client)
    assert response.model == "code-model"
    assert attempts(response)[:3] == [("math-model", None, "connection refused")] * 3
    assert metric(url, 'routereval_fallbacks_total{reason="connection refused"}') == 1


def test_row_connection_reset_before_the_first_byte_retries(proxy):
    _, client, servers = proxy
    servers["math-model"].plan.append(("close",))
    response = ask(client)
    assert response.model == "math-model"
    assert attempts(response) == [("math-model", None, "connection reset or closed before the first byte"),
                                  ("math-model", 200, "ok")]


def test_row_timeout_sends_to_the_remaining_candidates_at_once(artifact, backends):
    # math-model hangs; code-model and poem-model get the request together, and code-model, the quicker, wins.
    backends["math-model"].plan.append(("delay", 3))
    backends["poem-model"].plan.append(("delay", 0.4))
    with running(create_app(artifact, config_for(backends, timeout=0.5))) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        started = time.monotonic()
        response = ask(client)
        took = time.monotonic() - started
    assert response.model == "code-model"
    # poem-model's attempt finishes after the answer was sent (it is closed unread), so it is not listed.
    assert attempts(response) == [("math-model", None, "timeout before the first byte"), ("code-model", 200, "ok")]
    assert 0.5 <= took < 0.85  # one timeout, then code-model's answer: not poem-model's 0.4 s on top
    assert len(backends["poem-model"].requests) == 1
    assert len(backends["math-model"].requests) == 1  # a timeout is never retried where it happened


def test_row_timeout_without_parallel_fallback_moves_on_one_at_a_time(artifact, backends):
    backends["math-model"].plan.append(("delay", 3))
    config = config_for(backends, timeout=0.5, failover={"parallel_fallback": False})
    with running(create_app(artifact, config)) as url:
        response = ask(openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0))
    assert attempts(response) == [("math-model", None, "timeout before the first byte"), ("code-model", 200, "ok")]
    assert len(backends["poem-model"].requests) == 0


@pytest.mark.slow  # waits out real timeouts
def test_every_candidate_but_one_hanging_costs_one_timeout_then_the_hanging_ones_cool_down(artifact):
    # The target on real sockets: 1 s timeout, the two best candidates hang; each request is answered
    # by the healthy one within one timeout (and at once after the hanging ones cool down).
    servers = {name: EchoServer(name).start() for name in MODELS}
    try:
        for name in ("math-model", "code-model"):
            servers[name].plan.extend([("delay", 5)] * 10)
        config = config_for(servers, timeout=1.0, failover={"cooldown_failures": 2})
        with running(create_app(artifact, config)) as url:
            client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
            took = []
            for _ in range(5):
                started = time.monotonic()
                response = ask(client)
                took.append(time.monotonic() - started)
                assert response.model == "poem-model"
        # Each costs at most one timeout: the first candidate's, then poem-model wins the race. code-model's
        # attempts in the races run on to their timeout in the background, so it cools down as math-model does.
        assert all(t < 1.6 for t in took), took
        assert all(t < 0.5 for t in took[3:]), took
        assert attempts(response) == [("poem-model", 200, "ok")]
    finally:
        for server in servers.values():
            server.stop()


@pytest.mark.parametrize("status, error", [(400, openai.BadRequestError), (401, openai.AuthenticationError),
                                           (403, openai.PermissionDeniedError)])
def test_row_4xx_is_returned_and_never_falls_back(proxy, status, error):
    _, client, servers = proxy
    servers["math-model"].plan.append(("status", status, None))
    with pytest.raises(error) as caught:
        ask(client)
    assert caught.value.status_code == status
    assert caught.value.response.headers[BACKEND_HEADER] == "math-model"
    assert f"math-model says {status}" in caught.value.message
    assert len(servers["math-model"].requests) == 1  # not retried
    assert len(servers["code-model"].requests) == len(servers["poem-model"].requests) == 0


def test_row_a_backend_that_keeps_failing_cools_down(artifact, backends):
    config = config_for(backends, failover={"retries": 0, "cooldown_failures": 2, "cooldown_seconds": 60})
    backends["math-model"].plan.extend([("status", 500, None)] * 2)
    with running(create_app(artifact, config)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        assert ask(client).model == "code-model"
        assert ask(client).model == "code-model"
        assert httpx.get(f"{url}/health/readiness").json()["cooling_down"] == ["math-model"]
        # Cooling: math-model is tried last, so the next request never reaches it.
        response = ask(client)
    assert response.model == "code-model" and attempts(response) == [("code-model", 200, "ok")]
    assert response.model_extra["routing"]["chosen"] == "math-model"  # the router's choice is unchanged
    assert len(backends["math-model"].requests) == 2


def test_row_cooling_backends_are_still_tried_when_nothing_else_answers(artifact, backends):
    config = config_for(backends, failover={"retries": 0, "cooldown_failures": 1, "cooldown_seconds": 60})
    backends["math-model"].plan.append(("status", 500, None))
    with running(create_app(artifact, config)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        assert ask(client).model == "code-model"
        response = ask(client, extra_body={"routing": {"candidates": ["math-model"]}})
    assert response.model == "math-model"


def test_row_every_candidate_fails_gives_502_with_each_reason(proxy):
    url, client, servers = proxy
    servers["math-model"].plan.extend([("status", 500, None)] * 3)
    servers["code-model"].plan.extend([("status", 503, None)] * 3)
    servers["poem-model"].stop()
    with pytest.raises(openai.APIStatusError) as caught:
        ask(client)
    assert caught.value.status_code == 502
    body = caught.value.response.json()
    assert body["error"]["code"] == "all_backends_failed"
    reasons = [(a["backend"], a["reason"]) for a in body["error"]["routing"]["attempts"]]
    assert reasons == ([("math-model", "http 500")] * 3 + [("code-model", "http 503")] * 3
                       + [("poem-model", "connection refused")] * 3)
    message = body["error"]["message"]
    assert "math-model: http 500" in message and "poem-model: connection refused" in message
    assert metric(url, 'routereval_requests_total{model="none",status="502"}') == 1


# -- streaming ---------------------------------------------------------------------------


def collect(stream):
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return chunks, text


def test_stream_passes_every_chunk_through_with_routing_first(proxy):
    url, client, servers = proxy
    chunks, text = collect(ask(client, stream=True, stream_options={"include_usage": True}))
    assert text == f"math-model answered: {MATH}"
    # Role chunk, 3 content chunks, the finish_reason chunk and the usage chunk: nothing dropped.
    assert len(chunks) == 6
    assert chunks[0].model_extra["routing"]["chosen"] == "math-model"
    assert all(c.model == "math-model" for c in chunks)
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].usage.completion_tokens == len(f"math-model answered: {MATH}".split(" "))
    tokens = metric(url, 'routereval_tokens_total{backend="math-model",kind="completion"}')
    assert tokens == chunks[-1].usage.completion_tokens


def test_stream_failing_before_the_first_chunk_falls_back(proxy):
    _, client, servers = proxy
    servers["math-model"].plan.extend([("status", 500, None), ("close",), ("status", 503, None)])
    chunks, text = collect(ask(client, stream=True))
    assert text == f"code-model answered: {MATH}"
    routing = chunks[0].model_extra["routing"]
    assert [(a["backend"], a["status"]) for a in routing["attempts"]] == [
        ("math-model", 500), ("math-model", None), ("math-model", 503), ("code-model", 200)]


def test_stream_breaking_after_the_first_chunk_ends_with_an_error_event(proxy):
    url, client, servers = proxy
    servers["math-model"].plan.append(("cut",))
    received = []
    with pytest.raises(openai.APIError, match="broke after it started"):
        for chunk in ask(client, stream=True):
            received.append(chunk)
    assert received and received[0].model_extra["routing"]["chosen"] == "math-model"
    assert metric(url, 'routereval_stream_errors_total{backend="math-model"}') == 1
    # Committed to math-model: no other backend was called.
    assert len(servers["code-model"].requests) == 0


# -- bad requests and security -----------------------------------------------------------


def test_bad_requests_get_a_clear_4xx(artifact, backends):
    with running(create_app(artifact, config_for(backends), max_body_bytes=2000)) as url:
        chat = f"{url}/v1/chat/completions"
        r = httpx.post(chat, content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
        r = httpx.post(chat, json={"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 404 and "unknown model 'gpt-9'" in r.json()["error"]["message"]
        r = httpx.post(chat, json={"model": "router", "messages": [{"role": "system", "content": "be brief"}]})
        assert r.status_code == 400 and r.json()["error"]["code"] == "no_user_message"
        r = httpx.post(chat, json={"model": "router", "messages": [{"role": "user", "content": "x" * 5000}]})
        assert r.status_code == 413 and "the limit is 2000" in r.json()["error"]["message"]
        r = httpx.post(chat, json={"model": "router", "messages": [{"role": "user", "content": "hi"}],
                                   "routing": {"cost_weight": "high"}})
        assert r.status_code == 400 and "cost_weight must be a number" in r.json()["error"]["message"]
        r = httpx.post(chat, json={"model": "router", "messages": [{"role": "user", "content": "hi"}],
                                   "routing": {"candidates": ["nope"]}})
        assert r.status_code == 400 and "unknown candidate 'nope'" in r.json()["error"]["message"]
    assert all(len(s.requests) == 0 for s in backends.values())


def test_bearer_token_guards_the_api_but_not_the_probes(artifact, backends):
    with running(create_app(artifact, config_for(backends), token="proxy-token-123")) as url:
        with pytest.raises(openai.AuthenticationError):
            ask(openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0))
        assert httpx.get(f"{url}/metrics").status_code == 401
        assert ask(openai.OpenAI(base_url=f"{url}/v1", api_key="proxy-token-123", max_retries=0)).model == "math-model"
        assert httpx.get(f"{url}/health/liveness").status_code == 200


def test_keys_reach_the_backend_but_never_logs_errors_responses_or_metrics(artifact, backends, caplog):
    secret = "sk-live-very-secret-0123456789"
    environ = {"MATH_KEY": secret}
    config = config_for(backends, keys={"math-model": "MATH_KEY"}, environ=environ)
    assert secret not in repr(config)
    caplog.set_level(logging.DEBUG)
    backends["math-model"].plan.extend([("echo_auth", 401)])
    with running(create_app(artifact, config)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as caught:
            ask(client)
        backends["math-model"].plan.extend([("echo_auth", 500)] * 3)
        fallback = client.chat.completions.with_raw_response.create(
            model="router", messages=[{"role": "user", "content": MATH}])
        metrics = httpx.get(f"{url}/metrics").text
    assert backends["math-model"].requests[0]["authorization"] == f"Bearer {secret}"  # the key was used
    assert "bad key: Bearer ***" in caught.value.response.text
    assert secret not in caught.value.response.text
    assert secret not in fallback.text and fallback.parse().model == "code-model"
    assert secret not in metrics
    assert secret not in caplog.text


# -- load --------------------------------------------------------------------------------


def test_concurrent_requests_are_each_answered_exactly_once(artifact, backends):
    backends["math-model"].fail_every = 2  # half its requests fail with 500
    with running(create_app(artifact, config_for(backends, failover={"retries": 1}))) as url:
        async def main():
            # A generous connect timeout: 96 connections opened at once on a busy machine can take seconds.
            client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0,
                                        timeout=openai.Timeout(120, connect=60))  # the client's own type: openai 3 is built on httpx2
            prompts = [f"{[MATH, POEM, 'write a python function'][i % 3]} #{i}" for i in range(96)]
            results = await asyncio.gather(*(
                client.chat.completions.create(model="router", messages=[{"role": "user", "content": p}])
                for p in prompts))
            await client.close()
            return prompts, results

        prompts, results = asyncio.run(main())
    assert len(results) == 96
    for prompt, result in zip(prompts, results):
        assert result.choices[0].message.content == f"{result.model} answered: {prompt}"
    answered = {name: sum(r["action"] == "ok" for r in s.requests) for name, s in backends.items()}
    assert sum(answered.values()) == 96  # every request answered once: no loss, no duplicate answer
    assert sum(r["action"] == "status" for r in backends["math-model"].requests) > 0


# -- /metrics ---------------------------------------------------------------------------


def test_two_apps_in_one_process_count_apart_and_metrics_parse_as_prometheus_text(artifact, backends):
    from prometheus_client.parser import text_string_to_metric_families

    with running(create_app(artifact, config_for(backends))) as first, \
            running(create_app(artifact, config_for(backends))) as second:
        client = openai.OpenAI(base_url=f"{first}/v1", api_key="unused", max_retries=0)
        ask(client)
        ask(client)
        assert metric(first, 'routereval_routed_total{model="math-model"}') == 2
        assert metric(second, 'routereval_routed_total{model="math-model"}') == 0  # its own registry
        text = httpx.get(f"{first}/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    # Every name the docs promise, with its type; prometheus_client reads counters without _total.
    assert {n: families[n].type for n in ("routereval_requests", "routereval_routed", "routereval_backend_attempts",
                                          "routereval_fallbacks", "routereval_stream_errors", "routereval_rejected",
                                          "routereval_tokens", "routereval_cost_usd")} == dict.fromkeys(
        ("routereval_requests", "routereval_routed", "routereval_backend_attempts", "routereval_fallbacks",
         "routereval_stream_errors", "routereval_rejected", "routereval_tokens", "routereval_cost_usd"), "counter")
    assert families["routereval_decision_seconds"].type == "histogram"
    assert families["routereval_time_to_first_byte_seconds"].type == "histogram"
    decisions = {s.name: s.value for s in families["routereval_decision_seconds"].samples if not s.labels}
    assert decisions["routereval_decision_seconds_count"] == 2
    assert "_created" not in text
