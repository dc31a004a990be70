"""Fixtures of the serving tests: a trained routing artifact and three echo backends on 127.0.0.1."""

from __future__ import annotations

import pytest

from support.tiny_routing import MODELS, tiny_benchmark

from routereval.deploy.train import train_model
from routereval.serving.echo import EchoServer


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serving") / "art"
    train_model(tiny_benchmark(), "knn", {"k": 3}, "tfidf-16", progress=False).save(folder)
    return folder


@pytest.fixture
def backends():
    servers = {name: EchoServer(name).start() for name in MODELS}
    yield servers
    for server in servers.values():
        server.stop()
