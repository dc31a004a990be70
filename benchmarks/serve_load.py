"""The proxy under load: CPU per routed request, routed against forwarded throughput, hanging backends, memory.

Processes on 127.0.0.1: echo backends (``routereval.serving.echo``, one
asyncio process: they cost next to nothing), the proxy started with the real
``routereval serve`` command, and this script as the client (one kept-alive
HTTP/1.1 connection per concurrent worker, ``_http_client.py``: httpx would take
several ms of CPU per request from the proxy being measured on 2 CPUs). Prompts are chat-length: MMLU-Pro questions with their lettered
options, as a user would send them, read from the pinned upstream files (the
mirror or the download cache). A fixed seed shuffles them, and every routed
request carries a prompt not routed before in the run (past the pool, a
prompt comes back with a variant line added; the script counts repeats), so
the proxy's memo of the last 10,000 prompts' vectors never turns the test
into cache hits. Forwarded requests reuse the routed ones' texts, so both
sides carry the same bytes; a forwarded prompt never reaches the memo.

The router is trained with ``routereval train`` on MMLU-Pro for three of its
models (``--router``, default ``knn``; ``--encoder``, default ``minilm``, or
any encoder the command accepts). Targets (2 CPUs), each in the JSON with
its figure and whether it was met:

1. proxy CPU per routed request <= 5 ms, and routed throughput >= 0.6 x
   forwarding throughput at 50 clients: the same number of requests at
   concurrency 50, once routed (``model="router"``) and once forwarded
   (``model=<backend>``), in the same proxy, order alternating by run; CPU is
   the proxy's process tree (user + system, /proc) divided by requests;
2. with every candidate but one hanging and ``timeout = 3``, each routed
   request answered by the healthy backend within 5 s: the healthy backend is
   the one the router most often ranks last, and only prompts that rank it
   last are sent; one by one, then at concurrency 10, each on a fresh proxy
   (so no cool-down is left over from before);
3. proxy RSS after sustained routed load within 15% of RSS after a warm-up
   (``--warmup`` requests, then ``--sustain-requests`` more or
   ``--sustain-seconds``, whichever ends first; /proc VmRSS of the tree);
4. no request lost with a backend failing every second request (the router's
   most frequent first choice; each request answered 200, with its own prompt).

CPU and RSS add up the proxy's whole process tree, so ``--workers N`` is
measured as a whole.

Also recorded: latency at concurrency 1 straight to a backend, forwarded and
routed (the forwarding overhead is the difference, measured here), the
``routing.decision_ms`` the proxy reports, the client's own CPU per request
(so a client-bound figure shows as one), decisions/s on prompts already
embedded (what ``route --file`` does after embedding: measured nowhere else),
the machine's CPU count and load average at the start and end. Medians of
``--runs`` runs for the cheap figures (concurrency 1 and 50).

    python benchmarks/serve_load.py                      # the full run (about 15 minutes with minilm)
    python benchmarks/serve_load.py --quick              # a smoke run of about two minutes
    python benchmarks/serve_load.py --encoder minilm-static --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import hashlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from _http_client import Connection
from _runs import write_json

from routereval.serving.echo import hold

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "serve_load.json"
DATASET = "mmlu-pro"
#: Three MMLU-Pro models of close overall accuracy (0.63-0.64), so the router's choice varies by prompt.
CANDIDATES = ["DeepSeek-Coder-V2", "Meta-Llama-3_1-70B-Instruct", "gemini-1.5-flash-002"]
#: The upstream file the options are read from (every file holds the questions with their options).
OPTIONS_FILE_MODEL = "gemini-1.5-pro-002"
HANG_TIMEOUT_S = 3.0
HEALTHY_TIMEOUT_S = 10.0
PROXY_START_S = 300.0
CLIENT_TIMEOUT_S = 120.0
LETTERS = "ABCDEFGHIJKLMNOP"

TARGET_CPU_MS = 5.0
TARGET_RATIO = 0.6
TARGET_HANG_S = 5.0
TARGET_RSS_GROWTH = 0.15

FULL = {"runs": 3, "requests": 2000, "concurrency": 50, "latency_requests": 200, "hang_requests": 20,
        "hang_concurrency": 10, "failing_requests": 1000, "warmup": 500, "sustain_requests": 20_000,
        "sustain_seconds": 180.0}
QUICK = {"runs": 1, "requests": 150, "concurrency": 50, "latency_requests": 20, "hang_requests": 6,
         "hang_concurrency": 6, "failing_requests": 150, "warmup": 100, "sustain_requests": 1000,
         "sustain_seconds": 15.0}


def log(message: str) -> None:
    print(f"[serve_load {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- prompts ------------------------------------------------------------------------------------------------


def chat_prompts(seed: int) -> tuple[list[str], dict[str, Any]]:
    """Distinct MMLU-Pro questions with lettered options, shuffled by ``seed``; and how they were made.

    The records keep only the question text; the options are in the upstream
    files (pinned by sha256, read from the mirror or the download cache). If
    those cannot be had, the longest questions alone stand in, and the note says so.
    """
    from routereval.errors import DownloadError
    from routereval.sources.download import fetch
    from routereval.sources.mmlu_pro import SPEC, zip_path

    rng = np.random.default_rng(seed)
    wanted = zip_path(OPTIONS_FILE_MODEL)
    try:
        path = fetch(next(f for f in SPEC.files if f.path == wanted), progress=False)
        with zipfile.ZipFile(path) as archive:
            items = json.loads(archive.read(archive.namelist()[0]))
    except (DownloadError, OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        from routereval.sources.catalog import load_dataset

        texts = sorted(set(load_dataset(DATASET).prompts["text"].astype(str)), key=len, reverse=True)[:4000]
        rng.shuffle(texts)
        return texts, {"source": f"{DATASET} records: the longest questions, without options",
                       "options": False, "why_no_options": f"{type(exc).__name__}: {exc}"[:300]}
    texts = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("question"), str) and isinstance(item.get("options"), list):
            options = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(item["options"][:len(LETTERS)]))
            texts.append(f"{item['question'].strip()}\n\nOptions:\n{options}\n\nAnswer with the letter of the "
                         "correct option.")
    texts = sorted(set(texts))
    rng.shuffle(texts)
    return texts, {"source": f"TIGER-AI-Lab/MMLU-Pro {wanted} (question + lettered options)", "options": True}


class PromptStream:
    """Hands out prompts never handed out before: the pool in order, then again with a variant line added."""

    def __init__(self, pool: list[str]) -> None:
        self.pool = pool
        self.handed = 0

    def take(self, n: int) -> list[str]:
        out = []
        for i in range(self.handed, self.handed + n):
            text, round_ = self.pool[i % len(self.pool)], i // len(self.pool)
            out.append(text if round_ == 0 else f"{text}\n\n(Variant {round_}.)")
        self.handed += n
        return out


def prompt_lengths(texts: list[str]) -> dict[str, float]:
    lengths = np.array([len(t) for t in texts])
    return {"chars_p50": float(np.median(lengths)), "chars_p90": float(np.percentile(lengths, 90)),
            "chars_max": int(lengths.max())}


# -- processes ----------------------------------------------------------------------------------------------


def free_ports(n: int) -> int:
    """The first of ``n`` consecutive free ports on 127.0.0.1."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            first = s.getsockname()[1]
        if first + n < 65536 and not any(_in_use(first + i) for i in range(n)):
            return first
    raise RuntimeError(f"found no {n} consecutive free ports")


def _in_use(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def tree_pids(root: int) -> list[int]:
    """``root`` and every process below it (Linux /proc): a proxy with --workers N is a supervisor and N workers."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds used so far by ``root``'s process tree."""
    ticks = 0
    for pid in tree_pids(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_rss_mb(root: int) -> float:
    """Resident memory of ``root``'s process tree (sum of VmRSS), in MB."""
    kb = 0
    for pid in tree_pids(root):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    kb += int(line.split()[1])
        except OSError:
            continue
    return kb / 1024


def wait_ready(url: str, proc: subprocess.Popen, log_file: Path, seconds: float = PROXY_START_S) -> float:
    """Seconds until ``url`` answers 200; raises with the log's tail if the process exits first."""
    import httpx

    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if proc.poll() is not None:
            tail = log_file.read_text(errors="replace").strip().splitlines()[-5:] if log_file.exists() else []
            raise RuntimeError(f"{proc.args[2:4]} exited with {proc.returncode}: " + " | ".join(tail))
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds:g} s")


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM (the proxy drains and exits), then SIGKILL if it is still there after 15 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class HangingServers:
    """Servers that accept a connection, read what it sends, and never answer: backends that hang."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.ports: list[int] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hanging-backends", daemon=True)

    def __enter__(self) -> HangingServers:
        self._thread.start()
        for _ in range(self.count):
            server = asyncio.run_coroutine_threadsafe(
                asyncio.start_server(hold, "127.0.0.1", 0, backlog=1024), self._loop).result(10)
            self.ports.append(server.sockets[0].getsockname()[1])
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


@dataclass
class Session:
    """Echo backends and one proxy in front of them, with the chat endpoints of each."""

    proxy: subprocess.Popen
    echo: subprocess.Popen
    proxy_url: str
    backend_urls: dict[str, str]
    startup_s: float

    @property
    def pid(self) -> int:
        return self.proxy.pid


def backends_toml(urls: dict[str, str], timeouts: dict[str, float]) -> str:
    """A backends file: one backend per candidate, default failure policy, the given first-byte timeouts."""
    lines = []
    for name, url in urls.items():
        lines += ["[[backends]]", f'name = "{name}"', f'base_url = "{url}"', f"timeout = {timeouts[name]:g}", ""]
    return "\n".join(lines)


@contextlib.contextmanager
def session(artifact: Path, work: Path, label: str, workers: int, *, fail_every: dict[str, int] | None = None,
            hanging: Sequence[str] = ()) -> Iterator[Session]:
    """Start echo backends for every candidate not ``hanging``, hanging servers for those, then the proxy."""
    fail_every = fail_every or {}
    echo_names = [c for c in CANDIDATES if c not in hanging]
    first = free_ports(len(echo_names))
    echo = subprocess.Popen(
        [sys.executable, "-m", "routereval.serving.echo", "--name", ",".join(echo_names), "--port", str(first),
         "--fail-every", ",".join(str(fail_every.get(n, 0)) for n in echo_names)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with contextlib.ExitStack() as stack:
        stack.callback(stop, echo)
        hang = stack.enter_context(HangingServers(len(hanging)))
        urls = {n: f"http://127.0.0.1:{first + i}/v1" for i, n in enumerate(echo_names)}
        urls.update({n: f"http://127.0.0.1:{p}/v1" for n, p in zip(hanging, hang.ports)})
        urls = {n: urls[n] for n in CANDIDATES}
        timeouts = {n: HANG_TIMEOUT_S if hanging else HEALTHY_TIMEOUT_S for n in CANDIDATES}
        backends_file = work / f"backends-{label}.toml"
        backends_file.write_text(backends_toml(urls, timeouts))
        port = free_ports(1)
        log_file = work / f"proxy-{label}.log"
        proxy = subprocess.Popen(
            [sys.executable, "-m", "routereval", "serve", str(artifact), "--backends", str(backends_file),
             "--port", str(port), "--log-level", "warning", "--workers", str(workers)],
            stdout=subprocess.DEVNULL, stderr=stack.enter_context(log_file.open("w")))
        stack.callback(stop, proxy)
        for name in echo_names:
            wait_ready(f"{urls[name]}/models", echo, work / "none")
        startup = wait_ready(f"http://127.0.0.1:{port}/health/readiness", proxy, log_file)
        yield Session(proxy, echo, f"http://127.0.0.1:{port}/v1/chat/completions",
                      {n: f"{u}/chat/completions" for n, u in urls.items()}, startup)


# -- the client ---------------------------------------------------------------------------------------------


def chat(model: str, text: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 16}


class RoutedLedger:
    """Counts the routed requests and how many carried a prompt routed before (the check behind the claim)."""

    def __init__(self) -> None:
        self.seen: set[bytes] = set()
        self.sent = 0
        self.repeats = 0

    def payloads(self, texts: list[str]) -> list[dict[str, Any]]:
        for text in texts:
            key = hashlib.blake2b(text.encode(), digest_size=16).digest()
            self.repeats += key in self.seen
            self.seen.add(key)
        self.sent += len(texts)
        return [chat("router", t) for t in texts]


LEDGER = RoutedLedger()


def routed(texts: list[str]) -> list[dict[str, Any]]:
    """Routed requests (``model="router"``) for ``texts``, counted in :data:`LEDGER`."""
    return LEDGER.payloads(texts)


@dataclass
class Batch:
    """What came back for one batch of requests, in the order they were given."""

    results: list[dict[str, Any]]
    latencies_ms: list[float]
    wall_s: float
    client_cpu_s: float
    proxy_cpu_s: float = float("nan")

    @property
    def n(self) -> int:
        return len(self.results)

    def ok(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r["status"] == 200]

    def decision_ms(self) -> list[float]:
        return [r["decision_ms"] for r in self.results if r.get("decision_ms") is not None]


def _digest(status: int, body: bytes, text: str) -> dict[str, Any]:
    """What is kept of one answer: status, who answered, whether it echoed the prompt sent, the routing fields."""
    if status != 200:
        return {"status": status, "error": body[:300].decode("utf-8", "replace")}
    doc = json.loads(body)
    routing = doc.get("routing") or {}
    model = doc.get("model")
    content = doc["choices"][0]["message"]["content"]
    return {"status": 200, "model": model, "own_prompt": content == f"{model} answered: {text}",
            "decision_ms": routing.get("decision_ms"), "attempts": len(routing.get("attempts") or []),
            "timed_out_attempts": sum("timeout" in (a.get("reason") or "") for a in routing.get("attempts") or []),
            "ranked": [r["model"] for r in routing.get("ranked") or []]}


async def _send_all(url: str, payloads: list[dict], concurrency: int) -> tuple[list[dict], list[float], float]:
    address = urlsplit(url)
    results: list[dict] = [{}] * len(payloads)
    latencies = [0.0] * len(payloads)
    bodies = [json.dumps(p).encode() for p in payloads]
    next_index = iter(range(len(payloads)))

    async def worker() -> None:
        connection = Connection(address.hostname, address.port)
        try:
            for i in next_index:
                text = payloads[i]["messages"][0]["content"]
                started = time.perf_counter()
                try:
                    status, body = await asyncio.wait_for(connection.post(address.path, bodies[i], {}),
                                                          CLIENT_TIMEOUT_S)
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError,
                        ValueError) as exc:
                    # The connection's state is unknown after a failure: the next request gets a new one.
                    status, body = 0, f"{type(exc).__name__}: {exc}".encode()
                    connection.close()
                latencies[i] = (time.perf_counter() - started) * 1000
                results[i] = _digest(status, body, text)
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(payloads)))))
    return results, latencies, time.perf_counter() - started


def send(url: str, payloads: list[dict], concurrency: int, proxy_pid: int | None = None) -> Batch:
    """Send every payload with at most ``concurrency`` in flight; the proxy's CPU over the batch if its pid is given."""
    cpu_before = tree_cpu_seconds(proxy_pid) if proxy_pid else float("nan")
    client_before = time.process_time()
    results, latencies, wall = asyncio.run(_send_all(url, payloads, concurrency))
    client_cpu = time.process_time() - client_before
    proxy_cpu = tree_cpu_seconds(proxy_pid) - cpu_before if proxy_pid else float("nan")
    return Batch(results, latencies, wall, client_cpu, proxy_cpu)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else float("nan")


def summary(values: list[float], digits: int = 3) -> dict[str, Any]:
    """p50, p99 and max of ``values`` (None for no values: JSON has no NaN)."""
    if not values:
        return {"p50": None, "p99": None, "max": None, "n": 0}
    return {"p50": round(pct(values, 50), digits), "p99": round(pct(values, 99), digits),
            "max": round(max(values), digits), "n": len(values)}


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


# -- the measurements -----------------------------------------------------------------------------------------


def load_figures(batch: Batch) -> dict[str, Any]:
    """Throughput, latency, CPU per request (proxy and client) and losses of one batch at concurrency c."""
    ok = batch.ok()
    decisions = {"decision_ms": summary(batch.decision_ms())} if batch.decision_ms() else {}
    return {"requests": batch.n, "requests_per_s": round(batch.n / batch.wall_s, 2), "wall_s": round(batch.wall_s, 3),
            "latency_ms": summary(batch.latencies_ms), **decisions,
            "proxy_cpu_ms_per_request": round(batch.proxy_cpu_s * 1000 / batch.n, 3),
            "client_cpu_ms_per_request": round(batch.client_cpu_s * 1000 / batch.n, 3),
            "answered_200": len(ok), "with_own_prompt": sum(r["own_prompt"] for r in ok),
            "answered_by": dict(Counter(r["model"] for r in ok))}


def measure_runs(artifact: Path, work: Path, stream: PromptStream, settings: dict, workers: int) -> dict[str, Any]:
    """Concurrency 1 (direct, forwarded, routed) and concurrency c (forwarded and routed), ``runs`` times, one proxy."""
    c, n, n1 = settings["concurrency"], settings["requests"], settings["latency_requests"]
    forward_to = CANDIDATES[0]
    runs = []
    with session(artifact, work, "main", workers) as s:
        log(f"proxy up in {s.startup_s:.1f} s; warming up")
        warm = stream.take(c)
        send(s.proxy_url, [chat(forward_to, t) for t in warm], c)
        send(s.proxy_url, routed(warm), c)
        for run in range(settings["runs"]):
            log(f"run {run + 1}/{settings['runs']}: concurrency 1, {n1} requests each way")
            texts = stream.take(n1)
            direct = send(s.backend_urls[forward_to], [chat(forward_to, t) for t in texts], 1)
            forwarded1 = send(s.proxy_url, [chat(forward_to, t) for t in texts], 1)
            routed1 = send(s.proxy_url, routed(texts), 1, s.pid)
            # The same texts both ways (the forwarded ones never reach the memo); the order alternates by run so
            # a drift in the machine's load does not always favour one side.
            texts = stream.take(n)
            order = ["forwarded", "routed"] if run % 2 == 0 else ["routed", "forwarded"]
            loads = {}
            for kind in order:
                log(f"run {run + 1}/{settings['runs']}: {n} {kind} requests at concurrency {c}")
                payloads = [chat(forward_to, t) for t in texts] if kind == "forwarded" else routed(texts)
                loads[kind] = send(s.proxy_url, payloads, c, s.pid)
            runs.append({
                "order_at_concurrency": order,
                "concurrency_1": {
                    "direct_ms": summary(direct.latencies_ms), "forwarded_ms": summary(forwarded1.latencies_ms),
                    "routed_ms": summary(routed1.latencies_ms), "decision_ms": summary(routed1.decision_ms()),
                    "forwarding_overhead_ms": {
                        q: round(pct(forwarded1.latencies_ms, v) - pct(direct.latencies_ms, v), 3)
                        for q, v in (("p50", 50), ("p99", 99))},
                    "routed_proxy_cpu_ms_per_request": round(routed1.proxy_cpu_s * 1000 / routed1.n, 3),
                    "lost": sum(b.n - len(b.ok()) for b in (direct, forwarded1, routed1))},
                "at_concurrency": {k: load_figures(v) for k, v in loads.items()},
                "routed_to_forwarded_throughput": round(loads["routed"].n / loads["routed"].wall_s
                                                        / (loads["forwarded"].n / loads["forwarded"].wall_s), 3),
            })
        startup = s.startup_s
    at = [r["at_concurrency"] for r in runs]
    one = [r["concurrency_1"] for r in runs]
    return {
        "proxy_startup_s": round(startup, 2), "forwarded_to": forward_to, "concurrency": c, "requests": n,
        "latency_requests": n1,
        "medians": {
            "routed_proxy_cpu_ms_per_request": median([a["routed"]["proxy_cpu_ms_per_request"] for a in at]),
            "forwarded_proxy_cpu_ms_per_request": median([a["forwarded"]["proxy_cpu_ms_per_request"] for a in at]),
            "routed_requests_per_s": median([a["routed"]["requests_per_s"] for a in at]),
            "forwarded_requests_per_s": median([a["forwarded"]["requests_per_s"] for a in at]),
            "routed_to_forwarded_throughput": median([r["routed_to_forwarded_throughput"] for r in runs]),
            "routed_latency_p50_ms": median([a["routed"]["latency_ms"]["p50"] for a in at]),
            "routed_latency_p99_ms": median([a["routed"]["latency_ms"]["p99"] for a in at]),
            "forwarded_latency_p50_ms": median([a["forwarded"]["latency_ms"]["p50"] for a in at]),
            "decision_ms_p50_at_concurrency": median([a["routed"]["decision_ms"]["p50"] for a in at]),
            "client_cpu_ms_per_request": median([a[k]["client_cpu_ms_per_request"] for a in at for k in a]),
            "direct_p50_ms": median([o["direct_ms"]["p50"] for o in one]),
            "forwarded_p50_ms": median([o["forwarded_ms"]["p50"] for o in one]),
            "routed_p50_ms": median([o["routed_ms"]["p50"] for o in one]),
            "forwarding_overhead_p50_ms": median([o["forwarding_overhead_ms"]["p50"] for o in one]),
            "forwarding_overhead_p99_ms": median([o["forwarding_overhead_ms"]["p99"] for o in one]),
            "decision_ms_p50_concurrency_1": median([o["decision_ms"]["p50"] for o in one]),
            "routed_proxy_cpu_ms_per_request_concurrency_1": median(
                [o["routed_proxy_cpu_ms_per_request"] for o in one]),
        },
        "lost": sum(o["lost"] for o in one) + sum(a[k]["requests"] - a[k]["answered_200"] for a in at for k in a),
        "runs": runs,
    }


@functools.lru_cache(maxsize=1)
def _loaded(artifact: Path) -> Any:
    from routereval.deploy.model import RoutingModel

    return RoutingModel.load(artifact)


def rankings(artifact: Path, texts: list[str]) -> list[list[str]]:
    """The router's ranking of each text, decided in this process (the proxy never sees these prompts)."""
    return [d.ranked for d in _loaded(artifact).route(texts)]


def measure_hanging(artifact: Path, work: Path, sample: list[str], ranked: list[list[str]], settings: dict,
                    workers: int) -> dict[str, Any]:
    """Every candidate but one hangs (3 s timeout): seconds per routed request, one by one and at concurrency k.

    The healthy backend is the one the router ranks last most often in ``ranked`` (the router's rankings of
    ``sample``, prompts never sent), and only prompts that rank it last are sent, so each request meets both
    hanging backends before it.
    """
    n, c = settings["hang_requests"], settings["hang_concurrency"]
    healthy = Counter(r[-1] for r in ranked).most_common(1)[0][0]
    chosen = [t for t, r in zip(sample, ranked) if r[-1] == healthy]
    ranked_last = len(chosen) >= 2 * n
    if not ranked_last:  # too few prompts rank it last: fill up with others, and say so
        chosen += [t for t, r in zip(sample, ranked) if r[-1] != healthy]
    hanging = [name for name in CANDIDATES if name != healthy]
    out: dict[str, Any] = {"timeout_s": HANG_TIMEOUT_S, "healthy": healthy, "hanging": hanging,
                           "sampled_prompts": len(sample), "prompts_ranking_healthy_last": sum(r[-1] == healthy
                                                                                               for r in ranked)}
    for label, concurrency, texts in (("one_by_one", 1, chosen[:n]), (f"concurrency_{c}", c, chosen[n:2 * n])):
        log(f"hanging backends: {len(texts)} routed requests at concurrency {concurrency}")
        with session(artifact, work, f"hang-{label}", workers, hanging=hanging) as s:
            batch = send(s.proxy_url, routed(texts), concurrency)
        ok = batch.ok()
        seconds = [ms / 1000 for ms in batch.latencies_ms]
        out[label] = {
            "requests": batch.n, "concurrency": concurrency, "seconds": summary(seconds),
            "wall_s": round(batch.wall_s, 2), "healthy_ranked_last_in_every_prompt": ranked_last,
            "seconds_in_order": [round(x, 3) for x in seconds],
            "answered_by": dict(Counter(r.get("model", f"status {r['status']}") for r in batch.results)),
            "answered_by_healthy": sum(r.get("model") == healthy for r in ok),
            "with_own_prompt": sum(r["own_prompt"] for r in ok),
            "within_target": sum(r.get("model") == healthy and x <= TARGET_HANG_S
                                 for r, x in zip(batch.results, seconds)),
            "healthy_ranked_last": sum(bool(r["ranked"]) and r["ranked"][-1] == healthy for r in ok),
            "requests_that_met_a_timeout": sum(r["timed_out_attempts"] > 0 for r in ok),
        }
    return out


def measure_failing(artifact: Path, work: Path, stream: PromptStream, settings: dict, workers: int,
                    failing: str) -> dict[str, Any]:
    """The router's usual first choice answers 500 to every second request: no request may be lost."""
    n, c = settings["failing_requests"], settings["concurrency"]
    log(f"failing backend ({failing}, 500 on every second request): {n} routed requests at concurrency {c}")
    with session(artifact, work, "failing", workers, fail_every={failing: 2}) as s:
        batch = send(s.proxy_url, routed(stream.take(n)), c, s.pid)
    figures = load_figures(batch)
    return {"failing": failing, "fail_every": 2, "concurrency": c, **figures, "lost": batch.n - len(batch.ok()),
            "with_a_retry_or_fallback": sum(r["attempts"] > 1 for r in batch.ok())}


def measure_memory(artifact: Path, work: Path, stream: PromptStream, settings: dict, workers: int) -> dict[str, Any]:
    """Proxy RSS after a warm-up, then along a sustained routed load (new prompts throughout)."""
    c = settings["concurrency"]
    with session(artifact, work, "memory", workers) as s:
        log(f"memory: warm-up of {settings['warmup']} routed requests")
        warm = send(s.proxy_url, routed(stream.take(settings["warmup"])), c)
        # About ten RSS samples over the sustained load, at the warm-up's pace.
        chunk = int(min(500, max(c, warm.n / warm.wall_s * settings["sustain_seconds"] / 10)))
        time.sleep(1)
        rss_warm = tree_rss_mb(s.pid)
        samples, sent, lost = [[0, round(rss_warm, 1)]], 0, warm.n - len(warm.ok())
        started = time.monotonic()
        log(f"memory: RSS {rss_warm:.0f} MB; sustained load up to {settings['sustain_requests']} requests or "
            f"{settings['sustain_seconds']:g} s")
        while sent < settings["sustain_requests"] and time.monotonic() - started < settings["sustain_seconds"]:
            size = min(chunk, settings["sustain_requests"] - sent)
            batch = send(s.proxy_url, routed(stream.take(size)), c)
            sent += size
            lost += batch.n - len(batch.ok())
            samples.append([sent, round(tree_rss_mb(s.pid), 1)])
        seconds = time.monotonic() - started
        time.sleep(1)
        rss_end = tree_rss_mb(s.pid)
    return {"warmup_requests": settings["warmup"], "rss_after_warmup_mb": round(rss_warm, 1),
            "sustained_requests": sent, "sustained_s": round(seconds, 1),
            "sustained_requests_per_s": round(sent / seconds, 2) if seconds else None,
            "rss_after_sustained_mb": round(rss_end, 1),
            "rss_peak_mb": round(max([x[1] for x in samples] + [rss_end]), 1),
            "growth": round(rss_end / rss_warm - 1, 4), "lost": lost, "samples_requests_rss_mb": samples,
            "request_cap": settings["sustain_requests"], "seconds_cap": settings["sustain_seconds"],
            "requests_per_sample": chunk}


def route_file_rate(artifact: Path, runs: int, n: int = 10_000) -> dict[str, Any]:
    """Decisions/s of ``RoutingModel.route_embeddings`` on ``n`` prompts already embedded, one BLAS thread."""
    from routereval.deploy.model import RoutingOptions
    from routereval.serving.app import serving_threads

    serving_threads()
    model = _loaded(artifact)
    x = np.random.default_rng(0).standard_normal((n, model.encoder.dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        batch = model.route_embeddings(x, options=RoutingOptions())
        rates.append(n / (time.perf_counter() - started))
    if batch.order.shape != (n, len(model.candidates)):
        raise RuntimeError(f"route_embeddings gave {batch.order.shape}, expected {(n, len(model.candidates))}")
    return {"prompts": n, "decisions_per_s": round(statistics.median(rates)), "runs": runs}


# -- setup and targets ------------------------------------------------------------------------------------------


def train_artifact(folder: Path, encoder: str, router: str) -> dict[str, Any]:
    """``routereval train`` on MMLU-Pro for the three candidates; the manifest's router and encoder."""
    command = [sys.executable, "-m", "routereval", "train", "--dataset", DATASET, "--router", router, "--encoder",
               encoder, "--models", ",".join(CANDIDATES), "--out", str(folder), "--force"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise SystemExit(f"error: routereval train --router {router} --encoder {encoder} failed: "
                         f"{lines[-1].removeprefix('error: ') if lines else f'exit {done.returncode}'}")
    manifest = json.loads((folder / "manifest.json").read_text())
    return {"router": manifest["router"]["name"], "router_params": manifest["router"]["params"],
            "encoder": manifest["encoder"]["name"], "encoder_kind": manifest["encoder"]["kind"],
            "training_prompts": manifest["training"]["n_train"]}


def target(what: str, measured: float, limit: float, at_most: bool, unit: str) -> dict[str, Any]:
    """One target: its figure, the limit, and whether it was met (``at_most``: the figure must not exceed it)."""
    met = bool(measured <= limit) if at_most else bool(measured >= limit)
    return {"what": what, "measured": measured, "limit": limit, "at_most": at_most, "unit": unit, "met": met}


def targets(report: dict[str, Any]) -> dict[str, Any]:
    m = report["load"]["medians"]
    hang = report["hanging_backends"]
    hang_runs = [v for k, v in hang.items() if isinstance(v, dict) and "seconds" in v]
    hang_max = max(r["seconds"]["max"] for r in hang_runs)
    all_healthy = all(r["answered_by_healthy"] == r["requests"] for r in hang_runs)
    fail = report["failing_backend"]
    return {
        "proxy_cpu_per_routed_request": target("proxy CPU per routed request", m["routed_proxy_cpu_ms_per_request"],
                                               TARGET_CPU_MS, True, "ms"),
        "routed_vs_forwarded_throughput": target(
            f"routed throughput / forwarding throughput at concurrency {report['load']['concurrency']}",
            m["routed_to_forwarded_throughput"], TARGET_RATIO, False, "x"),
        "hanging_backends_answered_within_5_s": {
            **target("slowest routed request with every candidate but one hanging (3 s timeout)", hang_max,
                     TARGET_HANG_S, True, "s"),
            "all_answered_by_healthy": all_healthy,
            "met": bool(hang_max <= TARGET_HANG_S and all_healthy)},
        "rss_growth_under_sustained_load": target("proxy RSS growth from warm-up to after the sustained load",
                                                  report["memory"]["growth"], TARGET_RSS_GROWTH, True, "fraction"),
        "no_request_lost_with_a_failing_backend": {
            **target("requests lost with a backend failing every second request", fail["lost"], 0, True, "requests"),
            "met": bool(fail["lost"] == 0 and fail["with_own_prompt"] == fail["requests"])},
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--encoder", default="minilm", help="Any encoder `routereval train` accepts (default minilm).")
    parser.add_argument("--router", default="knn", help="Router as `routereval train --router` takes it (default knn).")
    parser.add_argument("--workers", type=int, default=1, help="The proxy's --workers (CPU and RSS add up all).")
    parser.add_argument("--quick", action="store_true", help="A smoke run of about two minutes.")
    parser.add_argument("--seed", type=int, default=0, help="Shuffles the prompts.")
    parser.add_argument("--out", type=Path, default=RESULTS)
    for key, value in FULL.items():
        parser.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=None,
                            help=f"default {value:g}, {QUICK[key]:g} with --quick")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else FULL
    args.settings = {k: base[k] if getattr(args, k) is None else getattr(args, k) for k in FULL}
    s = args.settings
    problems = [f"--{k.replace('_', '-')} must lie in {lo}..{hi}" for k, lo, hi in (
        ("runs", 1, 20), ("requests", 1, 100_000), ("concurrency", 1, 512), ("latency_requests", 1, 10_000),
        ("hang_requests", 1, 200), ("hang_concurrency", 1, 200), ("failing_requests", 1, 100_000),
        ("warmup", 1, 100_000), ("sustain_requests", 1, 1_000_000), ("sustain_seconds", 1, 3600))
        if not lo <= s[k] <= hi]
    if not 1 <= args.workers <= 64:
        problems.append("--workers must lie in 1..64")
    if problems:
        parser.exit(2, f"error: {'; '.join(problems)}\n")
    return args


def main(argv: list[str] | None = None) -> None:
    try:
        measure_all(parse_args(argv), argv)
    except RuntimeError as exc:  # a process that would not start or answer: one line, not a traceback
        raise SystemExit(f"error: {exc}") from None


def measure_all(args: argparse.Namespace, argv: list[str] | None) -> None:
    """Every measurement, then the JSON and one line per target on stdout."""
    settings = args.settings
    started, load_start = time.monotonic(), os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        work = Path(tmp)
        log(f"training {args.router} over {args.encoder} on {DATASET}")
        artifact = work / "router"
        trained = train_artifact(artifact, args.encoder, args.router)
        pool, prompt_note = chat_prompts(args.seed)
        stream = PromptStream(pool)
        log(f"{len(pool)} distinct prompts ({'with' if prompt_note['options'] else 'WITHOUT'} options)")
        route_file = route_file_rate(artifact, settings["runs"])
        # The router's rankings of prompts the proxy will never see: which backend it usually tries first
        # (the one made to fail) and which it usually ranks last (the healthy one among hanging ones).
        sample = stream.take(max(60, 8 * settings["hang_requests"]))
        ranked = rankings(artifact, sample)
        first_choice = Counter(r[0] for r in ranked).most_common(1)[0][0]
        report: dict[str, Any] = {
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "load_average_at_start": [round(v, 2) for v in load_start]},
            "command": " ".join(["python benchmarks/serve_load.py", *(argv if argv is not None else sys.argv[1:])]),
            "quick": args.quick,
            "setup": {**trained, "router_spec": args.router, "encoder_requested": args.encoder, "dataset": DATASET,
                      "candidates": CANDIDATES, "workers": args.workers, "backends": "echo servers on 127.0.0.1",
                      "client": "this script's process: one kept-alive HTTP/1.1 connection per concurrent worker (benchmarks/_http_client.py)",
                      "settings": settings},
            "load": measure_runs(artifact, work, stream, settings, args.workers),
            "failing_backend": measure_failing(artifact, work, stream, settings, args.workers, first_choice),
            "hanging_backends": measure_hanging(artifact, work, sample, ranked, settings, args.workers),
            "memory": measure_memory(artifact, work, stream, settings, args.workers),
            "route_file": {**route_file, "router": trained["router"]},
        }
    report["prompts"] = {
        **prompt_note, "seed": args.seed, "distinct_in_pool": len(pool), **prompt_lengths(pool),
        "handed_out": stream.handed, "variant_rounds": stream.handed // len(pool),
        "routed_requests": LEDGER.sent, "routed_requests_with_a_prompt_routed_before": LEDGER.repeats,
        "every_routed_prompt_new": LEDGER.repeats == 0,
        "note": "a routed request's prompt is one not sent before in this run (past the pool, a variant line is "
                "added), so the proxy's memo of the last 10,000 prompts' vectors gives no hits; counted above"}
    report["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    report["machine"]["note"] = "2 CPUs may be shared with other work while measured; see the load averages"
    report["seconds"] = round(time.monotonic() - started, 1)
    report["targets"] = targets(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, report, allow_nan=False)
    for key, t in report["targets"].items():
        print(f"{'met   ' if t['met'] else 'MISSED'} {t['what']}: {t['measured']:g} {t['unit']} "
              f"({'<=' if t['at_most'] else '>='} {t['limit']:g})")
    print(f"wrote {args.out} in {report['seconds']:g} s")


if __name__ == "__main__":
    main()
