"""SageMaker deployment guardrails: the blue/green `update_endpoint` request, checked offline.

SageMaker runs blue-green itself when an endpoint is updated with a `DeploymentConfig`:
it starts the new fleet (green), shifts traffic (`ALL_AT_ONCE`; or `CANARY`: a first
share, bake, then the rest; or `LINEAR`: equal steps, each baked), watches the
CloudWatch alarms for a baking period (`WaitIntervalInSeconds`), rolls all traffic back
to blue if any alarm fires, and terminates blue `TerminationWaitInSeconds` after the
bake. moto does not implement `update_endpoint`, so the request is built here and
checked against botocore's own service model: first with botocore's validator (required
fields, types, minimums), then for what that validator skips (enums, maximums,
patterns), read from the same model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.exceptions import ParamValidationError
from botocore.validate import validate_parameters

from mlcicd_course.rollout.bluegreen import BlueGreenSpec
from mlcicd_course.rollout.canary import CanarySpec, Pause

ROUTING_TYPES = ("ALL_AT_ONCE", "CANARY", "LINEAR")


@dataclass(frozen=True)
class BlueGreenGuardrails:
    """The settings of a SageMaker blue/green update with auto-rollback.

    `routing` is ALL_AT_ONCE, CANARY (`step_percent` of the capacity first, baked
    `bake_s`, then the rest) or LINEAR (steps of `step_percent`, each baked `bake_s`).
    """

    endpoint_name: str
    endpoint_config_name: str
    alarms: tuple[str, ...] = ()
    bake_s: int = 600
    termination_wait_s: int = 0
    max_execution_timeout_s: int = 3600
    routing: str = "ALL_AT_ONCE"
    step_percent: int | None = None

    def __post_init__(self) -> None:
        if self.routing not in ROUTING_TYPES:
            raise ValueError(f"routing must be one of {', '.join(ROUTING_TYPES)}, "
                             f"got {self.routing!r}")
        if (self.routing == "ALL_AT_ONCE") != (self.step_percent is None):
            raise ValueError("step_percent goes with CANARY and LINEAR routing only")

    @classmethod
    def from_spec(cls, spec: BlueGreenSpec, *, endpoint_name: str, endpoint_config_name: str,
                  alarms: Sequence[str]) -> BlueGreenGuardrails:
        """The same rollout as a `BlueGreenSpec`: bake = the post-promotion analysis time,
        termination wait = the scale-down delay, timeout = the progress deadline."""
        bake = spec.post_promotion.min_duration_s() or 0.0
        return cls(endpoint_name=endpoint_name, endpoint_config_name=endpoint_config_name,
                   alarms=tuple(alarms), bake_s=round(bake),
                   termination_wait_s=round(spec.scale_down_delay_s),
                   max_execution_timeout_s=round(spec.progress_deadline_s))

    @classmethod
    def from_canary(cls, spec: CanarySpec, *, routing: str, endpoint_name: str,
                    endpoint_config_name: str, alarms: Sequence[str]) -> BlueGreenGuardrails:
        """The same canary as a SageMaker update: CANARY takes the first weight and the
        pause after it; LINEAR needs weights in equal steps and one pause duration.
        SageMaker has only alarms for analysis: the spec's metrics and guardrail must be
        CloudWatch alarms there. Timeout = the progress deadline plus every pause."""
        weights = spec.weights()
        pauses = [s.duration_s for s in spec.steps if isinstance(s, Pause)]
        if not weights or not pauses or None in pauses:
            raise ValueError("SageMaker needs weights and timed pauses (no manual pauses)")
        if routing == "CANARY":
            step = weights[0]
        elif routing == "LINEAR":
            step = weights[0]
            if list(weights) != list(range(step, step * len(weights) + 1, step)) \
                    or len(set(pauses)) != 1:
                raise ValueError(f"LINEAR needs weights in equal steps and one pause duration, "
                                 f"got weights {list(weights)}")
        else:
            raise ValueError(f"routing must be CANARY or LINEAR, got {routing!r}")
        total = spec.progress_deadline_s + sum(p or 0.0 for p in pauses)
        return cls(endpoint_name=endpoint_name, endpoint_config_name=endpoint_config_name,
                   alarms=tuple(alarms), bake_s=round(pauses[0] or 0.0), routing=routing,
                   step_percent=step, max_execution_timeout_s=round(total))

    def request(self) -> dict[str, Any]:
        """The keyword arguments of `sagemaker.update_endpoint`."""
        routing: dict[str, Any] = {"Type": self.routing, "WaitIntervalInSeconds": self.bake_s}
        if self.step_percent is not None:
            size = "CanarySize" if self.routing == "CANARY" else "LinearStepSize"
            routing[size] = {"Type": "CAPACITY_PERCENT", "Value": self.step_percent}
        config: dict[str, Any] = {"BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": self.termination_wait_s,
            "MaximumExecutionTimeoutInSeconds": self.max_execution_timeout_s}}
        if self.alarms:
            config["AutoRollbackConfiguration"] = {
                "Alarms": [{"AlarmName": name} for name in self.alarms]}
        return {"EndpointName": self.endpoint_name,
                "EndpointConfigName": self.endpoint_config_name, "DeploymentConfig": config}

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (the request itself)."""
        return self.request()


@dataclass(frozen=True)
class RequestCheck:
    """The outcome of checking a request against a service model: each problem one line."""

    service: str
    operation: str
    botocore_problems: tuple[str, ...]
    model_problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when neither botocore's validator nor the extra model checks found anything."""
        return not (self.botocore_problems or self.model_problems)

    @property
    def problems(self) -> tuple[str, ...]:
        """All problems, botocore's first."""
        return self.botocore_problems + self.model_problems

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"service": self.service, "operation": self.operation, "ok": self.ok,
                "botocore_problems": list(self.botocore_problems),
                "model_problems": list(self.model_problems)}


def check_request(params: Mapping[str, Any], *, service: str = "sagemaker",
                  operation: str = "UpdateEndpoint", model: Any = None) -> RequestCheck:
    """Check `params` for `service.operation` against botocore's service model, offline.

    `model` is a botocore `ServiceModel`; by default it is loaded from the botocore
    installed here (`botocore.session.get_session().get_service_model(service)`).
    """
    model = model or botocore.session.get_session().get_service_model(service)
    shape = model.operation_model(operation).input_shape
    try:
        validate_parameters(dict(params), shape)
        from_botocore: tuple[str, ...] = ()
    except ParamValidationError as err:
        from_botocore = tuple(str(err).splitlines()[1:])
    return RequestCheck(service, operation, from_botocore, tuple(_limits(params, shape, "")))


def _limits(value: Any, shape: Any, path: str) -> list[str]:
    """What botocore's validator does not check: enum values, maximums, patterns."""
    meta, kind, where = shape.metadata, shape.type_name, path or "input"
    problems: list[str] = []
    if kind == "structure" and isinstance(value, Mapping):
        for key, member in value.items():
            if key in shape.members:
                problems += _limits(member, shape.members[key], f"{path}.{key}".lstrip("."))
    elif kind == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{where}: {len(value)} items, at most {meta['max']} allowed")
        for i, item in enumerate(value):
            problems += _limits(item, shape.member, f"{path}[{i}]")
    elif kind == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            problems.append(f"{where}: {value!r} is not one of {', '.join(shape.enum)}")
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{where}: {len(value)} characters, at most {meta['max']} allowed")
        if "pattern" in meta and not _matches(meta["pattern"], value):
            problems.append(f"{where}: {value!r} does not match {meta['pattern']}")
    elif kind in ("integer", "long") and isinstance(value, int) and "max" in meta:
        if value > meta["max"]:
            problems.append(f"{where}: {value} is above the maximum {meta['max']}")
    return problems


def _matches(pattern: str, value: str) -> bool:
    """Whether `value` matches the model's (Java-style) pattern; True when Python's `re`
    cannot read the pattern, since then it cannot be checked here."""
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:
        return True
