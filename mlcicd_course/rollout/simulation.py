"""A rollout on a simulated clock: hours of traffic in milliseconds, as tables for plots.

Each version behaves as a `VersionModel` says (error rates, latency, smoke-test
failures, when it becomes ready). Every `step_s` simulated seconds, production
requests are split by the current weights, testers send a few requests to the version
on the preview route, errors are drawn from a seeded generator, and the controller
ticks with what was observed over the last `window_s` seconds (as a metrics query over
the last minute would report). Nothing sleeps; the same seed gives the same run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlcicd_course.rollout.actions import Action, Record, ScaleDown, SetPreview
from mlcicd_course.rollout.clock import FakeClock
from mlcicd_course.rollout.controller import Applied, RolloutController, Strategy
from mlcicd_course.rollout.observations import Observations, SmokeReport, VersionMetrics
from mlcicd_course.rollout.shifter import InMemoryShifter


@dataclass(frozen=True)
class VersionModel:
    """How a simulated version behaves.

    `live_error_rate` is the error rate on production traffic when it differs from the
    testers' preview traffic (a fault that only real users' requests trigger).
    """

    error_rate: float = 0.0
    live_error_rate: float | None = None
    latency_p50_ms: float = 5.0
    latency_p99_ms: float = 20.0
    smoke_failures: tuple[str, ...] = ()
    ready_after_s: float = 0.0


@dataclass(frozen=True)
class TrafficModel:
    """Who sends what: production requests per second, testers' requests per second on
    the preview route, how many smoke tests run, and an optional production alarm that
    fires when a version's error rate over a step exceeds `alarm_error_rate`."""

    versions: Mapping[str, VersionModel]
    requests_per_s: float = 20.0
    preview_requests_per_s: float = 2.0
    smoke_tests: int = 5
    alarm_error_rate: float | None = None


@dataclass(frozen=True)
class SimulationResult:
    """A simulated rollout: one timeline row per step, the decisions, the actions applied."""

    timeline: pd.DataFrame
    history: tuple[Record, ...]
    applied: tuple[Applied, ...] = field(default_factory=tuple)

    @property
    def final_phase(self) -> str:
        """The phase the rollout ended in (or was in when the simulation stopped)."""
        return str(self.timeline["phase"].iloc[-1])

    def history_table(self) -> pd.DataFrame:
        """The decisions as a table (see `history_table`)."""
        return history_table(self.history)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"final_phase": self.final_phase,
                "timeline": self.timeline.to_dict(orient="records"),
                "history": [r.to_dict() for r in self.history],
                "applied": [a.to_dict() for a in self.applied]}


def history_table(history: Sequence[Record]) -> pd.DataFrame:
    """Decisions as a table with columns at, from, to, event, reason, accepted."""
    return pd.DataFrame([r.to_dict() for r in history],
                        columns=["at", "from", "to", "event", "reason", "accepted"])


def simulate(strategy: Strategy[Any], traffic: TrafficModel, *, initial: Mapping[str, int],
             step_s: float = 10.0, window_s: float = 60.0, until_s: float = 3600.0,
             seed: int = 0, approve_at: Sequence[float] = (),
             abort_at: Sequence[float] = ()) -> SimulationResult:
    """Run `strategy` from `initial` weights on simulated traffic until it ends or `until_s`.

    `approve_at` / `abort_at` are times at which a person presses promote / abort.
    The timeline has, per step: `t`, `phase`, and per version `weight_<v>` (after the
    tick), `requests_<v>` and `errors_<v>` (during the step before it).
    """
    rng = np.random.default_rng(seed)
    shifter = InMemoryShifter(initial)
    previewed: set[str] = set()

    def track(action: Action) -> None:
        if isinstance(action, SetPreview):
            previewed.add(action.version)
        elif isinstance(action, ScaleDown):
            previewed.discard(action.version)

    controller = RolloutController(strategy, shifter, on_action=track)
    clock = FakeClock()
    controller.start(clock.now())
    names = sorted(traffic.versions)
    recent: deque[dict[str, tuple[int, int]]] = deque(maxlen=max(1, round(window_s / step_s)))
    rows: list[dict[str, Any]] = []
    while True:
        t = clock.now()
        weights = shifter.weights()
        step = {name: _requests(rng, traffic, name, weights.get(name, 0), name in previewed,
                                step_s) for name in names}
        recent.append(step)
        obs = Observations(
            metrics={name: _window(recent, name, traffic.versions[name]) for name in names},
            smoke={name: SmokeReport(traffic.smoke_tests, traffic.versions[name].smoke_failures)
                   for name in previewed},
            ready={name: t >= m.ready_after_s for name, m in traffic.versions.items()},
            alarms=tuple(f"{name}-5xx" for name in names
                         if _alarm(traffic, step[name], weights.get(name, 0))),
            approve=any(t - step_s < a <= t for a in approve_at),
            abort=any(t - step_s < a <= t for a in abort_at))
        controller.tick(t, obs)
        after = shifter.weights()
        row: dict[str, Any] = {"t": t, "phase": str(controller.state.phase)}
        for name in names:
            row[f"weight_{name}"] = after.get(name, 0)
            row[f"requests_{name}"], row[f"errors_{name}"] = step[name]
        rows.append(row)
        if controller.state.phase.terminal or t >= until_s:
            break
        clock.advance(step_s)
    return SimulationResult(pd.DataFrame(rows), tuple(controller.history),
                            tuple(controller.applied))


def _requests(rng: np.random.Generator, traffic: TrafficModel, name: str, weight: int,
              previewed: bool, step_s: float) -> tuple[int, int]:
    """(requests, errors) of one version in one step: production share plus preview."""
    model = traffic.versions[name]
    live = int(rng.poisson(traffic.requests_per_s * step_s * weight / 100))
    preview = int(rng.poisson(traffic.preview_requests_per_s * step_s)) if previewed else 0
    live_rate = model.error_rate if model.live_error_rate is None else model.live_error_rate
    errors = int(rng.binomial(live, live_rate)) + int(rng.binomial(preview, model.error_rate))
    return live + preview, errors


def _window(recent: deque[dict[str, tuple[int, int]]], name: str,
            model: VersionModel) -> VersionMetrics:
    requests = sum(step[name][0] for step in recent)
    errors = sum(step[name][1] for step in recent)
    return VersionMetrics(requests, errors, model.latency_p50_ms, model.latency_p99_ms)


def _alarm(traffic: TrafficModel, step: tuple[int, int], weight: int) -> bool:
    """A production alarm: the version serves production and its step error rate is too high."""
    requests, errors = step
    return (traffic.alarm_error_rate is not None and weight > 0 and requests > 0
            and errors / requests > traffic.alarm_error_rate)
