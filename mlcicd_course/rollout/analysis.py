"""Analysis runs as Argo Rollouts does them: measurements -> metric phase -> run phase.

A metric (`MetricSpec`) is measured every `interval_s` seconds, `count` times, after
an `initial_delay_s`. Each measurement reads one number from the observations (a
query such as `error_rate`) and gets a phase from the conditions:

- only `success_condition`: Successful when it holds, else Failed;
- only `failure_condition`: Failed when it holds, else Successful;
- both: Failed if the failure condition holds, Successful if only the success one
  holds, Inconclusive if neither does;
- neither: Successful;
- no value (no traffic, no smoke tests): Error, "no data";
- fewer than `min_sample` requests behind the value: Inconclusive.

No data is never a pass: it can only end in Error or Inconclusive, and a metric whose
measurements keep failing to arrive never reaches its count, so it never succeeds.

The metric's phase then follows from the counters (`assess_metric`), and the run's
phase is the worst of its metrics' phases (`assess_run`), in this order::

    Successful < Running < Pending < Inconclusive < Error < Failed

Defaults are Argo's: `failure_limit=0`, `inconclusive_limit=0`,
`consecutive_error_limit=4`; a limit of -1 switches that check off. Everything here is
a pure function of (spec, measurements, time): nothing sleeps, nothing is mutated.
"""

from __future__ import annotations

import math
import operator
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from mlcicd_course.rollout.observations import KNOWN_QUERIES, Observations, read_query

DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4
"""Argo's default: a fifth error in a row ends the metric in Error."""

ERROR_RETRY_S = 10.0
"""After an Error, a metric without an interval is measured again this much later (Argo)."""


class AnalysisPhase(StrEnum):
    """Phase of a measurement, a metric or a whole run."""

    SUCCESSFUL = "Successful"
    RUNNING = "Running"
    PENDING = "Pending"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"
    FAILED = "Failed"

    @property
    def completed(self) -> bool:
        """True for the four phases that end a metric or a run."""
        return self not in (AnalysisPhase.RUNNING, AnalysisPhase.PENDING)


PHASE_ORDER: tuple[AnalysisPhase, ...] = (
    AnalysisPhase.SUCCESSFUL, AnalysisPhase.RUNNING, AnalysisPhase.PENDING,
    AnalysisPhase.INCONCLUSIVE, AnalysisPhase.ERROR, AnalysisPhase.FAILED,
)
"""From best to worst: the run's phase is the worst of its metrics' phases."""


def worst(phases: Iterable[AnalysisPhase]) -> AnalysisPhase:
    """The worst phase in `phases` by `PHASE_ORDER`; Successful when there are none."""
    return max(phases, key=PHASE_ORDER.index, default=AnalysisPhase.SUCCESSFUL)


_OPERATORS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class Condition:
    """`result <op> threshold`, e.g. `Condition("<=", 0.01)` for an error rate of 1 % at most."""

    op: str
    threshold: float

    def __post_init__(self) -> None:
        if self.op not in _OPERATORS:
            raise ValueError(f"unknown operator {self.op!r}; use one of {', '.join(_OPERATORS)}")

    def holds(self, value: float) -> bool:
        """Whether `value` satisfies the condition."""
        return _OPERATORS[self.op](value, self.threshold)

    def __str__(self) -> str:
        return f"result {self.op} {self.threshold:g}"


@dataclass(frozen=True)
class MetricSpec:
    """One metric of an analysis: what to read, how often, and what counts as a pass."""

    name: str
    query: str
    success_condition: Condition | None = None
    failure_condition: Condition | None = None
    interval_s: float = 0.0
    count: int | None = None
    initial_delay_s: float = 0.0
    failure_limit: int = 0
    inconclusive_limit: int = 0
    consecutive_error_limit: int = DEFAULT_CONSECUTIVE_ERROR_LIMIT
    min_sample: int = 1

    def __post_init__(self) -> None:
        if self.query not in KNOWN_QUERIES:
            raise ValueError(f"metric {self.name!r}: unknown query {self.query!r}; "
                             f"known: {', '.join(sorted(KNOWN_QUERIES))}")
        for limit in ("failure_limit", "inconclusive_limit", "consecutive_error_limit"):
            if getattr(self, limit) < -1:
                raise ValueError(f"metric {self.name!r}: {limit} must be >= -1 (-1 = off)")
        if self.count is not None and self.count < 1:
            raise ValueError(f"metric {self.name!r}: count must be >= 1, got {self.count}")
        if self.interval_s < 0 or self.initial_delay_s < 0 or self.min_sample < 0:
            raise ValueError(f"metric {self.name!r}: interval_s, initial_delay_s and "
                             "min_sample must be >= 0")

    def effective_count(self) -> int | None:
        """Measurements needed to finish: `count`, 1 without an interval, None = until stopped."""
        if self.count is not None:
            return self.count
        return 1 if self.interval_s == 0 else None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (conditions as text)."""
        return {"name": self.name, "query": self.query,
                "success_condition": _text(self.success_condition),
                "failure_condition": _text(self.failure_condition),
                "interval_s": self.interval_s, "count": self.count,
                "initial_delay_s": self.initial_delay_s, "failure_limit": self.failure_limit,
                "inconclusive_limit": self.inconclusive_limit,
                "consecutive_error_limit": self.consecutive_error_limit,
                "min_sample": self.min_sample}


def _text(condition: Condition | None) -> str | None:
    return None if condition is None else str(condition)


@dataclass(frozen=True)
class AnalysisSpec:
    """The metrics of one analysis; it succeeds only when every metric does."""

    metrics: tuple[MetricSpec, ...] = ()

    def __post_init__(self) -> None:
        names = [m.name for m in self.metrics]
        if len(set(names)) != len(names):
            raise ValueError(f"metric names must be unique, got {names}")

    def min_duration_s(self) -> float | None:
        """The shortest time the analysis can take to succeed (its bake time), or None
        when a metric runs until stopped: initial delay + (count - 1) intervals."""
        longest = 0.0
        for m in self.metrics:
            count = m.effective_count()
            if count is None:
                return None
            longest = max(longest, m.initial_delay_s + (count - 1) * m.interval_s)
        return longest

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"metrics": [m.to_dict() for m in self.metrics]}


@dataclass(frozen=True)
class Measurement:
    """One reading of a metric: when, the value (None = no data), its sample and its phase."""

    at: float
    phase: AnalysisPhase
    value: float | None
    sample: int
    message: str

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"at": self.at, "phase": str(self.phase), "value": self.value,
                "sample": self.sample, "message": self.message}


def evaluate(spec: MetricSpec, value: float | None, sample: int) -> tuple[AnalysisPhase, str]:
    """The phase of one measurement of `spec` with `value` over `sample` units, and why."""
    if value is None or math.isnan(value):
        return AnalysisPhase.ERROR, "no data"
    if sample < spec.min_sample:
        return (AnalysisPhase.INCONCLUSIVE,
                f"sample {sample} < min_sample {spec.min_sample}: too little data to judge")
    ok, bad = spec.success_condition, spec.failure_condition
    if ok is None and bad is None:
        return AnalysisPhase.SUCCESSFUL, f"value {value:g}, no conditions"
    if bad is not None and bad.holds(value):
        return AnalysisPhase.FAILED, f"value {value:g}: {bad} holds"
    if ok is None or ok.holds(value):
        return AnalysisPhase.SUCCESSFUL, f"value {value:g}: passes"
    if bad is None:
        return AnalysisPhase.FAILED, f"value {value:g}: {ok} does not hold"
    return AnalysisPhase.INCONCLUSIVE, f"value {value:g}: neither {ok} nor {bad}"


def measure(spec: MetricSpec, obs: Observations, version: str, at: float,
            baseline: str | None = None) -> Measurement:
    """Read `spec.query` for `version` (against `baseline` for a comparison) from `obs` and
    judge it (see `evaluate`)."""
    value, sample = read_query(spec.query, obs, version, baseline)
    phase, message = evaluate(spec, value, sample)
    return Measurement(at=at, phase=phase, value=value, sample=sample, message=message)


@dataclass(frozen=True)
class MetricCounts:
    """Argo's counters over a metric's measurements."""

    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0
    consecutive_error: int = 0

    @property
    def count(self) -> int:
        """Measurements that produced a verdict (errors do not count towards `count`)."""
        return self.successful + self.failed + self.inconclusive

    @classmethod
    def of(cls, measurements: Sequence[Measurement]) -> MetricCounts:
        """Count `measurements` by phase; `consecutive_error` is the run of trailing errors."""
        by_phase = Counter(m.phase for m in measurements)
        trailing = 0
        for m in reversed(measurements):
            if m.phase is not AnalysisPhase.ERROR:
                break
            trailing += 1
        return cls(successful=by_phase[AnalysisPhase.SUCCESSFUL],
                   failed=by_phase[AnalysisPhase.FAILED],
                   inconclusive=by_phase[AnalysisPhase.INCONCLUSIVE],
                   error=by_phase[AnalysisPhase.ERROR], consecutive_error=trailing)


def assess_metric(spec: MetricSpec,
                  measurements: Sequence[Measurement]) -> tuple[AnalysisPhase, str]:
    """The phase of one metric from its measurements, with the reason.

    Checked in this order: no measurement yet -> Pending; the three limits (each off
    at -1); count reached -> Successful; otherwise Running. When several limits are
    exceeded at once, the worst phase wins (Failed over Error over Inconclusive). Argo's
    `assessMetricFailureInconclusiveOrError` lets a later check overwrite an earlier
    one instead, so there a metric over both its failure and inconclusive limits ends
    Inconclusive and pauses; here a metric over its failure limit always fails.
    """
    if not measurements:
        return AnalysisPhase.PENDING, "no measurement yet"
    c = MetricCounts.of(measurements)
    exceeded: list[tuple[AnalysisPhase, str]] = []
    if spec.failure_limit >= 0 and c.failed > spec.failure_limit:
        exceeded.append((AnalysisPhase.FAILED,
                         f"failed ({c.failed}) > failure_limit ({spec.failure_limit})"))
    if spec.inconclusive_limit >= 0 and c.inconclusive > spec.inconclusive_limit:
        exceeded.append((AnalysisPhase.INCONCLUSIVE, f"inconclusive ({c.inconclusive}) > "
                         f"inconclusive_limit ({spec.inconclusive_limit})"))
    if spec.consecutive_error_limit >= 0 and c.consecutive_error > spec.consecutive_error_limit:
        exceeded.append((AnalysisPhase.ERROR, f"consecutive errors ({c.consecutive_error}) > "
                         f"consecutive_error_limit ({spec.consecutive_error_limit})"))
    if exceeded:
        phase = worst(p for p, _ in exceeded)
        return phase, next(reason for p, reason in exceeded if p is phase)
    needed = spec.effective_count()
    if needed is not None and c.count >= needed:
        return AnalysisPhase.SUCCESSFUL, f"count ({needed}) reached"
    return AnalysisPhase.RUNNING, f"{c.count} of {needed or 'unlimited'} measurements"


def assess_run(spec: AnalysisSpec,
               results: Mapping[str, Sequence[Measurement]]) -> tuple[AnalysisPhase, str]:
    """The phase of a whole run: the worst of its metrics' phases, with that metric's reason
    (every metric's when all succeeded).

    A run without metrics is Successful (there is nothing to check).
    """
    assessed = [(m.name, *assess_metric(m, results.get(m.name, ()))) for m in spec.metrics]
    if not assessed:
        return AnalysisPhase.SUCCESSFUL, "no metrics to check"
    phase = worst(p for _, p, _ in assessed)
    if phase is AnalysisPhase.SUCCESSFUL:
        return phase, "all passed: " + "; ".join(f"{name}: {why}" for name, _, why in assessed)
    name, _, reason = next(a for a in assessed if a[1] is phase)
    return phase, f"{name}: {reason}"


def next_due(spec: MetricSpec, measurements: Sequence[Measurement],
             started_at: float) -> float | None:
    """When `spec` should next be measured, or None once the metric is completed."""
    if assess_metric(spec, measurements)[0].completed:
        return None
    if not measurements:
        return started_at + spec.initial_delay_s
    last = measurements[-1]
    if spec.interval_s == 0 and last.phase is AnalysisPhase.ERROR:
        return last.at + ERROR_RETRY_S
    return last.at + spec.interval_s


@dataclass(frozen=True)
class AnalysisRun:
    """An analysis of one version in progress: the spec, its start and every measurement.

    `baseline` is the version comparisons judge it against (stable, for a canary).
    Immutable: `take` returns a new run with the measurements that were due.
    """

    spec: AnalysisSpec
    version: str
    started_at: float
    results: Mapping[str, tuple[Measurement, ...]] = field(default_factory=dict)
    baseline: str | None = None

    def due(self, now: float) -> tuple[MetricSpec, ...]:
        """The metrics whose next measurement is due at `now`.

        Nothing is due at the instant the run starts: observations made then describe
        the time before it (green was not on its route yet), so they cannot judge it.
        """
        if now <= self.started_at:
            return ()
        return tuple(m for m in self.spec.metrics
                     if (t := next_due(m, self.results.get(m.name, ()), self.started_at))
                     is not None and t <= now)

    def take(self, now: float, obs: Observations) -> AnalysisRun:
        """Measure every due metric from `obs` at `now`; return the updated run."""
        due = self.due(now)
        if not due:
            return self
        results = dict(self.results)
        for m in due:
            results[m.name] = (*results.get(m.name, ()), measure(m, obs, self.version, now,
                                                                 self.baseline))
        return replace(self, results=results)

    def assess(self) -> tuple[AnalysisPhase, str]:
        """The run's phase and reason (see `assess_run`)."""
        return assess_run(self.spec, self.results)

    def next_wakeup(self) -> float | None:
        """The earliest time a measurement is due, or None when nothing is left to measure.

        A first measurement due at the start is taken at the first tick after it.
        """
        times = [t for m in self.spec.metrics
                 if (t := next_due(m, self.results.get(m.name, ()), self.started_at))
                 is not None]
        return min(times, default=None)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: phase, reason and every measurement per metric."""
        phase, reason = self.assess()
        return {"version": self.version, "started_at": self.started_at, "phase": str(phase),
                "reason": reason,
                "results": {name: [m.to_dict() for m in ms]
                            for name, ms in sorted(self.results.items())}}
