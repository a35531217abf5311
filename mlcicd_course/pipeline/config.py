"""The pipeline's YAML file, read into plain settings; one-line errors name the key.

Top-level keys (all optional but `staging`; see config/pipeline.yaml for a documented file)::

    by: mlcicd pipeline              # who the registry records for each change
    data: {seed: 42, months: 3, rowsPerMonth: 1000, conceptDrift: 0, covariateDrift: 0}
    schema: config/schema.yaml       # the data contract checked by `validate`
    training: {config: config/model.yaml, corruptLabels: 0}
    gate: {minAccuracy: 0.7, maxRegression: 0.02, alpha: 0.05}
    shadow: {enabled: false, requests: 200, minAgreement: 0.85, maxP99Ms: 250}
    staging:                         # a canary in staging: candidate beside production
      canary: {...}                  # steps/metrics/analysis/guardrail as in config/canary.yaml
      live: {windowRequests: 60, maxWindows: 12, timeScale: 1, users: 200}
    smoke: {rows: 5}
    production:
      strategy: bluegreen            # or canary
      bluegreen: {...}               # rollout/bluegreen_config.py's layout
      canary: {...}                  # with live: {...}, as in staging (strategy: canary)
    watch: {requests: 300, windowRequests: 100, maxErrorRate: 0.01, maxP99Ms: 250}
    candidate:                       # teaching knobs of the candidate's model servers
      staging: {error_rate: 0.2}     # (serving/settings.py ServerSettings names)
      production: {added_latency_ms: 40}

Paths are relative to the current folder (run from the repository root).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from mlcicd_course.errors import UserInputError
from mlcicd_course.fileio import read_yaml
from mlcicd_course.rollout.bluegreen_config import BlueGreenConfig, parse_bluegreen
from mlcicd_course.rollout.canary_config import CanaryConfig, _Bad, _mapping, parse_canary
from mlcicd_course.rollout.canary_live import LiveSettings, live_settings

TOP_KEYS = ("by", "data", "schema", "training", "gate", "shadow", "staging", "smoke",
            "production", "watch", "candidate")
STRATEGIES = ("bluegreen", "canary")
ENVIRONMENTS = ("staging", "production")
KNOBS = ("added_latency_ms", "error_rate", "flip_rate", "seed")


@dataclass(frozen=True)
class DataSettings:
    """The monthly batches: train on every month but the last, test on the last."""

    seed: int = 42
    months: int = 3
    rows_per_month: int = 1000
    concept_drift: float = 0.0
    covariate_drift: float = 0.0


@dataclass(frozen=True)
class TrainingSettings:
    """The model config file, and a teaching knob: the share of training labels flipped."""

    config: Path = Path("config/model.yaml")
    corrupt_labels: float = 0.0


@dataclass(frozen=True)
class GateSettings:
    """Chapter 02's gate against the model in production (`comparison.compare`)."""

    min_accuracy: float | None = 0.7
    max_regression: float | None = 0.02
    alpha: float = 0.05


@dataclass(frozen=True)
class ShadowSettings:
    """The optional shadow test (mirrored copies; `shadow.promotion.PromotionPolicy`)."""

    enabled: bool = False
    requests: int = 200
    min_agreement: float = 0.85
    max_p99_ms: float = 250.0


@dataclass(frozen=True)
class CanaryStage:
    """A canary release run on the live router: its spec and the size of the run."""

    config: CanaryConfig
    live: LiveSettings


@dataclass(frozen=True)
class ProductionSettings:
    """How the candidate reaches production: blue-green or canary."""

    strategy: str = "bluegreen"
    bluegreen: BlueGreenConfig = field(default_factory=lambda: parse_bluegreen({}))
    canary: CanaryStage | None = None


@dataclass(frozen=True)
class WatchSettings:
    """The bounded watch after the release: requests, and the limits of each window."""

    requests: int = 300
    window_requests: int = 100
    max_error_rate: float = 0.01
    max_p99_ms: float = 250.0


@dataclass(frozen=True)
class PipelineConfig:
    """Everything `run_pipeline` needs, read from one YAML file."""

    staging: CanaryStage
    by: str = "mlcicd pipeline"
    data: DataSettings = DataSettings()
    schema: Path = Path("config/schema.yaml")
    training: TrainingSettings = TrainingSettings()
    gate: GateSettings = GateSettings()
    shadow: ShadowSettings = ShadowSettings()
    smoke_rows: int = 5
    production: ProductionSettings = field(default_factory=ProductionSettings)
    watch: WatchSettings = WatchSettings()
    knobs: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    source: str = "pipeline config"

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain data (for the report)."""
        production: dict[str, Any] = {"strategy": self.production.strategy}
        if self.production.strategy == "bluegreen":
            production["bluegreen"] = self.production.bluegreen.to_dict()
        elif self.production.canary is not None:
            production["canary"] = self.production.canary.config.spec.to_dict()
        return {"source": self.source, "by": self.by, "data": _plain(self.data),
                "schema": str(self.schema), "training": _plain(self.training),
                "gate": _plain(self.gate), "shadow": _plain(self.shadow),
                "staging": {"canary": self.staging.config.spec.to_dict()},
                "smoke_rows": self.smoke_rows, "production": production,
                "watch": _plain(self.watch),
                "knobs": {k: dict(v) for k, v in sorted(self.knobs.items())}}


def _plain(settings: Any) -> dict[str, Any]:
    return {f.name: (str(v) if isinstance(v := getattr(settings, f.name), Path) else v)
            for f in fields(settings)}


def _number(value: Any, key: str, low: float, high: float, *, integer: bool = False) -> Any:
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, int if integer else int | float) \
            or not math.isfinite(value) or not low <= value <= high:
        raise _Bad(key, f"expected {kind} in {low:g}..{high:g}, got {value!r}")
    return value if integer else float(value)


def _text(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad(key, f"expected a non-empty text, got {value!r}")
    return value


def _data(raw: Any) -> DataSettings:
    data = _mapping(raw, "data", ("seed", "months", "rowsPerMonth", "conceptDrift",
                                  "covariateDrift"))
    return DataSettings(
        seed=_number(data.get("seed", 42), "data.seed", 0, 2**32 - 1, integer=True),
        months=_number(data.get("months", 3), "data.months", 2, 36, integer=True),
        rows_per_month=_number(data.get("rowsPerMonth", 1000), "data.rowsPerMonth", 100,
                               100_000, integer=True),
        concept_drift=_number(data.get("conceptDrift", 0.0), "data.conceptDrift", 0, 1),
        covariate_drift=_number(data.get("covariateDrift", 0.0), "data.covariateDrift",
                                -10, 10))


def _training(raw: Any) -> TrainingSettings:
    data = _mapping(raw, "training", ("config", "corruptLabels"))
    return TrainingSettings(
        config=Path(_text(data.get("config", "config/model.yaml"), "training.config")),
        corrupt_labels=_number(data.get("corruptLabels", 0.0), "training.corruptLabels", 0, 1))


def _optional_rate(data: Mapping[str, Any], key: str, default: float) -> float | None:
    value = data.get(key, default)
    return None if value is None else _number(value, f"gate.{key}", 0, 1)


def _gate(raw: Any) -> GateSettings:
    data = _mapping(raw, "gate", ("minAccuracy", "maxRegression", "alpha"))
    alpha = _number(data.get("alpha", 0.05), "gate.alpha", 0, 1)
    if not 0 < alpha < 1:
        raise _Bad("gate.alpha", f"expected a number strictly between 0 and 1, got {alpha:g}")
    return GateSettings(min_accuracy=_optional_rate(data, "minAccuracy", 0.7),
                        max_regression=_optional_rate(data, "maxRegression", 0.02), alpha=alpha)


def _shadow(raw: Any) -> ShadowSettings:
    data = _mapping(raw, "shadow", ("enabled", "requests", "minAgreement", "maxP99Ms"))
    enabled = data.get("enabled", False)
    if not isinstance(enabled, bool):
        raise _Bad("shadow.enabled", f"expected true or false, got {enabled!r}")
    return ShadowSettings(
        enabled=enabled,
        requests=_number(data.get("requests", 200), "shadow.requests", 1, 100_000, integer=True),
        min_agreement=_number(data.get("minAgreement", 0.85), "shadow.minAgreement", 0, 1),
        max_p99_ms=_number(data.get("maxP99Ms", 250.0), "shadow.maxP99Ms", 0.001, 60_000))


def _canary_stage(raw: Any, key: str) -> CanaryStage:
    data = _mapping(raw, key, ("canary", "live"))
    if "canary" not in data:
        raise _Bad(f"{key}.canary", "missing: the canary release (steps, metrics, analysis)")
    canary = data["canary"]
    if isinstance(canary, Mapping):
        owned = [k for k in ("simulation", "live", "stable", "canary") if k in canary]
        if owned:
            raise _Bad(f"{key}.canary.{owned[0]}", "not allowed here: the pipeline sets it")
    try:
        config = parse_canary(canary)
    except _Bad as err:
        raise _Bad(f"{key}.canary.{str(err).partition(': ')[0]}",
                   str(err).partition(": ")[2]) from None
    live = _mapping(data.get("live"), f"{key}.live",
                    ("windowRequests", "maxWindows", "timeScale", "users"))
    settings = live_settings({**live, "models": {"stable": "", "canary": ""}},
                             ("stable", "canary"), key)
    return CanaryStage(config, settings)


def _production(raw: Any) -> ProductionSettings:
    data = _mapping(raw, "production", ("strategy", "bluegreen", "canary", "live"))
    strategy = data.get("strategy", "bluegreen")
    if strategy not in STRATEGIES:
        raise _Bad("production.strategy", f"expected one of {', '.join(STRATEGIES)}, "
                   f"got {strategy!r}")
    try:
        bluegreen = parse_bluegreen(data.get("bluegreen") or {})
    except _Bad as err:
        raise _Bad(f"production.bluegreen.{str(err).partition(': ')[0]}",
                   str(err).partition(": ")[2]) from None
    canary = None
    if strategy == "canary" or "canary" in data:
        canary = _canary_stage({k: data[k] for k in ("canary", "live") if k in data},
                               "production")
    elif "live" in data:
        raise _Bad("production.live", "only with strategy: canary (blue-green has "
                   "bluegreen.live)")
    return ProductionSettings(strategy, bluegreen, canary)


def _watch(raw: Any) -> WatchSettings:
    data = _mapping(raw, "watch", ("requests", "windowRequests", "maxErrorRate", "maxP99Ms"))
    return WatchSettings(
        requests=_number(data.get("requests", 300), "watch.requests", 0, 1_000_000, integer=True),
        window_requests=_number(data.get("windowRequests", 100), "watch.windowRequests", 4,
                                100_000, integer=True),
        max_error_rate=_number(data.get("maxErrorRate", 0.01), "watch.maxErrorRate", 0, 1),
        max_p99_ms=_number(data.get("maxP99Ms", 250.0), "watch.maxP99Ms", 0.001, 60_000))


def _knobs(raw: Any) -> dict[str, dict[str, float]]:
    data = _mapping(raw, "candidate", ENVIRONMENTS)
    knobs = {}
    for environment, values in data.items():
        where = f"candidate.{environment}"
        values = _mapping(values, where, KNOBS)
        knobs[environment] = {
            name: _number(value, f"{where}.{name}", 0, 2**32 - 1 if name == "seed" else
                          (60_000 if name == "added_latency_ms" else 1),
                          integer=name == "seed")
            for name, value in values.items()}
    return knobs


def parse_pipeline(data: Any, *, source: str = "pipeline config") -> PipelineConfig:
    """Build a `PipelineConfig` from parsed YAML; `_Bad` names the first key that is wrong."""
    data = _mapping(data, "", TOP_KEYS)
    if "staging" not in data:
        raise _Bad("staging", "missing: the staging canary (staging.canary)")
    smoke = _mapping(data.get("smoke"), "smoke", ("rows",))
    return PipelineConfig(
        staging=_canary_stage(data["staging"], "staging"),
        by=_text(data.get("by", "mlcicd pipeline"), "by"),
        data=_data(data.get("data")),
        schema=Path(_text(data.get("schema", "config/schema.yaml"), "schema")),
        training=_training(data.get("training")),
        gate=_gate(data.get("gate")),
        shadow=_shadow(data.get("shadow")),
        smoke_rows=_number(smoke.get("rows", 5), "smoke.rows", 1, 1000, integer=True),
        production=_production(data.get("production")),
        watch=_watch(data.get("watch")),
        knobs=_knobs(data.get("candidate")),
        source=source)


def load_pipeline(path: str | os.PathLike[str]) -> PipelineConfig:
    """Read a pipeline file; any problem is one `UserInputError` line naming the key.

    The files it names (schema, model config) are checked to exist, so that a bad path
    stops the run before anything starts."""
    data = read_yaml(path, what="pipeline config")
    where = f"pipeline config {path}"
    try:
        config = parse_pipeline(data, source=str(path))
    except _Bad as err:
        raise UserInputError(f"{where}: {err}") from None
    except UserInputError as err:   # the live section's own parser
        raise UserInputError(f"{where}: {err}") from None
    for key, named in (("schema", config.schema), ("training.config", config.training.config)):
        if not named.is_file():
            raise UserInputError(f"{where}: {key}: no such file {named}")
    return config
