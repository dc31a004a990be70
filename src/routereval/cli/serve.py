"""``routereval serve``: an OpenAI-compatible proxy that routes each request to one of N backends.

How it ends (docs/errors.md): Ctrl-C (SIGINT, to the process or its group)
drains open requests and exits 130 with ``error: interrupted``, like every
command; SIGTERM, the way service managers stop a service, drains and exits
0; a port already in use or not ours to bind is the machine's problem (exit
4), said in one line before anything is served.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
from pathlib import Path
from typing import Any, Optional

import typer

from routereval.errors import ConfigError, EnvironmentProblem
from routereval.serving.workers import WORKER_SETTINGS

LOG_LEVELS = ("debug", "info", "warning", "error")
#: Seconds open requests get to finish after a stop signal; a second Ctrl-C stops at once.
DRAIN_SECONDS = 10
#: Most worker processes: each holds the router and the encoder (MiniLM: ~150 MB).
MAX_WORKERS = 64


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, or one clear error saying why it cannot be."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(f"--host {host!r} is not an address of this machine ({exc}); use 127.0.0.1 for this "
                          "machine only, or 0.0.0.0 for every interface") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        where = f"{host}:{port}"
        if exc.errno == errno.EADDRINUSE:
            raise EnvironmentProblem(f"{where} is already in use by another program; stop it, or choose another "
                                     "--port") from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise EnvironmentProblem(f"not allowed to listen on {where} (ports below 1024 need privileges); "
                                     "choose a --port from 1024 up") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ConfigError(f"--host {host!r} is not an address of this machine; use 127.0.0.1 for this machine "
                              "only, or 0.0.0.0 for every interface") from None
        raise EnvironmentProblem(f"cannot listen on {where}: {exc.strerror or exc}") from None
    return sock


def _server_class() -> Any:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, remembering which signal stopped it instead of raising it again on the way out."""

        stopped_by: int | None = None

        def handle_exit(self, sig: int, frame: Any) -> None:
            if self.stopped_by is None:
                self.stopped_by = sig
            super().handle_exit(sig, frame)

        @contextlib.contextmanager
        def capture_signals(self):  # noqa: ANN201 - uvicorn's own signature
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server


def serve(
    folder: Path = typer.Argument(..., help="Artifact folder written by `routereval train`."),
    backends: Path = typer.Option(..., "--backends", "-b", help="Backends TOML file (see docs/serving.md)."),
    host: str = typer.Option("127.0.0.1", help="Address to bind; 127.0.0.1 keeps the proxy on this machine."),
    port: int = typer.Option(8000, help="Port to listen on."),
    token_env: Optional[str] = typer.Option(None, help="NAME of an environment variable holding a bearer token "
                                            "that callers must send (Authorization: Bearer ...)."),
    max_body: int = typer.Option(1 << 20, help="Largest request body accepted, in bytes."),
    route_on: Optional[str] = typer.Option(None, help="last_user (default) or all_user: what the router reads."),
    log_level: str = typer.Option("info", help="Log level: debug, info, warning, error."),
    workers: int = typer.Option(1, help="Worker processes sharing the port (each loads the router; cool-downs "
                                "and the response cache are per worker; /metrics adds up all of them)."),
) -> None:
    """Serve POST /v1/chat/completions (model "router" routes), /v1/route, /v1/models, health and /metrics."""
    import logging

    from routereval.serving.backends import looks_like_a_key

    if log_level.lower() not in LOG_LEVELS:
        raise typer.BadParameter(f"must be one of {', '.join(LOG_LEVELS)}", param_hint="'--log-level'")
    token = None
    if token_env:
        if looks_like_a_key(token_env):
            raise ConfigError("--token-env looks like a token, not the NAME of an environment variable (the value is "
                              "not shown); put the token in a variable, e.g. export PROXY_TOKEN=..., and pass "
                              "--token-env PROXY_TOKEN")
        token = os.environ.get(token_env)
        if not token:
            raise ConfigError(f"--token-env: environment variable {token_env} is not set")
        if not token.isascii() or not token.isprintable() or any(c.isspace() for c in token):
            raise ConfigError(f"--token-env: environment variable {token_env} holds spaces, line breaks or non-ASCII "
                              "characters (not shown); a token is one word of printable ASCII")
    if not 0 < port < 65536:
        raise ConfigError(f"--port must lie in 1..65535, got {port}")
    if not 1 <= workers <= MAX_WORKERS:
        raise ConfigError(f"--workers must lie in 1..{MAX_WORKERS}, got {workers}")
    try:
        import uvicorn

        from routereval.serving.app import create_app
        from routereval.serving.transport import AiohttpTransport  # noqa: F401 - checked now, used at start-up
    except ImportError as exc:
        raise ConfigError(f"serving needs fastapi, uvicorn, httpx and aiohttp: pip install 'routereval[serve]' "
                          f"({exc})") from exc
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if log_level.lower() != "debug":
        # One line per request comes from the proxy itself; httpx would add a second.
        logging.getLogger("httpx").setLevel(logging.WARNING)
    # Read and checked here, in this process, even when workers will serve: a bad file is one line, now.
    app = create_app(folder, backends, token=token, max_body_bytes=max_body, route_on=route_on)
    # Bound before serving, so a taken port is one clear line (uvicorn would log it and exit 3, the code of a
    # damaged store here).
    sock = bind(host, port)
    log = logging.getLogger("routereval.serving")
    if host not in ("127.0.0.1", "localhost", "::1") and not token:
        log.warning("listening on %s without --token-env: anyone who can reach this address can spend your "
                    "backends", host)
    log.info("listening on http://%s:%d%s", host, port, f" with {workers} workers" if workers > 1 else "")
    try:
        if workers == 1:
            config = uvicorn.Config(app, log_level=log_level.lower(), access_log=False,
                                    timeout_graceful_shutdown=DRAIN_SECONDS)
            server = _server_class()(config)
            server.run(sockets=[sock])
            stopped_by = server.stopped_by
        else:
            del app
            stopped_by = _run_workers(workers, log_level, sock, {
                "folder": str(folder), "backends": str(backends), "token_env": token_env, "max_body": max_body,
                "route_on": route_on, "log_level": log_level.lower()})
    except SystemExit as exc:
        # uvicorn ends a failed start-up (the app's lifespan) this way, after logging why.
        raise ConfigError(f"the proxy could not start (uvicorn exit {exc.code}); the log above says why") from None
    finally:
        sock.close()
    if stopped_by == signal.SIGINT:
        raise KeyboardInterrupt


def _run_workers(workers: int, log_level: str, sock: socket.socket, settings: dict[str, Any]) -> int | None:
    """Serve with ``workers`` processes on ``sock``; the signal that stopped them.

    Each worker is a fresh interpreter (spawned, not forked: a fork would copy
    the encoder's threads mid-state) that builds the app from ``settings``.
    They share one directory for prometheus_client's multiprocess mode, so
    ``/metrics`` adds up every worker; it is removed when they have stopped.
    """
    import json
    import shutil
    import tempfile

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    class Supervisor(Multiprocess):
        """uvicorn's supervisor, remembering which signal stopped it."""

        stopped_by: int | None = None

        def handle_int(self) -> None:
            self.stopped_by = self.stopped_by or signal.SIGINT
            super().handle_int()

        def handle_term(self) -> None:
            self.stopped_by = self.stopped_by or signal.SIGTERM
            super().handle_term()

    metrics_dir = tempfile.mkdtemp(prefix="routereval-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    os.environ[WORKER_SETTINGS] = json.dumps(settings)
    try:
        config = uvicorn.Config("routereval.serving.workers:app_from_environment", factory=True, workers=workers,
                                log_level=log_level.lower(), access_log=False,
                                timeout_graceful_shutdown=DRAIN_SECONDS)
        supervisor = Supervisor(config, sockets=[sock])
        supervisor.run()
        return supervisor.stopped_by
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        os.environ.pop(WORKER_SETTINGS, None)
        shutil.rmtree(metrics_dir, ignore_errors=True)
