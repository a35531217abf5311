"""Mirroring: a copy of a request goes to a shadow version, off the request's path.

The client's answer never waits for the shadow. After the router has sent the
primary's response, it offers a copy to a bounded queue (`submit`, which never
blocks); a few worker tasks send the copies to the shadow with a timeout. A full
queue drops the copy and counts it, so a slow shadow can never slow down or fail real
traffic; shadow errors are counted, never raised.

Only `POST /predict` is mirrored (`mirrorable`): a prediction has no side effects, so
running it twice is safe, while a request that writes something must never be
repeated against a second version. Copies carry `X-Shadow: 1` and the request's
`X-Request-Id`, so the shadow (and anything it calls) can tell them from real traffic.
With a `ShadowLog`, each mirrored request becomes one JSON line with both answers (see
`mlcicd_course.shadow.log`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from mlcicd_course.serving.metrics import RouterMetrics
from mlcicd_course.serving.upstream import (
    Headers,
    Upstream,
    UpstreamError,
    UpstreamResponse,
    describe,
)
from mlcicd_course.shadow.log import Answer, ShadowLog, ShadowRecord

MIRRORED = (("POST", "/predict"),)
SHADOW_HEADER = (b"x-shadow", b"1")


def mirrorable(method: str, path: str) -> bool:
    """True for the requests that may be sent twice: POST /predict only."""
    return (method, path) in MIRRORED


@dataclass(frozen=True)
class PrimaryAnswer:
    """What the primary answered the client: version, status, body, time taken."""

    version: str
    status: int
    body: bytes
    latency_ms: float


@dataclass(frozen=True)
class MirroredRequest:
    """One copy to send: the shadow version, its URL, method, headers, body, and for the
    log the request id, path and the primary's answer."""

    version: str
    url: str
    method: str
    headers: Headers
    body: bytes
    request_id: str = ""
    path: str = ""
    primary: PrimaryAnswer | None = None


class ShadowMirror:
    """A bounded queue of copies and the workers that send them (and log both answers)."""

    def __init__(self, upstream: Upstream, metrics: RouterMetrics, *, queue_size: int = 256,
                 workers: int = 2, timeout_s: float = 2.0, log: ShadowLog | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.upstream = upstream
        self.metrics = metrics
        self.queue_size = queue_size
        self.workers = workers
        self.timeout_s = timeout_s
        self.log = log
        self.clock = clock
        self._queue: asyncio.Queue[tuple[float, MirroredRequest]] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Create the queue, open the log and start the workers (inside the event loop)."""
        self._queue = asyncio.Queue(maxsize=self.queue_size)
        if self.log is not None:
            self.log.open()
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self.workers)]

    async def close(self) -> None:
        """Stop the workers and close the log; copies still queued are dropped."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self.log is not None:
            self.log.close()

    def submit(self, copy: MirroredRequest) -> bool:
        """Queue a copy without waiting; False (and counted as dropped) when full."""
        if self._queue is None:
            return False
        try:
            self._queue.put_nowait((self.clock(), copy))
        except asyncio.QueueFull:
            self.metrics.shadow.labels(copy.version, "dropped").inc()
            return False
        return True

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            received, copy = await self._queue.get()
            started = time.perf_counter()
            response, error = None, None
            try:
                response = await self.upstream.request(
                    copy.method, copy.url, [*copy.headers, SHADOW_HEADER], copy.body,
                    self.timeout_s)
                outcome = "ok" if response.status < 500 else "error"
            except UpstreamError as err:
                error = str(err)
                outcome = "timeout" if error.startswith("timeout") else "error"
            except Exception as err:  # noqa: BLE001 - nothing from a shadow may escape
                error, outcome = describe(err), "error"
            self.metrics.shadow.labels(copy.version, outcome).inc()
            if self.log is not None and copy.primary is not None:
                latency_ms = (time.perf_counter() - started) * 1000
                try:
                    self.log.write(shadow_record(copy, received, response, latency_ms, error))
                except (OSError, ValueError):
                    self.metrics.shadow.labels(copy.version, "unlogged").inc()
            self._queue.task_done()

    async def drain(self) -> None:
        """Wait until every queued copy has been sent (for tests and notebooks)."""
        if self._queue is not None:
            await self._queue.join()


def shadow_record(copy: MirroredRequest, received: float, response: UpstreamResponse | None,
                  latency_ms: float, error: str | None) -> ShadowRecord:
    """The log line of one mirrored request: its rows and both versions' answers."""
    assert copy.primary is not None
    first = copy.primary
    primary, _ = Answer.from_body(first.version, first.status, round(first.latency_ms, 3),
                                  first.body)
    if response is None:
        shadow = Answer(copy.version, 0, round(latency_ms, 3))
    else:
        shadow, error = Answer.from_body(copy.version, response.status, round(latency_ms, 3),
                                         response.body)
    try:
        inputs = json.loads(copy.body)
    except ValueError:
        inputs = None
    if not isinstance(inputs, list) or not all(isinstance(row, dict) for row in inputs):
        inputs = None
    return ShadowRecord(copy.request_id, round(received, 6), copy.path, inputs, primary,
                        shadow, error)
