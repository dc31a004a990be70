"""``routereval serve``: an OpenAI-compatible proxy that routes each request to one of N backends."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from routereval.errors import ConfigError


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
) -> None:
    """Serve POST /v1/chat/completions (model "router" routes), /v1/route, /v1/models, health and /metrics."""
    import logging

    token = None
    if token_env:
        token = os.environ.get(token_env)
        if not token:
            raise ConfigError(f"--token-env: environment variable {token_env} is not set")
    if not 0 < port < 65536:
        raise ConfigError(f"--port must lie in 1..65535, got {port}")
    try:
        import uvicorn

        from routereval.serving.app import create_app
    except ImportError as exc:
        raise ConfigError(f"serving needs fastapi, uvicorn and httpx: pip install 'routereval[serve]' ({exc})") from exc
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if log_level.lower() != "debug":
        # One line per request comes from the proxy itself; httpx would add a second.
        logging.getLogger("httpx").setLevel(logging.WARNING)
    app = create_app(folder, backends, token=token, max_body_bytes=max_body, route_on=route_on)
    if host not in ("127.0.0.1", "localhost", "::1") and not token:
        logging.getLogger("routereval.serving").warning(
            "listening on %s without --token-env: anyone who can reach this address can spend your backends", host)
    uvicorn.run(app, host=host, port=port, log_level=log_level.lower(), access_log=False)
