"""What a rollout controller is told at each tick: plain data, measured by the caller.

The controller never measures anything itself. A caller (a load generator, the
router's metrics, CloudWatch, a simulation) summarises what happened since the last
tick and passes it in as `Observations`. Analysis metrics then read one number from
it by name (`QUERIES`), together with the sample that number rests on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class VersionMetrics:
    """Traffic served by one version over a window: counts and latency percentiles."""

    requests: int
    errors: int
    latency_p50_ms: float
    latency_p99_ms: float
    accuracy: float | None = None

    def __post_init__(self) -> None:
        if self.requests < 0 or not 0 <= self.errors <= self.requests:
            raise ValueError(f"need 0 <= errors <= requests, got errors={self.errors}, "
                             f"requests={self.requests}")

    @property
    def error_rate(self) -> float | None:
        """errors / requests, or None when there were no requests (no data, not 0)."""
        return self.errors / self.requests if self.requests else None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"requests": self.requests, "errors": self.errors,
                "error_rate": self.error_rate, "latency_p50_ms": self.latency_p50_ms,
                "latency_p99_ms": self.latency_p99_ms, "accuracy": self.accuracy}


@dataclass(frozen=True)
class SmokeReport:
    """Outcome of the smoke tests run against one version (on its preview route)."""

    total: int
    failures: tuple[str, ...] = ()

    @property
    def failed(self) -> int:
        """How many smoke tests failed."""
        return len(self.failures)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"total": self.total, "failed": self.failed, "failures": list(self.failures)}


@dataclass(frozen=True)
class Observations:
    """Everything a controller learns at one tick.

    - `metrics`: per version, the traffic it served since the last tick;
    - `smoke`: per version, smoke-test results (usually only once, on preview);
    - `ready`: per version, whether it passes its readiness check;
    - `alarms`: names of production alarms currently in state ALARM;
    - `approve` / `abort`: a person pressed promote / abort since the last tick.
    """

    metrics: Mapping[str, VersionMetrics] = field(default_factory=dict)
    smoke: Mapping[str, SmokeReport] = field(default_factory=dict)
    ready: Mapping[str, bool] = field(default_factory=dict)
    alarms: tuple[str, ...] = ()
    approve: bool = False
    abort: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"metrics": {k: v.to_dict() for k, v in sorted(self.metrics.items())},
                "smoke": {k: v.to_dict() for k, v in sorted(self.smoke.items())},
                "ready": dict(sorted(self.ready.items())), "alarms": list(self.alarms),
                "approve": self.approve, "abort": self.abort}


# A query reads (value, sample) for one version; value None means "no data".
Query = Callable[[Observations, str], tuple[float | None, int]]


def _traffic(read: Callable[[VersionMetrics], float | None]) -> Query:
    def query(obs: Observations, version: str) -> tuple[float | None, int]:
        m = obs.metrics.get(version)
        if m is None or m.requests == 0:
            return None, 0
        return read(m), m.requests
    return query


def _smoke_failed(obs: Observations, version: str) -> tuple[float | None, int]:
    report = obs.smoke.get(version)
    if report is None or report.total == 0:
        return None, 0
    return float(report.failed), report.total


QUERIES: Mapping[str, Query] = {
    "error_rate": _traffic(lambda m: m.error_rate),
    "latency_p50_ms": _traffic(lambda m: m.latency_p50_ms),
    "latency_p99_ms": _traffic(lambda m: m.latency_p99_ms),
    "accuracy": _traffic(lambda m: m.accuracy),
    "smoke_failed": _smoke_failed,
}
"""The numbers an analysis metric can ask for, by name (see `MetricSpec.query`)."""


def read_query(query: str, obs: Observations, version: str) -> tuple[float | None, int]:
    """The value of `query` for `version` and its sample size; (None, n) when there is no data."""
    if query not in QUERIES:
        raise ValueError(f"unknown query {query!r}; known: {', '.join(sorted(QUERIES))}")
    return QUERIES[query](obs, version)
