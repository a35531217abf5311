"""A load generator: many concurrent requests, each one recorded, and their summary.

`generate_load` sends POST requests with JSON payloads to a URL from `concurrency`
workers and stops at `requests` requests or after `duration_s` seconds, whichever
comes first. Every request becomes one row of a DataFrame::

    request     its number, 0, 1, 2, ... in the order the workers took them
    t_start     seconds since the load began, when the request was sent
    status      HTTP status; 0 when no answer came (refused, timed out)
    latency_ms  time to the complete answer, in milliseconds
    version     the X-Model-Version header of the answer ("" when absent)
    unit_id     the X-User-Id sent ("" when none)
    error       why no answer came ("" for answered requests)

`actions` run things at given points of the load, for instance a switch of the
router's table at request 1000: `{1000: ("switch to green", admin_switch)}`. They run
in a thread, so a synchronous client such as `RouterAdmin` does not stall the load,
and `LoadResult.events` records when each started (`t`) and returned (`t_done`).

`run_load` does the same from synchronous code, also inside a Jupyter notebook, whose
own event loop is already running. `summarize` turns the rows into per-version
numbers (requests, errors, p50 and p99 latency) that rollout analysis takes, and
`throughput` into requests per second by version over time.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import numpy as np
import pandas as pd

from mlcicd_course.serving.upstream import describe

COLUMNS = ("request", "t_start", "status", "latency_ms", "version", "unit_id", "error")
Action = tuple[str, Callable[[], Any]]


@dataclass
class LoadResult:
    """The requests of one load run (one row each) and the actions run during it."""

    requests: pd.DataFrame
    events: pd.DataFrame
    duration_s: float

    @property
    def failed(self) -> int:
        """Requests without a 2xx answer."""
        return int((~self.requests["status"].between(200, 299)).sum())

    def summary(self) -> dict[str, dict[str, Any]]:
        """`summarize(self.requests)`."""
        return summarize(self.requests)

    def to_dict(self) -> dict[str, Any]:
        """Counts, duration, failures, events and the per-version summary."""
        return {"requests": len(self.requests), "duration_s": round(self.duration_s, 3),
                "failed": self.failed, "events": self.events.to_dict("records"),
                "by_version": self.summary()}


async def generate_load(
    url: str,
    payloads: Sequence[Any],
    *,
    requests: int = 1000,
    duration_s: float = 10.0,
    concurrency: int = 8,
    unit_ids: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
    actions: Mapping[int, Action] | None = None,
    timeout_s: float = 10.0,
    clock: Callable[[], float] = time.perf_counter,
) -> LoadResult:
    """Send up to `requests` POSTs to `url` within `duration_s` seconds; record each.

    Request i sends `payloads[i % len(payloads)]` as JSON, with `X-User-Id:
    unit_ids[i % len(unit_ids)]` when unit ids are given.
    """
    if requests < 1 or concurrency < 1 or not payloads or duration_s <= 0:
        raise ValueError("requests, concurrency and duration_s must be positive, "
                         "payloads non-empty")
    bodies = [json.dumps(p).encode() for p in payloads]
    base_headers = {"Content-Type": "application/json", **(headers or {})}
    rows: list[tuple[Any, ...]] = []
    events: list[dict[str, Any]] = []
    next_index = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    limits = aiohttp.ClientTimeout(total=timeout_s)
    started = clock()

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal next_index
        while next_index < requests and clock() - started < duration_s:
            index, next_index = next_index, next_index + 1
            if actions and index in actions:
                label, action = actions[index]
                t_action = clock() - started
                await asyncio.to_thread(action)
                events.append({"t": t_action, "t_done": clock() - started, "request": index,
                               "action": label})
            unit = unit_ids[index % len(unit_ids)] if unit_ids else ""
            sent_headers = {**base_headers, "X-User-Id": unit} if unit else base_headers
            rows.append((index, *await _one(session, url, bodies[index % len(bodies)],
                                            sent_headers, unit, clock, started)))

    async with aiohttp.ClientSession(connector=connector, timeout=limits) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    duration = clock() - started
    frame = pd.DataFrame(rows, columns=list(COLUMNS)).sort_values("request")
    return LoadResult(frame.reset_index(drop=True),
                      pd.DataFrame(events, columns=["t", "t_done", "request", "action"]), duration)


async def _one(session: aiohttp.ClientSession, url: str, body: bytes,
               headers: Mapping[str, str], unit: str, clock: Callable[[], float],
               started: float) -> tuple[Any, ...]:
    t0 = clock()
    try:
        async with session.post(url, data=body, headers=headers) as response:
            await response.read()
            status, version, error = response.status, response.headers.get(
                "X-Model-Version", ""), ""
    except (aiohttp.ClientError, TimeoutError) as err:
        status, version, error = 0, "", describe(err)
    return (t0 - started, status, (clock() - t0) * 1000, version, unit, error)


def run_load(url: str, payloads: Sequence[Any], **options: Any) -> LoadResult:
    """`generate_load` from synchronous code: runs its own event loop in a thread.

    This works in a notebook too, where an event loop is already running in the
    main thread (and `asyncio.run` would refuse to start).
    """
    result: list[LoadResult] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(generate_load(url, payloads, **options)))
        except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
            failure.append(err)

    thread = threading.Thread(target=target, name="mlcicd-load")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


def summarize(frame: pd.DataFrame, *, start: float | None = None,
              end: float | None = None) -> dict[str, dict[str, Any]]:
    """Per-version numbers over the requests sent in [start, end) seconds.

    For each version: requests, errors (answers outside 2xx, and requests with no
    answer), latency_p50_ms and latency_p99_ms (over all its requests). Requests
    with no version header are grouped under "" (e.g. refused before routing).
    """
    selected = frame
    if start is not None:
        selected = selected[selected["t_start"] >= start]
    if end is not None:
        selected = selected[selected["t_start"] < end]
    summary = {}
    for version, rows in selected.groupby("version", sort=True):
        latency = rows["latency_ms"].to_numpy(dtype=float)
        summary[str(version)] = {
            "requests": len(rows),
            "errors": int((~rows["status"].between(200, 299)).sum()),
            "latency_p50_ms": round(float(np.percentile(latency, 50)), 3),
            "latency_p99_ms": round(float(np.percentile(latency, 99)), 3),
        }
    return summary


def throughput(frame: pd.DataFrame, bin_s: float = 0.25) -> pd.DataFrame:
    """Requests per second by version, in time bins of `bin_s` seconds (for a plot).

    Rows: the start of each bin (seconds since the load began); columns: versions;
    values: requests sent in the bin divided by `bin_s`.
    """
    if bin_s <= 0:
        raise ValueError("bin_s must be positive")
    start = (frame["t_start"] // bin_s * bin_s).round(6).rename("t")
    counts = frame.groupby([start, frame["version"]]).size().unstack(fill_value=0)
    return (counts / bin_s).rename_axis(columns="version")
