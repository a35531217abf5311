"""HTTP clients the router uses to call its backends, behind one small interface.

The router needs one thing from a client: send a buffered request, get back status,
headers and body, or an `UpstreamError` for anything that went wrong on the way
(refused connection, timeout, a backend that hung up). Two implementations:

- `AiohttpUpstream`, the production one: aiohttp's `ClientSession` with a pooled
  connector. On this course's machines it proxied about five times faster than
  httpx's async client (see bench/router_bench.py, which measures both).
- `HttpxUpstream`: httpx's `AsyncClient`. It can call an ASGI app in the same process
  through `httpx.ASGITransport`, with no socket, which makes router tests fast.

Bodies are read whole: /predict bodies are small and capped (`MAX_BODY_BYTES`).
"""

from __future__ import annotations

import asyncio
import http.cookiejar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import httpx

Headers = Sequence[tuple[bytes, bytes]]


class UpstreamError(Exception):
    """A backend could not be reached or did not answer in time (the router says 502)."""


@dataclass(frozen=True)
class UpstreamResponse:
    """A backend's answer: status, raw headers (lower-case names), body."""

    status: int
    headers: Headers
    body: bytes


class Upstream(Protocol):
    """What the router needs from an HTTP client."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def request(self, method: str, url: str, headers: Headers, body: bytes,
                      timeout: float) -> UpstreamResponse: ...


class AiohttpUpstream:
    """aiohttp `ClientSession` with one connection pool for all backends."""

    def __init__(self, *, max_connections: int = 100, keepalive_s: float = 4.0,
                 connect_timeout_s: float = 1.0) -> None:
        self.max_connections = max_connections
        self.keepalive_s = keepalive_s
        self.connect_timeout_s = connect_timeout_s
        self._session: Any = None

    async def start(self) -> None:
        """Open the session (inside the running event loop)."""
        connector = aiohttp.TCPConnector(limit=self.max_connections,
                                         keepalive_timeout=self.keepalive_s)
        # No cookie jar: the session is shared by every user, so a cookie one backend answer
        # sets must not ride along on the next user's request.
        self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False,
                                              cookie_jar=aiohttp.DummyCookieJar(),
                                              skip_auto_headers=("User-Agent",))

    async def close(self) -> None:
        """Close the session and its pooled connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, method: str, url: str, headers: Headers, body: bytes,
                      timeout: float) -> UpstreamResponse:
        """Send one request; raise `UpstreamError` for any transport failure."""
        limits = aiohttp.ClientTimeout(total=timeout, connect=self.connect_timeout_s)
        try:
            async with self._session.request(
                    method, url, headers=[(k.decode("latin-1"), v.decode("latin-1"))
                                          for k, v in headers],
                    data=body or None, timeout=limits, allow_redirects=False) as response:
                content = await response.read()
                raw = [(k.lower(), v) for k, v in response.raw_headers]
                return UpstreamResponse(response.status, raw, content)
        except (TimeoutError, aiohttp.ClientError) as err:
            raise UpstreamError(describe(err)) from None


class HttpxUpstream:
    """httpx `AsyncClient`; `mounts` maps URL prefixes to transports (e.g. ASGITransport)."""

    def __init__(self, *, mounts: Mapping[str, Any] | None = None,
                 max_connections: int = 100, keepalive_s: float = 4.0,
                 connect_timeout_s: float = 1.0) -> None:
        self.mounts = dict(mounts or {})
        self.max_connections = max_connections
        self.keepalive_s = keepalive_s
        self.connect_timeout_s = connect_timeout_s
        self._client: Any = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            mounts=self.mounts or None, trust_env=False, cookies=_refusing_cookie_jar(),
            limits=httpx.Limits(max_connections=self.max_connections,
                                max_keepalive_connections=self.max_connections,
                                keepalive_expiry=self.keepalive_s),
            timeout=httpx.Timeout(5.0, connect=self.connect_timeout_s))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def request(self, method: str, url: str, headers: Headers, body: bytes,
                      timeout: float) -> UpstreamResponse:
        try:
            response = await self._client.request(
                method, url, headers=list(headers), content=body,
                timeout=httpx.Timeout(timeout, connect=self.connect_timeout_s))
        except httpx.HTTPError as err:
            raise UpstreamError(describe(err)) from None
        return UpstreamResponse(response.status_code,
                                [(k.lower(), v) for k, v in response.headers.raw],
                                response.content)


def _refusing_cookie_jar() -> http.cookiejar.CookieJar:
    """A cookie jar that accepts no cookie (see `AiohttpUpstream.start`)."""
    return http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


def describe(err: BaseException) -> str:
    """One line naming a transport failure: its type and message."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    timeout = isinstance(err, asyncio.TimeoutError | httpx.TimeoutException)
    name = "timeout" if timeout else type(err).__name__
    return f"{name}: {text}" if text else name
