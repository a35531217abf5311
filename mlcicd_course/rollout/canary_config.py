"""A canary release from a YAML file, with one-line errors that name the key.

Layout (keys in Argo's and Flagger's spelling; durations in seconds or as "30s",
"10m", "3h")::

    stable: v1
    canary: v2
    progressDeadline: 10m
    steps:                          # Argo's steps ...
      - setWeight: 5
      - pause: {duration: 1h, minRequests: 200}
      - analysis: {metrics: [p99-latency]}
      - pause: {}                   # until a person promotes
    # ... or Flagger's shorthand instead of steps:
    # stepWeights: [1, 5, 25, 50]   (or stepWeight: 10 with maxWeight: 50)
    # interval: 1h
    # minRequests: 200
    metrics:                        # every metric once, by name
      - {name: p99-latency, query: latency_p99_ratio, failureCondition: "result > 1.5",
         interval: 10m, count: 3, failureLimit: 1, minSample: 50}
    analysis: [p99-latency]         # metrics checked in the background from the start
    guardrail: {alpha: 0.05, tuningN: 5000, minSample: 200}   # or false
    simulation:                     # for `mlcicd deploy canary --simulate`
      hours: 24
      seed: 0
      requestsPerS: 2
      stable: {errorRate: 0.005}
      canary: {errorRate: 0.02, latencyMs: 20, latencySigma: 0.4, probaBias: 0, flipRate: 0}
    live:                           # for --live (see `canary_live.live_settings`)
      models: {v1: build/v1.joblib, v2: build/v2.joblib}
      knobs: {v2: {error_rate: 0.05}}
      timeScale: 3600               # one real second is an hour of the steps
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mlcicd_course.errors import UserInputError
from mlcicd_course.fileio import read_yaml
from mlcicd_course.rollout.analysis import AnalysisSpec, Condition, MetricSpec
from mlcicd_course.rollout.canary import (
    Analyze,
    CanarySpec,
    Pause,
    SetWeight,
    Step,
    linear_weights,
    step_weights,
)
from mlcicd_course.rollout.canary_sim import CanaryTraffic, ReleaseModel
from mlcicd_course.rollout.guardrail import Guardrail

TOP_KEYS = ("stable", "canary", "progressDeadline", "steps", "stepWeights", "stepWeight",
            "maxWeight", "interval", "minRequests", "metrics", "analysis", "guardrail",
            "simulation", "live")
METRIC_KEYS = {"name": "name", "query": "query", "successCondition": "success_condition",
               "failureCondition": "failure_condition", "interval": "interval_s",
               "count": "count", "initialDelay": "initial_delay_s",
               "failureLimit": "failure_limit", "inconclusiveLimit": "inconclusive_limit",
               "consecutiveErrorLimit": "consecutive_error_limit", "minSample": "min_sample"}
GUARDRAIL_KEYS = {"alpha": "alpha", "tuningN": "tuning_n", "minSample": "min_sample"}
RELEASE_KEYS = {"errorRate": "error_rate", "latencyMs": "latency_median_ms",
                "latencySigma": "latency_sigma", "probaBias": "proba_bias",
                "flipRate": "flip_rate"}
TRAFFIC_KEYS = {"requestsPerS": "requests_per_s", "users": "users",
                "labelDelay": "label_delay_s", "step": "step_s", "window": "window_s"}
SIMULATION_KEYS = ("hours", "seed", "stable", "canary", *TRAFFIC_KEYS)
_UNITS = {"s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class CanaryConfig:
    """A canary file read: the release spec, the metrics by name, and the simulation."""

    spec: CanarySpec
    metrics: Mapping[str, MetricSpec]
    traffic: CanaryTraffic
    hours: float = 24.0
    seed: int = 0
    live: Any = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"spec": self.spec.to_dict(), "traffic": self.traffic.to_dict(),
                "hours": self.hours, "seed": self.seed}


class _Bad(Exception):
    """A problem at a key path (turned into one UserInputError line by `load_canary`)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")


def _mapping(value: Any, key: str, allowed: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _Bad(key, f"expected a mapping, got {type(value).__name__}")
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise _Bad(f"{key}.{unknown[0]}".lstrip("."),
                   f"unknown key; allowed: {', '.join(allowed)}")
    return value


def duration(value: Any, key: str) -> float:
    """Seconds from a number or a text such as "90s", "10m", "3h"."""
    if isinstance(value, bool):
        raise _Bad(key, f"expected a duration, got {value!r}")
    if isinstance(value, int | float) and math.isfinite(value) and value >= 0:
        return float(value)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh])\s*", value) \
        if isinstance(value, str) else None
    if match is None:
        raise _Bad(key, f"expected seconds or a duration such as 30s, 10m, 3h; got {value!r}")
    return float(match[1]) * _UNITS[match[2]]


def _integer(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(key, f"expected an integer, got {value!r}")
    return value


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Bad(key, f"expected a number, got {value!r}")
    return float(value)


def _condition(value: Any, key: str) -> Condition:
    match = re.fullmatch(r"\s*result\s*(<=|>=|<|>)\s*(\S+)\s*", str(value))
    try:
        return Condition(match[1], float(match[2])) if match else _fail(key, value)
    except ValueError:
        return _fail(key, value)


def _fail(key: str, value: Any) -> Condition:
    raise _Bad(key, f"expected a condition such as 'result > 0.01', got {value!r}")


_CONVERT: Mapping[str, Callable[[Any, str], Any]] = {
    "success_condition": _condition, "failure_condition": _condition,
    "interval_s": duration, "initial_delay_s": duration, "count": _integer,
    "failure_limit": _integer, "inconclusive_limit": _integer,
    "consecutive_error_limit": _integer, "min_sample": _integer,
}


def _metric(raw: Any, key: str) -> MetricSpec:
    data = _mapping(raw, key, METRIC_KEYS)
    for required in ("name", "query"):
        if required not in data:
            raise _Bad(f"{key}.{required}", "missing")
    fields = {METRIC_KEYS[k]: _CONVERT.get(METRIC_KEYS[k], lambda v, _: str(v))(v, f"{key}.{k}")
              for k, v in data.items()}
    try:
        return MetricSpec(**fields)
    except ValueError as err:
        raise _Bad(key, str(err)) from None


def _metric_names(raw: Any, key: str, metrics: Mapping[str, MetricSpec]) -> AnalysisSpec:
    if not isinstance(raw, list) or not all(isinstance(n, str) for n in raw):
        raise _Bad(key, "expected a list of metric names")
    missing = [n for n in raw if n not in metrics]
    if missing:
        raise _Bad(key, f"no metric named {missing[0]!r} under metrics; defined: "
                   f"{', '.join(metrics) or 'none'}")
    return AnalysisSpec(tuple(metrics[n] for n in raw))


def _step(raw: Any, key: str, metrics: Mapping[str, MetricSpec]) -> Step:
    data = _mapping(raw, key, ("setWeight", "pause", "analysis"))
    if len(data) != 1:
        raise _Bad(key, "each step has exactly one of setWeight, pause, analysis")
    kind, value = next(iter(data.items()))
    where = f"{key}.{kind}"
    if kind == "setWeight":
        return SetWeight(_integer(value, where))
    if kind == "pause":
        pause = _mapping(value, where, ("duration", "minRequests"))
        return Pause(None if "duration" not in pause else duration(pause["duration"],
                                                                   f"{where}.duration"),
                     _integer(pause.get("minRequests", 0), f"{where}.minRequests"))
    return Analyze(_metric_names(_mapping(value, where, ("metrics",)).get("metrics"),
                                 f"{where}.metrics", metrics))


def _steps(data: Mapping[str, Any], metrics: Mapping[str, MetricSpec]) -> tuple[Step, ...]:
    flagger = [k for k in ("stepWeights", "stepWeight", "maxWeight", "interval", "minRequests")
               if k in data]
    if "steps" in data:
        if flagger:
            raise _Bad(flagger[0], "give either steps or Flagger's stepWeights/interval, not both")
        if not isinstance(data["steps"], list) or not data["steps"]:
            raise _Bad("steps", "expected a non-empty list of steps")
        return tuple(_step(s, f"steps[{i}]", metrics) for i, s in enumerate(data["steps"]))
    if "interval" not in data:
        raise _Bad("steps", "missing: give steps, or stepWeights with an interval")
    interval = duration(data["interval"], "interval")
    if "stepWeights" in data:
        weights = data["stepWeights"]
        if not isinstance(weights, list) or not weights:
            raise _Bad("stepWeights", "expected a non-empty list of weights")
        weights = [_integer(w, f"stepWeights[{i}]") for i, w in enumerate(weights)]
    else:
        try:
            weights = list(linear_weights(_integer(data.get("stepWeight"), "stepWeight"),
                                          _integer(data.get("maxWeight", 100), "maxWeight")))
        except ValueError as err:
            raise _Bad("stepWeight", str(err)) from None
    return step_weights(weights, interval, _integer(data.get("minRequests", 0), "minRequests"))


def _release(raw: Any, key: str) -> ReleaseModel:
    data = _mapping(raw, key, RELEASE_KEYS)
    return ReleaseModel(**{RELEASE_KEYS[k]: _number(v, f"{key}.{k}") for k, v in data.items()})


def parse_metrics(raw_metrics: Any) -> dict[str, MetricSpec]:
    """The `metrics` list by name (each defined once); `_Bad` names the first bad key.

    Shared with the blue-green files (`bluegreen_config`)."""
    if not isinstance(raw_metrics or [], list):
        raise _Bad("metrics", "expected a list of metrics")
    metrics: dict[str, MetricSpec] = {}
    for i, raw in enumerate(raw_metrics or []):
        metric = _metric(raw, f"metrics[{i}]")
        if metric.name in metrics:
            raise _Bad(f"metrics[{i}].name", f"{metric.name!r} is defined twice")
        metrics[metric.name] = metric
    return metrics


def parse_canary(data: Any) -> CanaryConfig:
    """Build a `CanaryConfig` from parsed YAML; `_Bad` names the first key that is wrong."""
    data = _mapping(data, "", TOP_KEYS)
    metrics = parse_metrics(data.get("metrics"))
    steps = _steps(data, metrics)
    background = _metric_names(data.get("analysis", []), "analysis", metrics)
    raw_guard = data.get("guardrail", {})
    guardrail = None
    if raw_guard is not False:
        g = _mapping(raw_guard, "guardrail", GUARDRAIL_KEYS)
        try:
            guardrail = Guardrail(**{GUARDRAIL_KEYS[k]: (_integer if k == "minSample" else
                                                         _number)(v, f"guardrail.{k}")
                                     for k, v in g.items()})
        except ValueError as err:
            raise _Bad("guardrail", str(err)) from None
    for key in ("stable", "canary"):
        if key in data and not isinstance(data[key], str):
            raise _Bad(key, f"expected a version name, got {data[key]!r}")
    try:
        spec = CanarySpec(stable=data.get("stable", "stable"), canary=data.get("canary", "canary"),
                          steps=steps, analysis=background, guardrail=guardrail,
                          progress_deadline_s=duration(data.get("progressDeadline", 600),
                                                       "progressDeadline"))
    except ValueError as err:
        where, _, message = str(err).partition(": ")
        if not where.startswith("steps["):
            raise _Bad("canary", str(err)) from None
        if "steps" not in data:   # Flagger's shorthand: weight i is step 2i
            where = f"stepWeights[{int(where[len('steps['):-1]) // 2}]"
        raise _Bad(where, message) from None
    sim = _mapping(data.get("simulation"), "simulation", SIMULATION_KEYS)
    traffic_args = {TRAFFIC_KEYS[k]: (duration if k in ("labelDelay", "step", "window") else
                                      _number)(v, f"simulation.{k}")
                    for k, v in sim.items() if k in TRAFFIC_KEYS}
    if "users" in traffic_args:
        traffic_args["users"] = _integer(sim["users"], "simulation.users")
    try:
        traffic = CanaryTraffic(stable=_release(sim.get("stable"), "simulation.stable"),
                                canary=_release(sim.get("canary"), "simulation.canary"),
                                **traffic_args)
    except ValueError as err:
        raise _Bad("simulation", str(err)) from None
    hours = _number(sim.get("hours", 24), "simulation.hours")
    if not 0 < hours <= 24 * 14:
        raise _Bad("simulation.hours", f"expected 0 < hours <= 336, got {hours:g}")
    return CanaryConfig(spec, metrics, traffic, hours=hours,
                        seed=_integer(sim.get("seed", 0), "simulation.seed"),
                        live=data.get("live"))


def load_canary(path: str | os.PathLike[str]) -> CanaryConfig:
    """Read a canary file; any problem is one `UserInputError` line naming the key."""
    data = read_yaml(path, what="canary config")
    try:
        return parse_canary(data)
    except _Bad as err:
        raise UserInputError(f"canary config {path}: {err}") from None
