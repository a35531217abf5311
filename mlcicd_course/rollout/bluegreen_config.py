"""A blue-green rollout from YAML, with one-line errors that name the key.

The sibling of `canary_config` (same metric format, same messages). Layout (keys in
Argo Rollouts' spelling; durations in seconds or as "30s", "10m", "3h")::

    active: blue                    # version names (a pipeline sets its own)
    preview: green
    metrics:                        # every metric once, by name (as in a canary file)
      - {name: smoke, query: smoke_failed, successCondition: "result <= 0"}
      - {name: errors, query: error_rate, successCondition: "result <= 0.01",
         interval: 0.05, count: 2, minSample: 30}
    prePromotionAnalysis: [smoke]   # before the switch, on the preview route
    postPromotionAnalysis: [errors] # after the switch, on production traffic
    autoPromotionSeconds: 0         # null: wait for a person (autoPromotionEnabled: false)
    scaleDownDelay: 30s             # blue kept warm after green is stable
    progressDeadline: 10m
    live:                           # the bounded run on the live router (`live.run_bluegreen_live`)
      windowRequests: 200
      previewRequests: 100
      maxWindows: 20
      concurrency: 8
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from mlcicd_course.errors import UserInputError
from mlcicd_course.rollout.analysis import AnalysisSpec
from mlcicd_course.rollout.bluegreen import BlueGreenSpec
from mlcicd_course.rollout.canary_config import (
    _Bad,
    _integer,
    _mapping,
    _metric_names,
    duration,
    parse_metrics,
)

TOP_KEYS = ("active", "preview", "metrics", "prePromotionAnalysis", "postPromotionAnalysis",
            "autoPromotionSeconds", "scaleDownDelay", "progressDeadline", "live")
LIVE_KEYS = {"windowRequests": "window_requests", "previewRequests": "preview_requests",
             "maxWindows": "max_windows", "concurrency": "concurrency"}


@dataclass(frozen=True)
class BlueGreenLive:
    """The size of a bounded live run (`live.run_bluegreen_live` keywords)."""

    window_requests: int = 200
    preview_requests: int = 100
    max_windows: int = 20
    concurrency: int = 8

    def to_dict(self) -> dict[str, int]:
        """Plain data for JSON."""
        return {"window_requests": self.window_requests,
                "preview_requests": self.preview_requests,
                "max_windows": self.max_windows, "concurrency": self.concurrency}


@dataclass(frozen=True)
class BlueGreenConfig:
    """A blue-green section read: the rollout spec and the size of its live run."""

    spec: BlueGreenSpec
    live: BlueGreenLive = field(default_factory=BlueGreenLive)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"spec": self.spec.to_dict(), "live": self.live.to_dict()}


def _live(raw: Any) -> BlueGreenLive:
    data = _mapping(raw, "live", LIVE_KEYS)
    numbers = {}
    for key, name in LIVE_KEYS.items():
        if key in data:
            value = _integer(data[key], f"live.{key}")
            lowest = 0 if key == "previewRequests" else (4 if key == "windowRequests" else 1)
            if value < lowest:
                raise _Bad(f"live.{key}", f"expected an integer >= {lowest}, got {value}")
            numbers[name] = value
    return BlueGreenLive(**numbers)


def parse_bluegreen(data: Any) -> BlueGreenConfig:
    """Build a `BlueGreenConfig` from parsed YAML; `_Bad` names the first key that is wrong."""
    data = _mapping(data, "", TOP_KEYS)
    metrics = parse_metrics(data.get("metrics"))
    analyses: dict[str, AnalysisSpec] = {
        key: _metric_names(data.get(key, []), key, metrics)
        for key in ("prePromotionAnalysis", "postPromotionAnalysis")}
    for key in ("active", "preview"):
        if key in data and not isinstance(data[key], str):
            raise _Bad(key, f"expected a version name, got {data[key]!r}")
    auto = data.get("autoPromotionSeconds", 0)
    options = {"scale_down_delay_s": duration(data.get("scaleDownDelay", 30), "scaleDownDelay"),
               "progress_deadline_s": duration(data.get("progressDeadline", 600),
                                               "progressDeadline"),
               "auto_promotion_seconds": None if auto is None
               else duration(auto, "autoPromotionSeconds")}
    try:
        spec = BlueGreenSpec(active=data.get("active", "blue"),
                             preview=data.get("preview", "green"),
                             pre_promotion=analyses["prePromotionAnalysis"],
                             post_promotion=analyses["postPromotionAnalysis"], **options)
    except ValueError as err:
        raise _Bad("spec", str(err)) from None
    return BlueGreenConfig(spec, _live(data.get("live")))


def load_bluegreen_section(data: Any, where: str) -> BlueGreenConfig:
    """Read a blue-green section found at `where` (a file and key path, for messages)."""
    try:
        return parse_bluegreen(data)
    except _Bad as err:
        raise UserInputError(f"{where}.{err}") from None


def versions(config: BlueGreenConfig, active: str, preview: str) -> BlueGreenConfig:
    """The same rollout between two other version names."""
    return replace(config, spec=replace(config.spec, active=active, preview=preview))

