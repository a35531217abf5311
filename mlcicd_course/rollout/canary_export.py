"""The same canary spec as Kubernetes manifests: Argo Rollouts or Flagger.

When one machine is not enough, a controller in the cluster runs the release. These
functions write a `CanarySpec` out as the objects those controllers read, from the same
objects the course's controller runs (so the two cannot drift apart):

- Argo Rollouts: a `Rollout` with `strategy.canary.steps` (setWeight, pause, inline
  analysis) and `analysis` (background), plus one `AnalysisTemplate` per analysis.
  Each metric uses the `web` provider: a GET on `{{args.metrics-url}}/analysis/QUERY`
  that returns `{"value": ...}` (serve it from the router's metrics; the URL is an
  argument of the template, given in the Rollout).
- Flagger: a `Canary` with `analysis.stepWeights`, `interval`, `threshold` and one
  `MetricTemplate` per metric (Prometheus provider). Flagger's steps are weights at a
  fixed interval, so a spec with manual pauses, inline analyses or uneven pauses
  cannot be written as a Flagger Canary and raises ValueError.

Neither engine has the sequential error-rate guardrail nor `minRequests`: the guardrail
is exported as one more metric (`guardrail_low`, the lower end of the confidence
sequence, failing above 0) that the metrics endpoint must compute, and `minRequests`
as the metric's `minSample` is not expressible and is left out (said in a comment).
"""

from __future__ import annotations

from typing import Any

import yaml

from mlcicd_course.rollout.analysis import Condition, MetricSpec
from mlcicd_course.rollout.canary import Analyze, CanarySpec, Pause, SetWeight

FORMATS = ("argo-rollouts", "flagger")
GUARDRAIL_METRIC = "error-rate-guardrail"


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _guardrail_metric(spec: CanarySpec) -> MetricSpec | None:
    if spec.guardrail is None:
        return None
    return MetricSpec(GUARDRAIL_METRIC, "error_rate", failure_condition=Condition(">", 0.0),
                      interval_s=60.0, min_sample=spec.guardrail.min_sample)


def _argo_metric(m: MetricSpec, query: str) -> dict[str, Any]:
    metric: dict[str, Any] = {"name": m.name}
    if m.interval_s:
        metric["interval"] = _seconds(m.interval_s)
    if m.count is not None:
        metric["count"] = m.count
    if m.initial_delay_s:
        metric["initialDelay"] = _seconds(m.initial_delay_s)
    metric["failureLimit"] = m.failure_limit
    metric["inconclusiveLimit"] = m.inconclusive_limit
    metric["consecutiveErrorLimit"] = m.consecutive_error_limit
    if m.success_condition is not None:
        metric["successCondition"] = str(m.success_condition)
    if m.failure_condition is not None:
        metric["failureCondition"] = str(m.failure_condition)
    metric["provider"] = {"web": {
        "url": "{{args.metrics-url}}/analysis/" + query
               + "?version={{args.canary}}&baseline={{args.stable}}",
        "jsonPath": "{$.value}"}}
    return metric


def _template(name: str, metrics: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
            "metadata": {"name": name},
            "spec": {"args": [{"name": "metrics-url"}, {"name": "stable"}, {"name": "canary"}],
                     "metrics": metrics}}


def _ref(template: str, spec: CanarySpec) -> dict[str, Any]:
    return {"templates": [{"templateName": template}],
            "args": [{"name": "metrics-url", "value": "http://mlcicd-router.default.svc:8080"},
                     {"name": "stable", "value": spec.stable},
                     {"name": "canary", "value": spec.canary}]}


def argo_rollouts(spec: CanarySpec, *, name: str = "churn-model",
                  image: str = "mlcicd/model-server:latest") -> list[dict[str, Any]]:
    """The Rollout and its AnalysisTemplates as plain data (one dict per manifest)."""
    templates: list[dict[str, Any]] = []
    background = [_argo_metric(m, m.query) for m in spec.analysis.metrics]
    guard = _guardrail_metric(spec)
    if guard is not None:
        background.append(_argo_metric(guard, "guardrail_low"))
    canary: dict[str, Any] = {}
    if background:
        templates.append(_template(f"{name}-background", background))
        canary["analysis"] = _ref(f"{name}-background", spec)
    steps: list[dict[str, Any]] = []
    for i, step in enumerate(spec.steps):
        if isinstance(step, SetWeight):
            steps.append({"setWeight": step.weight})
        elif isinstance(step, Pause):
            steps.append({"pause": {} if step.duration_s is None
                          else {"duration": _seconds(step.duration_s)}})
        else:
            template = f"{name}-step-{i}"
            templates.append(_template(template, [_argo_metric(m, m.query)
                                                  for m in step.analysis.metrics]))
            steps.append({"analysis": _ref(template, spec)})
    canary["steps"] = steps
    rollout = {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": name},
        "spec": {"replicas": 4, "revisionHistoryLimit": 2,
                 "progressDeadlineSeconds": round(spec.progress_deadline_s),
                 "progressDeadlineAbort": True,
                 "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [
                     {"name": "model-server", "image": image,
                      "ports": [{"containerPort": 8000}],
                      "readinessProbe": {"httpGet": {"path": "/health/ready", "port": 8000}}}]}},
                 "strategy": {"canary": canary}}}
    return [rollout, *templates]


def _threshold_range(m: MetricSpec) -> dict[str, float]:
    """Flagger's pass range from a metric's conditions (its checks pass inside the range)."""
    bounds: dict[str, float] = {}
    for condition, passing in ((m.success_condition, True), (m.failure_condition, False)):
        if condition is None:
            continue
        upper = condition.op in ("<", "<=")
        bounds["max" if upper == passing else "min"] = condition.threshold
    return bounds


def flagger(spec: CanarySpec, *, name: str = "churn-model") -> list[dict[str, Any]]:
    """The Flagger Canary and its MetricTemplates as plain data (one dict per manifest).

    Raises ValueError when the steps are not weights at one fixed interval.
    """
    pauses = [s for s in spec.steps if isinstance(s, Pause)]
    if any(isinstance(s, Analyze) for s in spec.steps) or any(p.manual for p in pauses):
        raise ValueError("a Flagger Canary has no inline analysis or manual pause steps; "
                         "use stepWeights with an interval")
    intervals = {p.duration_s for p in pauses}
    if len(intervals) != 1:
        raise ValueError("a Flagger Canary needs one interval: every pause the same duration, "
                         f"got {sorted(i or 0 for i in intervals)}")
    interval = intervals.pop() or 0.0
    metrics = list(spec.analysis.metrics)
    guard = _guardrail_metric(spec)
    if guard is not None:
        metrics.append(guard)
    templates = [{"apiVersion": "flagger.app/v1beta1", "kind": "MetricTemplate",
                  "metadata": {"name": m.name},
                  "spec": {"provider": {"type": "prometheus",
                                        "address": "http://prometheus.monitoring:9090"},
                           "query": f'mlcicd_analysis{{query="{_query(m)}",'
                                    f'version="{spec.canary}",baseline="{spec.stable}"}}'}}
                 for m in metrics]
    checks = [{"name": m.name, "templateRef": {"name": m.name},
               "thresholdRange": _threshold_range(m),
               "interval": _seconds(m.interval_s or interval)} for m in metrics]
    limits = [m.failure_limit for m in spec.analysis.metrics if m.failure_limit >= 0]
    canary = {
        "apiVersion": "flagger.app/v1beta1", "kind": "Canary", "metadata": {"name": name},
        "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                 "progressDeadlineSeconds": round(spec.progress_deadline_s),
                 "service": {"port": 8000},
                 "analysis": {"interval": _seconds(interval),
                              "threshold": min(limits, default=0) + 1,
                              "stepWeights": list(spec.weights()),
                              "metrics": checks}}}
    return [canary, *templates]


def _query(m: MetricSpec) -> str:
    return "guardrail_low" if m.name == GUARDRAIL_METRIC else m.query


def export_yaml(spec: CanarySpec, fmt: str, *, name: str = "churn-model") -> str:
    """The manifests of `fmt` ("argo-rollouts" or "flagger") as one multi-document YAML."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    docs = argo_rollouts(spec, name=name) if fmt == "argo-rollouts" else flagger(spec, name=name)
    header = (f"# {fmt} manifests for the canary of {spec.canary} beside {spec.stable}, "
              "written by `mlcicd deploy export`\n")
    if any(isinstance(s, Pause) and s.min_requests for s in spec.steps):
        header += "# minRequests of the pauses has no field here and is left out\n"
    return header + "---\n".join(yaml.safe_dump(d, sort_keys=False) for d in docs)

