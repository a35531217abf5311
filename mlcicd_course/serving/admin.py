"""The router's own endpoints under /router/: health, metrics and the admin API.

Open to anyone who can reach the router::

    GET  /router/health           the router is up; each backend's health
    GET  /router/metrics          Prometheus text: per-version requests, latency, ...

The admin API answers only clients on the same machine (127.0.0.1 or ::1, else 403)
that send `Authorization: Bearer <token>`, where the token is the one the router
created at start (else 401). The token is compared with `hmac.compare_digest`, which
takes the same time however many characters match, so it cannot be guessed one
character at a time from response times. Every answer is the router's state::

    GET  /router/admin/table      read the table
    PUT  /router/admin/table      {"mode": ..., "weights": {...}, "seed": ...}
    PUT  /router/admin/weights    {"blue": 90, "green": 10}: new weights, same table
    POST /router/admin/promote    {"version": "green"}: all traffic, and green is stable
    POST /router/admin/abort      all traffic back to the stable version
    POST /router/admin/undo       the previous table back

A refused change (unknown backend, weights out of range, bad JSON) gets 400 with the
reason, and the table stays as it was.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlcicd_course.serving.asgi import Receive, Scope, Send, read_body, send_body, send_json
from mlcicd_course.serving.metrics import CONTENT_TYPE, render
from mlcicd_course.serving.routing import RoutingTable, TableError

if TYPE_CHECKING:
    from mlcicd_course.serving.router import Router

PREFIX = "/router/"
ADMIN = "/router/admin/"
LOOPBACK = frozenset({"127.0.0.1", "::1"})
MAX_ADMIN_BODY = 64 * 1024


def state(router: Router) -> dict[str, Any]:
    """What every admin answer returns: the table, the stable version, the backends."""
    return {
        "table": router.table.to_dict(),
        "stable": router.stable,
        "undo_depth": len(router.history),
        "backends": {name: {"url": url, "health": router.health[name]}
                     for name, url in router.backends.items()},
    }


def authorized(token: str, headers: list[tuple[bytes, bytes]]) -> bool:
    """Does the Authorization header carry exactly `Bearer <token>`?"""
    expected = f"Bearer {token}".encode()
    for name, value in headers:
        if name == b"authorization":
            return hmac.compare_digest(value, expected)
    return False


def _read_table(router: Router, data: Any) -> RoutingTable:
    return router.table


def _set_table(router: Router, data: Any) -> RoutingTable:
    router.swap(RoutingTable.from_dict(data))
    return router.table


def _set_weights(router: Router, data: Any) -> RoutingTable:
    if not isinstance(data, dict):
        raise TableError('expected weights as a JSON object, e.g. {"blue": 90, "green": 10}')
    router.set_weights(data)
    return router.table


def _promote(router: Router, data: Any) -> RoutingTable:
    if not isinstance(data, dict) or not isinstance(data.get("version"), str):
        raise TableError('expected {"version": NAME}')
    return router.promote(data["version"])


ACTIONS: dict[tuple[str, str], Callable[[Router, Any], RoutingTable]] = {
    ("GET", "table"): _read_table,
    ("PUT", "table"): _set_table,
    ("PUT", "weights"): _set_weights,
    ("POST", "promote"): _promote,
    ("POST", "abort"): lambda router, data: router.abort(),
    ("POST", "undo"): lambda router, data: router.undo(),
}


async def handle(router: Router, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer a request under /router/."""
    path, method = scope["path"], scope["method"]
    if path == PREFIX + "health":
        await send_json(send, 200, {"status": "live", "backends": router.health})
        return
    if path == PREFIX + "metrics":
        await send_body(send, 200, [(b"content-type", CONTENT_TYPE.encode())],
                        render(router.metrics.registry))
        return
    action = ACTIONS.get((method, path.removeprefix(ADMIN))) if path.startswith(ADMIN) else None
    if action is None:
        await send_json(send, 404, {"detail": f"no {method} {path} on the router"})
        return
    client = scope.get("client")
    if not client or client[0] not in LOOPBACK:
        await send_json(send, 403, {"detail": "the admin API answers local clients only"})
        return
    if not authorized(router.token, scope["headers"]):
        await send_json(send, 401, {"detail": "missing or wrong bearer token"},
                        headers=[(b"www-authenticate", b"Bearer")])
        return
    body = await read_body(receive, MAX_ADMIN_BODY)
    try:
        data = json.loads(body) if body else None
    except (TypeError, UnicodeDecodeError, json.JSONDecodeError) as err:
        await send_json(send, 400, {"detail": f"body is not valid JSON ({err})"})
        return
    try:
        action(router, data)
    except TableError as err:
        await send_json(send, 400, {"detail": str(err), **state(router)})
        return
    await send_json(send, 200, state(router))
