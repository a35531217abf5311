"""What a rollout controller is told at each tick: plain data, measured by the caller.

The controller never measures anything itself. A caller (a load generator, the
router's metrics, CloudWatch, a simulation) summarises what happened since the last
tick and passes it in as `Observations`. Analysis metrics then read one number from
it by name (`QUERIES`), together with the sample that number rests on. A canary is
judged against stable in the same window (`COMPARISONS`: the difference in error
rate, the ratio of p99 latencies, the shift of the predicted-probability distribution,
the drop in accuracy), as Kayenta compares canary and baseline side by side.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class VersionMetrics:
    """Traffic served by one version over a window: counts and latency percentiles."""

    requests: int
    errors: int
    latency_p50_ms: float
    latency_p99_ms: float
    accuracy: float | None = None
    proba_counts: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.requests < 0 or not 0 <= self.errors <= self.requests:
            raise ValueError(f"need 0 <= errors <= requests, got errors={self.errors}, "
                             f"requests={self.requests}")
        if self.proba_counts is not None and len(self.proba_counts) != PROBA_BINS:
            raise ValueError(f"proba_counts needs {PROBA_BINS} bins, "
                             f"got {len(self.proba_counts)}")

    @property
    def error_rate(self) -> float | None:
        """errors / requests, or None when there were no requests (no data, not 0)."""
        return self.errors / self.requests if self.requests else None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"requests": self.requests, "errors": self.errors,
                "error_rate": self.error_rate, "latency_p50_ms": self.latency_p50_ms,
                "latency_p99_ms": self.latency_p99_ms, "accuracy": self.accuracy,
                "proba_counts": None if self.proba_counts is None else list(self.proba_counts)}


PROBA_BINS = 10
"""`VersionMetrics.proba_counts`: predicted probabilities counted in 10 equal bins of [0, 1]."""


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
    - `totals`: per version, everything it served since the rollout began (counters,
      not a window): what sequential tests and minimum-sample checks count;
    - `alarms`: names of production alarms currently in state ALARM;
    - `approve` / `abort`: a person pressed promote / abort since the last tick.
    """

    metrics: Mapping[str, VersionMetrics] = field(default_factory=dict)
    smoke: Mapping[str, SmokeReport] = field(default_factory=dict)
    ready: Mapping[str, bool] = field(default_factory=dict)
    totals: Mapping[str, VersionMetrics] = field(default_factory=dict)
    alarms: tuple[str, ...] = ()
    approve: bool = False
    abort: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"metrics": {k: v.to_dict() for k, v in sorted(self.metrics.items())},
                "smoke": {k: v.to_dict() for k, v in sorted(self.smoke.items())},
                "ready": dict(sorted(self.ready.items())),
                "totals": {k: v.to_dict() for k, v in sorted(self.totals.items())},
                "alarms": list(self.alarms),
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


# A comparison reads (value, sample) for a version against a baseline in the same window.
Comparison = Callable[[Observations, str, str], tuple[float | None, int]]


def _versus(read: Callable[[VersionMetrics, VersionMetrics], float | None]) -> Comparison:
    def compare(obs: Observations, version: str, baseline: str) -> tuple[float | None, int]:
        new, old = obs.metrics.get(version), obs.metrics.get(baseline)
        if new is None or old is None or new.requests == 0 or old.requests == 0:
            return None, 0
        return read(new, old), min(new.requests, old.requests)
    return compare


def _difference(new: float | None, old: float | None) -> float | None:
    return None if new is None or old is None else new - old


def _p99_ratio(new: VersionMetrics, old: VersionMetrics) -> float | None:
    return new.latency_p99_ms / old.latency_p99_ms if old.latency_p99_ms > 0 else None


def _proba_shift(new: VersionMetrics, old: VersionMetrics) -> float | None:
    """PSI of the version's predicted probabilities against the baseline's (same bins)."""
    if new.proba_counts is None or old.proba_counts is None \
            or not sum(new.proba_counts) or not sum(old.proba_counts):
        return None
    from mlcicd_course.drift import psi  # scipy and pandas: only when asked

    bins = np.arange(PROBA_BINS).astype(str)   # each bin a category: PSI over the bins
    return psi(np.repeat(bins, old.proba_counts), np.repeat(bins, new.proba_counts))


COMPARISONS: Mapping[str, Comparison] = {
    "error_rate_excess": _versus(lambda new, old: _difference(new.error_rate, old.error_rate)),
    "latency_p99_ratio": _versus(_p99_ratio),
    "proba_shift": _versus(_proba_shift),
    "accuracy_drop": _versus(lambda new, old: _difference(old.accuracy, new.accuracy)),
}
"""Numbers that judge a version against a baseline (a canary against stable) in the same
window: `error_rate_excess` = its error rate minus the baseline's; `latency_p99_ratio` =
its p99 over the baseline's; `proba_shift` = PSI of its predicted probabilities against
the baseline's (`drift.psi`, one category per bin); `accuracy_drop` = the baseline's
accuracy minus its own (no data until labels arrive). The sample is the smaller side's
requests."""

KNOWN_QUERIES = frozenset(QUERIES) | frozenset(COMPARISONS)


def read_query(query: str, obs: Observations, version: str,
               baseline: str | None = None) -> tuple[float | None, int]:
    """The value of `query` for `version` and its sample size; (None, n) when there is no data.

    A comparison (`COMPARISONS`) needs the `baseline` version; without one it has no data.
    """
    if query in COMPARISONS:
        return (None, 0) if baseline is None else COMPARISONS[query](obs, version, baseline)
    if query not in QUERIES:
        raise ValueError(f"unknown query {query!r}; known: {', '.join(sorted(KNOWN_QUERIES))}")
    return QUERIES[query](obs, version)
