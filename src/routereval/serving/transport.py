"""The proxy's connection to its backends: httpx's interface over aiohttp's connection pool.

The forwarding code speaks httpx (requests, streamed responses, timeouts and
exceptions). Under load, httpx's own pool (httpcore) costs more CPU than
anything else in a forwarded request: each request scans every pooled
connection and polls each idle socket, about 1.5 ms per request at 50
concurrent clients on 2 CPUs (benchmarks/serve_load.py). aiohttp's pool hands
out a kept-alive connection without that scan, so :class:`AiohttpTransport`
carries httpx's requests over it.

What the transport keeps as httpx would: the request bytes and headers as
httpx built them; the response's raw bytes (aiohttp's decompression is off, so
httpx undoes gzip and deflate and the proxy's size bound applies to the
decoded body); the per-request timeouts (``connect`` for a new connection,
``read`` for each read from the socket, the first byte included, ``pool`` for
a free connection); redirects not followed; proxies from the environment
(``HTTP_PROXY``, ``HTTPS_PROXY``, ``NO_PROXY``) honoured, looked up once per
backend origin rather than per request (aiohttp's own lookup reads the
environment and ``~/.netrc`` on every request). aiohttp's failures are raised
as the httpx exceptions the forwarding code already handles.
"""

from __future__ import annotations

import urllib.request
from collections.abc import AsyncIterator

import aiohttp
import httpx

#: Headers aiohttp would add on its own; httpx has already set the ones it sends.
_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


class _Body(httpx.AsyncByteStream):
    """A response body read from aiohttp as it arrives; closing it releases (or drops) the connection."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except Exception as exc:  # noqa: BLE001 - every aiohttp failure becomes the httpx one the caller handles
            raise _as_httpx(exc, reading=True) from exc

    async def aclose(self) -> None:
        # A body read to its end returns the connection to the pool; one closed early closes it.
        self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An httpx transport whose connections are aiohttp's (one pool, ``limit`` connections in all)."""

    def __init__(self, limit: int = 512, keepalive_seconds: float = 30.0) -> None:
        self._limit, self._keepalive = limit, keepalive_seconds
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}

    def _open(self) -> aiohttp.ClientSession:
        # Made on first use, inside the event loop that will run it (aiohttp binds a session to its loop).
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._limit, limit_per_host=0,
                                             keepalive_timeout=self._keepalive, ttl_dns_cache=60)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False, trust_env=False,
                                                  skip_auto_headers=_AUTO_HEADERS, cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return its response with the body still to read."""
        limits = request.extensions.get("timeout", {})
        timeout = aiohttp.ClientTimeout(total=None, connect=limits.get("pool"), sock_connect=limits.get("connect"),
                                        sock_read=limits.get("read"))
        body = await request.aread()
        try:
            response = await self._open().request(
                request.method, str(request.url), data=body or None, headers=request.headers.multi_items(),
                timeout=timeout, allow_redirects=False, compress=None, auto_decompress=False,
                proxy=self._proxy(request.url))
        except Exception as exc:  # noqa: BLE001 - as in _Body
            raise _as_httpx(exc, reading=False, request=request) from exc
        return httpx.Response(status_code=response.status, headers=list(response.raw_headers), stream=_Body(response),
                              request=request, extensions={"http_version": b"HTTP/1.1",
                                                           "reason_phrase": (response.reason or "").encode()})

    def _proxy(self, url: httpx.URL) -> str | None:
        """The environment's proxy for ``url``'s scheme and host (None: connect directly), remembered."""
        key = (url.scheme, url.host)
        if key not in self._proxies:
            bypass = urllib.request.proxy_bypass(url.host)
            self._proxies[key] = None if bypass else urllib.request.getproxies().get(url.scheme)
        return self._proxies[key]

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _as_httpx(exc: Exception, *, reading: bool, request: httpx.Request | None = None) -> Exception:
    """The httpx exception for an aiohttp failure, its message kept."""
    message = str(exc) or type(exc).__name__
    kind: type[httpx.TransportError]
    if isinstance(exc, TimeoutError):  # aiohttp's timeouts are TimeoutErrors too
        kind = httpx.ConnectTimeout if isinstance(exc, aiohttp.ConnectionTimeoutError) else httpx.ReadTimeout
    elif isinstance(exc, aiohttp.ClientConnectorError) and not reading:
        kind = httpx.ConnectError
    elif isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientResponseError, aiohttp.ClientPayloadError)):
        kind = httpx.RemoteProtocolError
    elif isinstance(exc, OSError):
        kind = httpx.ReadError
    else:
        kind = httpx.TransportError
    return kind(message, request=request)
