"""The router's HTTP clients against a real socket: they forward, and they keep nothing
from one request to the next (a proxy's client is shared by every user)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from mlcicd_course.serving.upstream import AiohttpUpstream, HttpxUpstream


async def echo_cookie(request: web.Request) -> web.Response:
    """Answer with the Cookie header it received, and set a session cookie."""
    response = web.Response(text=request.headers.get("Cookie", "<none>"))
    response.set_cookie("session", "alice")
    return response


@pytest.mark.parametrize("client", [AiohttpUpstream, HttpxUpstream])
def test_a_cookie_set_for_one_user_never_reaches_the_next(client):
    async def scenario():
        app = web.Application()
        app.router.add_post("/predict", echo_cookie)
        async with TestServer(app, host="127.0.0.1") as server:
            upstream = client()
            await upstream.start()
            try:
                # By host name: aiohttp's default cookie jar ignores cookies of IP addresses.
                url = f"http://localhost:{server.port}/predict"
                first = await upstream.request("POST", url, [], b"[]", 5)
                second = await upstream.request("POST", url, [], b"[]", 5)
                own = await upstream.request("POST", url, [(b"cookie", b"uid=bob")], b"[]", 5)
            finally:
                await upstream.close()
        return first, second, own

    first, second, own = asyncio.run(scenario())
    assert any(k == b"set-cookie" and v.startswith(b"session=alice")
               for k, v in first.headers), "the answer's Set-Cookie goes back to its client"
    assert second.body == b"<none>", "the next user's request carried the first one's cookie"
    assert own.body == b"uid=bob", "a client's own cookie is forwarded unchanged"
