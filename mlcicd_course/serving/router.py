"""The router: an async reverse proxy (a plain ASGI app, run by uvicorn) before model servers.

For every request the router reads its routing table once, decides which version
answers, forwards the request over a pooled connection, and adds `X-Model-Version`
to the answer. How it decides, in order:

1. `X-Route-To: <version>` (for testers): that version, even with weight 0, which
   is how a green release is reached on its "preview URL" before it gets traffic.
2. A unit id, from `X-User-Id` or else the `uid` cookie: the version whose bucket
   range holds the id's keyed hash (`routing.assign`), so a user stays on a version.
3. No unit id: a random draw (weighted mode) or the first version (experiment mode,
   where only identified users take part).

Unhealthy backends are left out (`check_health` polls `/health/ready`); when no
version with weight > 0 is healthy the answer is 503 with the reason. A backend that
fails or times out gives 502, in one place (`proxy`). In mirror mode a copy of a
`POST /predict` goes to the shadow after the answer has been sent (`shadow.ShadowMirror`).
Every request has an id (`X-Request-Id`, see `request_ids`), passed on and echoed.

The whole state is `self.table`, an immutable `RoutingTable`: `swap` puts a new one
in place with one assignment and remembers the old one for `undo`. Paths under
/router/ are the router's own (health, metrics, the admin API in `admin`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from mlcicd_course.experiments import hashing
from mlcicd_course.serving import admin
from mlcicd_course.serving.asgi import (
    VERSION_HEADER,
    Receive,
    Scope,
    Send,
    cookie_value,
    read_body,
    send_body,
    send_json,
)
from mlcicd_course.serving.metrics import RouterMetrics
from mlcicd_course.serving.request_ids import REQUEST_ID_HEADER, accepted, new_request_id
from mlcicd_course.serving.routing import BUCKETS, RoutingTable, TableError, check_known, pick
from mlcicd_course.serving.settings import MAX_BODY_BYTES, RouterSettings
from mlcicd_course.serving.shadow import (
    MirroredRequest,
    PrimaryAnswer,
    ShadowMirror,
    mirrorable,
)
from mlcicd_course.serving.upstream import (
    AiohttpUpstream,
    HttpxUpstream,
    Upstream,
    UpstreamError,
)
from mlcicd_course.shadow.log import ShadowLog

ROUTE_TO_HEADER = b"x-route-to"
USER_HEADER = b"x-user-id"
USER_COOKIE = "uid"
# Hop-by-hop headers (RFC 9110 section 7.6.1) belong to one connection, not the request;
# host and content-length are set again by the client that forwards.
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-authenticate",
                        b"proxy-authorization", b"te", b"trailer", b"transfer-encoding",
                        b"upgrade", b"host", b"content-length"})
# The request id is set by the router, once, on the way in and on the way out.
NOT_FORWARDED = HOP_BY_HOP | {REQUEST_ID_HEADER}
# uvicorn adds its own date and server headers to the router's answer.
DROP_FROM_ANSWER = NOT_FORWARDED | {VERSION_HEADER, b"date", b"server"}
HISTORY = 100
# Consecutive failed probes before a healthy backend is left out: one slow answer from
# a busy server should not take it out of service.
UNHEALTHY_AFTER = 3


def _client(settings: RouterSettings) -> Upstream:
    """The HTTP client the settings ask for, with their pool size and timeouts."""
    if settings.upstream_client == "httpx":
        return HttpxUpstream(max_connections=settings.max_connections,
                             keepalive_s=settings.keepalive_s,
                             connect_timeout_s=settings.connect_timeout_s)
    return AiohttpUpstream(max_connections=settings.max_connections,
                           keepalive_s=settings.keepalive_s,
                           connect_timeout_s=settings.connect_timeout_s)


@dataclass(frozen=True)
class Decision:
    """Which version answers a request, or the status and reason why none can."""

    version: str | None
    status: int = 200
    detail: str = ""


class Router:
    """The router's state and its ASGI entry point (`await router(scope, receive, send)`)."""

    def __init__(self, settings: RouterSettings, *, token: str | None = None,
                 upstream: Upstream | None = None) -> None:
        self.settings = settings
        self.backends = settings.backends
        self.table: RoutingTable = settings.table
        self.stable = settings.table.primary
        self.history: deque[RoutingTable] = deque(maxlen=HISTORY)
        self.token = token or secrets.token_urlsafe(32)
        self.upstream: Upstream = upstream or _client(settings)
        self.metrics = RouterMetrics()
        self.shadow = ShadowMirror(self.upstream, self.metrics,
                                   queue_size=settings.shadow_queue_size,
                                   workers=settings.shadow_workers,
                                   timeout_s=settings.shadow_timeout_s,
                                   log=ShadowLog(settings.shadow_log) if settings.shadow_log
                                   else None)
        self.health: dict[str, str] = {name: "not checked yet" for name in self.backends}
        self.healthy: frozenset[str] = frozenset()
        self._failures = dict.fromkeys(self.backends, 0)
        self._random = random.Random(settings.seed)
        self._health_task: asyncio.Task[None] | None = None

    # -- the table -------------------------------------------------------------------

    def swap(self, table: RoutingTable, *, remember: bool = True) -> RoutingTable:
        """Put `table` in place (one assignment); return the table it replaced."""
        check_known(table, self.backends)
        old, self.table = self.table, table
        if remember:
            self.history.append(old)
        self.metrics.switches.inc()
        return old

    def weights(self) -> dict[str, int]:
        """The current split, in percent per version."""
        return dict(self.table.weights)

    def set_weights(self, weights: Mapping[str, int]) -> None:
        """Switch to a new split in one step; the table's other fields stay."""
        self.swap(self.table.with_weights(weights))

    def promote(self, version: str) -> RoutingTable:
        """Send all traffic to `version` and make it the stable version."""
        if version not in self.backends:
            raise TableError(f"unknown backend {version!r}; known: {', '.join(self.backends)}")
        if version not in self.healthy:
            raise TableError(f"{version} is not healthy ({self.health[version]}); "
                             "refusing to promote it")
        names = dict.fromkeys([*self.table.weights, version], 0)
        names[version] = 100
        self.swap(RoutingTable(names, mode="single", seed=self.table.seed))
        self.stable = version
        return self.table

    def abort(self) -> RoutingTable:
        """Send all traffic back to the stable version (the last promoted one)."""
        if self.table.mode == "single" and self.table.weights.get(self.stable) == 100:
            return self.table  # already there: nothing to change, nothing to undo
        return self.promote(self.stable)

    def undo(self) -> RoutingTable:
        """Put the previous table back."""
        if not self.history:
            raise TableError("nothing to undo: no earlier table")
        self.swap(self.history.pop(), remember=False)
        return self.table

    # -- deciding --------------------------------------------------------------------

    def decide(self, table: RoutingTable, route_to: str | None, unit_id: str | None,
               ) -> Decision:
        """Which version answers a request under `table` (see the module docstring)."""
        healthy = self.healthy
        if route_to is not None:
            if route_to not in self.backends:
                return Decision(None, 400, f"X-Route-To names an unknown version {route_to!r}")
            if route_to not in healthy:
                return Decision(None, 503, f"{route_to} is not healthy: {self.health[route_to]}")
            return Decision(route_to)
        if unit_id is not None:
            number = hashing.bucket_number(table.seed, unit_id)
        elif table.mode == "experiment":
            number = 0
        else:
            number = self._random.randrange(BUCKETS)
        version = pick(table, number, healthy)
        if version is None:
            reasons = "; ".join(f"{name}: {self.health[name]}"
                                for name, weight in table.weights.items() if weight > 0)
            return Decision(None, 503, f"no healthy backend to answer ({reasons})")
        return Decision(version)

    # -- health ----------------------------------------------------------------------

    async def check_health(self) -> None:
        """Probe every backend's /health/ready once, all at the same time."""
        results = await asyncio.gather(*(self._probe(url) for url in self.backends.values()))
        health, healthy = {}, set()
        for name, problem in zip(self.backends, results, strict=True):
            self._failures[name] = 0 if problem is None else self._failures[name] + 1
            was_healthy = name in self.healthy
            if problem is None or (was_healthy and self._failures[name] < UNHEALTHY_AFTER):
                healthy.add(name)
            health[name] = "ok" if problem is None else problem
        self.health, self.healthy = health, frozenset(healthy)

    async def _probe(self, url: str) -> str | None:
        try:
            response = await self.upstream.request(
                "GET", url + "/health/ready", [], b"", self.settings.health_timeout_s)
        except UpstreamError as err:
            return f"unreachable ({err})"
        return None if response.status == 200 else f"not ready (HTTP {response.status})"

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.health_interval_s)
            try:
                await self.check_health()
            except Exception as err:  # noqa: BLE001 - the loop must outlive any one round
                self.health = {name: f"health check failed ({err!r})" for name in self.backends}

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Open the client pool, start the shadow workers, check health, poll it."""
        await self.upstream.start()
        await self.shadow.start()
        await self.check_health()
        self._health_task = asyncio.create_task(self._health_loop())

    async def close(self) -> None:
        """Stop polling and mirroring; close the pooled connections."""
        if self._health_task is not None:
            self._health_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._health_task
            self._health_task = None
        await self.shadow.close()
        await self.upstream.close()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Router]:
        """`start` on entry and `close` on exit (for tests that call the app in-process)."""
        await self.start()
        try:
            yield self
        finally:
            await self.close()

    # -- ASGI ------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if scope["path"].startswith(admin.PREFIX):
                await admin.handle(self, scope, receive, send)
            else:
                await self.proxy(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def proxy(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Forward one request to the version `decide` picks; answer 502 if it fails."""
        started = time.perf_counter()
        table = self.table  # the only read of the table for this request
        route_to, unit_id, cookie, request_id = None, None, None, None
        for name, value in scope["headers"]:
            if name == ROUTE_TO_HEADER:
                route_to = value.decode("latin-1")
            elif name == USER_HEADER:
                unit_id = value.decode("latin-1")
            elif name == b"cookie":
                cookie = value.decode("latin-1")
            elif name == REQUEST_ID_HEADER:
                request_id = accepted(value)
        headers = [(k, v) for k, v in scope["headers"] if k not in NOT_FORWARDED]
        request_id = request_id or new_request_id()
        id_header = (REQUEST_ID_HEADER, request_id.encode())
        headers.append(id_header)
        body = await read_body(receive, MAX_BODY_BYTES)
        if body is None:
            await send_json(send, 413, {"detail": f"body over {MAX_BODY_BYTES} bytes"},
                            headers=[id_header])
            return
        if unit_id is None and cookie:
            unit_id = cookie_value(cookie, USER_COOKIE)
        decision = self.decide(table, route_to, unit_id)
        if decision.version is None:
            if decision.status == 503:
                self.metrics.unavailable.inc()
            await send_json(send, decision.status, {"detail": decision.detail},
                            headers=[id_header])
            return
        version = decision.version
        target = scope["path"] + (f"?{scope['query_string'].decode('latin-1')}"
                                  if scope.get("query_string") else "")
        try:
            answer = await self.upstream.request(scope["method"], self.backends[version] + target,
                                                 headers, body, self.settings.request_timeout_s)
        except UpstreamError as err:
            status, answered = 502, b""
            self.metrics.upstream_errors.labels(version).inc()
            await send_json(send, status, {"detail": f"backend {version} failed: {err}"},
                            version=version, headers=[id_header])
        else:
            status, answered = answer.status, answer.body
            out = [(k, v) for k, v in answer.headers if k not in DROP_FROM_ANSWER]
            await send_body(send, status, out + [(VERSION_HEADER, version.encode()), id_header],
                            answer.body)
        elapsed = time.perf_counter() - started
        self.metrics.requests.labels(version, str(status)).inc()
        self.metrics.latency.labels(version).observe(elapsed)
        if table.mode == "mirror" and table.shadow and mirrorable(scope["method"], scope["path"]) \
                and self._random.randrange(100) < table.shadow_percent:
            self.shadow.submit(MirroredRequest(
                table.shadow, self.backends[table.shadow] + target, scope["method"], headers,
                body, request_id, scope["path"],
                PrimaryAnswer(version, status, answered, elapsed * 1000)))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.start()
                except Exception as err:  # noqa: BLE001 - reported to the server, which stops
                    await send({"type": "lifespan.startup.failed", "message": str(err)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
