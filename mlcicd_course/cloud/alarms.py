"""CloudWatch alarms as rollout observations: create one, then read which are in ALARM.

During the bake time after a switch, a controller asks `alarms_in_alarm` at every tick
and passes the names into `Observations(alarms=...)`; any alarm in state ALARM switches
traffic back (SageMaker's auto-rollback does the same with its alarm list). moto stores
alarms but never evaluates them from metric data, so tests and notebooks drive the
state with `set_alarm_state`, which is also how people test real alarms.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AlarmSpec:
    """A metric alarm: `statistic` of `metric_name` over `period_s`, compared to `threshold`."""

    name: str
    metric_name: str
    namespace: str
    dimensions: Mapping[str, str] = field(default_factory=dict)
    statistic: str = "Sum"
    period_s: int = 60
    evaluation_periods: int = 1
    threshold: float = 0.0
    comparison: str = "GreaterThanThreshold"
    treat_missing_data: str = "notBreaching"

    def request(self) -> dict[str, Any]:
        """The keyword arguments of `cloudwatch.put_metric_alarm`."""
        return {"AlarmName": self.name, "Namespace": self.namespace,
                "MetricName": self.metric_name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in self.dimensions.items()],
                "Statistic": self.statistic, "Period": self.period_s,
                "EvaluationPeriods": self.evaluation_periods, "Threshold": self.threshold,
                "ComparisonOperator": self.comparison,
                "TreatMissingData": self.treat_missing_data}

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (the request itself)."""
        return self.request()


def target_5xx_alarm(name: str, load_balancer_arn: str, target_group_arn: str, *,
                     threshold: float = 5, period_s: int = 60) -> AlarmSpec:
    """An alarm on a target group's 5xx responses (`HTTPCode_Target_5XX_Count`) per period.

    CloudWatch names the load balancer `app/NAME/ID` and the target group
    `targetgroup/NAME/ID`: the tails of their ARNs.
    """
    return AlarmSpec(
        name=name, metric_name="HTTPCode_Target_5XX_Count", namespace="AWS/ApplicationELB",
        dimensions={"LoadBalancer": load_balancer_arn.split(":loadbalancer/", 1)[-1],
                    "TargetGroup": "targetgroup/" + target_group_arn.split(":targetgroup/", 1)[-1]},
        threshold=threshold, period_s=period_s)


def put_alarm(cloudwatch: Any, spec: AlarmSpec) -> str:
    """Create or replace the alarm; return its name."""
    cloudwatch.put_metric_alarm(**spec.request())
    return spec.name


def alarms_in_alarm(cloudwatch: Any, names: Iterable[str]) -> tuple[str, ...]:
    """The names among `names` whose state is ALARM, sorted.

    An alarm that does not exist raises `LookupError`: a missing alarm can never fire,
    and silently watching nothing is not a guardrail.
    """
    wanted = sorted(set(names))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), 100):      # describe_alarms takes 100 names a call
        page = cloudwatch.describe_alarms(AlarmNames=wanted[start:start + 100])
        found.update({a["AlarmName"]: a["StateValue"] for a in page["MetricAlarms"]})
    missing = [n for n in wanted if n not in found]
    if missing:
        raise LookupError(f"alarm(s) not found: {', '.join(missing)}")
    return tuple(n for n in wanted if found[n] == "ALARM")
