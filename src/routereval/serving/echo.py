"""A tiny OpenAI-compatible chat server that answers with its own name: to try the proxy with no LLM.

    python -m routereval.serving.echo --name small --port 9001

``POST /v1/chat/completions`` answers "<name> answered: <last user message>"
as JSON or, with ``"stream": true``, as server-sent events (a role chunk,
content chunks, a final chunk with ``finish_reason``, a usage chunk when
``stream_options.include_usage`` is set, then ``[DONE]``). It can be told to
misbehave, which is how the proxy's failure table is tested against real
sockets: ``EchoServer.plan`` takes one action per coming request
(``("status", 429, retry_after)``, ``("delay", seconds)``, ``("cut",)``
after the first stream chunk, ``("close",)`` before any byte,
``("echo_auth", status)`` to answer with the Authorization header it got),
and ``fail_every=k`` answers 500 to every k-th request. Hostile backends
too: ``("echo_key",)`` answers 200 (or streams) with its Authorization
header, as-is and base64'd, in the content, the stream's header cut across
two network writes; ``("encode", "gzip" | "deflate")`` compresses the answer
(and each stream event as it goes) with that Content-Encoding;
``("trickle", seconds)`` sends the first stream event (or the headers of a
JSON answer), then one byte every ``seconds``, never finishing;
``("raw", status, content_type, body)`` answers exactly those bytes.

A plain asyncio HTTP/1.1 server with keep-alive: no framework, so it is fast
enough to measure the proxy against and its faults are exact.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import json
import threading
import time
import zlib
from typing import Any

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            408: "Request Timeout", 429: "Too Many Requests", 500: "Internal Server Error",
            502: "Bad Gateway", 503: "Service Unavailable"}


async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A hanging backend: accept the connection, read whatever comes, never answer, until the peer goes.

    ``asyncio.start_server(hold, "127.0.0.1", 0)`` is one; the load benchmarks use it.
    """
    try:
        while await reader.read(65536):
            pass
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


class EchoServer:
    """The server, run on its own event loop in a thread (``start`` / ``stop``) or in the foreground (``run``)."""

    def __init__(self, name: str, host: str = "127.0.0.1", port: int = 0, *, fail_every: int = 0,
                 chunks: int = 3, chunk_delay: float = 0.0) -> None:
        self.name, self.host, self.port = name, host, port
        self.fail_every, self.chunks, self.chunk_delay = fail_every, chunks, chunk_delay
        self.plan: collections.deque = collections.deque()
        self.requests: list[dict[str, Any]] = []
        self._count = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # -- life cycle ----------------------------------------------------------------------

    async def _serve(self, started: threading.Event | None) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        if started is not None:
            started.set()
        async with self._server:
            await self._server.serve_forever()

    def start(self) -> EchoServer:
        """Serve in a daemon thread; returns once the port is bound."""
        started = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self._serve(started))
            except asyncio.CancelledError:
                pass

        self._thread = threading.Thread(target=run, name=f"echo-{self.name}", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError(f"echo server {self.name} did not start")
        return self

    def stop(self) -> None:
        """Close the listening socket and every open connection, and end the thread."""
        if self._loop is None:
            return

        async def shutdown() -> None:
            self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop)
        self._thread.join(5)
        self._loop = None

    def run(self) -> None:
        """Serve in the foreground until interrupted."""
        asyncio.run(self._serve(None))

    async def serve(self) -> None:
        """Serve on the running event loop (several servers can share one loop)."""
        await self._serve(None)

    # -- HTTP ------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if not await self._respond(method, path, headers, body, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return  # the peer went, or the server is stopping
        finally:
            self._writers.discard(writer)
            if not writer.transport.is_closing():
                writer.close()

    def _next_action(self) -> tuple:
        self._count += 1
        if self.plan:
            return tuple(self.plan.popleft())
        if self.fail_every and self._count % self.fail_every == 0:
            return ("status", 500, None)
        return ("ok",)

    async def _send(self, writer: asyncio.StreamWriter, status: int, body: bytes, extra: dict[str, str] | None = None,
                    content_type: str = "application/json") -> None:
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", f"content-type: {content_type}",
                f"content-length: {len(body)}", f"x-echo-name: {self.name}"]
        head += [f"{k}: {v}" for k, v in (extra or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()

    async def _respond(self, method: str, path: str, headers: dict[str, str], body: bytes,
                       writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False closes the connection."""
        if method == "GET" and path.rstrip("/").endswith("/models"):
            await self._send(writer, 200, json.dumps({"object": "list", "data": [
                {"id": self.name, "object": "model", "created": 0, "owned_by": "echo"}]}).encode())
            return True
        if method != "POST" or not path.rstrip("/").endswith("/chat/completions"):
            await self._send(writer, 404, b'{"error": {"message": "not found"}}')
            return True
        try:
            doc = json.loads(body)
        except json.JSONDecodeError:
            await self._send(writer, 400, b'{"error": {"message": "invalid JSON"}}')
            return True
        action = self._next_action()
        self.requests.append({"model": doc.get("model"), "action": action[0], "time": time.monotonic(),
                              "authorization": headers.get("authorization"), "body": doc})
        kind = action[0]
        if kind == "delay":
            await asyncio.sleep(float(action[1]))
        elif kind == "close":
            writer.transport.abort()
            return False
        elif kind == "status":
            extra = {"retry-after": str(action[2])} if len(action) > 2 and action[2] is not None else {}
            message = {"error": {"message": f"{self.name} says {action[1]}", "type": "echo_error"}}
            await self._send(writer, int(action[1]), json.dumps(message).encode(), extra)
            return True
        elif kind == "echo_auth":
            message = {"error": {"message": f"bad key: {headers.get('authorization')}", "type": "auth"}}
            await self._send(writer, int(action[1]), json.dumps(message).encode())
            return True
        elif kind == "raw":
            await self._send(writer, int(action[1]), action[3], content_type=action[2])
            return True
        text = _last_user(doc.get("messages"))
        content = f"{self.name} answered: {text}"
        auth = headers.get("authorization", "")
        if kind == "echo_key":
            content += f" (I got {auth}, base64 {base64.b64encode(auth.encode()).decode()})"
        encoding = action[1] if kind == "encode" else None
        if doc.get("stream"):
            await self._stream(writer, doc, content, cut=kind == "cut", encoding=encoding,
                               trickle=float(action[1]) if kind == "trickle" else None,
                               split=auth.split(" ")[-1] if kind == "echo_key" else None)
            return kind not in ("cut", "trickle")
        if kind == "cut":
            writer.transport.abort()
            return False
        usage = {"prompt_tokens": len(text.split()), "completion_tokens": len(content.split()),
                 "total_tokens": len(text.split()) + len(content.split())}
        answer = {"id": f"chatcmpl-{self.name}-{self._count}", "object": "chat.completion", "created": int(time.time()),
                  "model": doc.get("model"), "choices": [{"index": 0, "finish_reason": "stop",
                  "message": {"role": "assistant", "content": content}}], "usage": usage}
        body = json.dumps(answer).encode()
        if kind == "trickle":
            await self._trickle(writer, len(body), float(action[1]))
            return False
        if encoding:
            await self._send(writer, 200, _compress(encoding, body), {"content-encoding": encoding})
            return True
        await self._send(writer, 200, body)
        return True

    async def _trickle(self, writer: asyncio.StreamWriter, length: int, interval: float) -> None:
        """Headers promising ``length`` bytes, then one byte every ``interval`` seconds until the peer goes."""
        head = ["HTTP/1.1 200 OK", "content-type: application/json", f"content-length: {length}"]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        for _ in range(length - 1):
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(interval)
        writer.transport.abort()

    async def _stream(self, writer: asyncio.StreamWriter, doc: dict[str, Any], content: str, cut: bool,
                      encoding: str | None = None, trickle: float | None = None, split: str | None = None) -> None:
        base = {"id": f"chatcmpl-{self.name}-{self._count}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": doc.get("model")}
        words = content.split(" ")
        size = max(1, -(-len(words) // self.chunks))
        pieces = [" ".join(words[i:i + size]) + (" " if i + size < len(words) else "")
                  for i in range(0, len(words), size)]
        events = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                        "finish_reason": None}]}]
        events += [{**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces]
        events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (doc.get("stream_options") or {}).get("include_usage"):
            text = _last_user(doc.get("messages"))
            events.append({**base, "choices": [], "usage": {
                "prompt_tokens": len(text.split()), "completion_tokens": len(words),
                "total_tokens": len(text.split()) + len(words)}})
        head = ["HTTP/1.1 200 OK", "content-type: text/event-stream", "transfer-encoding: chunked",
                f"x-echo-name: {self.name}"] + ([f"content-encoding: {encoding}"] if encoding else [])
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        payloads = [f"data: {json.dumps(e)}\n\n".encode() for e in events] + [b"data: [DONE]\n\n"]
        packer = _compressor(encoding) if encoding else None

        async def chunk(data: bytes) -> None:
            if packer is not None:  # each event compressed and flushed as it goes, as a compressing server does
                data = packer.compress(data) + packer.flush(zlib.Z_SYNC_FLUSH)
            if data:
                writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                await writer.drain()

        for i, payload in enumerate(payloads):
            if cut and i == 2:
                # Mid-stream: drop the connection without the chunked terminator.
                await writer.drain()
                writer.transport.abort()
                return
            if trickle is not None and i == 1:
                for _ in range(100000):  # one byte at a time, never an event's end
                    await chunk(b" ")
                    await asyncio.sleep(trickle)
            if split and split.encode() in payload:
                # The key cut in two network writes, some time apart.
                at = payload.index(split.encode()) + len(split) // 2
                await chunk(payload[:at])
                await asyncio.sleep(0.05)
                payload = payload[at:]
            await chunk(payload)
            if self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)
        if packer is not None:
            tail = packer.flush()
            writer.write(f"{len(tail):x}\r\n".encode() + tail + b"\r\n")
        writer.write(b"0\r\n\r\n")
        await writer.drain()


def _compressor(encoding: str) -> Any:
    """A zlib compressor for an HTTP content-encoding: ``gzip`` (gzip wrapper) or ``deflate`` (zlib wrapper)."""
    return zlib.compressobj(wbits=31 if encoding == "gzip" else 15)


def _compress(encoding: str, body: bytes) -> bytes:
    packer = _compressor(encoding)
    return packer.compress(body) + packer.flush()


def _last_user(messages: Any) -> str:
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user" and isinstance(message.get("content"), str):
                return message["content"]
    return ""


def main(argv: list[str] | None = None) -> None:
    """Command line: serve one echo backend in the foreground."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--name", default="echo", help="Name(s) it answers with, comma-separated: one server each, "
                        "on consecutive ports.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001, help="Port of the first server.")
    parser.add_argument("--fail-every", default="0", help="Answer 500 to every k-th request (0: never); one value, "
                        "or one per name, comma-separated.")
    args = parser.parse_args(argv)
    names = [n for n in args.name.split(",") if n]
    fails = [int(f) for f in args.fail_every.split(",")]
    fails = fails * len(names) if len(fails) == 1 else fails
    servers = [EchoServer(n, args.host, args.port + i, fail_every=f) for i, (n, f) in enumerate(zip(names, fails))]
    for server in servers:
        print(f"echo backend {server.name!r} on {server.base_url}", flush=True)

    async def serve_all() -> None:
        await asyncio.gather(*(s.serve() for s in servers))

    try:
        asyncio.run(serve_all())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
