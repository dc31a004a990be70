"""Running the proxy for a test: in a thread (``running``), or as ``routereval serve`` in a process, over echo backends."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from support.processes import SRC

from routereval.serving.backends import parse_backends

MATH = "solve this quadratic equation for x"
POEM = "a haiku about the sea"
FAST = {"backoff": 0.01, "max_backoff": 0.05, "max_retry_after": 3.0}


def config_for(servers, *, failover=None, timeout=5.0, keys=None, environ=None):
    """The parsed backends config over ``servers`` (name -> EchoServer), with fast retries unless ``failover`` says."""
    entries = []
    for name, server in servers.items():
        entry = {"name": name, "base_url": server.base_url, "model": f"{name}-id", "timeout": timeout}
        if keys and name in keys:
            entry["api_key_env"] = keys[name]
        entries.append(entry)
    return parse_backends({"backends": entries, "failover": {**FAST, **(failover or {})}}, "test.toml", environ)


@contextlib.contextmanager
def running(app):
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yields its base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("proxy did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def ask(client, text=MATH, **kw):
    """One chat completion through the proxy's OpenAI API, addressed to the router."""
    return client.chat.completions.create(model="router", messages=[{"role": "user", "content": text}], **kw)


def attempts(response):
    """(backend, status, reason) of each backend the proxy tried, from the answer's routing block."""
    return [(a["backend"], a["status"], a["reason"]) for a in response.model_extra["routing"]["attempts"]]


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_backends(path: Path, servers: dict, key_env: str | None = "ECHO_KEY") -> Path:
    """A backends file over ``servers`` (name -> EchoServer)."""
    key = f'api_key_env = "{key_env}"\n' if key_env else ""
    path.write_text("".join(f'[[backends]]\nname = "{n}"\nbase_url = "{s.base_url}"\n{key}timeout = 5\n\n'
                            for n, s in servers.items()))
    return path


def start_serve(artifact: Path, backends: Path, port: int, env: dict | None = None, *extra: str,
                new_group: bool = False) -> subprocess.Popen:
    """``routereval serve`` in a subprocess (stdout and stderr together), once it answers its readiness probe."""
    env = {**os.environ, "PYTHONPATH": SRC, **(env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "routereval", "serve", str(artifact), "--backends", str(backends),
                             "--port", str(port), *extra], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=new_group)
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/readiness", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"serve did not come up: {proc.communicate()}")
        time.sleep(0.2)
