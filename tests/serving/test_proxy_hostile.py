"""The proxy against hostile clients, hostile backends and hostile backends files, on real sockets.

Two catalogue areas of docs/errors.md live here: ``proxy`` (HTTP requests the
proxy refuses: the last column is the HTTP status, the message column the
JSON error message the client reads) and ``serve`` (backends files and
options that stop ``routereval serve`` before it listens: exit codes).
"""

from __future__ import annotations

import base64
import json
import logging
import shutil
import socket
import time
from dataclasses import dataclass, field

import httpx
import openai
import pytest
from support.catalogue import Case, check_case, check_doc_lists_exactly, check_doc_row, record_row
from support.tiny_routing import MODELS
from support.proxy import MATH, ask, attempts, config_for, running

from routereval.serving.app import create_app, header_value
from routereval.serving.backends import parse_backends
from routereval.serving.echo import EchoServer

TOKEN = "proxy-token-for-the-catalogue-0001"
SECRET = "sk-live-hostile/secret+0123456789abcdef"
USER = [{"role": "user", "content": MATH}]


# -- the catalogue: requests the proxy refuses --------------------------------------------------


@dataclass(frozen=True)
class HttpCase:
    """One refused request: what is sent, and (in docs/errors.md) the status and message the client gets."""

    id: str
    input: str
    body: bytes | dict | list | None = None
    path: str = "/v1/chat/completions"
    headers: dict = field(default_factory=dict)
    auth: tuple[str, ...] = (f"Bearer {TOKEN}",)


def chat(**fields) -> dict:
    return {"model": "router", "messages": USER, **fields}


def nested(depth: int) -> dict:
    inner: dict | list = []
    for _ in range(depth - 2):
        inner = [inner]
    return chat(metadata={"deep": inner})


HTTP_CASES = [
    HttpCase("proxy-body-empty", "an empty body", b""),
    HttpCase("proxy-body-not-json", "a body that is not JSON", b"{model: router"),
    HttpCase("proxy-body-not-utf8", "a body in Latin-1", '{"model": "café"}'.encode("latin-1")),
    HttpCase("proxy-body-utf16", "a body in UTF-16", json.dumps(chat()).encode("utf-16")),
    HttpCase("proxy-body-array", "a JSON array", [chat()]),
    HttpCase("proxy-body-number", "a JSON number", b"42"),
    HttpCase("proxy-body-nan", "NaN in the body", b'{"model": "router", "temperature": NaN, "messages": []}'),
    HttpCase("proxy-body-huge-integer", "an integer of 5,000 digits", b'{"seed": ' + b"9" * 5000 + b"}"),
    HttpCase("proxy-body-too-deep", "an extra field nested 200 levels (under the size limit)", nested(200)),
    HttpCase("proxy-body-too-large", "a body over --max-body", chat(messages=[{"role": "user", "content": "x" * 70000}])),
    HttpCase("proxy-content-type-text", "Content-Type: text/plain", chat(), headers={"content-type": "text/plain"}),
    HttpCase("proxy-content-type-form", "Content-Type: multipart/form-data", b"--x--",
             headers={"content-type": "multipart/form-data; boundary=x"}),
    HttpCase("proxy-model-missing", "no model", {"messages": USER}),
    HttpCase("proxy-model-list", "model as a list", chat(model=["router"])),
    HttpCase("proxy-model-object", "model as an object", chat(model={"name": "router"})),
    HttpCase("proxy-model-empty", "an empty model name", chat(model="")),
    HttpCase("proxy-model-too-long", "a model name of 1,000 characters", chat(model="m" * 1000)),
    HttpCase("proxy-model-unknown", "a model that is neither router nor a backend", chat(model="gpt-9")),
    HttpCase("proxy-model-crlf", "a model name with CR LF", chat(model="math-model\r\nx-injected: 1")),
    HttpCase("proxy-model-non-latin1", "a model name in Chinese", chat(model="模型")),
    HttpCase("proxy-messages-missing", "no messages", {"model": "router"}),
    HttpCase("proxy-messages-empty", "messages empty", chat(messages=[])),
    HttpCase("proxy-messages-string", "messages as a string", chat(messages="hello")),
    HttpCase("proxy-message-not-object", "a message that is a string", chat(messages=["hello"])),
    HttpCase("proxy-role-unknown", "an unknown role", chat(messages=[{"role": "wizard", "content": "hi"}])),
    HttpCase("proxy-role-missing", "a message without a role", chat(messages=[{"content": "hi"}])),
    HttpCase("proxy-content-number", "content that is a number", chat(messages=[{"role": "user", "content": 5}])),
    HttpCase("proxy-text-part-not-string", "a text part whose text is a number",
             chat(messages=[{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "text", "text": 5}]}])),
    HttpCase("proxy-text-part-without-text", "a text part without text",
             chat(messages=[{"role": "user", "content": [{"type": "text"}]}])),
    HttpCase("proxy-no-user-text", "model router and only a system message",
             chat(messages=[{"role": "system", "content": "be brief"}])),
    HttpCase("proxy-stream-string", "stream as the string \"false\"", chat(stream="false")),
    HttpCase("proxy-stream-options-without-stream", "stream_options without stream",
             chat(stream_options={"include_usage": True})),
    HttpCase("proxy-n-zero", "n = 0", chat(n=0)),
    HttpCase("proxy-n-float", "n = 2.5", chat(n=2.5)),
    HttpCase("proxy-routing-typo", "a misspelt routing option", chat(routing={"cost_wieght": 10})),
    HttpCase("proxy-routing-string", "a routing option of the wrong type", chat(routing={"cost_weight": "high"})),
    HttpCase("proxy-routing-negative", "a negative routing option", chat(routing={"max_cost": -1})),
    HttpCase("proxy-routing-not-object", "routing as a list", chat(routing=["math-model"])),
    HttpCase("proxy-routing-unknown-candidate", "routing to a candidate the router does not have",
             chat(routing={"candidates": ["nope"]})),
    HttpCase("proxy-route-no-prompt", "/v1/route with neither prompt nor messages", {}, path="/v1/route"),
    HttpCase("proxy-route-prompt-number", "/v1/route with a prompt that is a number", {"prompt": 5}, path="/v1/route"),
    HttpCase("proxy-token-missing", "no bearer token (the proxy has one)", chat(), auth=()),
    HttpCase("proxy-token-wrong", "a wrong bearer token", chat(), auth=("Bearer nope",)),
    HttpCase("proxy-token-twice", "two Authorization headers, one of them right", chat(),
             auth=(f"Bearer {TOKEN}", "Bearer nope")),
]
AREAS = ("proxy", "serve")


def send(url: str, case: HttpCase) -> httpx.Response:
    """Send ``case`` as raw bytes (no client-side fixing of what is wrong with it)."""
    body = case.body
    if body is None:
        body = b""
    if not isinstance(body, bytes):
        body = json.dumps(body, ensure_ascii=False).encode("utf-8")
    headers = [("content-type", "application/json"), *case.headers.items(),
               *(("authorization", a) for a in case.auth)]
    if case.headers.get("content-type"):
        headers = [h for h in headers if h != ("content-type", "application/json")]
    return httpx.post(url + case.path, content=body, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def catalogue_proxy(artifact):  # noqa: F811 - the fixture imported above
    servers = {name: EchoServer(name).start() for name in MODELS}
    app = create_app(artifact, config_for(servers), token=TOKEN, max_body_bytes=65536)
    with running(app) as url:
        yield url, servers
    for server in servers.values():
        server.stop()


@pytest.mark.parametrize("case", HTTP_CASES, ids=lambda c: c.id)
def test_case_http(case: HttpCase, catalogue_proxy):
    url, servers = catalogue_proxy
    calls = sum(len(s.requests) for s in servers.values())
    started = time.monotonic()
    response = send(url, case)
    assert time.monotonic() - started < 10
    assert 400 <= response.status_code < 500, response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "code"} and isinstance(error["message"], str)
    assert sum(len(s.requests) for s in servers.values()) == calls  # refused before any backend was called
    assert TOKEN not in response.text
    message = error["message"]
    if not record_row(Case(case.id, "proxy", case.input, (), response.status_code), response.status_code, message):
        check_doc_row(case.id, response.status_code, message)


# -- the catalogue: backends files and options that stop `serve` ------------------------------

_ART: dict = {}
# Every serve case names a port held here: a case that wrongly started the proxy would end at once (port in use)
# instead of serving until the test run is killed.
_HELD = socket.socket()
_HELD.bind(("127.0.0.1", 0))
_HELD.listen(1)


@pytest.fixture(autouse=True, scope="module")
def _artifact_for_cases(artifact):  # noqa: F811
    _ART["path"] = artifact


def _copy_artifact(tmp) -> None:
    shutil.copytree(_ART["path"], tmp / "work" / "art")


def backends_file(extra_backend: str = "", tables: str = "") -> str:
    body = "".join(f'[[backends]]\nname = "{n}"\nbase_url = "http://127.0.0.1:9/v1"\n'
                   + (extra_backend if n == MODELS[0] else "") + "\n" for n in MODELS)
    return tables + "\n" + body


def serve_case(case_id: str, what: str, toml: str, code: int = 1, expect: tuple[str, ...] = (),
               args: tuple[str, ...] = (), env: dict | None = None) -> Case:
    return Case(case_id, "serve", what, ("serve", "art", "--backends", "b.toml", "--port",
                                         str(_HELD.getsockname()[1]), *args), code, expect,
                files={"b.toml": toml}, setup=_copy_artifact, env=env or {})


SERVE_CASES = [
    serve_case("serve-retries-huge-float", "[failover] retries = 1e9", backends_file(tables="[failover]\nretries = 1e9\n"),
               expect=("retries must be an integer",)),
    serve_case("serve-retries-huge", "[failover] retries = 1000000000",
               backends_file(tables="[failover]\nretries = 1000000000\n"), expect=("from 0 to 10",)),
    serve_case("serve-retries-fraction", "[failover] retries = 2.7", backends_file(tables="[failover]\nretries = 2.7\n")),
    serve_case("serve-cooldown-zero", "[failover] cooldown_failures = 0",
               backends_file(tables="[failover]\ncooldown_failures = 0\n")),
    serve_case("serve-backoff-string", "[failover] backoff = \"1\"", backends_file(tables='[failover]\nbackoff = "1"\n')),
    serve_case("serve-backoff-nan", "[failover] backoff = nan", backends_file(tables="[failover]\nbackoff = nan\n")),
    serve_case("serve-failover-typo", "a misspelt [failover] key", backends_file(tables="[failover]\nretrys = 2\n"),
               expect=("did you mean 'retries'",)),
    serve_case("serve-unknown-table", "an unknown table", "[[backend]]\nname = \"x\"\n", expect=("did you mean",)),
    serve_case("serve-backend-typo", "a misspelt backend key", backends_file('api_key = "MY_KEY"\n'),
               expect=("did you mean 'api_key_env'",)),
    serve_case("serve-no-backends", "a file without backends", "[proxy]\nroute_on = \"last_user\"\n"),
    serve_case("serve-deployment-prices-differ", "two deployments of one model with different prices",
               backends_file("input_price = 1\n") + f'[[backends]]\nname = "{MODELS[0]}"\nbase_url = '
               '"http://127.0.0.1:10/v1"\ninput_price = 2\n', expect=("different prices",)),
    serve_case("serve-deployment-id-twice", "two deployments with one id",
               backends_file('id = "a"\n') + f'[[backends]]\nname = "{MODELS[0]}"\nbase_url = '
               '"http://127.0.0.1:10/v1"\nid = "a"\n', expect=("used twice",)),
    serve_case("serve-weight-zero", "weight = 0", backends_file("weight = 0\n"), expect=("weight must be above 0",)),
    serve_case("serve-balancing-unknown", "an unknown balancing rule",
               backends_file(tables='[proxy]\nbalancing = "random"\n'), expect=("least-busy",)),
    serve_case("serve-fallback-unknown", "a fallback naming no backend",
               backends_file(tables=f'[fallbacks]\n"{MODELS[0]}" = ["gpt-4"]\n'), expect=("'gpt-4' is not a backend",)),
    serve_case("serve-fallback-self", "a model falling back to itself",
               backends_file(tables=f'[fallbacks]\n"{MODELS[0]}" = ["{MODELS[0]}"]\n'), expect=("itself",)),
    serve_case("serve-fallback-not-a-list", "a fallback that is not a list",
               backends_file(tables=f'[fallbacks]\n"{MODELS[0]}" = "{MODELS[1]}"\n'), expect=("must be a list",)),
    serve_case("serve-cache-entries-zero", "[cache] max_entries = 0",
               backends_file(tables="[cache]\nenabled = true\nmax_entries = 0\n"), expect=("max_entries",)),
    serve_case("serve-workers-zero", "--workers 0", backends_file(), args=("--workers", "0"),
               expect=("--workers must lie in 1..64",)),
    serve_case("serve-timeout-string", "timeout = \"30\"", backends_file('timeout = "30"\n')),
    serve_case("serve-timeout-zero", "timeout = 0", backends_file("timeout = 0\n")),
    serve_case("serve-timeout-bool", "timeout = true", backends_file("timeout = true\n")),
    serve_case("serve-price-negative", "input_price = -1", backends_file("input_price = -1\n")),
    serve_case("serve-request-timeout-zero", "[proxy] request_timeout = 0",
               backends_file(tables="[proxy]\nrequest_timeout = 0\n")),
    serve_case("serve-route-on-unknown", "[proxy] route_on = \"first\"", backends_file(tables='[proxy]\nroute_on = "first"\n')),
    serve_case("serve-name-crlf", "a backend name with a line break",
               '[[backends]]\nname = "math-model\\r\\nx"\nbase_url = "http://127.0.0.1:9/v1"\n'),
    serve_case("serve-base-url-credentials", "credentials in base_url",
               backends_file().replace("http://127.0.0.1:9/v1", f"http://user:{SECRET}@127.0.0.1:9/v1", 1),
               expect=("must not carry credentials",)),
    serve_case("serve-base-url-not-http", "base_url = \"ftp://...\"",
               backends_file().replace("http://127.0.0.1:9/v1", "ftp://127.0.0.1/v1", 1)),
    serve_case("serve-key-in-api-key-env", "a key pasted into api_key_env",
               backends_file(f'api_key_env = "{SECRET}"\n'), expect=("not shown",)),
    serve_case("serve-key-like-name-in-api-key-env", "a key that is also a valid variable name in api_key_env",
               backends_file('api_key_env = "sk_live_51HqLyjWDarjtT1zdp7dcXYZ"\n'), expect=("not shown",)),
    serve_case("serve-key-with-newline", "a key variable holding a trailing line break",
               backends_file('api_key_env = "ROUTEREVAL_TEST_KEY"\n'), env={"ROUTEREVAL_TEST_KEY": f"{SECRET}\n"}),
    serve_case("serve-backends-not-toml", "a backends file that is not TOML", "[[backends]\nname = 1\n"),
    serve_case("serve-backends-not-utf8", "a backends file in Latin-1", "name = 'caf\xe9'\n"),
    serve_case("serve-token-env-is-a-token", "a token passed to --token-env", backends_file(),
               args=("--token-env", SECRET), expect=("not shown",)),
    serve_case("serve-log-level-unknown", "--log-level loud", backends_file(), code=2, args=("--log-level", "loud")),
    serve_case("serve-port-out-of-range", "--port 70000", backends_file(), args=("--port", "70000")),
]


def _latin1(case: Case) -> Case:
    if case.id != "serve-backends-not-utf8":
        return case
    return Case(case.id, case.area, case.input, case.args, case.code, case.expect,
                files={"b.toml": "[proxy]\nroute_on = 'caf\xe9'\n".encode("latin-1")}, setup=case.setup)


SERVE_CASES = [_latin1(c) for c in SERVE_CASES]


@pytest.mark.parametrize("case", SERVE_CASES, ids=lambda c: c.id)
def test_case_serve(case: Case, tmp_path, monkeypatch, capsys):
    _, out, err = check_case(case, tmp_path, monkeypatch, capsys)
    assert SECRET not in out + err  # a key is never echoed, whatever is wrong around it


def test_the_doc_lists_exactly_these_cases():
    check_doc_lists_exactly(AREAS, [c.id for c in HTTP_CASES] + [c.id for c in SERVE_CASES])


# -- hostile backends -------------------------------------------------------------------------------


@pytest.fixture
def keyed(artifact, backends):  # noqa: F811
    """A proxy whose backends all need SECRET, and the servers; a short request timeout."""
    config = config_for(backends, keys={n: "ECHO_KEY" for n in MODELS}, environ={"ECHO_KEY": SECRET})
    config = parse_backends({"backends": [{"name": b.name, "base_url": b.base_url, "model": b.model,
                                           "timeout": 5, "api_key_env": "ECHO_KEY"} for b in config.backends],
                             "failover": {"backoff": 0.01, "max_backoff": 0.05, "retries": 1},
                             "proxy": {"request_timeout": 3}}, "test.toml", {"ECHO_KEY": SECRET})
    with running(create_app(artifact, config)) as url:
        yield url, openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0), backends


def no_secret(text: str) -> None:
    forms = [SECRET, base64.b64encode(f"Bearer {SECRET}".encode()).decode(), json.dumps(SECRET)[1:-1]]
    assert not any(f in text for f in forms), text


def test_a_key_echoed_in_a_200_answer_is_scrubbed(keyed, caplog):
    url, client, servers = keyed
    caplog.set_level(logging.DEBUG)
    servers["math-model"].plan.append(("echo_key",))
    raw = client.chat.completions.with_raw_response.create(model="router", messages=USER)
    assert raw.parse().model == "math-model"
    assert "I got Bearer ***, base64 ***" in raw.parse().choices[0].message.content
    no_secret(raw.text)
    no_secret(caplog.text)


def test_a_key_echoed_in_a_stream_and_cut_across_two_chunks_is_scrubbed(keyed):
    url, _, servers = keyed
    servers["math-model"].plan.append(("echo_key",))
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=chat(stream=True), timeout=10) as response:
        body = b"".join(response.iter_raw()).decode()
    assert response.status_code == 200 and body.endswith("data: [DONE]\n\n")
    assert "I got Bearer ***, base64 ***" in stream_text(body)
    assert servers["math-model"].requests[-1]["authorization"] == f"Bearer {SECRET}"
    no_secret(body)


def stream_text(body: str) -> str:
    """The content of an SSE chat stream, joined."""
    events = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: {")]
    return "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e.get("choices"))


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
@pytest.mark.parametrize("stream", [False, True])
def test_a_compressed_answer_is_decoded_and_relayed_plain(proxy_plain, encoding, stream):
    url, client, servers = proxy_plain
    servers["math-model"].plan.append(("encode", encoding))
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=chat(stream=stream),
                      headers={"accept-encoding": "identity"}, timeout=10) as response:
        raw = b"".join(response.iter_raw())
    assert response.status_code == 200, raw
    assert "content-encoding" not in response.headers  # the bytes are plain, so no header may say otherwise
    text = raw.decode()
    if stream:
        assert text.count("data: ") == 6 and text.endswith("data: [DONE]\n\n")
        assert stream_text(text) == f"math-model answered: {MATH}"
    else:
        assert json.loads(text)["choices"][0]["message"]["content"] == f"math-model answered: {MATH}"


@pytest.fixture
def proxy_plain(artifact, backends):  # noqa: F811
    with running(create_app(artifact, config_for(backends))) as url:
        yield url, openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0), backends


@pytest.mark.parametrize("status, content_type, body, reason", [
    (200, "text/html", b"<html><body>Bad gateway</body></html>", "http 200 with a body that is not a JSON object"),
    (200, "application/json", b'{"choices": [', "http 200 with a body that is not a JSON object"),
    (200, "application/json", b'{"error": {"message": "overloaded", "type": "server_error"}}',
     "http 200 with an error object instead of an answer"),
    (200, "application/json", b'{"id": "x", "temperature": NaN, "choices": []}',
     "http 200 with a body that is not a JSON object"),
    (200, "application/json", b"[" * 5000 + b"]" * 5000, "http 200 with a body that is not a JSON object"),
])
def test_a_200_that_is_not_an_answer_falls_back(proxy_plain, status, content_type, body, reason):
    _, client, servers = proxy_plain
    servers["math-model"].plan.extend([("raw", status, content_type, body)] * 3)
    response = ask(client)
    assert response.model == "code-model"
    assert attempts(response) == [("math-model", 200, reason)] * 3 + [("code-model", 200, "ok")]


def test_a_backend_4xx_in_html_reaches_the_client_as_an_openai_error(proxy_plain):
    _, client, servers = proxy_plain
    servers["math-model"].plan.append(("raw", 400, "text/html", b"<p>no such route</p>"))
    with pytest.raises(openai.BadRequestError) as caught:
        ask(client)
    assert caught.value.response.json()["error"]["message"] == "math-model answered 400: <p>no such route</p>"
    assert caught.value.response.headers["content-type"] == "application/json"


@pytest.mark.slow  # waits out a real deadline
def test_a_trickling_backend_gets_a_504_at_the_request_deadline(keyed):
    url, client, servers = keyed
    servers["math-model"].plan.append(("trickle", 0.2))
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as caught:
        ask(client)
    took = time.monotonic() - started
    assert caught.value.status_code == 504 and 2.9 < took < 6
    error = caught.value.response.json()["error"]
    assert error["code"] == "request_timeout"
    assert error["message"].startswith("no answer within the request timeout of 3 s (request_timeout in the backends "
                                       "file); attempts: math-model: request timeout")


@pytest.mark.slow  # waits out a real deadline
def test_a_trickling_stream_ends_with_one_error_event_at_the_deadline(keyed):
    url, _, servers = keyed
    servers["math-model"].plan.append(("trickle", 0.2))
    started = time.monotonic()
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=chat(stream=True), timeout=30) as response:
        body = b"".join(response.iter_raw()).decode()
    took = time.monotonic() - started
    assert response.status_code == 200 and 2.9 < took < 6
    assert body.count("event: error") == 1 and body.rstrip().endswith("}")
    last = json.loads(body.rstrip().splitlines()[-1][6:])
    assert last["error"]["code"] == "request_timeout"
    assert body.splitlines()[0].startswith("data: {")  # the first event was relayed before the deadline


def test_the_deadline_covers_retries_and_fallbacks(artifact, backends):  # noqa: F811
    # Each candidate asks to be retried after 0.9 s, twice: 1.8 s a candidate, so the 2 s deadline ends it.
    for server in backends.values():
        server.plan.extend([("status", 503, 0.9)] * 3)
    config = parse_backends({"backends": [{"name": n, "base_url": s.base_url, "timeout": 5}
                                          for n, s in backends.items()],
                             "failover": {"retries": 2, "backoff": 0.01}, "proxy": {"request_timeout": 2}},
                            "test.toml")
    with running(create_app(artifact, config)) as url:
        started = time.monotonic()
        r = httpx.post(f"{url}/v1/chat/completions", json=chat(), timeout=30)
        took = time.monotonic() - started
    assert r.status_code == 504 and 1.9 < took < 4
    assert r.json()["error"]["message"].endswith("attempts: math-model: http 503; math-model: http 503; math-model: http 503; code-model: http 503")


def test_a_json_answer_trickling_after_its_headers_is_cut_at_the_backend_timeout(artifact, backends):  # noqa: F811
    # Headers at once, then a byte every 0.2 s: the whole answer is due within the timeout of its first byte.
    backends["math-model"].plan.append(("trickle", 0.2))
    config = parse_backends({"backends": [{"name": n, "base_url": s.base_url, "timeout": 1}
                                          for n, s in backends.items()]}, "test.toml")
    with running(create_app(artifact, config)) as url:
        started = time.monotonic()
        r = httpx.post(f"{url}/v1/chat/completions", json=chat(), timeout=30)
        took = time.monotonic() - started
    assert r.status_code == 200 and r.json()["model"] != "math-model" and 0.9 < took < 2.5
    assert r.json()["routing"]["attempts"][0] == {
        "backend": "math-model", "status": None, "reason": "answer not complete within the timeout of 1 s",
        "latency_ms": r.json()["routing"]["attempts"][0]["latency_ms"]}


def test_a_stream_that_stalls_between_events_ends_with_one_error_event(artifact, backends):  # noqa: F811
    backends["math-model"].plan.append(("trickle", 0.2))
    config = parse_backends({"backends": [{"name": n, "base_url": s.base_url, "timeout": 1}
                                          for n, s in backends.items()]}, "test.toml")
    with running(create_app(artifact, config)) as url:
        started = time.monotonic()
        with httpx.stream("POST", f"{url}/v1/chat/completions", json=chat(stream=True), timeout=30) as response:
            body = b"".join(response.iter_raw()).decode()
        took = time.monotonic() - started
    assert response.status_code == 200 and 0.9 < took < 2.5
    assert body.count("event: error") == 1
    assert json.loads(body.rstrip().splitlines()[-1][6:])["error"]["code"] == "stream_stalled"


def test_header_values_are_made_safe():
    assert header_value("math-model") == "math-model"
    assert header_value("a\r\nx-evil: 1") == "a%0D%0Ax-evil: 1"
    assert header_value("模型") == "%E6%A8%A1%E5%9E%8B"
    assert header_value("50%") == "50%25"
    header_value("模型").encode("latin-1")  # what the server must be able to send


def test_requests_during_a_cooldown_are_each_answered_exactly_once(artifact, backends):  # noqa: F811
    import asyncio

    config = config_for(backends, failover={"retries": 0, "cooldown_failures": 1, "cooldown_seconds": 60})
    backends["math-model"].plan.append(("status", 500, None))
    with running(create_app(artifact, config)) as url:
        async def main():
            async with httpx.AsyncClient(timeout=60) as client:
                return await asyncio.gather(*(client.post(f"{url}/v1/chat/completions",
                                                          json=chat(messages=[{"role": "user",
                                                                               "content": f"{MATH} #{i}"}]))
                                              for i in range(24)))

        results = asyncio.run(main())
    assert [r.status_code for r in results] == [200] * 24
    for i, r in enumerate(results):
        assert r.json()["choices"][0]["message"]["content"].endswith(f"{MATH} #{i}")
    answered = sum(r["action"] == "ok" for s in backends.values() for r in s.requests)
    assert answered == 24


def test_n_above_one_and_stream_options_pass_through(proxy_plain):
    url, client, servers = proxy_plain
    chunks = list(ask(client, stream=True, stream_options={"include_usage": True}, n=2))
    assert chunks[-1].usage is not None
    body = servers["math-model"].requests[-1]["body"]
    assert body["n"] == 2 and body["stream_options"] == {"include_usage": True}
