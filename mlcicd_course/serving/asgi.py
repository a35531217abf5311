"""Small helpers for plain ASGI apps: read a request body, send a response.

An ASGI app is an async function `app(scope, receive, send)`: `scope` describes the
request (method, path, headers as lower-case bytes), `receive()` gives the body in
chunks, and `send()` takes the response start (status, headers) and then the body.
The router is written at this level, without a framework, to keep its hot path short.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

VERSION_HEADER = b"x-model-version"


def cookie_value(header: str, name: str) -> str | None:
    """The value of cookie `name` in a Cookie header (`a=1; uid=42` -> "42")."""
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None when it is over `limit` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def send_body(send: Send, status: int, headers: list[tuple[bytes, bytes]],
                    body: bytes) -> None:
    """Send a complete response."""
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, data: Any, *, version: str | None = None,
                    headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Send `data` as a JSON response (with `X-Model-Version` when a version is known)."""
    extra = list(headers or [])
    if version is not None:
        extra.append((VERSION_HEADER, version.encode()))
    await send_body(send, status, [(b"content-type", b"application/json"), *extra],
                    json.dumps(data).encode())
