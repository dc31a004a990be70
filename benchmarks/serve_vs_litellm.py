"""routereval's proxy and LiteLLM's proxy side by side: the same backends, the same load, the same run.

Both proxies run as their own processes on 127.0.0.1 in front of the same
backends: echo servers (``routereval.serving.echo``) and one hanging server
(accepts a connection, reads the request, never answers), all in one
backends process started by this script. The client is this process: one
event loop, one kept-alive connection per concurrent client, a fixed number
of requests (a minimal HTTP/1.1 client, so that at 50 connections the client
is not what limits the figures, as httpx would on 2 CPUs).

LiteLLM is never a dependency of routereval: it lives in a virtual
environment of its own, named by ``--litellm-python`` (default:
``$LITELLM_PYTHON``); without one, LiteLLM's side is skipped and the JSON and
stdout say so::

    python3 -m venv ~/litellm-venv && ~/litellm-venv/bin/pip install 'litellm[proxy]'
    python benchmarks/serve_vs_litellm.py --litellm-python ~/litellm-venv/bin/python
    python benchmarks/serve_vs_litellm.py --quick ...    # a smoke run of about a minute or two

The router is ``best-single`` over a TF-IDF encoder, trained on three
llmrouter models: its ranking is the same for every prompt, so the script
knows which backend each routed request tries first and can make exactly
that one fail. Roles (from that ranking, best first): the first choice
answers 500 to every second request (echo's ``fail_every``), the second
choice hangs, the third is healthy. Measured, per proxy, medians of
``--runs`` runs (each run starts both proxies afresh):

* ``startup_s``: process start to the first 200 from ``/health/readiness``.
* ``forwarding``: requests naming the healthy backend (no routing, no
  failure): latency at concurrency 1 (p50 / p99), then ``--requests`` at
  concurrency 50: requests/s, latency p50 / p99 and the proxy's CPU per
  request (user + system CPU of its process tree from /proc, divided by the
  requests). The same requests straight to the backend are the baseline.
* ``failing_backend``: ``--failing-requests`` at concurrency 200 whose first
  choice fails every second request (routereval: ``model="router"``,
  excluding the hanging backend; LiteLLM: the failing backend's name with a
  fallback to the healthy one). Every request must come back 200, with its
  own prompt, and each prompt must be answered by a backend exactly once
  (counted by the backends themselves).
* ``hanging_backend``: ``--hang-requests`` requests one after another whose
  first choice hangs (3 s timeout, fallback to the healthy backend): seconds
  per request, in order, so the effect of the cool-down shows.

Failure policy, the same on both (LiteLLM's names in brackets): 2 retries
of the same backend (``num_retries``), per-backend timeout 3 s for the
hanging backend and 10 s for the others (``litellm_params.timeout``),
cool-down for 30 s (``cooldown_time``) after 3 failures (``allowed_fails:
2``: LiteLLM cools a deployment down when its failed calls in the current
minute exceed that number; routereval counts requests that failed in a row
after their retries). Differences that cannot be configured away are
written to the JSON under ``setup.differences``. Both proxies require a
bearer token (a random one per run), since LiteLLM refuses to start without one.

Figures go to ``benchmarks/results/serve_vs_litellm.json`` with the versions
of both, the machine and its load average at the start and end (the machine
may be shared: read the figures with those).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _http_client import Connection
from _runs import write_json

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "serve_vs_litellm.json"
CANDIDATES = ["qwen2.5-7b-instruct", "gemma-2-9b-it", "llama3-chatqa-1.5-70b"]
FORWARD_CONCURRENCY = 50
FAILING_CONCURRENCY = 200
HANG_TIMEOUT_S = 3.0
HEALTHY_TIMEOUT_S = 10.0
# LiteLLM's first start on a busy 2-CPU machine took about 30 s; give it room, but not forever.
STARTUP_DEADLINE_S = 300.0
CLIENT_TIMEOUT_S = 120.0
TOKEN_ENV = "SERVE_VS_LITELLM_TOKEN"

FULL = {"runs": 3, "requests": 1000, "latency_requests": 200, "failing_requests": 1000, "hang_requests": 6}
QUICK = {"runs": 1, "requests": 200, "latency_requests": 30, "failing_requests": 200, "hang_requests": 4}


@dataclass(frozen=True)
class Policy:
    """The failure policy both proxies are given (routereval's names; LiteLLM's in :func:`litellm_config`)."""

    retries: int = 2
    backoff: float = 0.1
    max_backoff: float = 2.0
    cooldown_failures: int = 3
    cooldown_seconds: float = 30.0
    hang_timeout: float = HANG_TIMEOUT_S
    healthy_timeout: float = HEALTHY_TIMEOUT_S


@dataclass(frozen=True)
class Roles:
    """Which backend plays which part, from the router's fixed ranking (best first)."""

    failing: str  # first choice: 500 on every second request
    hanging: str  # second choice: accepts, never answers
    healthy: str  # third choice: the fallback, and the backend named in the forwarding load

    @classmethod
    def from_ranking(cls, ranked: list[str]) -> Roles:
        return cls(failing=ranked[0], hanging=ranked[1], healthy=ranked[2])


# -- the backends process -------------------------------------------------------------------------------------



def serve_backends(spec_file: Path) -> None:
    """Run the backends named in ``spec_file`` on one event loop until SIGTERM, then write what each answered.

    The spec is ``{"servers": [{"name", "port", "kind": "echo" | "hang", "fail_every"}], "stats": path}``; the
    stats file gets, per echo server, how many times each prompt was answered with a 200 (the exactly-once check
    from the backends' side) and how many requests it failed on purpose.
    """
    from routereval.serving.echo import EchoServer, hold

    spec = json.loads(spec_file.read_text())
    echoes = [EchoServer(s["name"], "127.0.0.1", s["port"], fail_every=s.get("fail_every", 0))
              for s in spec["servers"] if s["kind"] == "echo"]
    hang_ports = [s["port"] for s in spec["servers"] if s["kind"] == "hang"]

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        hangers = [await asyncio.start_server(hold, "127.0.0.1", port, backlog=1024) for port in hang_ports]
        tasks = [asyncio.create_task(e.serve()) for e in echoes]
        await stop.wait()
        for task in tasks:
            task.cancel()
        for server in hangers:
            server.close()
        stats = {}
        for echo in echoes:
            answered = Counter(_last_user(r["body"]) for r in echo.requests if r["action"] == "ok")
            stats[echo.name] = {"answered": dict(answered),
                                "failed_on_purpose": sum(1 for r in echo.requests if r["action"] == "status")}
        Path(spec["stats"]).write_text(json.dumps(stats))

    asyncio.run(main())


def _last_user(body: dict) -> str:
    messages = body.get("messages") or []
    return next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")


# -- processes ---------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A child process in its own process group, with its output in a log file; stopped with :meth:`stop`."""

    def __init__(self, label: str, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.label, self.log = label, log
        self.started = time.perf_counter()
        with log.open("wb") as out:
            self.popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                          start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait_ready(self, url: str, deadline_s: float = STARTUP_DEADLINE_S) -> float:
        """Seconds from the process start to the first 200 from ``url``."""
        import httpx

        until = time.monotonic() + deadline_s
        while time.monotonic() < until:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.label} exited with code {self.popen.returncode} before it was ready:\n"
                                   f"{self.tail()}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return time.perf_counter() - self.started
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.label} gave no 200 on {url} within {deadline_s:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM to the process group (this process and what it started), SIGKILL after ``grace_s``."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of ``root`` and every live descendant, plus the children it has reaped (/proc)."""
    parents: dict[int, int] = {}
    times: dict[int, tuple[float, float]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        times[pid] = ((int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick)
    if root not in times:
        return float("nan")
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(times[pid][0] + times[pid][1] for pid in tree)


# -- configuration of the two proxies ------------------------------------------------------------------------------


def routereval_backends(urls: dict[str, str], roles: Roles, policy: Policy) -> str:
    """The backends TOML for ``routereval serve`` (docs/serving.md)."""
    lines = ["[failover]", f"retries = {policy.retries}", f"backoff = {policy.backoff}",
             f"max_backoff = {policy.max_backoff}", f"cooldown_failures = {policy.cooldown_failures}",
             f"cooldown_seconds = {policy.cooldown_seconds}", ""]
    for name in CANDIDATES:
        timeout = policy.hang_timeout if name == roles.hanging else policy.healthy_timeout
        lines += ["[[backends]]", f'name = "{name}"', f'base_url = "{urls[name]}"', f"timeout = {timeout}", ""]
    return "\n".join(lines)


def litellm_config(urls: dict[str, str], roles: Roles, policy: Policy) -> dict[str, Any]:
    """LiteLLM's proxy config: one model group per backend, the same policy, the same fallbacks.

    Written as JSON, which is YAML too, so no YAML writer is needed here.
    """
    model_list = []
    for name in CANDIDATES:
        timeout = policy.hang_timeout if name == roles.hanging else policy.healthy_timeout
        model_list.append({"model_name": name, "litellm_params": {
            "model": f"openai/{name}", "api_base": urls[name], "api_key": "not-needed", "timeout": timeout}})
    return {
        "model_list": model_list,
        "router_settings": {
            "num_retries": policy.retries,
            # LiteLLM cools a deployment down once its failed calls this minute exceed allowed_fails.
            "allowed_fails": policy.cooldown_failures - 1,
            "cooldown_time": policy.cooldown_seconds,
            "fallbacks": [{roles.failing: [roles.healthy]}, {roles.hanging: [roles.healthy]}],
        },
        "litellm_settings": {"telemetry": False},
    }


def differences(policy: Policy) -> list[str]:
    """What the two proxies cannot be told the same way, for the JSON and the docs page."""
    return [
        f"Backoff between retries: routereval waits {policy.backoff:g} s before the first retry, doubling each "
        f"time up to {policy.max_backoff:g} s; LiteLLM computes its own (its only setting is a minimum, "
        "retry_after, left at 0).",
        "Cool-down counter: routereval counts requests that failed in a row after their retries; LiteLLM counts "
        "failed calls (each retry is one) in the current minute.",
        "A cooling backend: routereval still tries it, last; LiteLLM skips it and goes to the fallback group.",
        "Fallback order: routereval's comes from the router's ranking (model 'router', with the routing option "
        "'exclude' or 'candidates' choosing the two backends); LiteLLM's from its fallbacks list for the model "
        "named.",
        "Timeout: routereval's backend timeout runs to the first byte of the answer; LiteLLM's is its HTTP "
        "client's timeout for the call. For these short JSON answers the two coincide.",
    ]


def start_routereval(artifact: Path, backends_file: Path, port: int, token: str, log: Path) -> Process:
    env = {**os.environ, TOKEN_ENV: token}
    argv = [sys.executable, "-m", "routereval", "serve", str(artifact), "--backends", str(backends_file),
            "--port", str(port), "--token-env", TOKEN_ENV, "--log-level", "warning"]
    return Process("routereval serve", argv, log, env)


def start_litellm(python: str, config_file: Path, port: int, token: str, log: Path) -> Process:
    env = {**os.environ, "LITELLM_MASTER_KEY": token,
           # The price list ships with the package; without this LiteLLM fetches it from the network at start.
           "LITELLM_LOCAL_MODEL_COST_MAP": "True",
           # As routereval's --log-level warning: no line per request.
           "LITELLM_LOG": "WARNING"}
    argv = [python, "-m", "litellm.proxy.proxy_cli", "--config", str(config_file), "--host", "127.0.0.1",
            "--port", str(port), "--num_workers", "1"]
    return Process("litellm proxy", argv, log, env)


# -- the client ----------------------------------------------------------------------------------------------------


@dataclass
class Load:
    """What a batch of requests gave: per request the latency (ms), HTTP status and answer text."""

    latency_ms: list[float]
    status: list[int]
    content: list[str | None]
    answered_by: list[str | None]
    wall_s: float


async def send_all(url: str, payloads: list[dict], concurrency: int, token: str | None) -> Load:
    """POST every payload over ``concurrency`` connections; a failed request is recorded, never raised."""
    address = urlsplit(url)
    n = len(payloads)
    load = Load([0.0] * n, [0] * n, [None] * n, [None] * n, 0.0)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    bodies = [json.dumps(p).encode() for p in payloads]
    next_index = iter(range(n))

    async def worker() -> None:
        connection = Connection(address.hostname, address.port)
        try:
            for i in next_index:
                started = time.perf_counter()
                try:
                    status, data = await asyncio.wait_for(connection.post(address.path, bodies[i], headers),
                                                          CLIENT_TIMEOUT_S)
                    load.status[i] = status
                    if status == 200:
                        answer = json.loads(data)
                        load.content[i] = answer["choices"][0]["message"]["content"]
                        load.answered_by[i] = answer.get("model")
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError,
                        ValueError, KeyError, IndexError, TypeError):
                    # No usable answer: a transport error or a 200 that is not an answer. The connection's
                    # state is unknown, so the next request gets a new one.
                    load.status[i] = -1
                    connection.close()
                load.latency_ms[i] = (time.perf_counter() - started) * 1000
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    load.wall_s = time.perf_counter() - started
    return load


def chat(model: str, text: str, routing: dict | None = None) -> dict:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 16}
    if routing:
        body["routing"] = routing
    return body


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(load: Load) -> dict[str, float]:
    ok = [ms for ms, s in zip(load.latency_ms, load.status) if s == 200]
    return {"p50_ms": round(percentile(ok, 50), 3), "p99_ms": round(percentile(ok, 99), 3), "n": len(ok)}


def own_prompt_answers(load: Load, prompts: list[str]) -> int:
    """Requests answered 200 with their own prompt echoed back (by whichever backend answered)."""
    return sum(1 for text, content, s in zip(prompts, load.content, load.status)
               if s == 200 and content is not None and content.endswith(f" answered: {text}"))


# -- one run ---------------------------------------------------------------------------------------------------------


@dataclass
class Proxy:
    """A started proxy: its process, where to send requests, how to name the backends through it."""

    name: str
    process: Process
    base: str
    token: str
    startup_s: float

    def failing_request(self, roles: Roles, text: str) -> dict:
        """A request whose first choice is the failing backend, with the healthy one behind it."""
        if self.name == "routereval":
            return chat("router", text, {"exclude": [roles.hanging]})
        return chat(roles.failing, text)

    def hanging_request(self, roles: Roles, text: str) -> dict:
        """A request whose first choice is the hanging backend, with the healthy one behind it."""
        if self.name == "routereval":
            return chat("router", text, {"candidates": [roles.hanging, roles.healthy]})
        return chat(roles.hanging, text)


def measure_forwarding(target: str, url: str, token: str | None, model: str, texts: list[str],
                       settings: dict, cpu_pid: int | None) -> dict:
    """Latency at concurrency 1, then the load at concurrency 50 with the proxy's CPU per request."""
    single = [f"{t} #fwd1-{target}-{i}" for i, t in enumerate(texts[:settings["latency_requests"]])]
    one = asyncio.run(send_all(url, [chat(model, t) for t in single], 1, token))
    many_texts = [f"{t} #fwd50-{target}-{i}" for i, t in enumerate(texts[:settings["requests"]])]
    cpu_before = tree_cpu_seconds(cpu_pid) if cpu_pid else None
    many = asyncio.run(send_all(url, [chat(model, t) for t in many_texts], FORWARD_CONCURRENCY, token))
    result: dict[str, Any] = {
        "concurrency_1": latency_summary(one),
        "concurrency_50": {**latency_summary(many), "requests": len(many_texts),
                           "requests_per_s": round(len(many_texts) / many.wall_s, 1),
                           "answered_with_own_prompt": own_prompt_answers(many, many_texts)},
    }
    if cpu_pid:
        spent = tree_cpu_seconds(cpu_pid) - cpu_before
        result["concurrency_50"]["proxy_cpu_ms_per_request"] = round(spent * 1000 / len(many_texts), 3)
    return result


def measure_failing(proxy: Proxy, roles: Roles, texts: list[str], settings: dict) -> tuple[dict, list[str]]:
    """The load at concurrency 200 whose first choice fails every second request; also returns the prompts sent,
    for the backends' exactly-once count."""
    prompts = [f"{t} #fail-{proxy.name}-{i}" for i, t in enumerate(texts[:settings["failing_requests"]])]
    payloads = [proxy.failing_request(roles, p) for p in prompts]
    load = asyncio.run(send_all(f"{proxy.base}/v1/chat/completions", payloads, FAILING_CONCURRENCY, proxy.token))
    ok = sum(1 for s in load.status if s == 200)
    return {
        "requests": len(prompts), "concurrency": FAILING_CONCURRENCY, "answered_200": ok,
        "lost": len(prompts) - ok, "answered_with_own_prompt": own_prompt_answers(load, prompts),
        "answered_by_fallback": sum(1 for m in load.answered_by if m == roles.healthy),
        "requests_per_s": round(len(prompts) / load.wall_s, 1), "latency": latency_summary(load),
        "statuses_other_than_200": dict(Counter(str(s) for s in load.status if s != 200)),
    }, prompts


async def _one_by_one(proxy: Proxy, roles: Roles, n: int) -> dict:
    url = f"{proxy.base}/v1/chat/completions"
    seconds, answered_by = [], []
    for i in range(n):
        load = await send_all(url, [proxy.hanging_request(roles, f"hang test {proxy.name} #{i}")], 1, proxy.token)
        seconds.append(round(load.latency_ms[0] / 1000, 3))
        answered_by.append(load.answered_by[0] if load.status[0] == 200 else f"status {load.status[0]}")
    return {"seconds_per_request": seconds, "answered_by": answered_by,
            "answered_200": sum(1 for a in answered_by if a == roles.healthy)}


def measure_hanging(proxies: list[Proxy], roles: Roles, n: int) -> dict[str, dict]:
    """The first ``n`` requests, one after another, per proxy; the proxies are driven at the same time (each
    waits seconds on the hanging backend, so running them side by side halves the wall time and changes nothing
    that is measured here)."""
    async def both() -> list[dict]:
        return await asyncio.gather(*(_one_by_one(p, roles, n) for p in proxies))

    return dict(zip((p.name for p in proxies), asyncio.run(both())))


def exactly_once(stats: dict[str, dict], prompts: list[str]) -> dict[str, int]:
    """From the backends' side: how many of ``prompts`` were answered (200) once, more than once, never."""
    counts: Counter = Counter()
    for backend in stats.values():
        counts.update(backend["answered"])
    times = [counts.get(p, 0) for p in prompts]
    return {"answered_once": sum(1 for t in times if t == 1), "answered_twice_or_more": sum(1 for t in times if t > 1),
            "never_answered": sum(1 for t in times if t == 0)}


def one_run(artifact: Path, roles: Roles, policy: Policy, texts: list[str], settings: dict,
            litellm_python: str | None, work: Path, index: int) -> dict:
    """Start the backends and both proxies, measure every scenario, stop everything."""
    folder = work / f"run-{index}"
    folder.mkdir()
    ports = {name: free_port() for name in CANDIDATES}
    urls = {name: f"http://127.0.0.1:{port}/v1" for name, port in ports.items()}
    servers = [{"name": name, "port": ports[name], "kind": "hang" if name == roles.hanging else "echo",
                "fail_every": 2 if name == roles.failing else 0} for name in CANDIDATES]
    stats_file = folder / "backend_stats.json"
    spec_file = folder / "backends_spec.json"
    spec_file.write_text(json.dumps({"servers": servers, "stats": str(stats_file)}))
    backends = Process("backends", [sys.executable, __file__, "--backends-child", str(spec_file)],
                       folder / "backends.log")
    proxies: list[Proxy] = []
    running: list[Process] = [backends]
    result: dict[str, Any] = {"load_average_at_start": [round(v, 2) for v in os.getloadavg()]}
    try:
        for name in (roles.failing, roles.healthy):
            backends.wait_ready(f"{urls[name]}/models", 30)
        token = secrets.token_hex(24)
        backends_file = folder / "backends.toml"
        backends_file.write_text(routereval_backends(urls, roles, policy))
        port = free_port()
        ours = start_routereval(artifact, backends_file, port, token, folder / "routereval.log")
        running.append(ours)
        proxies.append(Proxy("routereval", ours, f"http://127.0.0.1:{port}", token,
                             ours.wait_ready(f"http://127.0.0.1:{port}/health/readiness")))
        if litellm_python:
            config_file = folder / "litellm_config.yaml"
            config_file.write_text(json.dumps(litellm_config(urls, roles, policy), indent=2) + "\n")
            port = free_port()
            lite_token = f"sk-{secrets.token_hex(24)}"
            lite = start_litellm(litellm_python, config_file, port, lite_token, folder / "litellm.log")
            running.append(lite)
            proxies.append(Proxy("litellm", lite, f"http://127.0.0.1:{port}", lite_token,
                                 lite.wait_ready(f"http://127.0.0.1:{port}/health/readiness")))
        result["startup_s"] = {p.name: round(p.startup_s, 3) for p in proxies}
        print(f"  run {index + 1}: started " + ", ".join(f"{p.name} in {p.startup_s:.1f} s" for p in proxies),
              flush=True)

        forwarding = {"direct": measure_forwarding("direct", f"{urls[roles.healthy]}/chat/completions", None,
                                                   roles.healthy, texts, settings, None)}
        for p in proxies:
            forwarding[p.name] = measure_forwarding(p.name, f"{p.base}/v1/chat/completions", p.token,
                                                    roles.healthy, texts, settings, p.process.pid)
        result["forwarding"] = forwarding
        print("  forwarding at concurrency 50: " + ", ".join(
            f"{k} {v['concurrency_50']['requests_per_s']:g} requests/s" for k, v in forwarding.items()), flush=True)

        failing, failing_prompts = {}, {}
        for p in proxies:
            failing[p.name], failing_prompts[p.name] = measure_failing(p, roles, texts, settings)
        print("  failing backend at concurrency 200: " + ", ".join(
            f"{k} {v['answered_200']}/{v['requests']} answered" for k, v in failing.items()), flush=True)

        result["hanging_backend"] = measure_hanging(proxies, roles, settings["hang_requests"])
        print("  hanging backend, seconds per request: " + "; ".join(
            f"{k} {v['seconds_per_request']}" for k, v in result["hanging_backend"].items()), flush=True)
    finally:
        for process in reversed(running):
            process.stop()
    if not stats_file.exists():
        raise RuntimeError(f"the backends process wrote no statistics:\n{backends.tail()}")
    stats = json.loads(stats_file.read_text())
    for name, prompts in failing_prompts.items():
        failing[name]["backend_side"] = exactly_once(stats, prompts)
        failing[name]["answered_exactly_once"] = (
            failing[name]["answered_with_own_prompt"] == len(prompts)
            and failing[name]["backend_side"]["answered_once"] == len(prompts))
    result["failing_backend"] = failing
    result["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    return result


# -- medians, versions, the command line ------------------------------------------------------------------------------


def median_of(runs: list[Any]) -> Any:
    """Median over runs, field by field: numbers by median, lists of numbers element by element, the rest as in
    the first run (booleans: true only if true in every run)."""
    first = runs[0]
    if isinstance(first, bool):
        return all(runs)
    if isinstance(first, (int, float)):
        return round(statistics.median(runs), 3)
    if isinstance(first, dict):
        return {k: median_of([r[k] for r in runs if k in r]) for k in first}
    if isinstance(first, list) and first and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                 for v in first):
        return [round(statistics.median(r[i] for r in runs), 3) for i in range(len(first))]
    return first


def litellm_version(python: str) -> str:
    """The litellm version installed for ``python``; one clear error if it cannot be run or has no litellm."""
    try:
        proc = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
                              capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SystemExit(f"error: --litellm-python {python} cannot be run ({exc})") from None
    if proc.returncode != 0:
        raise SystemExit(f"error: --litellm-python {python} has no litellm; install it there with "
                         "pip install 'litellm[proxy]'")
    return proc.stdout.strip()


def train_artifact(folder: Path) -> tuple[Path, list[str]]:
    """The router both proxies' routed requests use, and its ranking (the same for every prompt)."""
    from routereval.deploy.model import RoutingModel
    from routereval.deploy.train import train_model
    from routereval.sources.catalog import load_dataset

    model = train_model(load_dataset("llmrouter"), "best-single", {}, "tfidf", models=CANDIDATES, progress=False)
    path = model.save(folder, overwrite=True)
    ranked = RoutingModel.load(path).route(["any prompt"])[0].ranked
    return path, ranked


def prompts(n: int) -> list[str]:
    from routereval.sources.catalog import load_dataset

    texts = load_dataset("llmrouter").prompts["text"].astype(str).tolist()
    # Short enough that the echo answers stay small; what is measured is the proxies, not the payload.
    return [" ".join(texts[i % len(texts)][:500].split()) for i in range(n)]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--litellm-python", default=os.environ.get("LITELLM_PYTHON"),
                        help="python of a virtual environment with litellm[proxy] (default: $LITELLM_PYTHON; "
                        "none: LiteLLM's side is skipped)")
    parser.add_argument("--quick", action="store_true", help="a smoke run of about a minute or two: "
                        + ", ".join(f"{k}={v}" for k, v in QUICK.items()))
    parser.add_argument("--runs", type=int, help=f"runs to take medians of (default {FULL['runs']})")
    parser.add_argument("--requests", type=int, help=f"forwarding requests at concurrency {FORWARD_CONCURRENCY} "
                        f"(default {FULL['requests']})")
    parser.add_argument("--latency-requests", type=int, help=f"forwarding requests at concurrency 1 "
                        f"(default {FULL['latency_requests']})")
    parser.add_argument("--failing-requests", type=int, help=f"requests at concurrency {FAILING_CONCURRENCY} with "
                        f"the failing backend (default {FULL['failing_requests']})")
    parser.add_argument("--hang-requests", type=int, help=f"requests one after another with the hanging backend "
                        f"(default {FULL['hang_requests']})")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--backends-child", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> dict[str, int]:
    """The sizes of this run: --quick or the defaults, overridden by each option given."""
    base = QUICK if args.quick else FULL
    chosen = {k: getattr(args, k) if getattr(args, k) is not None else v for k, v in base.items()}
    limits = {"runs": 20, "requests": 100_000, "latency_requests": 10_000, "failing_requests": 100_000,
              "hang_requests": 100}
    for key, value in chosen.items():
        if not 1 <= value <= limits[key]:
            raise SystemExit(f"error: --{key.replace('_', '-')} must lie in 1..{limits[key]:,}, got {value}")
    return chosen


def command_line(args: argparse.Namespace, settings: dict) -> str:
    parts = ["python benchmarks/serve_vs_litellm.py"]
    if args.quick:
        parts.append("--quick")
    defaults = QUICK if args.quick else FULL
    parts += [f"--{k.replace('_', '-')} {v}" for k, v in settings.items() if v != defaults[k]]
    if args.litellm_python:
        parts.append("--litellm-python <venv>/bin/python")
    return " ".join(parts)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.backends_child:
        serve_backends(args.backends_child)
        return
    settings = settings_from(args)
    python = args.litellm_python
    skipped = None
    if python:
        lite_version = litellm_version(python)
    else:
        lite_version = None
        skipped = "neither --litellm-python nor LITELLM_PYTHON was given"
        print(f"note: {skipped}: LiteLLM's side is skipped (install it in a virtual environment of its own with "
              "pip install 'litellm[proxy]' and pass that environment's python)", flush=True)
    from importlib.metadata import version

    load_start = os.getloadavg()
    started = time.perf_counter()
    policy = Policy()
    with tempfile.TemporaryDirectory(prefix="serve-vs-litellm-") as tmp:
        work = Path(tmp)
        artifact, ranked = train_artifact(work / "router")
        roles = Roles.from_ranking(ranked)
        texts = prompts(max(settings["requests"], settings["latency_requests"], settings["failing_requests"]))
        runs = []
        for i in range(settings["runs"]):
            print(f"run {i + 1} of {settings['runs']}", flush=True)
            try:
                runs.append(one_run(artifact, roles, policy, texts, settings, python, work, i))
            except RuntimeError as exc:
                raise SystemExit(f"error: {exc}") from None
    report = {
        "command": command_line(args, settings),
        "settings": settings,
        "versions": {"routereval": version("routereval"), "litellm": lite_version,
                     "python": platform.python_version()},
        "litellm_skipped": skipped,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "load_average_at_start": [round(v, 2) for v in load_start],
                    "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
                    "note": "the machine may be shared with other work while measured: see the load averages"},
        "setup": {
            "router": "best-single (the same ranking for every prompt)", "encoder": "tfidf",
            "candidates": CANDIDATES, "ranking": ranked, "roles": asdict(roles), "policy": asdict(policy),
            "failing_backend": f"{roles.failing} answers 500 to every second request",
            "hanging_backend": f"{roles.hanging} accepts connections and never answers",
            "forwarding_concurrency": FORWARD_CONCURRENCY, "failing_concurrency": FAILING_CONCURRENCY,
            "litellm_config": {"num_retries": policy.retries, "allowed_fails": policy.cooldown_failures - 1,
                               "cooldown_time": policy.cooldown_seconds,
                               "timeout": {"hanging": policy.hang_timeout, "others": policy.healthy_timeout},
                               "num_workers": 1},
            "differences": differences(policy),
        },
        "results": median_of(runs),
        "runs": runs,
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, report)
    print_summary(report)
    print(f"wrote {args.out}")


def print_summary(report: dict) -> None:
    """A few lines of the medians on stdout; the JSON has everything."""
    res = report["results"]
    if report["litellm_skipped"]:
        print(f"note: LiteLLM's side was skipped: {report['litellm_skipped']}")
    for name, seconds in res["startup_s"].items():
        fwd, fail = res["forwarding"][name]["concurrency_50"], res["failing_backend"][name]
        print(f"{name}: started in {seconds:g} s; forwarding {fwd['requests_per_s']:g} requests/s, "
              f"{fwd['proxy_cpu_ms_per_request']:g} ms CPU per request, p50 {fwd['p50_ms']:g} ms; failing backend "
              f"{fail['answered_200']:g}/{fail['requests']:g} answered, exactly once: {fail['answered_exactly_once']}; "
              f"hanging backend {res['hanging_backend'][name]['seconds_per_request']} s")
    print(f"direct to the backend: {res['forwarding']['direct']['concurrency_50']['requests_per_s']:g} requests/s, "
          f"p50 {res['forwarding']['direct']['concurrency_1']['p50_ms']:g} ms at concurrency 1")


if __name__ == "__main__":
    main()
