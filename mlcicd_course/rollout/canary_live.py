"""The canary controller on the live router: real requests, sticky users, bounded.

The sibling of `live` (blue-green) for canary releases. A live run is a series of load
windows against the router; in each the controller ticks once, while requests are in
flight, with the window before as metrics and every production request so far as
totals (what the guardrail counts). Users are sticky: each request carries an
`X-User-Id`, and the router's keyed hash keeps a user on one version while the weight
only grows. `time_scale` stretches the controller's clock, so a spec written in hours
runs in seconds (3600: one real second is an hour of the spec). The run stops when the
release ends, or after `max_windows` windows, when it aborts (back to stable).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mlcicd_course.errors import UserInputError
from mlcicd_course.rollout.actions import Action
from mlcicd_course.rollout.canary import CanaryRollout
from mlcicd_course.rollout.clock import Clock, MonotonicClock
from mlcicd_course.rollout.controller import RolloutController
from mlcicd_course.rollout.live import LiveRun, describe_action, tagged, version_metrics
from mlcicd_course.rollout.observations import Observations
from mlcicd_course.rollout.providers import Provider
from mlcicd_course.rollout.providers import window as counted
from mlcicd_course.serving.admin_client import RouterAdmin
from mlcicd_course.serving.loadgen import run_load, summarize


def run_canary_live(rollout: CanaryRollout, admin: RouterAdmin, url: str,
                    payloads: Sequence[Any], *, unit_ids: Sequence[str],
                    window_requests: int = 200, concurrency: int = 8, max_windows: int = 20,
                    time_scale: float = 1.0, approve: bool = False, clock: Clock | None = None,
                    on_action: Callable[[Action], None] | None = None,
                    provider: Provider | None = None) -> LiveRun:
    """Run `rollout` against the router at `url` (admin API `admin`) under real load.

    Each window sends `window_requests` requests (payloads in turn, one `X-User-Id` from
    `unit_ids` each); the controller ticks a quarter of the way in. The metrics are what
    the load generator saw, or, with a `provider` (e.g. `providers.scrape` of the
    router's `/router/metrics`), what the provider's counters say happened since the
    last tick. `approve` stands for a person who promotes every manual pause. After
    `max_windows` windows a release that has not ended is aborted.
    """
    if window_requests < 4 or max_windows < 1 or time_scale <= 0 or not unit_ids:
        raise ValueError("window_requests must be >= 4, max_windows >= 1, time_scale > 0, "
                         "and unit_ids not empty")
    clock = clock or MonotonicClock()
    controller = RolloutController(rollout, admin, on_action=on_action)
    started = clock.now()
    controller.start(0.0)
    frames: list[pd.DataFrame] = []
    ticks: list[dict[str, Any]] = []
    load: dict[str, Any] = {"concurrency": concurrency, "duration_s": 120.0,
                            "unit_ids": unit_ids}

    def tick(window: int, obs: Observations) -> None:
        now = (clock.now() - started) * time_scale
        before = controller.state.phase
        actions = controller.tick(now, obs)
        ticks.append({"window": window, "t": now, "from": str(before),
                      "to": str(controller.state.phase),
                      "actions": "; ".join(describe_action(a) for a in actions),
                      "weights": json.dumps(admin.weights(), sort_keys=True)})

    first = last = provider() if provider is not None else {}
    for window in range(max_windows):
        if controller.state.phase.terminal:
            break
        if provider is not None:
            reading = provider()
            metrics, totals = counted(last, reading), counted(first, reading)
            last = reading
        else:
            metrics = version_metrics(summarize(frames[-1]) if frames else {})
            totals = version_metrics(summarize(pd.concat(frames)) if frames else {})
        obs = Observations(metrics=metrics, totals=totals,
                           approve=approve and str(controller.state.phase) == "Paused")
        offset = clock.now() - started
        result = run_load(url + "/predict", payloads, requests=window_requests,
                          actions={window_requests // 4: ("tick", _bound(tick, window, obs))},
                          **load)
        frames.append(tagged(result.requests, window, "production", offset))
    if not controller.state.phase.terminal:
        tick(max_windows, Observations(abort=True))
    return LiveRun(controller, pd.concat(frames, ignore_index=True), pd.DataFrame(ticks))


def _bound(tick: Callable[[int, Observations], None], window: int,
           obs: Observations) -> Callable[[], None]:
    return lambda: tick(window, obs)


LIVE_KEYS = ("models", "knobs", "windowRequests", "maxWindows", "timeScale", "users")


@dataclass(frozen=True)
class LiveSettings:
    """The `live` section of a canary file: a model file per version, the knobs that make
    a bad release (`ServerSettings` names), and the size of the bounded run."""

    models: Mapping[str, Path]
    knobs: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    window_requests: int = 200
    max_windows: int = 12
    time_scale: float = 3600.0
    users: int = 300


def live_settings(data: Any, versions: Sequence[str], where: str) -> LiveSettings:
    """Read a `live` section; a one-line UserInputError naming the key when it is wrong."""
    if not isinstance(data, Mapping):
        raise UserInputError(f"{where}: live: missing or not a mapping (needed by --live)")
    unknown = sorted(set(data) - set(LIVE_KEYS))
    if unknown:
        raise UserInputError(f"{where}: live.{unknown[0]}: unknown key; allowed: "
                             f"{', '.join(LIVE_KEYS)}")
    models = data.get("models")
    if not isinstance(models, Mapping) or set(models) != set(versions):
        raise UserInputError(f"{where}: live.models: expected a model file for each of "
                             f"{', '.join(versions)}")
    knobs = data.get("knobs") or {}
    if not isinstance(knobs, Mapping) or set(knobs) - set(versions):
        raise UserInputError(f"{where}: live.knobs: expected knobs per version "
                             f"({', '.join(versions)})")
    numbers = {}
    for key, name, kind in (("windowRequests", "window_requests", int),
                            ("maxWindows", "max_windows", int),
                            ("timeScale", "time_scale", float), ("users", "users", int)):
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0 \
                    or (kind is int and not isinstance(value, int)):
                raise UserInputError(f"{where}: live.{key}: expected a positive "
                                     f"{'integer' if kind is int else 'number'}, got {value!r}")
            numbers[name] = value
    return LiveSettings(models={v: Path(str(p)) for v, p in models.items()},
                        knobs={v: dict(k) for v, k in knobs.items()}, **numbers)


def run_from_config(settings: LiveSettings, rollout: CanaryRollout, *,
                    rows: Sequence[Mapping[str, Any]]) -> LiveRun:
    """Start a model server per version and a router on 127.0.0.1, run the release, stop all."""
    from mlcicd_course.serving.lifecycle import model_servers, router

    spec = rollout.spec
    with model_servers(settings.models, options=settings.knobs) as servers:
        backends = {name: server.url for name, server in servers.items()}
        with router(backends, {spec.stable: 100, spec.canary: 0}) as started:
            return run_canary_live(
                rollout, started.admin(), started.url, [[row] for row in rows],
                unit_ids=[f"user-{i}" for i in range(settings.users)],
                window_requests=settings.window_requests, max_windows=settings.max_windows,
                time_scale=settings.time_scale, approve=False)
