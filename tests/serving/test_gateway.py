"""What a gateway needs, on real sockets: replicas of a candidate, named-model fallback, the response cache,
the metrics operators read, and several worker processes behind one port."""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.proxy import FAST, MATH, ask, attempts, free_port, running, start_serve, write_backends
from support.tiny_routing import MODELS
from support.processes import REPO

from routereval.serving.app import create_app
from routereval.serving.backends import CacheSettings, parse_backends
from routereval.serving.echo import EchoServer
from routereval.serving.response_cache import ResponseCache


@pytest.fixture
def servers():
    """Echo servers: each model once, and two more replicas of math-model (all answering as math-model)."""
    started = {name: EchoServer(name).start() for name in MODELS}
    started["math-b"] = EchoServer("math-model").start()
    started["math-c"] = EchoServer("math-model").start()
    yield started
    for server in started.values():
        server.stop()


def entries(servers, math=("math-model", "math-b"), **math_fields):
    """[[backends]] entries: the replicas named in ``math`` serve math-model, the others their own model."""
    out = []
    for key in math:
        out.append({"name": "math-model", "base_url": servers[key].base_url, "timeout": 5, **math_fields.get(key, {})})
    for name in MODELS[1:]:
        out.append({"name": name, "base_url": servers[name].base_url, "timeout": 5})
    return out


def client_for(url):
    return openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)


def samples(url) -> dict[tuple[str, tuple], float]:
    """Every /metrics sample, parsed by prometheus_client's own parser: {(name, sorted labels): value}."""
    text = httpx.get(f"{url}/metrics").text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


# -- deployments ------------------------------------------------------------------------------------


def test_least_busy_spreads_an_idle_pool_evenly_and_labels_each_deployment(artifact, servers):
    config = parse_backends({"backends": entries(servers, ("math-model", "math-b", "math-c"))}, "t.toml")
    assert [b.id for b in config.deployments["math-model"]] == ["math-model#1", "math-model#2", "math-model#3"]
    with running(create_app(artifact, config)) as url:
        client = client_for(url)
        answered = [attempts(ask(client))[0][0] for _ in range(9)]
    # One request at a time: every replica is idle each time, so ties go round-robin: 3 each.
    assert sorted(answered) == ["math-model#1"] * 3 + ["math-model#2"] * 3 + ["math-model#3"] * 3
    assert [len(servers[k].requests) for k in ("math-model", "math-b", "math-c")] == [3, 3, 3]


def test_least_busy_sends_fewer_requests_to_a_slow_replica(artifact, servers):
    servers["math-b"].plan.extend([("delay", 0.6)] * 20)
    config = parse_backends({"backends": entries(servers)}, "t.toml")
    with running(create_app(artifact, config)) as url:
        client = client_for(url)
        threads = [threading.Thread(target=ask, args=(client,)) for _ in range(12)]
        for i, thread in enumerate(threads):
            thread.start()
            time.sleep(0.05)
        for thread in threads:
            thread.join()
    fast, slow = len(servers["math-model"].requests), len(servers["math-b"].requests)
    # Round-robin would give 6 and 6; the slow replica holds its requests in flight, so it gets fewer.
    assert fast + slow == 12 and slow <= 3, (fast, slow)


def test_weighted_balancing_gives_each_replica_its_share_exactly(artifact, servers):
    doc = {"backends": entries(servers, ("math-model", "math-b"), **{"math-model": {"weight": 3}}),
           "proxy": {"balancing": "weighted"}}
    with running(create_app(artifact, parse_backends(doc, "t.toml"))) as url:
        client = client_for(url)
        order = [attempts(ask(client))[0][0] for _ in range(8)]
    # Smooth weighted round-robin, worked by hand for weights 3 and 1: a a b a, a a b a.
    assert order == ["math-model#1", "math-model#1", "math-model#2", "math-model#1"] * 2


def test_a_failing_replica_cools_down_alone_and_its_retry_goes_to_another(artifact, servers):
    servers["math-model"].plan.extend([("status", 500, None)] * 10)
    doc = {"backends": entries(servers), "failover": {**FAST, "retries": 1, "cooldown_failures": 2}}
    with running(create_app(artifact, parse_backends(doc, "t.toml"))) as url:
        client = client_for(url)
        seen = [attempts(ask(client)) for _ in range(6)]
        cooling = httpx.get(f"{url}/health/readiness").json()["cooling_down"]
        metrics = samples(url)
    bad, good = ("math-model#1", 500, "http 500"), ("math-model#2", 200, "ok")
    # Worked by hand: an idle pair alternates which replica goes first; #1 fails and its retry goes to #2.
    # Its second failure (request 3) cools it down, after which it goes last even when its turn comes.
    assert seen == [[bad, good], [good], [bad, good], [good], [good], [good]]
    assert cooling == ["math-model#1"]
    until = metrics[("routereval_cooldown_until_seconds", (("backend", "math-model#1"),))]
    assert time.time() < until <= time.time() + 30
    assert metrics[("routereval_cooldown_until_seconds", (("backend", "math-model#2"),))] == 0
    assert len(servers["math-model"].requests) == 2


# -- a request that names a model ---------------------------------------------------------------------


def test_a_named_model_falls_back_only_where_the_file_says(artifact, servers):
    servers["code-model"].plan.extend([("status", 503, None)] * 6)
    doc = {"backends": entries(servers), "failover": {**FAST, "retries": 0},
           "fallbacks": {"code-model": ["poem-model"]}}
    with running(create_app(artifact, parse_backends(doc, "t.toml"))) as url:
        response = client_for(url).chat.completions.create(
            model="code-model", messages=[{"role": "user", "content": MATH}])
    assert response.model == "poem-model"
    assert response.model_extra["routing"]["fallbacks"] == ["poem-model"]
    assert attempts(response) == [("code-model", 503, "http 503"), ("poem-model", 200, "ok")]
    # Without a [fallbacks] entry, a named model is answered by that model or not at all.
    doc.pop("fallbacks")
    with running(create_app(artifact, parse_backends(doc, "t.toml"))) as url:
        with pytest.raises(openai.APIStatusError) as caught:
            client_for(url).chat.completions.create(model="code-model",
                                                    messages=[{"role": "user", "content": MATH}])
    assert caught.value.status_code == 502 and len(servers["poem-model"].requests) == 1


# -- the response cache -------------------------------------------------------------------------------


def test_the_cache_answers_an_identical_request_without_a_backend_call(artifact, servers):
    doc = {"backends": entries(servers), "cache": {"enabled": True, "max_entries": 10}}
    with running(create_app(artifact, parse_backends(doc, "t.toml"))) as url:
        client = client_for(url)
        first = client.chat.completions.with_raw_response.create(
            model="router", messages=[{"role": "user", "content": MATH}], temperature=0)
        second = client.chat.completions.with_raw_response.create(
            model="router", messages=[{"role": "user", "content": MATH}], temperature=0)
        other = client.chat.completions.with_raw_response.create(
            model="router", messages=[{"role": "user", "content": MATH}], temperature=0.5)
        list(client.chat.completions.create(model="router", messages=[{"role": "user", "content": MATH}],
                                            temperature=0, stream=True))
        metrics = samples(url)
    assert "x-routereval-cache" not in first.headers and second.headers["x-routereval-cache"] == "hit"
    assert second.parse().choices[0].message.content == first.parse().choices[0].message.content
    assert second.parse().model_extra["routing"]["cache"] == "hit"
    assert "x-routereval-cache" not in other.headers  # another temperature is another request
    # Three backend calls: the first request, the other temperature and the stream (streams are never cached).
    assert sum(len(s.requests) for s in servers.values()) == 3
    assert metrics[("routereval_cache_lookups_total", (("result", "hit"),))] == 1
    assert metrics[("routereval_cache_lookups_total", (("result", "miss"),))] == 2


def test_the_cache_is_off_unless_enabled(artifact, servers):
    with running(create_app(artifact, parse_backends({"backends": entries(servers)}, "t.toml"))) as url:
        client = client_for(url)
        ask(client, temperature=0)
        raw = client.chat.completions.with_raw_response.create(
            model="router", messages=[{"role": "user", "content": MATH}], temperature=0)
    assert "x-routereval-cache" not in raw.headers
    assert sum(len(s.requests) for s in servers.values()) == 2


def test_the_cache_bounds_entries_bytes_and_age_least_recently_used_first():
    now = [0.0]
    cache = ResponseCache(CacheSettings(enabled=True, max_entries=2, max_bytes=10, ttl_seconds=5), clock=lambda: now[0])
    cache.put(b"a", b"1111")
    cache.put(b"b", b"2222")
    assert cache.get(b"a") == b"1111"  # a is now the most recently used
    cache.put(b"c", b"3333")  # three entries > 2: b, the least recently used, goes
    assert cache.get(b"b") is None and cache.get(b"a") == b"1111" and cache.get(b"c") == b"3333"
    cache.put(b"d", b"444444")  # three entries again: a, now the least recently used, goes
    assert cache.get(b"a") is None and len(cache) == 2 and cache.bytes == 10
    cache.put(b"e", b"x" * 11)  # larger than the whole cache: not stored, nothing else lost
    assert cache.get(b"e") is None and cache.get(b"c") == b"3333" and cache.get(b"d") == b"444444"
    now[0] = 5.5
    assert cache.get(b"d") is None and cache.get(b"c") is None and cache.bytes == 0  # past their ttl
    by_bytes = ResponseCache(CacheSettings(enabled=True, max_entries=10, max_bytes=10))
    for key in (b"a", b"b", b"c"):
        by_bytes.put(key, b"1234")  # 12 bytes > 10: the oldest goes
    assert by_bytes.get(b"a") is None and len(by_bytes) == 2 and by_bytes.bytes == 8
    assert ResponseCache.key({"b": 1, "a": [1, 2]}) == ResponseCache.key({"a": [1, 2], "b": 1})
    assert ResponseCache.key({"a": 1}) != ResponseCache.key({"a": 1.5})


# -- metrics ------------------------------------------------------------------------------------------


def test_metrics_carry_latency_histograms_in_flight_gauges_and_process_metrics(artifact, servers):
    servers["math-model"].plan.append(("delay", 1.0))
    config = parse_backends({"backends": entries(servers, ("math-model",))}, "t.toml")
    with running(create_app(artifact, config)) as url:
        client = client_for(url)
        slow = threading.Thread(target=ask, args=(client,))
        slow.start()
        time.sleep(0.5)
        during = samples(url)
        slow.join()
        for text in (MATH, "a haiku about the sea"):
            ask(client, text)
        after = samples(url)
        declared = set(re.findall(r"^# HELP (\S+)", httpx.get(f"{url}/metrics").text, re.M))
    assert during[("routereval_requests_in_flight", ())] == 1
    assert during[("routereval_deployment_in_flight", (("backend", "math-model"),))] == 1
    assert after[("routereval_requests_in_flight", ())] == 0
    assert after[("routereval_deployment_in_flight", (("backend", "math-model"),))] == 0
    assert after[("routereval_request_seconds_count", (("status", "200"),))] == 3
    # The slow request is the one above 1 s: exactly two of three under 1 s.
    assert after[("routereval_request_seconds_bucket", (("le", "1.0"), ("status", "200")))] == 2
    assert after[("routereval_decision_seconds_count", ())] == 3
    assert after[("routereval_decision_batch_size_count", ())] >= 1
    backend_counts = sum(v for (n, _), v in after.items() if n == "routereval_backend_seconds_count")
    assert backend_counts == 3
    assert after[("routereval_backend_attempts_total", (("backend", "math-model"), ("outcome", "ok")))] == 2
    assert after[("process_resident_memory_bytes", ())] > 10e6
    assert ("process_cpu_seconds_total", ()) in after
    # The Grafana dashboard in docs/ asks only for series this proxy exports.
    dashboard = json.loads((REPO / "docs" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    asked = {name for e in exprs for name in re.findall(r"\b(?:routereval|process)_[a-z_]+", e)}
    # A labelled series appears once something is counted; the families are declared from the start.
    exported = {name for name, _ in after} | declared | {f"{d}_{end}" for d in declared for end in ("bucket", "count")}
    assert len(exprs) >= 14 and asked <= exported, asked - exported


# -- several worker processes -------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.slow  # several serve processes
def test_several_workers_share_the_port_and_metrics_add_up_over_them(artifact, tmp_path):
    servers = {name: EchoServer(name).start() for name in MODELS}
    port = free_port()
    proc = start_serve(artifact, write_backends(tmp_path / "b.toml", servers, None), port, None,
                       "--workers", "2", "--log-level", "warning")
    try:
        workers = [p for p in children(proc.pid) if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert len(workers) == 2
        url = f"http://127.0.0.1:{port}"
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        answers = [ask(client, f"{MATH} number {i}") for i in range(30)]
        assert all(a.choices[0].message.content.endswith(f"number {i}") for i, a in enumerate(answers))
        # Any worker answers /metrics, and it counts the requests of both.
        counted = sum(v for (name, labels), v in samples(url).items() if name == "routereval_requests_total")
        assert counted == 30
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        time.sleep(0.2)
        assert not any(Path(f"/proc/{p}").exists() for p in workers)  # no worker left behind
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        for server in servers.values():
            server.stop()


# -- the decision memo ----------------------------------------------------------------------------


def test_repeated_prompts_skip_the_encoder_and_the_memo_drops_the_least_recently_used(artifact):
    from routereval.deploy.model import RoutingModel, RoutingOptions
    from routereval.serving.decider import Decider
    from routereval.serving.metrics import ProxyMetrics

    model = RoutingModel.load(artifact)
    embedded: list[str] = []
    encode = model.encoder.encode

    def counting(texts, **kw):
        embedded.extend(texts)
        return encode(texts, **kw)

    model.encoder.encode = counting
    decider = Decider(model, ProxyMetrics(), memo_size=2)
    a, b, c = MATH, "a haiku about the sea", "write a python function to sort"
    opts = [RoutingOptions()] * 2
    first = decider._decide([a, b], opts)
    assert embedded == [a, b]
    again = decider._decide([a], opts[:1])  # a is remembered, and now the most recently used
    assert embedded == [a, b] and again[0].to_dict() == first[0].to_dict()
    decider._decide([c], opts[:1])  # a third prompt: b, the least recently used, is dropped
    decider._decide([a, b], opts)
    assert embedded == [a, b, c, b]
    # The remembered vectors give the decisions the model gives without the memo.
    plain = model.decide_each([a, b, c], [RoutingOptions()] * 3)
    assert [d.to_dict() for d in decider._decide([a, b, c], [RoutingOptions()] * 3)] == [d.to_dict() for d in plain]
