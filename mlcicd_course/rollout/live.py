"""The blue-green controller on the live router: real requests, real switches, bounded.

This is the one module that joins `serving/` and `rollout/`. A live run is a series of
load windows against the router. In each window the controller ticks once, while
requests are in flight, with what the load generator saw in the window before (its
per-version summary, converted by `observations`); so every switch and every switch
back happens under load. While green is on preview, each window also sends preview
traffic (`X-Route-To: green`) that production never sees, and the smoke tests run
once on the preview route. Time is read from an injected clock; nothing sleeps: the
load itself is what passes the time. The run stops when the rollout ends or after
`max_windows` windows, when it aborts (back to blue if it had switched).

The router's admin client, `RouterAdmin`, is the controller's traffic shifter as it
is: it has `weights()` and `set_weights()`, and a split the router refuses raises,
which the controller turns into an abort.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from mlcicd_course.rollout.actions import Action
from mlcicd_course.rollout.bluegreen import BlueGreenPhase, BlueGreenRollout
from mlcicd_course.rollout.clock import Clock, MonotonicClock
from mlcicd_course.rollout.controller import RolloutController
from mlcicd_course.rollout.observations import Observations, SmokeReport, VersionMetrics
from mlcicd_course.serving.admin_client import RouterAdmin
from mlcicd_course.serving.loadgen import run_load, summarize

ROUTE_TO = "X-Route-To"


def version_metrics(summary: Mapping[str, Mapping[str, Any]]) -> dict[str, VersionMetrics]:
    """The load generator's per-version summary (`loadgen.summarize`) as `VersionMetrics`.

    Requests that no version answered (summarised under "") belong to no version and
    are left out.
    """
    return {version: VersionMetrics(requests=int(s["requests"]), errors=int(s["errors"]),
                                    latency_p50_ms=float(s["latency_p50_ms"]),
                                    latency_p99_ms=float(s["latency_p99_ms"]),
                                    accuracy=s.get("accuracy"))
            for version, s in sorted(summary.items()) if version}


def observations(summary: Mapping[str, Mapping[str, Any]], *,
                 smoke: Mapping[str, SmokeReport] | None = None,
                 ready: Mapping[str, bool] | None = None, approve: bool = False,
                 ) -> Observations:
    """What the controller is told: the summary's metrics, smoke reports, readiness."""
    return Observations(metrics=version_metrics(summary), smoke=dict(smoke or {}),
                        ready=dict(ready or {}), approve=approve)


def smoke_test(url: str, version: str, rows: Sequence[Mapping[str, Any]], *,
               timeout_s: float = 5.0) -> SmokeReport:
    """Smoke tests of `version` through the router's preview route (`X-Route-To`).

    Four checks: a batch of `rows` gets 200 with one prediction per row; the answer
    comes from `version`; every prediction is one of the model's classes (`/version`);
    a malformed row gets 422. Each failure is one line in the report.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def call(path: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url.rstrip("/") + path, data=data, headers={
            ROUTE_TO: version, "Content-Type": "application/json"})
        try:
            with opener.open(request, timeout=timeout_s) as response:
                return response.status, dict(response.headers), json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), None
        except (urllib.error.URLError, OSError, ValueError) as err:
            return 0, {}, str(err)

    failures: list[str] = []
    status, headers, answer = call("/predict", list(rows))
    predictions = answer.get("predictions", []) if isinstance(answer, dict) else []
    if status != 200 or len(predictions) != len(rows):
        failures.append(f"predict: HTTP {status}, {len(predictions)} predictions "
                        f"for {len(rows)} rows")
    if headers.get("X-Model-Version", headers.get("x-model-version")) != version:
        failures.append(f"version: the answer did not come from {version}")
    _, _, about = call("/version")
    classes = set(about.get("classes") or []) if isinstance(about, dict) else set()
    if not classes or not set(predictions) <= classes:
        failures.append(f"classes: predictions {sorted(set(predictions))} not all in "
                        f"{sorted(classes)}")
    bad_status, _, _ = call("/predict", [{"not a column": 1}])
    if bad_status != 422:
        failures.append(f"validation: a malformed row got HTTP {bad_status}, not 422")
    return SmokeReport(total=4, failures=tuple(failures))


@dataclass
class LiveRun:
    """What a live rollout did: every request, every tick, and the controller at the end.

    `requests` has the load generator's columns plus `window`, `traffic` ("production"
    or "preview") and `t` (seconds since the run began); `ticks` has one row per tick:
    window, t (when it began) and t_applied (when its actions were carried out), the
    phase before and after, the actions and the router's split after.
    """

    controller: RolloutController
    requests: pd.DataFrame
    ticks: pd.DataFrame
    smoke: dict[str, SmokeReport] = field(default_factory=dict)

    @property
    def phase(self) -> Any:
        """Where the rollout ended (a `BlueGreenPhase` or a `CanaryPhase`)."""
        return self.controller.state.phase

    @property
    def failed(self) -> int:
        """Requests without a 2xx answer."""
        return int((~self.requests["status"].between(200, 299)).sum())

    def production(self) -> pd.DataFrame:
        """Only the production requests (no preview traffic)."""
        return self.requests[self.requests["traffic"] == "production"]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: outcome, counts, ticks and the rollout's history."""
        return {"phase": str(self.phase), "requests": len(self.requests),
                "failed": self.failed,
                "by_version": summarize(self.production()),
                "ticks": self.ticks.to_dict("records"),
                "smoke": {k: v.to_dict() for k, v in sorted(self.smoke.items())},
                "history": [r.to_dict() for r in self.controller.history]}


def router_ready(admin: RouterAdmin) -> Callable[[str], bool]:
    """Readiness as the router sees it: its last health check of the version said "ok"."""
    def ready(version: str) -> bool:
        return admin.state()["backends"].get(version, {}).get("health") == "ok"
    return ready


def run_bluegreen_live(
    rollout: BlueGreenRollout,
    admin: RouterAdmin,
    url: str,
    payloads: Sequence[Any],
    *,
    smoke_rows: Sequence[Mapping[str, Any]],
    ready: Callable[[str], bool] | None = None,
    window_requests: int = 500,
    preview_requests: int = 200,
    concurrency: int = 8,
    max_windows: int = 20,
    approve: bool = False,
    unit_ids: Sequence[str] | None = None,
    clock: Clock | None = None,
    on_action: Callable[[Action], None] | None = None,
) -> LiveRun:
    """Run `rollout` against the router at `url` (admin API `admin`) under real load.

    Each window sends `window_requests` production requests (payloads in turn, one
    `X-User-Id` from `unit_ids` each) and, while green is on preview, first
    `preview_requests` preview requests. The controller ticks once per window, a
    quarter of the way into the production load, with the production traffic of the
    window before and the preview traffic of this one. `ready(version)` tells whether
    the new version passes its readiness check (default: the router's health check).
    `approve` stands for the person who approves a paused rollout (a spec without
    auto-promotion); without it, such a rollout waits. After `max_windows` windows a
    rollout that has not ended is aborted.
    """
    if window_requests < 4 or max_windows < 1 or preview_requests < 0:
        raise ValueError("window_requests must be >= 4, max_windows >= 1, "
                         "preview_requests >= 0")
    clock = clock or MonotonicClock()
    ready = ready or router_ready(admin)
    spec = rollout.spec
    controller = RolloutController(rollout, admin, on_action=on_action)
    started = clock.now()
    controller.start(0.0)
    frames: list[pd.DataFrame] = []
    ticks: list[dict[str, Any]] = []
    smoke: dict[str, SmokeReport] = {}
    load: dict[str, Any] = {"concurrency": concurrency, "duration_s": 120.0,
                            "unit_ids": unit_ids}

    def tick(window: int, obs: Observations) -> None:
        now = clock.now() - started
        before = controller.state.phase
        actions = controller.tick(now, obs)
        ticks.append({"window": window, "t": now, "t_applied": clock.now() - started,
                      "from": str(before),
                      "to": str(controller.state.phase),
                      "actions": "; ".join(describe_action(a) for a in actions),
                      "weights": json.dumps(admin.weights(), sort_keys=True)})

    seen: list[pd.DataFrame] = []  # what the next tick observes
    for window in range(max_windows):
        phase = controller.state.phase
        if phase.terminal:
            break
        if phase is BlueGreenPhase.PRE_PROMOTION:
            if spec.preview not in smoke:
                smoke[spec.preview] = smoke_test(url, spec.preview, smoke_rows)
            if preview_requests:
                offset = clock.now() - started
                preview = run_load(url + "/predict", payloads, requests=preview_requests,
                                   headers={ROUTE_TO: spec.preview}, **load)
                seen.append(tagged(preview.requests, window, "preview", offset))
                frames.append(seen[-1])
        obs = observations(summarize(pd.concat(seen)) if seen else {}, smoke=smoke,
                           ready={spec.preview: ready(spec.preview)},
                           approve=approve and phase is BlueGreenPhase.PAUSED)
        offset = clock.now() - started
        result = run_load(url + "/predict", payloads, requests=window_requests,
                          actions={window_requests // 4: ("tick", _bound(tick, window, obs))},
                          **load)
        seen = [tagged(result.requests, window, "production", offset)]
        frames.append(seen[0])
    if not controller.state.phase.terminal:
        tick(max_windows, Observations(abort=True))
    requests = pd.concat(frames, ignore_index=True)
    return LiveRun(controller, requests, pd.DataFrame(ticks), smoke)


def _bound(tick: Callable[[int, Observations], None], window: int,
           obs: Observations) -> Callable[[], None]:
    return lambda: tick(window, obs)


def tagged(frame: pd.DataFrame, window: int, traffic: str, offset: float) -> pd.DataFrame:
    """The load generator's requests of one window, with its number, kind and start time."""
    return frame.assign(window=window, traffic=traffic, t=frame["t_start"] + offset)


def describe_action(action: Action) -> str:
    """An action in one line: its name and its fields as JSON."""
    data = action.to_dict()
    name = data.pop("action")
    return f"{name} {json.dumps(data, sort_keys=True)}"
