"""The commands as a user runs them: train, route and serve in real subprocesses."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from support.proxy import free_port, start_serve, write_backends
from support.tiny_routing import MODELS, NEW_PROMPTS, tiny_benchmark

from routereval.deploy.model import RoutingModel
from routereval.deploy.train import train_model
from routereval.serving.echo import EchoServer


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(monkeypatch, capsys):
    """Run the ``routereval`` entry point in this process (as the console script does): exit code and output."""
    from routereval.cli import main

    def run(*args: str, stdin: str | None = None, env: dict | None = None) -> Run:
        monkeypatch.setattr(sys, "argv", ["routereval", *args])
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin or ""))
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code or 0
        out, err = capsys.readouterr()
        return Run(code, out, err)

    return run


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli") / "art"
    train_model(tiny_benchmark(), "knn", {"k": 3}, "tfidf-16", progress=False).save(folder)
    return folder


def test_route_one_prompt_prints_the_choice_and_the_ranked_list(cli, artifact):
    run = cli("route", str(artifact), NEW_PROMPTS[0])
    assert run.returncode == 0, run.stderr
    assert "chosen: math-model" in run.stdout
    cells = [[c.strip() for c in line.strip("│").split("│")] for line in run.stdout.splitlines()
             if line.startswith("│")]
    assert [c[1] for c in cells] == ["math-model", "code-model", "poem-model"]
    assert cells[0][2] == "1.000" and cells[0][3]


def test_route_json_matches_the_library(cli, artifact):
    run = cli("route", str(artifact), NEW_PROMPTS[0], "--json", "--cost-weight", "5000")
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    expected = RoutingModel.load(artifact).route(NEW_PROMPTS[0], cost_weight=5000)[0].to_dict()
    assert doc["chosen"] == expected["chosen"] == "code-model"
    assert doc["ranked"] == expected["ranked"] and doc["prompt"] == NEW_PROMPTS[0]


@pytest.mark.parametrize("suffix", [".txt", ".jsonl", ".csv"])
def test_route_a_file_of_prompts(cli, artifact, tmp_path, suffix):
    path = tmp_path / f"prompts{suffix}"
    if suffix == ".txt":
        path.write_text("\n".join(NEW_PROMPTS) + "\n")
    elif suffix == ".jsonl":
        path.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in NEW_PROMPTS))
    else:
        path.write_text("id,prompt\n" + "".join(f'{i},"{p}"\n' for i, p in enumerate(NEW_PROMPTS)))
    run = cli("route", str(artifact), "--file", str(path), "--json", "--top", "1")
    assert run.returncode == 0, run.stderr
    docs = [json.loads(line) for line in run.stdout.splitlines()]
    assert [d["chosen"] for d in docs] == MODELS
    assert all(len(d["ranked"]) == 1 for d in docs)


def test_route_reads_stdin(cli, artifact):
    run = cli("route", str(artifact), "--json", stdin="\n".join(NEW_PROMPTS) + "\n")
    assert run.returncode == 0, run.stderr
    assert [json.loads(line)["chosen"] for line in run.stdout.splitlines()] == MODELS


@pytest.mark.parametrize("args, message", [
    (["route", "{missing}", "hi"], "manifest.json: no such file"),
    (["route", "{art}", "hi", "--file", "x.txt"], "give a prompt or --file, not both"),
    (["route", "{art}", "hi", "--exclude", "nope"], "unknown candidate 'nope'"),
    (["route", "{art}", "hi", "--cost-weight", "-1"], "cost_weight must be a number >= 0"),
])
def test_route_errors_are_one_line_and_exit_1(cli, artifact, tmp_path, args, message):
    args = [a.format(missing=tmp_path / "nothing", art=artifact) for a in args]
    run = cli(*args)
    assert run.returncode == 1
    assert message in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_train_command_writes_an_artifact_with_a_held_out_score(cli, mirror, tmp_path):
    out = tmp_path / "llmrouter-knn"
    run = cli("train", "--dataset", "llmrouter", "--router", "knn:k=10", "--encoder", "tfidf-32", "--split", "train",
              "--models", "qwen2.5-7b-instruct,gemma-2-9b-it,llama3-chatqa-1.5-70b", "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert "held-out test (500 prompts)" in run.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["router"]["params"] == {"k": 10}
    assert manifest["candidates"] == ["qwen2.5-7b-instruct", "gemma-2-9b-it", "llama3-chatqa-1.5-70b"]
    assert manifest["prices"]["llama3-chatqa-1.5-70b"] == {"input": 0.9, "output": 0.9}
    again = cli("train", "--dataset", "llmrouter", "--encoder", "tfidf-32", "--out", str(out))
    assert again.returncode == 1 and "--force" in again.stderr


def test_train_refuses_a_router_that_cannot_be_saved(cli, tmp_path):
    run = cli("train", "--dataset", "nothing-here", "--router", "knn,mlp", "--out", str(tmp_path / "x"))
    assert run.returncode == 1 and "one router" in run.stderr


def listening_addresses(port: int) -> set[str]:
    """Local addresses listening on ``port`` (Linux /proc/net/tcp; IPv4 as hex, little-endian)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if int(hex_port, 16) == port and state == "0A":
                found.add(address)
    return found


def test_serve_binds_loopback_routes_and_keeps_the_key_out_of_its_logs(artifact, tmp_path):
    if not os.path.exists("/proc/net/tcp"):
        pytest.skip("needs Linux /proc to see the bound address")
    secret = "sk-cli-secret-abcdef987654"
    servers = {name: EchoServer(name).start() for name in MODELS}
    backends = write_backends(tmp_path / "backends.toml", servers)
    port = free_port()
    proc = start_serve(artifact, backends, port, {"ECHO_KEY": secret}, "--log-level", "debug")
    try:
        assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only
        servers["math-model"].plan.append(("echo_auth", 401))
        r = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions",
                       json={"model": "router", "messages": [{"role": "user", "content": NEW_PROMPTS[0]}]})
        assert r.status_code == 401 and secret not in r.text
        servers["poem-model"].plan.append(("echo_key",))
        r = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions",
                       json={"model": "router", "messages": [{"role": "user", "content": NEW_PROMPTS[2]}]})
        assert r.status_code == 200 and r.json()["model"] == "poem-model"
        assert "I got Bearer ***" in r.text and secret not in r.text
        assert servers["poem-model"].requests[-1]["authorization"] == f"Bearer {secret}"
    finally:
        proc.terminate()
        output, errors = proc.communicate(timeout=30)
        for server in servers.values():
            server.stop()
    assert proc.returncode == 0  # SIGTERM: a clean stop
    assert "poem-model" in errors  # the request log line names the backend
    assert secret not in output + errors


@pytest.mark.slow  # serve in a process, then Ctrl-C
@pytest.mark.parametrize("group", [False, True], ids=["process", "process-group"])
def test_ctrl_c_stops_serve_with_exit_130_and_one_line(artifact, tmp_path, group):
    servers = {name: EchoServer(name).start() for name in MODELS}
    port = free_port()
    proc = start_serve(artifact, write_backends(tmp_path / "b.toml", servers, None), port, None,
                       "--log-level", "error", new_group=group)
    try:
        if group:
            os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        else:
            proc.send_signal(signal.SIGINT)
        output, errors = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        for server in servers.values():
            server.stop()
    assert proc.returncode == 130
    assert errors.strip().splitlines() == ["error: interrupted"], errors
    assert "Traceback" not in output + errors


def test_serve_on_a_port_in_use_is_a_machine_error_in_one_line(cli, artifact, tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    backends = tmp_path / "b.toml"
    backends.write_text("".join(f'[[backends]]\nname = "{n}"\nbase_url = "http://127.0.0.1:9/v1"\n' for n in MODELS))
    try:
        run = cli("serve", str(artifact), "--backends", str(backends), "--port", str(port), "--log-level", "error")
    finally:
        taken.close()
    assert run.returncode == 4, run.stderr
    assert run.stderr.strip() == f"error: 127.0.0.1:{port} is already in use by another program; stop it, or choose " \
                                 "another --port"


def test_serve_refuses_backends_that_do_not_match(cli, artifact, tmp_path):
    backends = tmp_path / "backends.toml"
    backends.write_text('[[backends]]\nname = "math-model"\nbase_url = "http://127.0.0.1:9/v1"\n')
    run = cli("serve", str(artifact), "--backends", str(backends))
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "no backend for candidate(s) code-model, poem-model" in run.stderr


def test_serve_refuses_a_key_variable_that_is_not_set(cli, artifact, tmp_path):
    backends = tmp_path / "backends.toml"
    backends.write_text("".join(f'[[backends]]\nname = "{n}"\nbase_url = "http://127.0.0.1:9/v1"\n'
                                f'api_key_env = "ROUTEREVAL_TEST_UNSET_KEY"\n' for n in MODELS))
    run = cli("serve", str(artifact), "--backends", str(backends), env={"ROUTEREVAL_TEST_UNSET_KEY": ""})
    assert run.returncode == 1 and "ROUTEREVAL_TEST_UNSET_KEY (api_key_env) is not set" in run.stderr
