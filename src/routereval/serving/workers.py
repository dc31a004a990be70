"""The app each worker process of ``routereval serve --workers N`` builds for itself.

The parent process checks the artifact and the backends file, binds the
port, and spawns the workers; each reads the same settings from the
environment variable :data:`WORKER_SETTINGS` and builds its own app (own
router, encoder, deployments, cool-downs and cache). The proxy token is read
by each worker from the variable ``--token-env`` names, so it never travels in
these settings.
"""

from __future__ import annotations

import json
import os
from typing import Any

#: Environment variable carrying the settings (JSON) from ``serve`` to its workers.
WORKER_SETTINGS = "ROUTEREVAL_SERVE_WORKER"


def app_from_environment() -> Any:
    """The proxy app for one worker, from :data:`WORKER_SETTINGS`."""
    import logging

    from routereval.serving.app import create_app

    settings = json.loads(os.environ[WORKER_SETTINGS])
    # A spawned worker starts with no logging set up: the same format and level as the parent's.
    logging.basicConfig(level=settings["log_level"].upper(),
                        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s")
    if settings["log_level"] != "debug":
        logging.getLogger("httpx").setLevel(logging.WARNING)
    token = os.environ.get(settings["token_env"]) if settings.get("token_env") else None
    return create_app(settings["folder"], settings["backends"], token=token, max_body_bytes=settings["max_body"],
                      route_on=settings["route_on"])
