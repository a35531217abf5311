"""Mirroring: a copy of a request goes to a shadow version, off the request's path.

The client's answer never waits for the shadow. After the router has sent the
primary's response, it offers a copy to a bounded queue (`submit`, which never
blocks); a few worker tasks send the copies to the shadow with a timeout and throw
the answers away. A full queue drops the copy and counts it, so a slow shadow can
never slow down or fail real traffic; shadow errors are counted, never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from mlcicd_course.serving.metrics import RouterMetrics
from mlcicd_course.serving.upstream import Headers, Upstream, UpstreamError


@dataclass(frozen=True)
class MirroredRequest:
    """One copy to send: the shadow version, its URL, method, headers, body."""

    version: str
    url: str
    method: str
    headers: Headers
    body: bytes


class ShadowMirror:
    """A bounded queue of copies and the workers that send them."""

    def __init__(self, upstream: Upstream, metrics: RouterMetrics, *, queue_size: int = 256,
                 workers: int = 2, timeout_s: float = 2.0) -> None:
        self.upstream = upstream
        self.metrics = metrics
        self.queue_size = queue_size
        self.workers = workers
        self.timeout_s = timeout_s
        self._queue: asyncio.Queue[MirroredRequest] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Create the queue and start the workers (inside the running event loop)."""
        self._queue = asyncio.Queue(maxsize=self.queue_size)
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self.workers)]

    async def close(self) -> None:
        """Stop the workers; copies still queued are dropped."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def submit(self, copy: MirroredRequest) -> bool:
        """Queue a copy without waiting; False (and counted as dropped) when full."""
        if self._queue is None:
            return False
        try:
            self._queue.put_nowait(copy)
        except asyncio.QueueFull:
            self.metrics.shadow.labels(copy.version, "dropped").inc()
            return False
        return True

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            copy = await self._queue.get()
            try:
                response = await self.upstream.request(copy.method, copy.url, copy.headers,
                                                       copy.body, self.timeout_s)
                outcome = "ok" if response.status < 500 else "error"
            except UpstreamError as err:
                outcome = "timeout" if str(err).startswith("timeout") else "error"
            except Exception:  # noqa: BLE001 - nothing from a shadow may escape
                outcome = "error"
            self.metrics.shadow.labels(copy.version, outcome).inc()
            self._queue.task_done()

    async def drain(self) -> None:
        """Wait until every queued copy has been sent (for tests and notebooks)."""
        if self._queue is not None:
            await self._queue.join()
