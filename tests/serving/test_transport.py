"""The proxy's backend transport (httpx over aiohttp's pool) against real sockets on 127.0.0.1.

Each server here is a plain asyncio socket server that writes the exact bytes
a test needs (a gzip body, a short body, no answer at all), so what the
transport makes of them is checked against bytes chosen by hand.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("aiohttp")

from routereval.serving.transport import AiohttpTransport  # noqa: E402


class Server:
    """An asyncio server on a free port whose handler gets each connection's reader and writer."""

    def __init__(self, handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []

    async def __aenter__(self) -> Server:
        async def serve(reader, writer):
            self.connections += 1
            try:
                await self.handler(self, reader, writer)
            finally:
                writer.close()

        self._server = await asyncio.start_server(serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()

    async def read_request(self, reader) -> bytes | None:
        """One whole request (head and Content-Length body), kept in ``requests``; None at end of connection."""
        head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
        if not head:
            return None
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        request = head + (await reader.readexactly(length) if length else b"")
        self.requests.append(request)
        return request


def answer(body: bytes, *headers: str) -> bytes:
    lines = ["HTTP/1.1 200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def keep_answering(body: bytes, *headers: str):
    async def handler(server, reader, writer):
        while True:
            try:
                if await server.read_request(reader) is None:
                    return
            except asyncio.IncompleteReadError:
                return
            writer.write(answer(body, *headers))
            await writer.drain()
    return handler


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=AiohttpTransport(), timeout=httpx.Timeout(5.0), follow_redirects=False)


def run(coroutine):
    return asyncio.run(coroutine)


def test_request_bytes_and_headers_are_the_ones_httpx_built():
    async def main():
        async with Server(await keep_answering(b'{"ok": true}')) as server, client() as http:
            response = await http.post(f"{server.url}/v1/chat/completions", json={"model": "m", "n": 1},
                                       headers={"Authorization": "Bearer k-123"})
            return response, server.requests[0]

    response, raw = run(main())
    assert response.status_code == 200 and response.json() == {"ok": True}
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /v1/chat/completions HTTP/1.1"
    names = [line.split(b":", 1)[0].lower() for line in lines[1:]]
    # One of each: aiohttp adds none of its own beside httpx's (a second Content-Length would be a smuggling risk).
    assert sorted(names) == sorted(set(names))
    fields = {line.split(b":", 1)[0].lower(): line.split(b":", 1)[1].strip() for line in lines[1:]}
    assert fields[b"authorization"] == b"Bearer k-123"
    assert fields[b"user-agent"].startswith(b"python-httpx/")
    assert json.loads(body) == {"model": "m", "n": 1} and int(fields[b"content-length"]) == len(body)


def test_a_gzip_answer_is_decoded_once_by_httpx():
    document = {"choices": [{"message": {"content": "x" * 5000}}]}
    packed = gzip.compress(json.dumps(document).encode())

    async def main():
        async with Server(await keep_answering(packed, "Content-Encoding: gzip")) as server, client() as http:
            response = await http.post(f"{server.url}/v1/x", json={})
            raw = await http.post(f"{server.url}/v1/x", json={})
            return response.json(), raw.headers["content-encoding"], len(packed)

    decoded, encoding, size = run(main())
    assert decoded == document and encoding == "gzip" and size < 200  # the body on the wire was the small one


def test_kept_alive_connections_are_reused_and_one_left_unread_is_closed():
    async def handler(server, reader, writer):
        while (request := await server.read_request(reader)) is not None:
            if b" /v1/partial " in request:
                # Headers and a tenth of the body, then wait: the client must close this connection.
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 10_000)
                await writer.drain()
                await reader.read()
                server.closed_by_client.set()
                return
            writer.write(answer(b'{"a": 1}'))
            await writer.drain()

    async def main():
        async with Server(handler) as server, client() as http:
            server.closed_by_client = asyncio.Event()
            for _ in range(3):
                assert (await http.post(f"{server.url}/v1/x", json={})).json() == {"a": 1}
            reused = server.connections
            response = await http.send(http.build_request("POST", f"{server.url}/v1/partial", json={}), stream=True)
            await response.aclose()  # before its body was read: that connection must not serve again
            await asyncio.wait_for(server.closed_by_client.wait(), 2.0)
            assert (await http.post(f"{server.url}/v1/x", json={})).json() == {"a": 1}
            return reused, server.connections

    reused, after = run(main())
    assert reused == 1  # three requests, one connection
    assert after == 2  # the kept-alive one carried the partial answer and was closed; the last request opened another


def test_no_first_byte_within_the_read_timeout_is_httpx_read_timeout():
    async def silent(server, reader, writer):
        await server.read_request(reader)
        await asyncio.sleep(5)

    async def main():
        async with Server(silent) as server, client() as http:
            started = time.perf_counter()
            with pytest.raises(httpx.ReadTimeout):
                await http.post(f"{server.url}/v1/x", json={}, timeout=httpx.Timeout(0.3, connect=1.0))
            return time.perf_counter() - started

    assert 0.25 < run(main()) < 2.0


def test_a_refused_connection_is_httpx_connect_error():
    async def main():
        async with Server(await keep_answering(b"{}")) as server:
            url = server.url
        async with client() as http:  # the server is closed: nothing listens on its port now
            with pytest.raises(httpx.ConnectError):
                await http.post(f"{url}/v1/x", json={})

    run(main())


def test_a_body_cut_short_is_an_httpx_error_while_reading():
    async def short(server, reader, writer):
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"0123456789")
        await writer.drain()

    async def main():
        async with Server(short) as server, client() as http:
            response = await http.send(http.build_request("POST", f"{server.url}/v1/x", json={}), stream=True)
            assert response.status_code == 200
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                await response.aread()
            await response.aclose()

    run(main())


def test_a_stream_arrives_as_the_backend_sends_it():
    async def events(server, reader, writer):
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        for k in range(3):
            event = f"data: {k}\n\n".encode()
            writer.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
            await writer.drain()
            await asyncio.sleep(0.2)
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async def main():
        async with Server(events) as server, client() as http:
            started = time.perf_counter()
            seen = []
            async with http.stream("POST", f"{server.url}/v1/x", json={}) as response:
                async for chunk in response.aiter_bytes():
                    seen.append((chunk, time.perf_counter() - started))
            return seen

    seen = run(main())
    assert b"".join(c for c, _ in seen) == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
    assert seen[0][1] < 0.15  # the first event came before the last was written, not buffered to the end


def test_a_proxy_from_the_environment_carries_the_request_unless_no_proxy_names_the_host(monkeypatch):
    async def main():
        async with Server(await keep_answering(b'{"via": "proxy"}')) as proxy:
            monkeypatch.setenv("HTTP_PROXY", proxy.url)
            monkeypatch.delenv("NO_PROXY", raising=False)
            monkeypatch.delenv("no_proxy", raising=False)
            async with client() as http:
                answered = (await http.post("http://backend.invalid:9/v1/x", json={})).json()
            monkeypatch.setenv("NO_PROXY", "backend.invalid")
            async with client() as http:
                with pytest.raises(httpx.ConnectError):  # straight to a host that does not exist
                    await http.post("http://backend.invalid:9/v1/x", json={})
            return answered, proxy.requests

    answered, requests = run(main())
    assert answered == {"via": "proxy"}
    assert len(requests) == 1 and requests[0].startswith(b"POST http://backend.invalid:9/v1/x HTTP/1.1\r\n")
